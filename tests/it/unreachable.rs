//! A cluster that cannot be used fails fast and says which, once: its context points at a
//! closed port (connections refused), at a listener that never answers, or at a real API
//! server stopped with SIGSTOP (of a disposable testbed instance of its own). `mtm plan` and `mtm apply` exit 1 with one message naming the
//! cluster, its context and server and the cause, report the cluster's resources "not
//! attempted" in one line, and the other cluster's objects are applied.
//!
//! A guard kills mtm if it has not finished after two minutes (a hang); the tests assert
//! behaviour, not speed.

use crate::support::{Fixture, Run, bin, kubectl, need_testbed, unique};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Deletes the test's namespace on the live cluster when dropped.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = kubectl(
            "west-ag",
            &[
                "delete",
                "namespace",
                &self.0,
                "--ignore-not-found",
                "--wait=false",
            ],
        );
    }
}

/// The testbed's kubeconfig plus a context `down-ctx` whose server is `server`.
fn kubeconfig_with_down_context(dir: &Path, server: &str) -> String {
    let cluster = serde_json::json!({"server": server, "insecure-skip-tls-verify": true});
    kubeconfig_with(dir, cluster, None)
}

/// The testbed's kubeconfig as JSON.
fn testbed_kubeconfig() -> serde_json::Value {
    let out = Command::new("kubectl")
        .args(["config", "view", "--raw", "-o", "json"])
        .output()
        .expect("kubectl on PATH: run the tests with tests/run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The testbed's kubeconfig plus a context `down-ctx` on `cluster`, as `user` (the east
/// admin when `None`).
fn kubeconfig_with(
    dir: &Path,
    cluster: serde_json::Value,
    user: Option<serde_json::Value>,
) -> String {
    let mut config = testbed_kubeconfig();
    let user_name = match user {
        Some(u) => {
            config["users"]
                .as_array_mut()
                .expect("users")
                .push(serde_json::json!({"name": "down-user", "user": u}));
            serde_json::json!("down-user")
        }
        None => config["contexts"][0]["context"]["user"].clone(),
    };
    config["clusters"]
        .as_array_mut()
        .expect("clusters")
        .push(serde_json::json!({"name": "down", "cluster": cluster}));
    config["contexts"]
        .as_array_mut()
        .expect("contexts")
        .push(serde_json::json!({"name": "down-ctx",
            "context": {"cluster": "down", "user": user_name}}));
    let path = dir.join("kubeconfig.json");
    std::fs::write(&path, config.to_string()).expect("write kubeconfig");
    path.display().to_string()
}

/// A cluster entry of the testbed's kubeconfig, by name.
fn testbed_cluster(name: &str) -> serde_json::Value {
    testbed_kubeconfig()["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name} in the testbed's kubeconfig"))["cluster"]
        .clone()
}

/// East on the context that cannot be used, west on the testbed's west cluster: on each
/// a namespace and two ConfigMaps, and on east a wait.
fn plan(ns: &str) -> Fixture {
    let objects = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: a, namespace: {ns} }}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: b, namespace: {ns} }}\n"
    );
    let stage = format!(
        "title: Base\nsteps:\n  - name: east\n    title: East\n    cluster: east\n    \
         manifests: [manifests/objects.yaml]\n    waits:\n      - {{ name: sa, kind: ServiceAccount, \
         namespace: {ns}, object: default, condition: Ready, timeout: 30s }}\n  - name: west\n    \
         title: West\n    cluster: west\n    manifests: [manifests/objects.yaml]\n"
    );
    Fixture::empty()
        .file(
            "plan.yaml",
            "plan: down\nclusters:\n  east: { context: down-ctx }\n  west: { context: west-ag }\nstages: [base]\n",
        )
        .file("stages/base.yaml", &stage)
        .file("manifests/objects.yaml", &objects)
}

/// Runs mtm in `f` with `KUBECONFIG=kubeconfig`, killing it after two minutes.
fn mtm_bounded(f: &Fixture, kubeconfig: &str, args: &[&str]) -> Run {
    let mut all = vec!["--plan", ".", "--state", "state"];
    all.extend_from_slice(args);
    let mut child = Command::new(bin())
        .args(&all)
        .current_dir(f.path())
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtm");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "mtm {} hung on a cluster that cannot be used:\n{}",
                all.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("mtm output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: all.join(" "),
    }
}

/// Exit 1; the cause said once on stderr naming cluster, context and server; one
/// "not attempted" line; no line per east resource; no library log line.
fn one_clear_error(run: &Run, server: &str, cause: &[&str]) {
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let head = format!("error: cluster east (context down-ctx, server {server}) unreachable: ");
    let named: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with(&head))
        .collect();
    assert_eq!(named.len(), 1, "want one message {head:?}:\n{}", run.stderr);
    let lower = named[0].to_lowercase();
    assert!(
        cause.iter().any(|c| lower.contains(c)),
        "the cause ({cause:?}) is not said: {}",
        named[0]
    );
    let not_attempted = "not attempted: cluster east (context down-ctx) unreachable";
    assert_eq!(
        run.stdout.matches(not_attempted).count(),
        1,
        "{not_attempted:?} once:\n{}",
        run.stdout
    );
    let east_lines = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .filter(|l| l.contains("base/east/"))
        .count();
    assert_eq!(
        east_lines, 0,
        "a line per east resource:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        !run.stderr.contains("kube_client") && !run.stderr.contains("ERROR"),
        "library log lines without -v:\n{}",
        run.stderr
    );
}

/// Plan then apply against the context at `server`; west's objects are applied.
fn plan_and_apply(server: &str, request_timeout: &str, cause: &[&str]) {
    plan_and_apply_with(server, request_timeout, cause, |dir| {
        kubeconfig_with_down_context(dir, server)
    });
}

/// [`plan_and_apply`] with the kubeconfig `kubeconfig` writes into the plan directory.
fn plan_and_apply_with(
    server: &str,
    request_timeout: &str,
    cause: &[&str],
    kubeconfig: impl FnOnce(&Path) -> String,
) {
    need_testbed();
    let ns = unique("down", "west");
    let _cleanup = Namespace(ns.clone());
    let f = plan(&ns);
    let kubeconfig = kubeconfig(f.path());
    let timeout = ["--request-timeout", request_timeout];

    let run = mtm_bounded(&f, &kubeconfig, &[&timeout[..], &["plan"]].concat());
    one_clear_error(&run, server, cause);
    run.stdout_has(&format!("+ base/west/core/Namespace/_/{ns} (create)"));

    let run = mtm_bounded(
        &f,
        &kubeconfig,
        &[&timeout[..], &["apply", "--auto-approve"]].concat(),
    );
    one_clear_error(&run, server, cause);
    run.stdout_has(&format!("created  base/west/core/ConfigMap/{ns}/b"));
    let got = kubectl(
        "west-ag",
        &["get", "configmap", "b", "-n", &ns, "-o", "name"],
    );
    assert!(
        got.status.success(),
        "west's objects were not applied: {}",
        String::from_utf8_lossy(&got.stderr)
    );
}

#[test]
fn a_context_on_a_closed_port_fails_fast_naming_cluster_context_and_server() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    plan_and_apply(&format!("https://127.0.0.1:{port}/"), "30s", &["refused"]);
}

/// Accepts connections and never answers (as a stopped API server's kernel does).
struct Silent {
    port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // Read what comes (the TLS hello), answer nothing, keep it open.
                let mut s = stream.try_clone().expect("clone");
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                });
                keep.lock().expect("lock").push(stream);
            }
        });
        Silent { port, held }
    }
}

#[test]
fn a_server_that_never_answers_fails_within_the_request_timeout() {
    let silent = Silent::start();
    plan_and_apply(
        &format!("https://127.0.0.1:{}/", silent.port),
        "3s",
        &["timed out", "timeout", "deadline"],
    );
    assert!(
        !silent.held.lock().expect("lock").is_empty(),
        "mtm never connected to the silent server"
    );
}

#[test]
fn library_log_lines_come_from_v_on_and_without_colour_when_told() {
    need_testbed();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let f = plan(&unique("down", "logs"));
    let kubeconfig = kubeconfig_with_down_context(f.path(), &format!("https://127.0.0.1:{port}/"));

    // Not a terminal: the library's lines with -v, plain.
    let run = mtm_bounded(&f, &kubeconfig, &["-v", "plan"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("kube_client"),
        "no library line with -v:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\x1b'),
        "colour off a terminal:\n{}",
        run.stderr
    );

    // A terminal: colour unless --no-color or NO_COLOR says otherwise.
    let mtm = bin().display().to_string();
    let line = |extra: &str| {
        format!("KUBECONFIG={kubeconfig} {extra} {mtm} -v --plan . --state state plan; true")
    };
    for (extra, coloured) in [("", true), ("", false), ("NO_COLOR=1", false)] {
        let flag = if coloured || !extra.is_empty() {
            ""
        } else {
            "--no-color"
        };
        let raw = crate::terminal::under_terminal(
            f.path(),
            &line(extra).replace(" -v ", &format!(" -v {flag} ")),
        );
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("kube_client"), "no library line:\n{text}");
        assert_eq!(
            text.contains("\x1b["),
            coloured,
            "colour should be {coloured} with {extra:?}{flag:?}:\n{text}"
        );
    }
}

#[test]
fn refused_credentials_fail_fast_naming_the_cluster() {
    need_testbed();
    let mut east = testbed_cluster("east-ag");
    let server = format!("{}/", east["server"].as_str().expect("server"));
    east["insecure-skip-tls-verify"] = true.into();
    if let Some(map) = east.as_object_mut() {
        map.remove("certificate-authority-data");
    }
    plan_and_apply_with(&server, "30s", &["refused the credentials"], |dir| {
        kubeconfig_with(
            dir,
            east,
            Some(serde_json::json!({"token": "not-a-valid-token"})),
        )
    });
}

#[test]
fn a_server_certificate_from_another_authority_fails_fast() {
    need_testbed();
    // East's server, trusted only through west's certificate authority.
    let mut east = testbed_cluster("east-ag");
    let server = format!("{}/", east["server"].as_str().expect("server"));
    east["certificate-authority-data"] =
        testbed_cluster("west-ag")["certificate-authority-data"].clone();
    plan_and_apply_with(
        &server,
        "30s",
        &["tls: the server's certificate is not accepted"],
        |dir| kubeconfig_with(dir, east, None),
    );
}

/// Sends SIGCONT to `0` when dropped, so a failing test never leaves it stopped.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        let stop = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(stop.success(), "cannot stop pid {pid}");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

/// One entry (`clusters` or `users`) named `name` of a kubeconfig file, as JSON.
fn entry_of(kubeconfig: &Path, list: &str, name: &str, field: &str) -> serde_json::Value {
    let out = Command::new("kubectl")
        .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
        .arg(kubeconfig)
        .output()
        .expect("kubectl on PATH: run the tests with tests/run");
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    config[list]
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {}", kubeconfig.display()))[field]
        .clone()
}

#[test]
fn a_stopped_api_server_fails_within_the_request_timeout() {
    need_testbed();
    // Its own instance (no standup; ports far from the others'): stopping the shared one
    // would stall every other test.
    let instance = crate::testbed::Instance::at(27800);
    let up = instance.run("up");
    assert!(
        up.status.success(),
        "the disposable testbed did not come up:\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let kubeconfig = instance.dir.join("kubeconfig");
    let cluster = entry_of(&kubeconfig, "clusters", "east-ag", "cluster");
    let context = entry_of(&kubeconfig, "contexts", "east-ag", "context");
    let user_name = context["user"]
        .as_str()
        .expect("the context's user")
        .to_string();
    let user = entry_of(&kubeconfig, "users", &user_name, "user");
    let server = format!("{}/", cluster["server"].as_str().expect("server"));
    let pid: u32 = std::fs::read_to_string(instance.dir.join("east-ag/kube-apiserver.pid"))
        .expect("the apiserver's pid file")
        .trim()
        .parse()
        .expect("a pid");
    let _stopped = Stopped::stop(pid);
    plan_and_apply_with(
        &server,
        "3s",
        &["timed out", "timeout", "deadline"],
        |dir| kubeconfig_with(dir, cluster, Some(user)),
    );
}
