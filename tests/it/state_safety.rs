//! State you can trust, against the local clusters: a secret given by `--var` or by the
//! environment reaches no file of the state directory, no lock and no output; the lock
//! ends with its holder however it dies; readers answer while a writer runs; SIGTERM
//! stops an apply the way Ctrl-C does; drift against an empty state is an error.

use crate::support::{Fixture, Run, bin, kubectl, mtm_live_env, need_testbed, repo, unique};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EAST: &str = "east-ag";

fn plan(name: &str) -> String {
    format!(
        "plan: {name}\nvariables:\n  KEY: {{ sensitive: true, default: \"\" }}\n  NS: {{ default: safe }}\n  NOTE: {{ default: plain }}\nclusters:\n  east: {{ context: east-ag }}\n  west: {{ context: west-ag }}\nstages: [a, b]\n"
    )
}

/// Stage a: one namespace on east with a Secret and a ConfigMap holding `${KEY}`. Stage b:
/// a wait that never holds, which keeps a whole apply running for a minute.
fn fixture() -> Fixture {
    let a = "title: A\nsteps:\n  - name: s\n    title: S\n    cluster: east\n    namespace: \"${NS}\"\n    manifests: [m/s.yaml]\n";
    let b = "title: B\nneeds: [a]\nsteps:\n  - name: slow\n    title: Slow\n    cluster: east\n    namespace: \"${NS}\"\n    manifests: [m/b.yaml]\n    waits:\n      - { name: never, kind: Pod, namespace: \"${NS}\", selector: app=never, condition: Ready, timeout: 60s }\n";
    let manifests = "apiVersion: v1\nkind: Namespace\nmetadata: { name: \"${NS}\" }\n---\napiVersion: v1\nkind: Secret\nmetadata: { name: key }\nstringData: { key: \"${KEY}\" }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: note, annotations: { note: \"${NOTE}\" } }\ndata: { header: \"Bearer ${KEY}\" }\n";
    Fixture::empty()
        .file("plan.yaml", &plan("safe"))
        .file("stages/a.yaml", a)
        .file("stages/b.yaml", b)
        .file("m/s.yaml", manifests)
        .file(
            "m/b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: slow }\n",
        )
}

struct Live<'a> {
    f: &'a Fixture,
    ns: String,
    env: Vec<(&'static str, String)>,
}

impl Live<'_> {
    /// `mtm --plan . ARGS`, NS (and the test's variables) in the environment.
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--plan", "."];
        all.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push(("NS", &self.ns));
        mtm_live_env(self.f.path(), &all, &env)
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(bin())
            .args(["--plan", "."])
            .args(args)
            .current_dir(self.f.path())
            .env("NO_COLOR", "1")
            .env("NS", &self.ns)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mtm")
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// No file of the state directory holds `secret`, and every one is private.
fn assert_state_clean(state: &Path, secret: &str) {
    use std::os::unix::fs::PermissionsExt;
    let all = files(state);
    assert!(
        all.len() > 3,
        "the state directory is nearly empty: {all:?}"
    );
    for file in all {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, secret),
            "{} holds the secret",
            file.display()
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", file.display());
    }
}

fn assert_output_clean(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "mtm {} printed the secret:\n{}\n{}",
        run.args,
        run.stdout,
        run.stderr
    );
}

/// Every command that shows state, at the highest verbosity, in text and JSON; `extra`
/// gives the secret the way the apply got it (the environment needs nothing).
fn readers(live: &Live, secret: &str, extra: &[&str]) {
    for args in [
        &["-vv", "state", "list"][..],
        &["-vv", "state", "history"],
        &["-vv", "--output", "json", "state", "history"],
        &["-vv", "--output", "json", "state", "list"],
        &["-vv", "state", "show", "--revision", "1"],
        &["-vv", "plan", "--all"],
        &["-vv", "--output", "json", "plan"],
        &["-vv", "drift"],
        &["-vv", "--output", "json", "drift"],
    ] {
        let run = live.run(&[args, extra].concat());
        assert!(
            run.code == 0 || run.code == 2,
            "mtm {}: {}",
            run.args,
            run.stderr
        );
        assert_output_clean(&run, secret);
    }
}

/// The secret given as `--var KEY=...` (and as an unknown `--var`), or by the environment.
fn secret_stays_out(by_env: bool) {
    need_testbed();
    let secret = format!("S3cr3t-{}", unique("k", "v"));
    let f = fixture();
    let ns = unique("safe", if by_env { "env" } else { "var" });
    let env = if by_env {
        vec![("KEY", secret.clone())]
    } else {
        vec![]
    };
    let live = Live {
        f: &f,
        ns: ns.clone(),
        env,
    };
    let key = format!("KEY={secret}");
    let stray = format!("STRAY={secret}");
    // A variable the plan does not know: commands without a plan keep it, masked.
    assert_output_clean(
        &live.run(&["-vv", "state", "history", "--var", &stray]),
        &secret,
    );
    let mut apply = vec!["-vv", "apply", "--auto-approve", "--target", "a"];
    if !by_env {
        apply.extend_from_slice(&["--var", &key]);
    }
    let applied = live.run(&apply);
    applied.ok();
    assert_output_clean(&applied, &secret);
    // The Secret really carries it: the value was applied, not lost.
    let got = kubectl(
        EAST,
        &[
            "get",
            "secret",
            "key",
            "-n",
            &ns,
            "-o",
            "jsonpath={.data.key}",
        ],
    );
    assert!(!got.stdout.is_empty(), "the Secret was not applied");

    // A second writer is refused naming the holder's (masked) command.
    let mut holder = live.spawn(&["apply", "--auto-approve", "--var", &key]);
    let refused = wait_for_refusal(&live, &mut holder, &secret);
    assert_output_clean(&refused, &secret);

    let extra: &[&str] = if by_env { &[] } else { &["--var", &key] };
    readers(&live, &secret, extra);
    let history = live.run(&["--output", "json", "state", "history"]);
    let history: Value = serde_json::from_str(&history.stdout).unwrap();
    let commands: Vec<&str> = history["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["command"].as_str())
        .collect();
    if !by_env {
        assert!(
            commands.iter().any(|c| c.contains("--var KEY=(sensitive)")),
            "{commands:?}"
        );
    }
    assert!(
        commands.iter().any(|c| c.contains("--target a")),
        "{commands:?}"
    );
    assert_state_clean(&f.path().join("state"), &secret);
    live.run(&["destroy", "--auto-approve"]).ok();
    assert_state_clean(&f.path().join("state"), &secret);
}

/// Once `holder` (an apply whose own `--var` holds the secret) is in its slow wait, a
/// second apply is refused naming it; returns the refusal, after killing the holder.
fn wait_for_refusal(live: &Live, holder: &mut Child, secret: &str) -> Run {
    wait_for_line(holder, "created  b/east/core/ConfigMap/");
    let second = live.run(&["-vv", "apply", "--auto-approve", "--target", "a"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    second
        .fails(&format!("held by pid {}", holder.id()))
        .fails("--var KEY=(sensitive)");
    let lock = std::fs::read(live.f.path().join("state/lock")).unwrap();
    assert!(!contains(&lock, secret), "the lock file holds the secret");
    second
}

/// Reads `child`'s stdout until a line contains `text`.
fn wait_for_line(child: &mut Child, text: &str) {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains(text) => return,
            Some(Ok(_)) => {}
            _ => panic!("the apply ended before printing {text:?}"),
        }
    }
}

#[test]
fn a_secret_given_by_var_reaches_no_state_lock_or_output() {
    secret_stays_out(false);
}

#[test]
fn a_secret_given_by_the_environment_reaches_no_state_lock_or_output() {
    secret_stays_out(true);
}

#[test]
fn readers_answer_while_an_apply_runs_and_writers_are_refused_or_wait() {
    need_testbed();
    let f = fixture();
    let live = Live {
        f: &f,
        ns: unique("safe", "read"),
        env: vec![],
    };
    // A first, quick revision for the readers to see.
    live.run(&["apply", "--auto-approve", "--target", "a"]).ok();
    let mut first = live.spawn(&["apply", "--auto-approve"]);
    wait_for_line(&mut first, "created  b/east/core/ConfigMap/");
    if first.try_wait().unwrap().is_some() {
        let out = first.wait_with_output().unwrap();
        panic!(
            "the slow apply ended early:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let history = live.run(&["state", "history"]);
    history.ok().stdout_has("succeeded");
    live.run(&["state", "show", "--revision", "1"])
        .ok()
        .stdout_has("\"plan\": \"safe\"");
    let plan = live.run(&["plan"]);
    assert!(plan.code == 0 || plan.code == 2, "{}", plan.stderr);
    live.run(&["state", "list"]).ok().stdout_has("Namespace");
    let refused = live.run(&["apply", "--auto-approve"]);
    refused.fails(&format!("held by pid {}", first.id()));
    let waited = live.run(&["--lock-timeout", "1s", "apply", "--auto-approve"]);
    waited.fails(&format!("held by pid {}", first.id()));

    // A writer that waits long enough gets the lock when the holder ends.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        first.kill().unwrap();
        first.wait().unwrap();
    });
    let target = [
        "--lock-timeout",
        "2m",
        "apply",
        "--auto-approve",
        "--target",
        "a",
    ];
    live.run(&target).ok();
    killer.join().unwrap();
    live.run(&["destroy", "--auto-approve"]).ok();
}

#[test]
fn sigterm_during_a_helm_release_stops_like_ctrl_c() {
    need_testbed();
    let ns = unique("safe", "term");
    let chart = repo().join("tests/fixtures/charts/stuck");
    let stage = format!(
        "title: A\nsteps:\n  - name: ns\n    title: Ns\n    cluster: east\n    manifests: [m/ns.yaml]\n  - name: rel\n    title: Rel\n    cluster: east\n    needs: [\"a/east/core/Namespace/**\"]\n    releases:\n      - {{ name: stuck, namespace: {ns}, chart: \"{}\", timeout: 300s }}\n",
        chart.display()
    );
    let f = Fixture::empty()
        .file("plan.yaml", &plan("term").replace("[a, b]", "[a]"))
        .file("stages/a.yaml", &stage)
        .file(
            "m/ns.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: before, namespace: {ns} }}\n"),
        );
    let live = Live {
        f: &f,
        ns: ns.clone(),
        env: vec![],
    };
    let mut child = live.spawn(&["apply", "--auto-approve"]);
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    // The release starts once the namespace and the ConfigMap are done.
    let mut created = 0;
    while created < 2 {
        let line = lines.next().expect("apply ended early").unwrap();
        if line.trim_start().starts_with("created") {
            created += 1;
        }
    }
    wait_for_helm(&ns);
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted: 2 done"), "{stderr}");

    let helm = Command::new("helm")
        .args([
            "status",
            "stuck",
            "-n",
            &ns,
            "--kube-context",
            EAST,
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let release: Value = serde_json::from_slice(&helm.stdout).unwrap_or(Value::Null);
    let state = release["info"]["status"].as_str().unwrap_or("none");
    assert!(!state.starts_with("pending"), "release left {state}");
    // The lock is free, and state records what finished.
    assert_eq!(
        mtm::store::Lock::inspect(&f.path().join("state")).unwrap(),
        None
    );
    let listed = live.run(&["state", "list"]);
    listed
        .ok()
        .stdout_has("ConfigMap/")
        .stdout_has("Namespace/");
    live.run(&["state", "history"])
        .ok()
        .stdout_has("interrupted");
    let _ = Command::new("helm")
        .args(["uninstall", "stuck", "-n", &ns, "--kube-context", EAST])
        .output();
    let _ = kubectl(EAST, &["delete", "namespace", &ns, "--wait=false"]);
}

/// Waits until helm has begun the release (its secret exists).
fn wait_for_helm(ns: &str) {
    let started = Instant::now();
    loop {
        let out = kubectl(
            EAST,
            &["get", "secrets", "-n", ns, "-l", "owner=helm", "-o", "name"],
        );
        if !out.stdout.is_empty() {
            std::thread::sleep(Duration::from_secs(2));
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "helm never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn drift_and_rollback_on_an_empty_state_are_errors() {
    let f = fixture();
    let live = Live {
        f: &f,
        ns: "unused".into(),
        env: vec![],
    };
    // A directory that does not exist, and one that exists but is empty (a cache miss).
    for name in ["missing", "empty"] {
        let dir = f.path().join(name);
        if name == "empty" {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let dir = dir.display().to_string();
        let expected =
            format!("state in {dir} holds no applied revision of plan safe: nothing to compare");
        live.run(&["--state", &dir, "drift"]).fails(&expected);
        live.run(&["--state", &dir, "rollback", "--auto-approve"])
            .fails(&expected);
    }
    // State that another plan applied.
    let other = f.path().join("other");
    {
        use mtm::store::Store;
        let (_lock, store) = mtm::store::open_locked(&other, "mtm apply", Duration::ZERO).unwrap();
        let n = store.begin_revision("workshop", "mtm apply", &[]).unwrap();
        store
            .finish_revision(n, mtm::store::RevisionResult::Succeeded)
            .unwrap();
    }
    let other = other.display().to_string();
    live.run(&["--state", &other, "drift"]).fails(&format!(
        "state in {other} holds no applied revision of plan safe (it belongs to plan workshop): nothing to compare"
    ));
}
