//! What every `Store` must do, as test bodies that each implementation's tests call.
//!
//! Compiled into the library (hidden) so that the integration tests run it against the
//! kube backend too. These only use the trait; what is particular to one backend (persistence across
//! opens, schema checks, locks) is tested beside that backend.

use super::{Identity, Record, RevisionEntry, RevisionResult, Store, StoreError};
use serde_json::json;

pub fn record(address: &str, revision: u64) -> Record {
    let name = address.rsplit('/').next().unwrap_or(address);
    Record {
        address: address.to_string(),
        cluster: Some("east".to_string()),
        identity: Some(Identity {
            group: String::new(),
            version: "v1".to_string(),
            kind: "ConfigMap".to_string(),
            namespace: Some("lab".to_string()),
            name: name.to_string(),
            uid: Some(format!("uid-{name}")),
        }),
        kind: "object".to_string(),
        hash: format!("{revision:064x}"),
        manifest: json!({"kind": "ConfigMap", "metadata": {"name": name}, "data": {"rev": revision}}),
        revision,
        applied_at: "2026-11-29T08:40:12Z".to_string(),
        prior: None,
    }
}

fn change(address: &str, action: &str) -> RevisionEntry {
    RevisionEntry {
        address: address.to_string(),
        action: action.to_string(),
        hash: Some("ab".repeat(32)),
    }
}

fn addresses(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.address.as_str()).collect()
}

pub fn records(store: &dyn Store) {
    assert!(store.records().unwrap().is_empty());
    for address in [
        "lab1/east/v1/ConfigMap/lab/b",
        "lab1/east/v1/ConfigMap/lab/a",
        "z",
    ] {
        store.put_record(&record(address, 1)).unwrap();
    }
    let all = store.records().unwrap();
    assert_eq!(
        addresses(&all),
        [
            "lab1/east/v1/ConfigMap/lab/a",
            "lab1/east/v1/ConfigMap/lab/b",
            "z"
        ]
    );
    assert_eq!(all[0], record("lab1/east/v1/ConfigMap/lab/a", 1));

    let mut replaced = record("z", 2);
    replaced.prior = Some(json!({"kept": "from before"}));
    store.put_record(&replaced).unwrap();
    assert_eq!(store.record("z").unwrap(), Some(replaced));
    assert_eq!(store.records().unwrap().len(), 3);

    let summaries: Vec<super::RecordSummary> =
        store.records().unwrap().iter().map(Into::into).collect();
    assert_eq!(store.record_summaries().unwrap(), summaries);
    assert_eq!(summaries[2].revision, 2);

    assert!(store.remove_record("z").unwrap());
    assert!(!store.remove_record("z").unwrap());
    assert_eq!(store.record("z").unwrap(), None);
    assert_eq!(store.records().unwrap().len(), 2);
    assert_eq!(store.record_summaries().unwrap().len(), 2);
}

pub fn revisions(store: &dyn Store) {
    assert!(store.revisions().unwrap().is_empty());
    assert_eq!(store.revision(1).unwrap(), None);

    let targets = vec!["lab6".to_string()];
    let first = store
        .begin_revision("test-plan", "mtm apply --target lab6", &targets)
        .unwrap();
    assert_eq!(first, 1);
    store.record_change(first, &change("a", "create")).unwrap();
    store.record_change(first, &change("b", "update")).unwrap();
    let running = store.revision(first).unwrap().unwrap();
    assert_eq!(running.result, RevisionResult::Running);
    assert_eq!(running.finished_at, None);
    assert_eq!(running.targets, targets);
    assert_eq!(
        running.changes,
        [change("a", "create"), change("b", "update")]
    );
    assert!(running.started_at.ends_with('Z'), "{}", running.started_at);

    let failed = RevisionResult::Failed {
        message: "lab6/east/...: timed out".to_string(),
    };
    store.finish_revision(first, failed.clone()).unwrap();
    let second = store
        .begin_revision("test-plan", "mtm destroy", &[])
        .unwrap();
    assert_eq!(second, 2);
    store.record_change(second, &change("a", "delete")).unwrap();

    let summaries = store.revisions().unwrap();
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0].number, 1);
    assert_eq!(summaries[0].command, "mtm apply --target lab6");
    assert_eq!(summaries[0].result, failed);
    assert_eq!(summaries[0].changes, 2);
    assert!(summaries[0].finished_at.is_some());
    assert_eq!(summaries[1].number, 2);
    assert_eq!(summaries[1].result, RevisionResult::Running);
    assert_eq!(summaries[1].changes, 1);
    assert_eq!(store.revision(3).unwrap(), None);
}

pub fn snapshots(store: &dyn Store) {
    store.put_record(&record("a", 1)).unwrap();
    store.put_record(&record("b", 1)).unwrap();
    let first = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    assert!(store.revision(first).unwrap().unwrap().applied.is_empty());
    store
        .finish_revision(first, RevisionResult::Succeeded)
        .unwrap();

    let second = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    store.put_record(&record("a", second)).unwrap();
    store.remove_record("b").unwrap();
    store.put_record(&record("c", second)).unwrap();
    store
        .finish_revision(second, RevisionResult::Succeeded)
        .unwrap();

    let applied = store.revision(first).unwrap().unwrap().applied;
    assert_eq!(applied.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(applied["a"], record("a", 1));
    let applied = store.revision(second).unwrap().unwrap().applied;
    assert_eq!(applied.keys().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(applied["a"], record("a", second));
}

pub fn finished_revisions_are_closed(store: &dyn Store) {
    let n = store.begin_revision("test-plan", "mtm apply", &[]).unwrap();
    assert!(matches!(
        store.finish_revision(n, RevisionResult::Running),
        Err(StoreError::FinishRunning(1))
    ));
    store.finish_revision(n, RevisionResult::Succeeded).unwrap();
    let again = store
        .finish_revision(n, RevisionResult::Interrupted)
        .unwrap_err();
    assert_eq!(again.to_string(), "revision 1 is already finished");
    assert!(matches!(
        store.record_change(n, &change("a", "create")),
        Err(StoreError::Finished(1))
    ));
    assert!(matches!(
        store.record_change(7, &change("a", "create")),
        Err(StoreError::NoSuchRevision(7))
    ));
    assert!(matches!(
        store.finish_revision(7, RevisionResult::Succeeded),
        Err(StoreError::NoSuchRevision(7))
    ));
    let summary = &store.revisions().unwrap()[0];
    assert_eq!(summary.result, RevisionResult::Succeeded);
    assert_eq!(summary.changes, 0);
}
