//! Tests of the state lock: who holds it, release on drop, waiting, and when breaking is
//! allowed. Two opens of the lock file in one process exclude each other as two processes
//! would; the test of a holder that is killed is in tests/it/store.rs.

use super::{Holder, Lock, LockError, this_host};
use std::path::Path;
use std::time::Duration;

/// Holds the lock file's OS lock with `holder` as its content, as another mtm would.
fn hold_as(dir: &Path, holder: &Holder) -> std::fs::File {
    let file = super::open(&dir.join("lock")).unwrap();
    file.try_lock().unwrap();
    std::fs::write(dir.join("lock"), serde_json::to_vec(holder).unwrap()).unwrap();
    file
}

fn someone(host: &str) -> Holder {
    Holder {
        pid: 4242,
        host: host.to_string(),
        command: "mtm apply --target lab6".to_string(),
        started_at: "2026-11-29T08:40:12Z".to_string(),
        reading: false,
    }
}

#[test]
fn acquire_writes_the_holder_and_drop_releases() {
    let dir = tempfile::tempdir().unwrap();
    let lock = Lock::acquire(dir.path(), "mtm apply --target lab6").unwrap();
    let holder = Lock::inspect(dir.path()).unwrap().unwrap();
    assert_eq!(&holder, lock.holder());
    assert_eq!(holder.pid, std::process::id());
    assert_eq!(holder.host, this_host());
    assert_eq!(holder.command, "mtm apply --target lab6");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("lock")).unwrap()).unwrap();
    for key in ["pid", "host", "command", "started_at"] {
        assert!(json.get(key).is_some(), "lock file lacks {key}: {json}");
    }
    drop(lock);
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
    assert_eq!(std::fs::read(dir.path().join("lock")).unwrap(), b"");
    Lock::acquire(dir.path(), "mtm apply").unwrap();
}

#[cfg(unix)]
#[test]
fn the_lock_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _lock = Lock::acquire(dir.path(), "mtm apply").unwrap();
    let mode = std::fs::metadata(dir.path().join("lock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_held_lock_is_refused_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = Lock::acquire(dir.path(), "mtm apply --target lab6").unwrap();
    let err = Lock::acquire(dir.path(), "mtm plan").unwrap_err();
    let LockError::Held { holder, .. } = &err else {
        panic!("expected held, got {err:?}");
    };
    assert_eq!(**holder, *first.holder());
    let message = err.to_string();
    let expected = format!(
        "is locked: held by pid {} on host {} since {}: mtm apply --target lab6\n  help: wait for that process to finish (or pass --lock-timeout DURATION to wait), or stop it",
        std::process::id(),
        this_host(),
        first.holder().started_at
    );
    assert!(message.contains(&expected), "{message}");
    assert_eq!(
        Lock::inspect(dir.path()).unwrap().as_ref(),
        Some(first.holder())
    );
}

#[test]
fn a_stale_holder_in_the_file_does_not_lock() {
    let dir = tempfile::tempdir().unwrap();
    // What a killed holder leaves: its name, but no OS lock.
    std::fs::write(
        dir.path().join("lock"),
        serde_json::to_vec(&someone(&this_host())).unwrap(),
    )
    .unwrap();
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
    let lock = Lock::acquire(dir.path(), "mtm plan").unwrap();
    assert_eq!(lock.holder().command, "mtm plan");
}

#[test]
fn acquire_waiting_takes_the_lock_once_the_holder_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let first = Lock::acquire(dir.path(), "mtm apply").unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    let lock = Lock::acquire_waiting(dir.path(), "mtm plan", Duration::from_secs(30)).unwrap();
    assert_eq!(lock.holder().command, "mtm plan");
    releaser.join().unwrap();
}

#[test]
fn acquire_waiting_gives_up_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Lock::acquire(dir.path(), "mtm apply").unwrap();
    let err =
        Lock::acquire_waiting(dir.path(), "mtm plan", Duration::from_millis(300)).unwrap_err();
    assert!(err.to_string().contains(": mtm apply"), "{err}");
}

#[test]
fn a_writer_waits_for_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let reader = Lock::acquire_reading(dir.path(), "mtm state list").unwrap();
    assert!(reader.holder().reading);
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = released.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(reader);
    });
    Lock::acquire(dir.path(), "mtm apply").unwrap();
    // Taken only after the reader let go, not beside it.
    assert!(released.load(std::sync::atomic::Ordering::SeqCst));
    releaser.join().unwrap();
}

#[test]
fn release_clears_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let lock = Lock::acquire(dir.path(), "mtm apply").unwrap();
    lock.release().unwrap();
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
    Lock::acquire(dir.path(), "mtm apply").unwrap();
}

#[test]
fn break_stale_without_a_lock_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Lock::break_stale(dir.path()).unwrap(), None);
}

#[test]
fn break_stale_refuses_a_holder_on_this_host() {
    let dir = tempfile::tempdir().unwrap();
    let lock = Lock::acquire(dir.path(), "mtm apply --target lab6").unwrap();
    let err = Lock::break_stale(dir.path()).unwrap_err();
    assert!(matches!(err, LockError::Alive { .. }), "{err:?}");
    assert!(err.to_string().contains("is still running"), "{err}");
    assert_eq!(
        Lock::inspect(dir.path()).unwrap().as_ref(),
        Some(lock.holder())
    );
}

#[test]
fn break_stale_removes_a_lock_from_another_host() {
    let dir = tempfile::tempdir().unwrap();
    let _held = hold_as(dir.path(), &someone("elsewhere"));
    let message = Lock::acquire(dir.path(), "mtm plan")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("held by pid 4242 on host elsewhere"),
        "{message}"
    );
    assert!(
        message.contains("taken on host elsewhere; if that process is gone, run: mtm unlock"),
        "{message}"
    );
    let broken = Lock::break_stale(dir.path()).unwrap().unwrap();
    assert_eq!(broken.holder.host, "elsewhere");
    // The old file keeps its OS lock, but the path is a new file now.
    let lock = Lock::acquire(dir.path(), "mtm apply").unwrap();
    assert_eq!(lock.holder().command, "mtm apply");
}

#[test]
fn an_unreadable_lock_of_a_live_holder_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = super::open(&dir.path().join("lock")).unwrap();
    file.try_lock().unwrap();
    std::fs::write(dir.path().join("lock"), "not json").unwrap();
    let err = Lock::acquire(dir.path(), "mtm apply").unwrap_err();
    assert!(matches!(err, LockError::Unreadable { .. }), "{err:?}");
    drop(file);
    Lock::acquire(dir.path(), "mtm apply").unwrap();
}
