//! Tests of state kept in a cluster (`--state kube://CONTEXT/NAMESPACE[/NAME]`) against
//! the local clusters: the store contract, a revision far over one Secret's size, the
//! Lease between two processes in different directories ("two laptops"), migration to a
//! cluster and back, and that secrets stay in Secrets.
//!
//! Each test keeps its state in a namespace of its own, deleted at the end. The process
//! that holds the Lease is this binary run again on `kube_state::child_holds_lease`, with
//! an environment variable naming the location; without it that test returns at once.

use crate::support::{self, Run};
use mtm::store::kube::{self, Access, KubeStoreError};
use mtm::store::{Identity, KubeLocation, Location, Record, RevisionResult, Store, contract};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CONTEXT: &str = "east-ag";
const HOLD_LEASE: &str = "MTM_TEST_KUBE_HOLD_LEASE";
const COMMAND: &str = "mtm apply --var TOKEN=***";

/// A namespace of this test's own, deleted when dropped.
struct Space {
    namespace: String,
}

impl Space {
    fn new(what: &str) -> Space {
        support::need_testbed();
        Space {
            namespace: support::unique("ks", what),
        }
    }

    /// `kube://east-ag/<namespace>/<name>`, its lease `lease` long.
    fn url(&self, name: &str, lease: &str) -> String {
        format!("kube://{CONTEXT}/{}/{name}?lease={lease}", self.namespace)
    }

    fn location(&self, name: &str) -> KubeLocation {
        match Location::parse(Path::new(&self.url(name, "30s"))).unwrap() {
            Location::Kube(kube) => kube,
            other => panic!("{other:?}"),
        }
    }

    fn open(&self, name: &str) -> (kube::KubeLock, kube::KubeStore) {
        kube::open_locked(
            &self.location(name),
            &Access::default(),
            COMMAND,
            Duration::ZERO,
        )
        .unwrap()
    }

    /// Every object of the namespace, as JSON, of `kinds`.
    fn objects(&self, kinds: &str) -> String {
        let out = support::kubectl(
            CONTEXT,
            &["get", kinds, "-n", &self.namespace, "-o", "json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        let _ = support::kubectl(
            CONTEXT,
            &["delete", "namespace", &self.namespace, "--wait=false"],
        );
    }
}

#[test]
fn the_store_contract_holds_in_a_cluster() {
    let space = Space::new("contract");
    type Case = fn(&dyn Store);
    let cases: [(&str, Case); 4] = [
        ("records", contract::records),
        ("revisions", contract::revisions),
        ("snapshots", contract::snapshots),
        ("closed", contract::finished_revisions_are_closed),
    ];
    for (name, case) in cases {
        let (_lock, store) = space.open(name);
        case(&store);
        // And a reader of its own, with nothing cached, sees the same.
        let reader = kube::open_read(&space.location(name), &Access::default()).unwrap();
        assert_eq!(
            reader.records().unwrap(),
            store.records().unwrap(),
            "{name}"
        );
        assert_eq!(
            reader.revisions().unwrap(),
            store.revisions().unwrap(),
            "{name}"
        );
    }
}

/// A record whose manifest holds `kib` KiB that compress poorly.
fn big_record(i: u64, kib: usize) -> Record {
    use sha2::{Digest, Sha256};
    let mut noise = String::new();
    let mut block = Sha256::digest(i.to_be_bytes()).to_vec();
    while noise.len() < kib * 1024 {
        block = Sha256::digest(&block).to_vec();
        noise.extend(block.iter().map(|b| format!("{b:02x}")));
    }
    let mut record = contract::record(&format!("lab1/east/v1/ConfigMap/lab/big-{i}"), 1);
    record.manifest = json!({"kind": "ConfigMap", "data": {"noise": noise}});
    record.identity = Some(Identity {
        group: String::new(),
        version: "v1".to_string(),
        kind: "ConfigMap".to_string(),
        namespace: Some("lab".to_string()),
        name: format!("big-{i}"),
        uid: None,
    });
    record
}

#[test]
fn a_revision_over_three_mib_is_stored_and_read_back() {
    let space = Space::new("big");
    let (lock, store) = space.open("mtm");
    let number = store.begin_revision("test-plan", COMMAND, &[]).unwrap();
    // Hex of hashes: about half of it survives compression, so 8 MiB is over 3 after it.
    let records: Vec<Record> = (0..8).map(|i| big_record(i, 1024)).collect();
    for record in &records {
        store.put_record(record).unwrap();
    }
    store
        .finish_revision(number, RevisionResult::Succeeded)
        .unwrap();
    drop(store);
    drop(lock);

    let reader = kube::open_read(&space.location("mtm"), &Access::default()).unwrap();
    let revision = reader.revision(number).unwrap().unwrap();
    let stored = serde_json::to_vec(&revision).unwrap();
    assert!(stored.len() > 8 << 20, "{} bytes", stored.len());
    assert_eq!(
        revision.applied.values().cloned().collect::<Vec<_>>(),
        records
    );
    assert_eq!(reader.records().unwrap(), records);

    // It took several Secrets, none over 1 MiB, and more than 3 MiB in all.
    let secrets: serde_json::Value = serde_json::from_str(&space.objects("secrets")).unwrap();
    let sizes: Vec<usize> = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metadata"]["labels"]["mtm.dev/part"] == "piece")
        .map(|s| s["data"]["piece"].as_str().unwrap().len() * 3 / 4)
        .collect();
    assert!(sizes.iter().all(|&n| n <= 1 << 20), "{sizes:?}");
    let revision_pieces: usize = sizes.iter().filter(|&&n| n > 512 << 10).sum();
    assert!(revision_pieces > 3 << 20, "{sizes:?}");
}

/// Child of `a_second_laptop_is_refused_until_the_first_is_killed_and_its_lease_expired`:
/// takes the Lease and holds it (renewing) until stdin closes or it is killed.
#[test]
fn child_holds_lease() {
    let Some(url) = std::env::var_os(HOLD_LEASE) else {
        return;
    };
    let Location::Kube(location) = Location::parse(Path::new(&url)).unwrap() else {
        panic!("not a kube location");
    };
    let (lock, store) =
        kube::open_locked(&location, &Access::default(), COMMAND, Duration::ZERO).unwrap();
    println!("locked {}", lock.holder().pid);
    // Each line asks for one write, until stdin closes.
    for _ in std::io::stdin().lines() {
        match store.put_record(&contract::record("from-the-first", 1)) {
            Ok(()) => println!("write: ok"),
            Err(e) => println!("write: {}", chain(&e)),
        }
    }
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text.replace('\n', " ")
}

/// The child, killed and reaped if the test ends early.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hold_lease(url: &str, cwd: &Path) -> (Holder, u32) {
    let (holder, pid, _) = hold_lease_talking(url, cwd);
    (holder, pid)
}

/// `hold_lease`, with the rest of the child's output.
fn hold_lease_talking(
    url: &str,
    cwd: &Path,
) -> (
    Holder,
    u32,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kube_state::child_holds_lease",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_LEASE, url)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Holder(child);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("locked ") {
            let pid = line[at + 7..].trim().parse().unwrap();
            return (child, pid, lines);
        }
    }
    panic!("the child never took the Lease");
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill only sends a signal to our own child.
    let sent = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(sent, 0, "kill -{signal} {pid}");
}

#[test]
fn a_holder_whose_lease_was_taken_over_writes_nothing_more() {
    let space = Space::new("fence");
    let dir = tempfile::tempdir().unwrap();
    let url = space.url("mtm", "2s");
    let (mut first, pid, mut said) = hold_lease_talking(&url, dir.path());
    let mut ask = first.0.stdin.take().unwrap();
    let mut write = |said: &mut std::io::Lines<_>| {
        use std::io::Write;
        writeln!(ask, "write").unwrap();
        let line: String = said.next().unwrap().unwrap();
        line[line.find("write: ").unwrap() + 7..].to_string()
    };
    assert_eq!(write(&mut said), "ok");

    // Stopped, the first renews nothing; the second takes the Lease once it expired.
    signal(pid, libc::SIGSTOP);
    let mut location = space.location("mtm");
    location.lease = Duration::from_secs(2);
    let (_lock, second) = kube::open_locked(
        &location,
        &Access::default(),
        "mtm destroy",
        Duration::from_secs(60),
    )
    .unwrap();
    second
        .put_record(&contract::record("from-the-second", 1))
        .unwrap();

    // Woken, the first finds it lost the Lease and writes nothing.
    signal(pid, libc::SIGCONT);
    let refused = write(&mut said);
    assert!(refused.contains("nothing more is written"), "{refused}");
    assert!(refused.contains(&format!("kube://{CONTEXT}/")), "{refused}");
    let addresses: Vec<String> = second
        .records()
        .unwrap()
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(addresses, ["from-the-first", "from-the-second"]);
}

#[test]
fn a_second_laptop_is_refused_until_the_first_is_killed_and_its_lease_expired() {
    let space = Space::new("lease");
    let url = space.url("mtm", "3s");
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut first, pid) = hold_lease(&url, first_dir.path());
    assert_eq!(pid, first.0.id());

    // The second laptop has state of its own to bring into the shared location.
    let local = second_dir.path().join("state");
    seed(&local);
    let migrate = ["--state", "state", "state", "migrate", "--to", &url];
    let refused = support::mtm_live(second_dir.path(), &migrate);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let holder = format!("held by pid {pid} on host ");
    assert!(refused.stderr.contains(&holder), "{}", refused.stderr);
    assert!(refused.stderr.contains(COMMAND), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("kube://{CONTEXT}/")),
        "{}",
        refused.stderr
    );

    // Killed, the first stops renewing; the second waits for the Lease to expire.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let mut waiting = vec!["--lock-timeout", "60s"];
    waiting.extend_from_slice(&migrate);
    support::mtm_live(second_dir.path(), &waiting).ok();
    let listed = support::mtm_live(second_dir.path(), &["--state", &url, "state", "history"]);
    assert_eq!(
        listed.ok().stdout,
        local_output(second_dir.path(), "history")
    );
}

/// A state directory with two revisions (one failed), records and generated values.
fn seed(dir: &Path) {
    let (_lock, store) = mtm::store::open_locked(dir, COMMAND, Duration::ZERO).unwrap();
    let first = store
        .begin_revision("mini", COMMAND, &["base".to_string()])
        .unwrap();
    for i in 0..3 {
        let record = contract::record(&format!("base/east/v1/ConfigMap/lab/cm-{i}"), first);
        store.put_record(&record).unwrap();
        store
            .record_change(
                first,
                &mtm::store::RevisionEntry {
                    address: record.address.clone(),
                    action: "create".to_string(),
                    hash: Some(record.hash.clone()),
                },
            )
            .unwrap();
    }
    store
        .finish_revision(first, RevisionResult::Succeeded)
        .unwrap();
    let second = store.begin_revision("mini", "mtm destroy", &[]).unwrap();
    store
        .remove_record("base/east/v1/ConfigMap/lab/cm-0")
        .unwrap();
    let failed = RevisionResult::Failed {
        message: "base/east/...: timed out".to_string(),
    };
    store.finish_revision(second, failed).unwrap();
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("lab-jwt.json"), GENERATED).unwrap();
}

/// What a generated secrets file holds in these tests: the secret it must not leak.
const SECRET: &str = "s3cr3t-private-key-material";
const GENERATED: &str = r#"{"schema":1,"privateKeyPem":"s3cr3t-private-key-material"}"#;

fn local_output(cwd: &Path, what: &str) -> String {
    support::mtm_live(cwd, &["--state", "state", "state", what])
        .ok()
        .stdout
        .clone()
}

fn outputs(cwd: &Path, state: &str) -> Vec<String> {
    let mut all = Vec::new();
    for args in [
        vec!["state", "list"],
        vec!["state", "history"],
        vec!["--output", "json", "state", "list"],
        vec!["--output", "json", "state", "history"],
        vec!["state", "show", "--revision", "1"],
        vec!["state", "show", "--revision", "2"],
        vec!["state", "show", "base/east/v1/ConfigMap/lab/cm-1"],
    ] {
        let mut full = vec!["--state", state];
        full.extend(args);
        let run = support::mtm_live(cwd, &full);
        all.push(run.ok().stdout.clone());
    }
    all
}

fn assert_clean(run: &Run) {
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "{} {}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn migrating_to_a_cluster_and_back_loses_nothing() {
    let space = Space::new("migrate");
    let dir = tempfile::tempdir().unwrap();
    seed(&dir.path().join("state"));
    let before = outputs(dir.path(), "state");
    assert!(before[1].contains("failed"), "{}", before[1]);

    let url = space.url("team", "30s");
    let to = support::mtm_live(
        dir.path(),
        &["-vv", "--state", "state", "state", "migrate", "--to", &url],
    );
    assert_clean(to.ok());
    assert!(
        to.stdout
            .contains("2 revisions, 2 records and 1 generated values"),
        "{}",
        to.stdout
    );
    assert_eq!(outputs(dir.path(), &url), before);

    let back = support::mtm_live(
        dir.path(),
        &["-vv", "--state", &url, "state", "migrate", "--to", "again"],
    );
    assert_clean(back.ok());
    assert_eq!(outputs(dir.path(), "again"), before);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again/secrets/lab-jwt.json")).unwrap(),
        GENERATED
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("again/secrets/lab-jwt.json")).unwrap();
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    // The secret is in the one Secret of generated values, in no other object.
    let others = space.objects("leases,configmaps,events");
    assert!(
        !others.contains(SECRET) && !others.contains(&b64(SECRET)),
        "{others}"
    );
    let secrets: serde_json::Value = serde_json::from_str(&space.objects("secrets")).unwrap();
    let holding: Vec<&str> = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["data"].to_string().contains(&b64(GENERATED)))
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(holding, ["team-generated"]);

    // Into a state that holds something: refused, nothing changed.
    let again = support::mtm_live(
        dir.path(),
        &["--state", "state", "state", "migrate", "--to", &url],
    );
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("is not empty (2 revisions, 2 records, 1 generated values)"),
        "{}",
        again.stderr
    );
    assert_eq!(outputs(dir.path(), &url), before);
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn errors_name_the_context_and_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let run = support::mtm_live(
        dir.path(),
        &["--state", "kube://no-such-ctx/ns", "state", "list"],
    );
    assert_eq!(run.code, 1, "{} {}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("cannot use state in kube://no-such-ctx/ns/mtm"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("has no context no-such-ctx"),
        "{}",
        run.stderr
    );

    let run = support::mtm_live(dir.path(), &["--state", "kube://east-ag", "state", "list"]);
    assert_eq!(run.code, 1, "{} {}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("state location kube://east-ag is not kube://CONTEXT/NAMESPACE"),
        "{}",
        run.stderr
    );

    let err = kube::open_locked(
        &match Location::parse(Path::new("kube://no-such-ctx/ns")).unwrap() {
            Location::Kube(k) => k,
            other => panic!("{other:?}"),
        },
        &Access::default(),
        COMMAND,
        Duration::ZERO,
    )
    .unwrap_err();
    assert!(matches!(err, KubeStoreError::Connect { .. }), "{err}");
}

/// A one-stage plan: a namespace, a generated key and a ConfigMap with its JWKS.
fn generating_plan(namespace: &str) -> support::Fixture {
    let stage = r#"title: Base
steps:
  - name: keys
    title: A key and what is made with it
    what: Generates a key and publishes its JWKS
    why: Generated values must live where the state lives
    cluster: east
    namespace: NS
    generate:
      - { name: jwt, type: jwt-rsa, issuer: http://lab, audience: lab, subjects: [alice] }
    manifests: [manifests/all.yaml]
"#;
    let manifests = r#"apiVersion: v1
kind: Namespace
metadata: { name: NS }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: jwks, namespace: NS }
data: { jwks: "${gen.jwt.jwks}" }
"#;
    support::Fixture::empty()
        .file(
            "plan.yaml",
            "plan: kstate\ntitle: State in a cluster\nclusters:\n  east: { context: east-ag }\nstages: [base]\n",
        )
        .file("stages/base.yaml", &stage.replace("NS", namespace))
        .file("manifests/all.yaml", &manifests.replace("NS", namespace))
}

/// The private key the state's generated Secret holds for `jwt`, if any.
fn kept_key(space: &Space) -> Option<String> {
    let secret = support::get_json(
        CONTEXT,
        &["secret", "mtm-generated", "-n", &space.namespace],
    )?;
    let encoded = secret["data"]["jwt.json"].as_str()?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let file: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    Some(file["privateKeyPem"].as_str().unwrap().to_string())
}

#[test]
fn apply_drift_and_destroy_keep_state_and_generated_values_in_the_cluster() {
    let space = Space::new("apply");
    let applied = support::unique("ks", "app");
    let plan = generating_plan(&applied);
    let url = space.url("mtm", "30s");
    let mtm = |args: &[&str]| {
        let mut all = vec!["--plan", ".", "--state", &url];
        all.extend_from_slice(args);
        support::mtm_live(plan.path(), &all)
    };
    let first = mtm(&["apply", "--auto-approve"]);
    first.ok();
    let key = kept_key(&space).expect("the generated key is in its Secret");
    let jwks = |ns: &str| {
        support::get_json(CONTEXT, &["configmap", "jwks", "-n", ns]).unwrap()["data"]["jwks"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let published = jwks(&applied);
    assert!(published.contains("\"kty\":\"RSA\""), "{published}");

    // A second run keeps the key (read back from the Secret), so nothing changes.
    let runs = [
        mtm(&["apply", "--auto-approve"]),
        mtm(&["drift"]),
        mtm(&["state", "list"]),
        mtm(&["-vv", "plan"]),
    ];
    for run in &runs {
        run.ok();
        assert!(!run.stdout.contains(&key) && !run.stderr.contains(&key));
    }
    assert_eq!(kept_key(&space).as_deref(), Some(key.as_str()));
    assert_eq!(jwks(&applied), published);
    assert!(
        runs[2].stdout.contains("base/east/core/ConfigMap/"),
        "{}",
        runs[2].stdout
    );
    // The second apply changed nothing, so it began no revision.
    let history = mtm(&["state", "history"]);
    assert_eq!(history.ok().stdout.lines().count(), 1, "{}", history.stdout);

    // Nothing was written beside the plan, and the key is in no object but its Secret.
    let entries: Vec<_> = std::fs::read_dir(plan.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
    let others = space.objects("leases,configmaps");
    assert!(!others.contains(&key) && !others.contains(&b64(&key)));

    // Destroy takes the key away with the resource.
    mtm(&["destroy", "--auto-approve"]).ok();
    assert_eq!(kept_key(&space), None);
    let _ = support::kubectl(CONTEXT, &["delete", "namespace", &applied, "--wait=false"]);
}

/// A plan whose apply holds its state until killed: its wait never succeeds.
fn stuck_plan(namespace: &str) -> support::Fixture {
    let stage = r#"title: Base
steps:
  - name: ns
    title: A namespace, then a wait that never ends
    what: Creates a namespace and waits for a pod nobody makes
    why: An apply that holds the state for as long as the test needs
    cluster: east
    namespace: NS
    manifests: [manifests/ns.yaml]
    waits:
      - { name: never, kind: Pod, selector: app=never, condition: Ready, timeout: 300s }
"#;
    support::Fixture::empty()
        .file(
            "plan.yaml",
            "plan: stuck\ntitle: Stuck\nvariables:\n  TOKEN: { sensitive: true, default: none }\nclusters:\n  east: { context: east-ag }\nstages: [base]\n",
        )
        .file("stages/base.yaml", &stage.replace("NS", namespace))
        .file(
            "manifests/ns.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {namespace} }}\n"),
        )
}

#[test]
fn two_laptops_running_mtm_share_one_lease() {
    let space = Space::new("laptops");
    let applied = support::unique("ks", "stuck");
    let plan = stuck_plan(&applied);
    let url = space.url("mtm", "3s");
    let plan_dir = plan.path().to_str().unwrap().to_string();
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut first = Holder(
        Command::new(support::bin())
            .args([
                "--plan",
                &plan_dir,
                "--state",
                &url,
                "--var",
                "TOKEN=hunter2-secret",
            ])
            .args(["apply", "--auto-approve"])
            .current_dir(first_dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The first laptop's apply is under way once its revision is recorded.
    let history = || support::mtm_live(second_dir.path(), &["--state", &url, "state", "history"]);
    let mut seen = history();
    for _ in 0..120 {
        if seen.stdout.contains("running") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        seen = history();
    }
    assert!(seen.stdout.contains("running"), "{}", seen.stdout);

    let destroy = [
        "--plan",
        &plan_dir,
        "--state",
        &url,
        "destroy",
        "--auto-approve",
    ];
    let refused = support::mtm_live(second_dir.path(), &destroy);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let holder = format!("held by pid {} on host ", first.0.id());
    assert!(refused.stderr.contains(&holder), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("--var TOKEN=(sensitive) apply --auto-approve"),
        "{}",
        refused.stderr
    );
    let lease = space.objects("leases");
    assert!(
        lease.contains("apply --auto-approve") && !lease.contains("hunter2"),
        "{lease}"
    );
    assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);

    // kill -9: the first laptop stops renewing; the second waits for the Lease to expire,
    // finds the first's revision interrupted, and destroys what it recorded.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let mut waiting = vec!["--lock-timeout", "60s"];
    waiting.extend_from_slice(&destroy);
    support::mtm_live(second_dir.path(), &waiting).ok();
    let after = history();
    let lines: Vec<&str> = after.ok().stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", after.stdout);
    assert!(lines[0].contains("interrupted"), "{}", lines[0]);
    assert!(
        lines[1].contains("succeeded") && lines[1].contains("destroy"),
        "{}",
        lines[1]
    );
    let gone = support::get_json(CONTEXT, &["namespace", &applied]);
    assert!(
        gone.as_ref()
            .is_none_or(|ns| ns["status"]["phase"] == "Terminating"),
        "{gone:?}"
    );
}
