//! The store's operations on the cluster: each write reads the head, writes the blobs
//! that changed, replaces the head at the version it read, then forgets the pieces the
//! old head alone pointed at; each read reads the head and the blobs it needs, and reads
//! again if a writer swept a piece in between.
//!
//! Async and owned (`Ctx` is cheap to clone), so that the bridge can run them; `impl
//! Store for KubeStore` at the end is the synchronous face. It knows records and
//! revisions as the `Store` contract defines them, not what they mean.

use super::KubeStore;
use super::chunks::{self, Blob, ChunkError};
use super::head::{self, Entry, Head, HeadError};
use crate::store::{
    Envelope, Record, Revision, RevisionEntry, RevisionResult, RevisionSummary, Store, StoreError,
    now_rfc3339,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

/// How often a read starts again when a writer swept what it was reading.
const ATTEMPTS: usize = 5;
/// Blobs kept in memory (their JSON), by digest: a blob never changes. A writer needs two
/// (the records and the running revision); a revision may be megabytes.
const CACHED: usize = 4;

#[derive(Clone, Debug)]
pub struct Ctx {
    pub api: Api<Secret>,
    pub state: String,
    /// The Lease identity a writer holds; the head must name it (`Head::holder`).
    pub fence: Option<String>,
    cache: Arc<Mutex<BTreeMap<String, Arc<Vec<u8>>>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "another process took the state's Lease after this one's expired (the head names {holder}); nothing more is written"
    )]
    Fenced { holder: String },
}

impl Ctx {
    pub fn new(api: Api<Secret>, state: String) -> Ctx {
        Ctx {
            api,
            state,
            fence: None,
            cache: Arc::default(),
        }
    }

    async fn head(&self) -> Result<head::Read, Failure> {
        Ok(head::read(&self.api, &self.state).await?)
    }

    /// The head, for a write: refused unless it names this writer's Lease.
    pub async fn head_to_write(&self) -> Result<head::Read, Failure> {
        let read = self.head().await?;
        if read.head.holder.is_some() && read.head.holder != self.fence {
            return Err(Failure::Fenced {
                holder: read.head.holder.unwrap_or_default(),
            });
        }
        Ok(read)
    }

    /// Replace the head read as `read` by `new`, then forget what only the old pointed at.
    async fn commit(&self, read: head::Read, new: &Head) -> Result<(), Failure> {
        head::write(&self.api, &self.state, new, read.version).await?;
        let keep = new.pieces(&self.state);
        let old = read.head.records.iter();
        for blob in old.chain(read.head.revisions.iter().map(|e| &e.blob)) {
            chunks::forget(&self.api, &self.state, blob, &keep).await;
        }
        Ok(())
    }

    async fn value<T: DeserializeOwned>(&self, what: &str, blob: &Blob) -> Result<T, Failure> {
        let cached = self.cache().get(&blob.digest).cloned();
        let json = match cached {
            Some(json) => json,
            None => {
                let json = Arc::new(chunks::read(&self.api, &self.state, blob).await?);
                self.remember(blob, json.clone());
                json
            }
        };
        Ok(Envelope::decode(what, &json)?)
    }

    async fn put_value<T: Serialize>(&self, what: &str, value: T) -> Result<Blob, Failure> {
        let json = Envelope::encode(what, value)?;
        let blob = chunks::write(&self.api, &self.state, &json).await?;
        self.remember(&blob, Arc::new(json));
        Ok(blob)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Vec<u8>>>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, blob: &Blob, json: Arc<Vec<u8>>) {
        let mut cache = self.cache();
        if cache.len() >= CACHED {
            cache.clear();
        }
        cache.insert(blob.digest.clone(), json);
    }

    async fn records_of(&self, head: &Head) -> Result<BTreeMap<String, Record>, Failure> {
        let Some(blob) = &head.records else {
            return Ok(BTreeMap::new());
        };
        let records: Vec<Record> = self.value("records", blob).await?;
        Ok(records
            .into_iter()
            .map(|r| (r.address.clone(), r))
            .collect())
    }

    async fn put_records(
        &self,
        head: &mut Head,
        records: &BTreeMap<String, Record>,
    ) -> Result<(), Failure> {
        let list: Vec<&Record> = records.values().collect();
        head.records = Some(self.put_value("records", list).await?);
        Ok(())
    }

    /// `read` on the current head, again from a new head if a writer swept a piece.
    async fn consistent<T, F, Fut>(&self, read: F) -> Result<T, Failure>
    where
        F: Fn(Head) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match read(self.head().await?.head).await {
                Err(Failure::Chunk(ChunkError::Gone { .. })) if attempt < ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    pub async fn records(&self) -> Result<Vec<Record>, Failure> {
        let records = self
            .consistent(|head| async move { self.records_of(&head).await })
            .await?;
        Ok(records.into_values().collect())
    }

    pub async fn revision(&self, number: u64) -> Result<Option<Revision>, Failure> {
        self.consistent(|head| async move {
            match head.entry(number) {
                Some(entry) => {
                    let what = format!("revision {number}");
                    self.value(&what, &entry.blob).await.map(Some)
                }
                None => Ok(None),
            }
        })
        .await
    }

    pub async fn revisions(&self) -> Result<Vec<RevisionSummary>, Failure> {
        let head = self.head().await?.head;
        Ok(head.revisions.into_iter().map(|e| e.summary).collect())
    }

    /// Alter the records with `change`; its answer is returned once committed.
    pub async fn change_records<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Record>) -> T,
    ) -> Result<T, Failure> {
        let read = self.head_to_write().await?;
        let mut records = self.records_of(&read.head).await?;
        let answer = change(&mut records);
        let mut head = read.head.clone();
        self.put_records(&mut head, &records).await?;
        if head.records != read.head.records {
            self.commit(read, &head).await?;
        }
        Ok(answer)
    }

    pub async fn begin(
        &self,
        plan: String,
        command: String,
        targets: Vec<String>,
    ) -> Result<u64, Failure> {
        let read = self.head_to_write().await?;
        let number = read
            .head
            .revisions
            .last()
            .map_or(1, |e| e.summary.number + 1);
        let revision = Revision {
            number,
            plan: Some(plan),
            command,
            targets,
            started_at: now_rfc3339(),
            finished_at: None,
            result: RevisionResult::Running,
            changes: Vec::new(),
            applied: BTreeMap::new(),
        };
        self.append(read, revision).await?;
        Ok(number)
    }

    /// Add `revision` after the last one (`import` keeps its number, which must be later).
    pub async fn import(&self, revision: Revision) -> Result<(), Failure> {
        let read = self.head_to_write().await?;
        let last = read.head.revisions.last().map_or(0, |e| e.summary.number);
        if revision.number <= last {
            return Err(Failure::Store(StoreError::Backend {
                action: format!("import revision {}", revision.number),
                source: format!("it is not after the last revision ({last})").into(),
            }));
        }
        self.append(read, revision).await
    }

    async fn append(&self, read: head::Read, revision: Revision) -> Result<(), Failure> {
        let mut head = read.head.clone();
        let summary = summary(&revision);
        let blob = self.put_value("revision", &revision).await?;
        head.revisions.push(Entry { summary, blob });
        self.commit(read, &head).await
    }

    /// Alter running revision `number` with `change`, and commit it.
    pub async fn change_revision(
        &self,
        number: u64,
        change: impl FnOnce(&mut Revision, BTreeMap<String, Record>),
    ) -> Result<(), Failure> {
        let read = self.head_to_write().await?;
        let entry = read
            .head
            .entry(number)
            .ok_or(StoreError::NoSuchRevision(number))?;
        if entry.summary.result != RevisionResult::Running {
            return Err(StoreError::Finished(number).into());
        }
        let mut revision: Revision = self.value("revision", &entry.blob).await?;
        change(&mut revision, self.records_of(&read.head).await?);
        let blob = self.put_value("revision", &revision).await?;
        let mut head = read.head.clone();
        let entry = head.entry_mut(number).expect("found above");
        *entry = Entry {
            summary: summary(&revision),
            blob,
        };
        self.commit(read, &head).await
    }

    /// Mark the revisions a dead holder left running as interrupted, sweep the pieces
    /// nothing points at, and write the head naming this holder (creating it if missing).
    pub async fn recover(&self) -> Result<(), Failure> {
        // Taken over from whoever wrote last: from now on only this holder writes.
        let read = self.head().await?;
        let running: Vec<u64> = read
            .head
            .revisions
            .iter()
            .filter(|e| e.summary.result == RevisionResult::Running)
            .map(|e| e.summary.number)
            .collect();
        let mut head = read.head.clone();
        head.holder = self.fence.clone();
        self.commit(read, &head).await?;
        for number in running {
            self.change_revision(number, |revision, records| {
                revision.result = RevisionResult::Interrupted;
                revision.applied = records;
            })
            .await?;
        }
        let keep = self.head().await?.head.pieces(&self.state);
        chunks::sweep(&self.api, &self.state, &keep).await?;
        Ok(())
    }
}

fn summary(revision: &Revision) -> RevisionSummary {
    RevisionSummary {
        number: revision.number,
        plan: revision.plan.clone(),
        command: revision.command.clone(),
        targets: revision.targets.clone(),
        started_at: revision.started_at.clone(),
        finished_at: revision.finished_at.clone(),
        result: revision.result.clone(),
        changes: revision.changes.len(),
    }
}

impl KubeStore {
    /// Run a read on the store's runtime.
    fn read<T, F, Fut>(&self, action: &str, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let future = op(self.ctx.clone());
        self.bridge.run(future).map_err(self.backend(action))
    }

    /// Run a write on the store's runtime, one at a time, with the lease held.
    fn write<T, F, Fut>(&self, action: &str, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        self.writable()?;
        let _one = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        self.read(action, op)
    }

    /// Add a finished revision as it was (`mtm state migrate`), after the last one.
    pub fn import_revision(&self, revision: &Revision) -> Result<(), StoreError> {
        let revision = revision.clone();
        let action = format!("import revision {}", revision.number);
        self.write(&action, |ctx| async move { ctx.import(revision).await })
    }
}

impl Store for KubeStore {
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        self.read("read records", |ctx| async move { ctx.records().await })
    }

    fn record(&self, address: &str) -> Result<Option<Record>, StoreError> {
        let address = address.to_string();
        self.read(&format!("read record {address}"), |ctx| async move {
            let records = ctx.records().await?;
            Ok(records.into_iter().find(|r| r.address == address))
        })
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        let record = record.clone();
        self.write(
            &format!("write record {}", record.address),
            |ctx| async move {
                ctx.change_records(move |records| {
                    records.insert(record.address.clone(), record);
                })
                .await
            },
        )
    }

    fn remove_record(&self, address: &str) -> Result<bool, StoreError> {
        let address = address.to_string();
        self.write(&format!("remove record {address}"), |ctx| async move {
            ctx.change_records(move |records| records.remove(&address).is_some())
                .await
        })
    }

    fn begin_revision(
        &self,
        plan: &str,
        command: &str,
        targets: &[String],
    ) -> Result<u64, StoreError> {
        let (plan, command, targets) = (plan.to_string(), command.to_string(), targets.to_vec());
        self.write("begin a revision", |ctx| async move {
            ctx.begin(plan, command, targets).await
        })
    }

    fn record_change(&self, revision: u64, change: &RevisionEntry) -> Result<(), StoreError> {
        let change = change.clone();
        let action = format!("write a change of revision {revision}");
        self.write(&action, |ctx| async move {
            ctx.change_revision(revision, move |r, _| r.changes.push(change))
                .await
        })
    }

    fn finish_revision(&self, revision: u64, result: RevisionResult) -> Result<(), StoreError> {
        if result == RevisionResult::Running {
            return Err(StoreError::FinishRunning(revision));
        }
        let action = format!("finish revision {revision}");
        self.write(&action, |ctx| async move {
            ctx.change_revision(revision, move |r, records| {
                r.result = result;
                r.finished_at = Some(now_rfc3339());
                r.applied = records;
            })
            .await
        })?;
        self.sync_generated()
    }

    fn revisions(&self) -> Result<Vec<RevisionSummary>, StoreError> {
        self.read("read revisions", |ctx| async move { ctx.revisions().await })
    }

    fn revision(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        let action = format!("read revision {number}");
        self.read(&action, |ctx| async move { ctx.revision(number).await })
    }
}
