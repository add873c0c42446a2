//! `SledStore`: the `Store` on disk, a sled database in `<state dir>/db`.
//!
//! The only module that imports sled (with its `layout.rs`). It keeps six trees (records
//! by address, their summaries, revision headers, changes, snapshots, meta with the
//! layout version and whether the published copy is behind), flushes before every write
//! returns, refuses state from a newer layout, migrates an older one, and at open marks
//! revisions that a dead process left running as interrupted. It does not take the mtm
//! lock (`open_locked` does, before opening) and does not know what a record means.

// The one module that knows sled.
#![allow(clippy::disallowed_types)]

mod layout;

use super::lock::{Holder, Lock, LockError};
use super::published;
use super::{
    Envelope, Record, RecordSummary, Revision, RevisionEntry, RevisionResult, RevisionSummary,
    SCHEMA, Store, StoreError, now_rfc3339,
};
use ::sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use ::sled::{Db, Transactional, Tree};
use layout::LAYOUT;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The sled database's directory inside the state directory.
const DB: &str = "db";
/// The meta key of the layout version (named `schema` since the first layout).
const LAYOUT_KEY: &[u8] = b"schema";
/// The meta key present while the published copy may be behind the database.
const UNPUBLISHED: &[u8] = b"unpublished";

#[derive(Debug)]
pub struct SledStore {
    dir: PathBuf,
    db: Db,
    records: Tree,
    /// Address to `RecordSummary`, written with each record (`mtm state list` reads these).
    summaries: Tree,
    /// Revision number (big-endian) to `Header`.
    revisions: Tree,
    /// Revision number then a sequence number (both big-endian) to `RevisionEntry`.
    changes: Tree,
    /// Revision number to the records as the revision finished.
    snapshots: Tree,
    meta: Tree,
    /// Serialises numbering and finishing revisions within this process; sled's own file
    /// lock keeps other processes out.
    revision_guard: Mutex<()>,
    /// Whether meta holds `UNPUBLISHED`; held while publishing, so no write slips between
    /// reading what to publish and clearing the mark.
    unpublished: Mutex<bool>,
    /// Flushes for writes that wait without blocking (`put_record_soon`).
    sync: Box<GroupSync>,
}

/// One flush at a time for the writes that wait for it, each covering every write made
/// before it began: writers that queue behind a flush share the next one.
#[derive(Debug, Default)]
struct GroupSync {
    /// Writes made, and writes known flushed (counts).
    written: std::sync::atomic::AtomicU64,
    flushed: std::sync::atomic::AtomicU64,
    flushing: tokio::sync::Mutex<()>,
}

impl GroupSync {
    /// Waits until the write just made is on disk, without blocking the task's thread.
    async fn after_write(&self, db: &Db) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let mine = self.written.fetch_add(1, SeqCst) + 1;
        let _flushing = self.flushing.lock().await;
        if self.flushed.load(SeqCst) >= mine {
            return Ok(());
        }
        let upto = self.written.load(SeqCst);
        let db = db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush()).await;
        let flushed = flushed.map_err(|e| StoreError::Backend {
            action: "flush state to disk".into(),
            source: Box::new(e),
        })?;
        flushed.map_err(backend("flush state to disk"))?;
        self.flushed.fetch_max(upto, SeqCst);
        Ok(())
    }
}

/// A revision as stored, without its changes and snapshot (kept in their own trees so
/// that recording a change or listing revisions never rewrites or reads them).
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    number: u64,
    /// The plan's name; absent in revisions written before mtm kept it.
    #[serde(default)]
    plan: Option<String>,
    command: String,
    targets: Vec<String>,
    started_at: String,
    finished_at: Option<String>,
    result: RevisionResult,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create state directory {}", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{}", busy(dir, holder.as_deref()))]
    Busy {
        dir: PathBuf,
        /// Who the lock file names, if there is one.
        holder: Option<Box<Holder>>,
    },
    #[error(
        "state in {} was written by a newer mtm (schema {found}, this mtm reads up to {LAYOUT})\n  help: use that newer mtm, or move the state directory aside",
        dir.display()
    )]
    NewerSchema { dir: PathBuf, found: u32 },
    #[error("cannot open state in {}", dir.display())]
    Failed {
        dir: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn busy(dir: &Path, holder: Option<&Holder>) -> String {
    let by = match holder {
        Some(holder) => format!(", whose lock names {holder}"),
        None => String::new(),
    };
    format!(
        "state in {} is open in another process{by}\n  help: wait for that process to finish, or stop it",
        dir.display()
    )
}

/// Take the lock in `dir` (created private if missing) for `command`, waiting up to
/// `wait` for a holder, then open the store. Drop the store before the lock: a tuple
/// drops its lock first.
pub fn open_locked(
    dir: &Path,
    command: &str,
    wait: std::time::Duration,
) -> Result<(Lock, SledStore), OpenError> {
    super::private_files();
    std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let lock = Lock::acquire_waiting(dir, command, wait)?;
    let store = SledStore::open(dir)?;
    Ok((lock, store))
}

impl SledStore {
    /// Open (or create) the state in `dir` to write it, publishing what was written
    /// since the last publication. Another process that has it open makes this fail
    /// with `OpenError::Busy`; it never waits.
    pub fn open(dir: &Path) -> Result<SledStore, OpenError> {
        let store = SledStore::open_reading(dir)?;
        store.publish(SledStore::publish_all);
        Ok(store)
    }

    /// Open the state in `dir` as `open` does, but publish nothing: for a reader, which
    /// holds the state a moment, while other readers see the last publication (the next
    /// writer publishes what is behind at its open).
    pub fn open_reading(dir: &Path) -> Result<SledStore, OpenError> {
        let failed = |source: ::sled::Error| open_error(dir, source);
        // Every write flushes before it returns, so sled's background flusher is not
        // needed; without it no thread keeps the database (and its file lock) after the
        // store is dropped, and the next open in this process is not refused as busy.
        let db = ::sled::Config::new()
            .path(dir.join(DB))
            .flush_every_ms(None)
            .open()
            .map_err(failed)?;
        let tree = |name: &str| db.open_tree(name).map_err(failed);
        let store = SledStore {
            dir: dir.to_path_buf(),
            records: tree("records")?,
            summaries: tree("summaries")?,
            revisions: tree("revisions")?,
            changes: tree("changes")?,
            snapshots: tree("snapshots")?,
            meta: tree("meta")?,
            unpublished: Mutex::new(false),
            db,
            revision_guard: Mutex::new(()),
            sync: Box::default(),
        };
        store.check_layout()?;
        store
            .read_unpublished()
            .and_then(|()| store.interrupt_running())
            .and_then(|()| store.scrub_old_commands())
            .map_err(|source| OpenError::Failed {
                dir: dir.to_path_buf(),
                source: Box::new(source),
            })?;
        Ok(store)
    }

    /// The state directory this store was opened in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Mark revisions still running as interrupted. Nothing else can have this state open
    /// (sled's file lock), so any running revision belongs to a process that died; its
    /// snapshot is the records as that process left them.
    fn interrupt_running(&self) -> Result<(), StoreError> {
        for header in self.headers()? {
            if header.result == RevisionResult::Running {
                self.close(header, RevisionResult::Interrupted, None)?;
            }
        }
        Ok(())
    }

    /// Mask the `--var` values in the command lines of revisions written before mtm
    /// masked them (those without a plan name): they may hold a secret.
    fn scrub_old_commands(&self) -> Result<(), StoreError> {
        for mut header in self.headers()? {
            let masked = crate::cmdline::mask_kept(&header.command);
            if header.plan.is_some() || masked == header.command {
                continue;
            }
            let number = header.number;
            header.command = masked;
            let bytes = Envelope::encode("revision", header)?;
            self.unpublish()?;
            self.revisions
                .insert(number.to_be_bytes(), bytes)
                .map_err(backend(&format!("write revision {number}")))?;
            self.flush()?;
        }
        Ok(())
    }

    /// Publish every finished revision not yet published, and the head unless it is
    /// there and nothing was written since it was published (`published.rs`), for readers
    /// that find the state locked.
    fn publish_all(&self) -> Result<(), StoreError> {
        let mut missing = false;
        for header in self.headers()? {
            if header.result != RevisionResult::Running
                && !published::has_revision(&self.dir, header.number)
                && let Some(revision) = self.revision(header.number)?
            {
                published::write_revision(&self.dir, &revision)?;
                missing = true;
            }
        }
        let behind = *self
            .unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if missing || behind || !published::has_head(&self.dir) {
            self.publish_head()?;
        }
        Ok(())
    }

    /// Run a publication; its failure does not undo the commit before it, so it is only
    /// logged: readers then see an older copy until the next commit publishes.
    fn publish(&self, publication: impl FnOnce(&Self) -> Result<(), StoreError>) {
        if let Err(e) = publication(self) {
            tracing::warn!(
                "state in {}: cannot publish the copy readers use: {e}",
                self.dir.display()
            );
        }
    }

    /// Publish the head, then clear the mark that it is behind.
    fn publish_head(&self) -> Result<(), StoreError> {
        let mut unpublished = self
            .unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let head = published::Head {
            records: self.records()?,
            revisions: self.revisions()?,
        };
        published::write_head(&self.dir, &head)?;
        if *unpublished {
            self.meta
                .remove(UNPUBLISHED)
                .map_err(backend("mark state published"))?;
            self.flush()?;
            *unpublished = false;
        }
        Ok(())
    }

    /// Whether the last process left the published copy behind.
    fn read_unpublished(&self) -> Result<(), StoreError> {
        let marked = self
            .meta
            .contains_key(UNPUBLISHED)
            .map_err(backend("read state meta"))?;
        *self
            .unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = marked;
        Ok(())
    }

    /// Mark, before a write, that the published copy is behind; the write's own flush
    /// makes the mark durable no later than the write (sled recovers a prefix of its log).
    fn unpublish(&self) -> Result<(), StoreError> {
        let mut unpublished = self
            .unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !*unpublished {
            self.meta
                .insert(UNPUBLISHED, &[][..])
                .map_err(backend("mark state unpublished"))?;
            *unpublished = true;
        }
        Ok(())
    }

    fn headers(&self) -> Result<Vec<Header>, StoreError> {
        let mut headers = Vec::new();
        for entry in &self.revisions {
            let (key, value) = entry.map_err(backend("read revisions"))?;
            headers.push(Envelope::decode(&revision_name(&key), &value)?);
        }
        Ok(headers)
    }

    fn header(&self, number: u64) -> Result<Option<Header>, StoreError> {
        let what = || format!("revision {number}");
        match self.revisions.get(number.to_be_bytes()) {
            Ok(Some(bytes)) => Envelope::decode(&what(), &bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(backend(&format!("read {}", what()))(e)),
        }
    }

    fn running(&self, number: u64) -> Result<Header, StoreError> {
        let header = self
            .header(number)?
            .ok_or(StoreError::NoSuchRevision(number))?;
        if header.result != RevisionResult::Running {
            return Err(StoreError::Finished(number));
        }
        Ok(header)
    }

    /// The current records as an envelope holding a map from address to each record's
    /// stored envelope: `{"schema":1,"data":{"<address>":{"schema":1,"data":{...}},...}}`.
    /// Copied byte for byte, never decoded, so finishing a revision over many records
    /// costs a copy, not a parse; each record keeps the schema it was written in.
    fn snapshot(&self) -> Result<Vec<u8>, StoreError> {
        let mut out = format!("{{\"schema\":{SCHEMA},\"data\":{{").into_bytes();
        for (i, entry) in self.records.iter().enumerate() {
            let (key, value) = entry.map_err(backend("read records"))?;
            if i > 0 {
                out.push(b',');
            }
            let address = String::from_utf8_lossy(&key);
            serde_json::to_writer(&mut out, address.as_ref()).map_err(|source| {
                StoreError::Encode {
                    what: "snapshot".to_string(),
                    source,
                }
            })?;
            out.push(b':');
            out.extend_from_slice(&value);
        }
        out.extend_from_slice(b"}}");
        Ok(out)
    }

    fn decode_snapshot(number: u64, bytes: &[u8]) -> Result<BTreeMap<String, Record>, StoreError> {
        #[derive(Deserialize)]
        struct Version {
            schema: u32,
        }
        let what = format!("snapshot of revision {number}");
        // Versions first, so a record from a newer mtm is reported as newer, not as damage.
        let versions: BTreeMap<String, Version> = Envelope::decode(&what, bytes)?;
        if let Some((address, newer)) = versions.iter().find(|(_, v)| v.schema > SCHEMA) {
            return Err(StoreError::NewerEntry {
                what: format!("record {address} in {what}"),
                found: newer.schema,
            });
        }
        let stored: BTreeMap<String, Envelope<Record>> = Envelope::decode(&what, bytes)?;
        Ok(stored.into_iter().map(|(a, r)| (a, r.data)).collect())
    }

    /// Finish `header` with `result` and a snapshot of the current records, header and
    /// snapshot in one transaction, then flush.
    fn close(
        &self,
        mut header: Header,
        result: RevisionResult,
        finished_at: Option<String>,
    ) -> Result<(), StoreError> {
        let number = header.number;
        let key = number.to_be_bytes();
        let snapshot = self.snapshot()?;
        header.result = result;
        header.finished_at = finished_at;
        let header = Envelope::encode("revision", header)?;
        self.unpublish()?;
        (&self.revisions, &self.snapshots)
            .transaction(|(revisions, snapshots)| {
                revisions.insert(&key, header.as_slice())?;
                snapshots.insert(&key, snapshot.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => backend(&format!("finish revision {number}"))(e),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })?;
        self.flush()
    }

    /// Add a finished revision as it was (`mtm state migrate`): its number, times,
    /// changes and snapshot, after the last revision.
    pub fn import_revision(&self, revision: &Revision) -> Result<(), StoreError> {
        let _guard = self
            .revision_guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let number = revision.number;
        let last = self.revisions.last().map_err(backend("read revisions"))?;
        let last = last.and_then(|(key, _)| revision_number(&key)).unwrap_or(0);
        if number <= last || revision.result == RevisionResult::Running {
            return Err(StoreError::Backend {
                action: format!("import revision {number}"),
                source: format!("it is running, or not after the last revision ({last})").into(),
            });
        }
        self.unpublish()?;
        for change in &revision.changes {
            let sequence = self.db.generate_id().map_err(backend("number a change"))?;
            let mut key = [0; 16];
            key[..8].copy_from_slice(&number.to_be_bytes());
            key[8..].copy_from_slice(&sequence.to_be_bytes());
            let bytes = Envelope::encode("change", change)?;
            self.changes
                .insert(key, bytes)
                .map_err(backend(&format!("write a change of revision {number}")))?;
        }
        let applied: BTreeMap<&String, Envelope<&Record>> = revision
            .applied
            .iter()
            .map(|(address, record)| {
                (
                    address,
                    Envelope {
                        schema: SCHEMA,
                        data: record,
                    },
                )
            })
            .collect();
        let snapshot = Envelope::encode("snapshot", applied)?;
        self.snapshots
            .insert(number.to_be_bytes(), snapshot)
            .map_err(backend(&format!("write revision {number}")))?;
        let header = Header {
            number,
            plan: revision.plan.clone(),
            command: revision.command.clone(),
            targets: revision.targets.clone(),
            started_at: revision.started_at.clone(),
            finished_at: revision.finished_at.clone(),
            result: revision.result.clone(),
        };
        self.revisions
            .insert(number.to_be_bytes(), Envelope::encode("revision", header)?)
            .map_err(backend(&format!("write revision {number}")))?;
        self.flush()?;
        self.publish(SledStore::publish_all);
        Ok(())
    }

    /// Runs `f` on the records and summaries trees in one transaction, so a record and its
    /// summary are written or removed together.
    fn both_trees<T>(
        &self,
        action: &str,
        f: impl Fn(&TransactionalTree, &TransactionalTree) -> Result<T, UnabortableTransactionError>,
    ) -> Result<T, StoreError> {
        (&self.records, &self.summaries)
            .transaction(|(records, summaries)| Ok(f(records, summaries)?))
            .map_err(|e| match e {
                TransactionError::Storage(e) => backend(action)(e),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })
    }

    fn flush(&self) -> Result<(), StoreError> {
        if HELD.get() > 0 {
            // Within `together` (or `put_record_soon`): flushed once, at its end.
            return Ok(());
        }
        self.db
            .flush()
            .map(drop)
            .map_err(backend("flush state to disk"))
    }
}

thread_local! {
    /// How many `together` calls this thread is in: their writes skip their own flush.
    static HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Holds this thread's flushes while it lives.
struct Held;

impl Held {
    fn new() -> Held {
        HELD.set(HELD.get() + 1);
        Held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.set(HELD.get() - 1);
    }
}

impl Store for SledStore {
    fn put_record_soon<'a>(
        &'a self,
        record: &'a Record,
    ) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            {
                let _held = Held::new();
                self.put_record(record)?;
            }
            self.sync.after_write(&self.db).await
        })
    }

    fn together(
        &self,
        writes: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        {
            let _held = Held::new();
            writes()?;
        }
        self.flush()
    }

    fn records(&self) -> Result<Vec<Record>, StoreError> {
        let mut records = Vec::new();
        for entry in &self.records {
            let (key, value) = entry.map_err(backend("read records"))?;
            records.push(Envelope::decode(&record_name(&key), &value)?);
        }
        Ok(records)
    }

    fn record_summaries(&self) -> Result<Vec<RecordSummary>, StoreError> {
        let mut out = Vec::new();
        for entry in &self.summaries {
            let (key, value) = entry.map_err(backend("read record summaries"))?;
            out.push(Envelope::decode(&summary_name(&key), &value)?);
        }
        Ok(out)
    }

    fn record(&self, address: &str) -> Result<Option<Record>, StoreError> {
        let what = format!("record {address}");
        match self.records.get(address) {
            Ok(Some(bytes)) => Envelope::decode(&what, &bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(backend(&format!("read {what}"))(e)),
        }
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        let what = format!("record {}", record.address);
        let bytes = Envelope::encode(&what, record)?;
        let summary = Envelope::encode(&what, RecordSummary::from(record))?;
        let key = record.address.as_bytes();
        self.unpublish()?;
        self.both_trees(&format!("write {what}"), |records, summaries| {
            records.insert(key, bytes.as_slice())?;
            summaries.insert(key, summary.as_slice())?;
            Ok(())
        })?;
        self.flush()
    }

    fn remove_record(&self, address: &str) -> Result<bool, StoreError> {
        self.unpublish()?;
        let removed =
            self.both_trees(&format!("remove record {address}"), |records, summaries| {
                summaries.remove(address)?;
                records.remove(address)
            })?;
        self.flush()?;
        Ok(removed.is_some())
    }

    fn begin_revision(
        &self,
        plan: &str,
        command: &str,
        targets: &[String],
    ) -> Result<u64, StoreError> {
        let _guard = self
            .revision_guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let last = self.revisions.last().map_err(backend("read revisions"))?;
        let number = match last {
            Some((key, _)) => revision_number(&key).map_or(1, |n| n + 1),
            None => 1,
        };
        let header = Header {
            number,
            plan: Some(plan.to_string()),
            command: command.to_string(),
            targets: targets.to_vec(),
            started_at: now_rfc3339(),
            finished_at: None,
            result: RevisionResult::Running,
        };
        let bytes = Envelope::encode("revision", header)?;
        self.unpublish()?;
        self.revisions
            .insert(number.to_be_bytes(), bytes)
            .map_err(backend(&format!("write revision {number}")))?;
        self.flush()?;
        Ok(number)
    }

    fn record_change(&self, revision: u64, change: &RevisionEntry) -> Result<(), StoreError> {
        self.running(revision)?;
        let sequence = self.db.generate_id().map_err(backend("number a change"))?;
        let mut key = [0; 16];
        key[..8].copy_from_slice(&revision.to_be_bytes());
        key[8..].copy_from_slice(&sequence.to_be_bytes());
        let bytes = Envelope::encode("change", change)?;
        self.unpublish()?;
        self.changes
            .insert(key, bytes)
            .map_err(backend(&format!("write a change of revision {revision}")))?;
        self.flush()
    }

    fn finish_revision(&self, revision: u64, result: RevisionResult) -> Result<(), StoreError> {
        if result == RevisionResult::Running {
            return Err(StoreError::FinishRunning(revision));
        }
        let _guard = self
            .revision_guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let header = self.running(revision)?;
        self.close(header, result, Some(now_rfc3339()))?;
        self.publish(|store| {
            if let Some(finished) = store.revision(revision)? {
                published::write_revision(&store.dir, &finished)?;
            }
            store.publish_head()
        });
        Ok(())
    }

    fn revisions(&self) -> Result<Vec<RevisionSummary>, StoreError> {
        self.headers()?
            .into_iter()
            .map(|h| {
                let changes = self.changes.scan_prefix(h.number.to_be_bytes()).count();
                Ok(RevisionSummary {
                    number: h.number,
                    plan: h.plan,
                    command: h.command,
                    targets: h.targets,
                    started_at: h.started_at,
                    finished_at: h.finished_at,
                    result: h.result,
                    changes,
                })
            })
            .collect()
    }

    fn revision(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        let Some(header) = self.header(number)? else {
            return Ok(None);
        };
        let key = number.to_be_bytes();
        let mut changes = Vec::new();
        for entry in self.changes.scan_prefix(key) {
            let (_, value) = entry.map_err(backend(&format!("read revision {number}")))?;
            changes.push(Envelope::decode(
                &format!("change of revision {number}"),
                &value,
            )?);
        }
        let applied = match self.snapshots.get(key) {
            Ok(Some(bytes)) => Self::decode_snapshot(number, &bytes)?,
            Ok(None) => BTreeMap::new(),
            Err(e) => return Err(backend(&format!("read revision {number}"))(e)),
        };
        Ok(Some(Revision {
            number,
            plan: header.plan,
            command: header.command,
            targets: header.targets,
            started_at: header.started_at,
            finished_at: header.finished_at,
            result: header.result,
            changes,
            applied,
        }))
    }
}

/// `StoreError::Backend` for a failed `action`.
fn backend(action: &str) -> impl FnOnce(::sled::Error) -> StoreError {
    let action = action.to_string();
    move |source| StoreError::Backend {
        action,
        source: Box::new(source),
    }
}

fn open_error(dir: &Path, error: ::sled::Error) -> OpenError {
    // sled reports its own exclusive file lock only through this message.
    let locked = matches!(&error, ::sled::Error::Io(e)
        if e.kind() == io::ErrorKind::Other && e.to_string().starts_with("could not acquire lock"));
    if locked {
        return OpenError::Busy {
            dir: dir.to_path_buf(),
            holder: Lock::inspect(dir).ok().flatten().map(Box::new),
        };
    }
    OpenError::Failed {
        dir: dir.to_path_buf(),
        source: Box::new(error),
    }
}

fn revision_number(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

fn revision_name(key: &[u8]) -> String {
    match revision_number(key) {
        Some(n) => format!("revision {n}"),
        None => format!("revision key {key:02x?}"),
    }
}

fn record_name(key: &[u8]) -> String {
    format!("record {}", String::from_utf8_lossy(key))
}

fn summary_name(key: &[u8]) -> String {
    format!("summary of record {}", String::from_utf8_lossy(key))
}

#[cfg(test)]
mod tests;
