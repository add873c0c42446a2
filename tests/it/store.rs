//! Tests of state across real processes: lock contention, and records that survive a
//! process killed in the middle of a run.
//!
//! The other process is this test binary run again on one test (`--exact
//! store::child_...`) with an environment variable naming the state directory. Without
//! that variable those child tests return at once and touch nothing.

use mtm::store::{Identity, Lock, LockError, Record, RevisionResult, Store, open_locked};
use serde_json::json;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

const HOLD_LOCK: &str = "MTM_TEST_STORE_HOLD_LOCK";
const WRITE_RECORDS: &str = "MTM_TEST_STORE_WRITE_RECORDS";
const COMMAND: &str = "mtm apply --target lab6";

/// A child process, killed and reaped if the test ends early.
struct Spawned {
    child: Child,
    /// Complete lines of its stdout, read on a thread so that waiting can time out.
    lines: Receiver<String>,
}

impl Spawned {
    /// Run `test` of this binary in a new process, with `var` set to `dir`.
    fn spawn(test: &str, var: &str, dir: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(var, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            // A line cut short by a kill has no newline: it is not complete.
            while stdout.read_line(&mut line).is_ok_and(|n| n > 0) && line.ends_with('\n') {
                if send.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        Spawned { child, lines }
    }

    /// What follows `prefix` on the next complete line the child printed that has it;
    /// `None` once its output has ended.
    fn next(&mut self, prefix: &str) -> Option<String> {
        loop {
            let line = match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => line,
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => panic!("child printed no {prefix:?} in 60s"),
            };
            // libtest may have begun the line with `test store::child_... ... `.
            if let Some(at) = line.find(prefix) {
                return Some(line[at + prefix.len()..].trim_end().to_string());
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn child_dir(var: &str) -> Option<OsString> {
    std::env::var_os(var)
}

fn record(i: u64, revision: u64) -> Record {
    let name = format!("cm-{i}");
    Record {
        address: format!("lab6/east/v1/ConfigMap/lab/{name}"),
        cluster: Some("east".to_string()),
        identity: Some(Identity {
            group: String::new(),
            version: "v1".to_string(),
            kind: "ConfigMap".to_string(),
            namespace: Some("lab".to_string()),
            name: name.clone(),
            uid: None,
        }),
        kind: "object".to_string(),
        hash: format!("{i:064x}"),
        manifest: json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "lab"}, "data": {"i": i.to_string()}}),
        revision,
        applied_at: "2026-11-29T08:40:12Z".to_string(),
        prior: None,
    }
}

/// Child of `a_held_lock_names_its_holder_and_breaks_once_it_is_killed`: takes the lock
/// and holds it until stdin closes or it is killed.
#[test]
fn child_holds_lock() {
    let Some(dir) = child_dir(HOLD_LOCK) else {
        return;
    };
    let lock = Lock::acquire(Path::new(&dir), COMMAND).unwrap();
    println!("locked {}", lock.holder().pid);
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Child of `records_survive_a_process_killed_mid_run`: writes records until killed,
/// printing each address once `put_record` has returned.
#[test]
fn child_writes_records() {
    let Some(dir) = child_dir(WRITE_RECORDS) else {
        return;
    };
    let (_lock, store) = open_locked(Path::new(&dir), COMMAND, std::time::Duration::ZERO).unwrap();
    let revision = store
        .begin_revision("test-plan", COMMAND, &["lab6".to_string()])
        .unwrap();
    println!("revision {revision}");
    // Bounded, in case nobody kills us.
    for i in 0..20_000 {
        let record = record(i, revision);
        store.put_record(&record).unwrap();
        println!("wrote {i}");
    }
}

#[test]
fn a_held_lock_names_its_holder_and_breaks_once_it_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Spawned::spawn("store::child_holds_lock", HOLD_LOCK, dir.path());
    let printed = child.next("locked ").expect("the child took the lock");
    let pid = child.pid();
    assert_eq!(printed, pid.to_string());

    let err = Lock::acquire(dir.path(), "mtm plan").unwrap_err();
    let LockError::Held { holder, .. } = &err else {
        panic!("expected the lock to be held, got {err:?}");
    };
    assert_eq!(holder.pid, pid);
    assert_eq!(holder.command, COMMAND);
    let message = err.to_string();
    let named = format!(
        "held by pid {pid} on host {} since {}: {COMMAND}",
        holder.host, holder.started_at
    );
    assert!(message.contains(&named), "{message}");
    assert!(
        message.ends_with("or pass --lock-timeout DURATION to wait), or stop it"),
        "{message}"
    );

    let err = Lock::break_stale(dir.path()).unwrap_err();
    assert!(matches!(err, LockError::Alive { .. }), "{err:?}");

    child.kill();
    // The operating system released the lock with its holder: no unlock needed.
    let lock = Lock::acquire(dir.path(), "mtm plan").unwrap();
    assert_eq!(lock.holder().pid, std::process::id());
}

#[test]
fn records_survive_a_process_killed_mid_run() {
    const BEFORE_KILL: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Spawned::spawn("store::child_writes_records", WRITE_RECORDS, dir.path());
    let pid = child.pid();
    let revision: u64 = child
        .next("revision ")
        .expect("a revision")
        .parse()
        .unwrap();
    let mut written = Vec::new();
    while written.len() < BEFORE_KILL {
        let i = child.next("wrote ").expect("the child writes until killed");
        written.push(i.parse::<u64>().unwrap());
    }
    child.kill();
    // Whatever it printed before dying had been stored too.
    while let Some(i) = child.next("wrote ") {
        written.push(i.parse().unwrap());
    }
    assert!(
        written.len() < 20_000,
        "the child finished before it was killed"
    );

    // Its lock went with it: the state opens without `mtm unlock`.
    let _ = pid;
    let (_lock, store) =
        open_locked(dir.path(), "mtm state list", std::time::Duration::ZERO).unwrap();
    for &i in &written {
        let expected = record(i, revision);
        let stored = store.record(&expected.address).unwrap();
        assert_eq!(
            stored.as_ref(),
            Some(&expected),
            "record {i} of {}",
            written.len()
        );
    }
    // At most one more: written but killed before it was printed.
    let all = store.records().unwrap();
    assert!(
        all.len() == written.len() || all.len() == written.len() + 1,
        "{} stored, {} printed",
        all.len(),
        written.len()
    );

    let revisions = store.revisions().unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].number, revision);
    assert_eq!(revisions[0].command, COMMAND);
    assert_eq!(revisions[0].result, RevisionResult::Interrupted);
    let snapshot = store.revision(revision).unwrap().unwrap().applied;
    assert_eq!(snapshot.len(), all.len());
}
