//! Tests of the on-disk store: the shared contract, persistence across opens, interrupted
//! revisions, schema refusal and sled's own lock. Raw writes go through the store's trees
//! so that only `sled.rs` names the sled crate.

use super::{LAYOUT_KEY, OpenError, SledStore, UNPUBLISHED, open_locked};
use crate::store::contract::{self, record};
use crate::store::published::{self, Head};
use crate::store::{Lock, LockError, RevisionEntry, RevisionResult, Store, StoreError};
use crate::store::{Record, RecordSummary};
use serde_json::json;

/// Opens `dir` again after its store was dropped. sled's shared I/O threads (busy with
/// the other tests' stores) may hold the dropped database a moment longer.
fn reopen(dir: &std::path::Path) -> SledStore {
    for _ in 0..50 {
        match SledStore::open(dir) {
            Err(OpenError::Busy { holder: None, .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            opened => return opened.unwrap(),
        }
    }
    SledStore::open(dir).unwrap()
}

fn fresh() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn records() {
    contract::records(&fresh().1);
}

#[test]
fn revisions() {
    contract::revisions(&fresh().1);
}

#[test]
fn snapshots() {
    contract::snapshots(&fresh().1);
}

#[test]
fn finished_revisions_are_closed() {
    contract::finished_revisions_are_closed(&fresh().1);
}

#[test]
fn everything_survives_a_reopen() {
    let (dir, store) = fresh();
    store.put_record(&record("a", 1)).unwrap();
    let n = store
        .begin_revision("test-plan", "mtm apply", &["lab1".to_string()])
        .unwrap();
    let change = RevisionEntry {
        address: "a".to_string(),
        action: "create".to_string(),
        hash: None,
    };
    store.record_change(n, &change).unwrap();
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    let before = store.revision(n).unwrap().unwrap();
    drop(store);

    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.records().unwrap(), [record("a", 1)]);
    assert_eq!(store.revision(n).unwrap().unwrap(), before);
    assert_eq!(before.changes, [change]);
    assert_eq!(
        store
            .begin_revision("test-plan", "mtm destroy", &[])
            .unwrap(),
        2
    );
}

#[test]
fn a_revision_left_running_reads_as_interrupted_after_reopen() {
    let (dir, store) = fresh();
    let n = store
        .begin_revision("test-plan", "mtm apply --target lab6", &[])
        .unwrap();
    store.put_record(&record("a", n)).unwrap();
    // Still running for the process that began it.
    assert_eq!(
        store.revisions().unwrap()[0].result,
        RevisionResult::Running
    );
    drop(store); // without finishing, as a killed process would

    let store = SledStore::open(dir.path()).unwrap();
    let summary = &store.revisions().unwrap()[0];
    assert_eq!(summary.result, RevisionResult::Interrupted);
    assert_eq!(summary.finished_at, None);
    let revision = store.revision(n).unwrap().unwrap();
    assert_eq!(revision.applied.keys().collect::<Vec<_>>(), ["a"]);
    assert!(matches!(
        store.finish_revision(n, RevisionResult::Succeeded),
        Err(StoreError::Finished(1))
    ));
}

#[test]
fn a_newer_schema_is_refused() {
    let (dir, store) = fresh();
    store.put_record(&record("a", 1)).unwrap();
    store.meta.insert(LAYOUT_KEY, &3u32.to_be_bytes()).unwrap();
    drop(store);

    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, OpenError::NewerSchema { found: 3, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "state in {} was written by a newer mtm (schema 3, this mtm reads up to 2)\n  help: use that newer mtm, or move the state directory aside",
            dir.path().display()
        )
    );
}

#[test]
fn a_new_store_records_its_schema() {
    let (_dir, store) = fresh();
    let stored = store.meta.get(LAYOUT_KEY).unwrap().unwrap();
    assert_eq!(stored.as_ref(), 2u32.to_be_bytes());
}

#[test]
fn an_entry_from_a_newer_schema_is_refused_not_misread() {
    let (_dir, store) = fresh();
    let newer = json!({"schema": 2, "data": {"address": "a", "shape": "unknown"}});
    store
        .records
        .insert("a", serde_json::to_vec(&newer).unwrap())
        .unwrap();
    let err = store.record("a").unwrap_err();
    assert!(
        matches!(err, StoreError::NewerEntry { found: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("state entry record a was written by a newer mtm")
    );
    assert!(store.records().is_err());
}

#[test]
fn a_damaged_entry_is_named() {
    let (_dir, store) = fresh();
    store
        .records
        .insert("lab1/east/x", b"{not json".as_slice())
        .unwrap();
    let err = store.records().unwrap_err();
    assert_eq!(
        err.to_string(),
        "state entry record lab1/east/x is unreadable; the state directory may be damaged"
    );
}

#[test]
fn a_second_open_is_refused_clearly() {
    let (dir, _store) = fresh();
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, OpenError::Busy { holder: None, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "state in {} is open in another process\n  help: wait for that process to finish, or stop it",
            dir.path().display()
        )
    );

    // With a lock file present, the message names its holder.
    let lock = Lock::acquire(dir.path(), "mtm apply --target lab6").unwrap();
    let message = SledStore::open(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains(&format!(", whose lock names {}", lock.holder())),
        "{message}"
    );
}

#[test]
fn open_locked_creates_the_directory_and_excludes_a_second_caller() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("nested/state");
    let (lock, store) = open_locked(&dir, "mtm apply", std::time::Duration::ZERO).unwrap();
    assert_eq!(lock.path(), dir.join("lock"));
    assert_eq!(store.dir(), dir);

    let err = open_locked(&dir, "mtm plan", std::time::Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, OpenError::Lock(LockError::Held { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains(": mtm apply\n"), "{err}");

    drop(store);
    drop(lock);
    let (_lock, store) = open_locked(&dir, "mtm plan", std::time::Duration::ZERO).unwrap();
    assert!(store.records().unwrap().is_empty());
}

#[test]
fn a_failed_open_releases_the_lock() {
    let (dir, _store) = fresh();
    let err = open_locked(dir.path(), "mtm apply", std::time::Duration::ZERO).unwrap_err();
    assert!(matches!(err, OpenError::Busy { .. }), "{err:?}");
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
}

#[test]
fn a_snapshot_keeps_addresses_that_need_escaping() {
    let (_dir, store) = fresh();
    let odd = record("lab1/east/\"quoted\"\\back\u{1}/ü", 1);
    store.put_record(&odd).unwrap();
    store.put_record(&record("plain", 1)).unwrap();
    let n = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    let applied = store.revision(n).unwrap().unwrap().applied;
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[&odd.address], odd);
}

#[test]
fn a_snapshot_holding_a_newer_record_is_refused_not_misread() {
    let (_dir, store) = fresh();
    store.put_record(&record("a", 1)).unwrap();
    let newer = json!({"schema": 2, "data": {"address": "b", "shape": "unknown"}});
    store
        .records
        .insert("b", serde_json::to_vec(&newer).unwrap())
        .unwrap();
    let n = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    let err = store.revision(n).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerEntry { found: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "state entry record b in snapshot of revision 1 was written by a newer mtm"
        ),
        "{err}"
    );
}

#[test]
fn a_revision_from_before_masking_is_masked_at_open() {
    let (dir, store) = fresh();
    // What an mtm that kept command lines as typed wrote: no plan name, a --var value.
    let old = json!({"schema": 1, "data": {"number": 1, "command": "mtm apply --var KEY=hunter2",
        "targets": [], "started_at": "2026-11-29T08:40:12Z", "finished_at": "2026-11-29T08:41:00Z",
        "result": {"state": "succeeded"}}});
    store
        .revisions
        .insert(1u64.to_be_bytes(), serde_json::to_vec(&old).unwrap())
        .unwrap();
    drop(store);
    let store = SledStore::open(dir.path()).unwrap();
    let revisions = store.revisions().unwrap();
    assert_eq!(revisions[0].command, "mtm apply --var KEY=(sensitive)");
    // What readers see while a writer holds the state, too.
    let head = crate::store::published::read_head(dir.path())
        .unwrap()
        .unwrap();
    assert_eq!(head.revisions[0].command, "mtm apply --var KEY=(sensitive)");
    let published = crate::store::published::read_revision(dir.path(), 1)
        .unwrap()
        .unwrap();
    assert_eq!(published.command, "mtm apply --var KEY=(sensitive)");
}

#[test]
fn every_commit_publishes_what_readers_see() {
    let (dir, store) = fresh();
    store.put_record(&record("a", 1)).unwrap();
    let n = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    // Written after the commit: not published until the next one.
    store.put_record(&record("b", 2)).unwrap();
    let head = crate::store::published::read_head(dir.path())
        .unwrap()
        .unwrap();
    let addresses: Vec<&str> = head.records.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["a"]);
    assert_eq!(head.revisions.len(), 1);
    assert_eq!(head.revisions[0].plan.as_deref(), Some("test-plan"));
    let published = crate::store::published::read_revision(dir.path(), n)
        .unwrap()
        .unwrap();
    assert_eq!(published, store.revision(n).unwrap().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_soon_by_many_at_once_all_land() {
    let (dir, store) = fresh();
    let records: Vec<_> = (0..40).map(|i| record(&format!("r{i:02}"), 1)).collect();
    let writes = records.iter().map(|r| store.put_record_soon(r));
    for written in futures::future::join_all(writes).await {
        written.unwrap();
    }
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(store.records().unwrap(), records);
}

#[test]
fn writes_together_land_and_later_writes_flush_on_their_own_again() {
    let (dir, store) = fresh();
    let n = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    let change = RevisionEntry {
        address: "a".to_string(),
        action: "create".to_string(),
        hash: None,
    };
    store
        .together(&mut || {
            store.put_record(&record("a", n))?;
            store.record_change(n, &change)
        })
        .unwrap();
    let refused = store.together(&mut || Err(StoreError::Finished(7)));
    assert!(
        matches!(refused, Err(StoreError::Finished(7))),
        "{refused:?}"
    );
    assert_eq!(super::HELD.get(), 0, "flushes still held after together");
    store.put_record(&record("b", n)).unwrap();
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(store.records().unwrap(), [record("a", n), record("b", n)]);
    assert_eq!(store.revision(n).unwrap().unwrap().changes, [change]);
}

fn summaries_of(records: &[Record]) -> Vec<RecordSummary> {
    records.iter().map(RecordSummary::from).collect()
}

#[test]
fn summaries_agree_with_records_after_puts_and_removes() {
    let (_dir, store) = fresh();
    for address in ["b", "a", "c"] {
        store.put_record(&record(address, 1)).unwrap();
    }
    store.put_record(&record("a", 2)).unwrap();
    assert!(store.remove_record("c").unwrap());
    assert!(!store.remove_record("c").unwrap());
    let records = store.records().unwrap();
    assert_eq!(store.record_summaries().unwrap(), summaries_of(&records));
    assert_eq!(store.summaries.len(), 2);
}

#[test]
fn a_state_of_the_first_layout_gains_its_summaries_at_open() {
    let (dir, store) = fresh();
    for (address, revision) in [("x/east/core/ConfigMap/a/b", 1), ("y", 2), ("z", 3)] {
        store.put_record(&record(address, revision)).unwrap();
    }
    let records = store.records().unwrap();
    // What an mtm of layout 1 left: records alone.
    store.summaries.clear().unwrap();
    store.meta.insert(LAYOUT_KEY, &1u32.to_be_bytes()).unwrap();
    store.flush().unwrap();
    drop(store);

    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.records().unwrap(), records);
    assert_eq!(store.record_summaries().unwrap(), summaries_of(&records));
    let stored = store.meta.get(LAYOUT_KEY).unwrap().unwrap();
    assert_eq!(stored.as_ref(), 2u32.to_be_bytes());
    let head = published::read_head(dir.path()).unwrap().unwrap();
    assert_eq!(head.records, records);
}

#[test]
fn a_migration_cut_short_is_redone_whole() {
    let (dir, store) = fresh();
    store.put_record(&record("a", 1)).unwrap();
    store.put_record(&record("b", 1)).unwrap();
    // Layout 1 with a stale summary that no record has, as a cut-short migration leaves.
    store.summaries.remove("b").unwrap();
    store
        .summaries
        .insert("gone", store.summaries.get("a").unwrap().unwrap())
        .unwrap();
    store.meta.insert(LAYOUT_KEY, &1u32.to_be_bytes()).unwrap();
    store.flush().unwrap();
    drop(store);

    let store = SledStore::open(dir.path()).unwrap();
    let records = store.records().unwrap();
    assert_eq!(store.record_summaries().unwrap(), summaries_of(&records));
}

#[test]
fn open_publishes_only_what_changed_since_the_last_publication() {
    let (dir, store) = fresh();
    store.put_record(&record("a", 1)).unwrap();
    let n = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    assert!(!store.meta.contains_key(UNPUBLISHED).unwrap());
    drop(store);
    // A stand-in head: an open that republished would replace it.
    published::write_head(dir.path(), &Head::default()).unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    let head = published::read_head(dir.path()).unwrap().unwrap();
    assert!(head.records.is_empty() && head.revisions.is_empty());

    // A write after the last publication (a writer killed before its commit) is.
    let store = SledStore::open(dir.path()).unwrap();
    store.put_record(&record("b", 2)).unwrap();
    assert!(store.meta.contains_key(UNPUBLISHED).unwrap());
    drop(store);
    let store = SledStore::open(dir.path()).unwrap();
    let head = published::read_head(dir.path()).unwrap().unwrap();
    assert_eq!(head.records, store.records().unwrap());
    assert_eq!(head.revisions, store.revisions().unwrap());
    assert!(!store.meta.contains_key(UNPUBLISHED).unwrap());
}
