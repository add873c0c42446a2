//! Tests of the state lock: who holds it, release on drop, and when breaking is allowed.

use super::{Holder, Lock, LockError, boot_id, proc_stat, this_host};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn plant(dir: &Path, holder: &Holder) {
    std::fs::write(dir.join("lock"), serde_json::to_vec(holder).unwrap()).unwrap();
}

/// A holder on this host with the given pid and nothing that proves it stale.
fn someone(pid: u32) -> Holder {
    Holder {
        pid,
        host: this_host(),
        command: "mtm apply --target lab6".to_string(),
        started_at: "2026-11-29T08:40:12Z".to_string(),
        process_start: None,
        boot_id: None,
        token: "planted".to_string(),
    }
}

fn own_start() -> u64 {
    proc_stat("self")
        .and_then(|s| s.start)
        .expect("/proc/self/stat has a start time")
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
    assert_eq!(holder.process_start, Some(own_start()));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("lock")).unwrap()).unwrap();
    for key in ["pid", "host", "command", "started_at"] {
        assert!(json.get(key).is_some(), "lock file lacks {key}: {json}");
    }
    drop(lock);
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
    // Nothing staged is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
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
        "is locked: held by pid {} on host {} since {}: mtm apply --target lab6\n  help: if that process is gone, run: mtm unlock",
        std::process::id(),
        this_host(),
        first.holder().started_at
    );
    assert!(message.contains(&expected), "{message}");
    // The refusal did not disturb the holder's file.
    assert_eq!(
        Lock::inspect(dir.path()).unwrap().as_ref(),
        Some(first.holder())
    );
}

#[test]
fn a_lock_from_another_host_says_to_delete_it_there() {
    let dir = tempfile::tempdir().unwrap();
    plant(
        dir.path(),
        &Holder {
            host: "elsewhere".to_string(),
            ..someone(1)
        },
    );
    let message = Lock::acquire(dir.path(), "mtm plan")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("held by pid 1 on host elsewhere"),
        "{message}"
    );
    assert!(
        message.contains("it was taken on host elsewhere; if that process is gone, delete"),
        "{message}"
    );
}

#[test]
fn drop_leaves_a_lock_that_is_no_longer_ours() {
    let dir = tempfile::tempdir().unwrap();
    let lock = Lock::acquire(dir.path(), "mtm apply").unwrap();
    let other = someone(std::process::id());
    plant(dir.path(), &other);
    drop(lock);
    assert_eq!(Lock::inspect(dir.path()).unwrap(), Some(other));
}

#[test]
fn release_reports_and_removes() {
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
fn break_stale_refuses_a_running_holder() {
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
fn break_stale_refuses_another_host() {
    let dir = tempfile::tempdir().unwrap();
    plant(
        dir.path(),
        &Holder {
            host: "elsewhere".to_string(),
            ..someone(i32::MAX as u32)
        },
    );
    let err = Lock::break_stale(dir.path()).unwrap_err();
    assert!(matches!(err, LockError::OtherHost { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("taken on host elsewhere, not on this host"),
        "{message}"
    );
    assert!(Lock::inspect(dir.path()).unwrap().is_some());
}

#[test]
fn break_stale_removes_a_lock_whose_pid_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    // Above any pid_max Linux allows.
    let holder = someone(i32::MAX as u32);
    plant(dir.path(), &holder);
    let broken = Lock::break_stale(dir.path()).unwrap().unwrap();
    assert_eq!(broken.holder, holder);
    assert_eq!(broken.reason, format!("no process has pid {}", i32::MAX));
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
    Lock::acquire(dir.path(), "mtm apply").unwrap();
}

#[test]
fn break_stale_removes_a_lock_whose_pid_was_reused() {
    let dir = tempfile::tempdir().unwrap();
    // Our pid is running, but it is not the process that took this lock.
    let holder = Holder {
        process_start: Some(own_start() + 1),
        ..someone(std::process::id())
    };
    plant(dir.path(), &holder);
    let broken = Lock::break_stale(dir.path()).unwrap().unwrap();
    assert!(
        broken.reason.contains("now belongs to another process"),
        "{}",
        broken.reason
    );
    assert_eq!(Lock::inspect(dir.path()).unwrap(), None);
}

#[test]
fn break_stale_removes_a_lock_from_before_a_restart() {
    assert!(
        boot_id().is_some(),
        "this test needs /proc/sys/kernel/random/boot_id"
    );
    let dir = tempfile::tempdir().unwrap();
    let holder = Holder {
        process_start: Some(own_start()),
        boot_id: Some("another-boot".to_string()),
        ..someone(std::process::id())
    };
    plant(dir.path(), &holder);
    let broken = Lock::break_stale(dir.path()).unwrap().unwrap();
    assert_eq!(broken.reason, "the host has restarted since");
}

#[test]
fn break_stale_removes_a_lock_whose_holder_is_a_zombie() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    // Not reaped yet: /proc/<pid> stays, in state Z, until we wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_stat(&pid.to_string()).is_none_or(|s| s.state != 'Z') {
        assert!(Instant::now() < deadline, "child {pid} did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    plant(dir.path(), &someone(pid));
    let broken = Lock::break_stale(dir.path()).unwrap().unwrap();
    assert_eq!(broken.reason, format!("pid {pid} has exited"));
    child.wait().unwrap();
}

#[test]
fn an_unreadable_lock_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lock"), "not json").unwrap();
    let err = Lock::acquire(dir.path(), "mtm apply").unwrap_err();
    assert!(matches!(err, LockError::Unreadable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("is unreadable\n  help: if no mtm is running, delete it")
    );
    assert!(matches!(
        Lock::break_stale(dir.path()),
        Err(LockError::Unreadable { .. })
    ));
    assert!(dir.path().join("lock").exists());
}
