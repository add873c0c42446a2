//! A small fluent helper for running `mtm` on fixture plans written into a temp dir.
//!
//! `Fixture::mini()` is a valid two-stage, two-cluster plan; tests change one file and
//! assert the exit code and the located message, e.g.
//! `Fixture::mini().file("plan.yaml", "...").run(&["validate"]).fails("plan.yaml:3:1: ...")`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: String,
}

pub const MINI_PLAN: &str = r#"plan: mini
title: A small plan for tests
variables:
  CLUSTER1: { default: east-ag }
  CLUSTER2: { default: west-ag }
  TOKEN: { sensitive: true, default: "s3cr3t-value" }
clusters:
  east: { context: "${CLUSTER1}" }
  west: { context: "${CLUSTER2}" }
stages: [base, app]
"#;

pub const MINI_BASE: &str = r#"title: Base
steps:
  - name: ns
    title: Namespaces
    what: Creates the demo namespace
    why: Everything else lives in it
    cluster: east
    manifests: [manifests/ns.yaml]
"#;

pub const MINI_APP: &str = r#"title: App
needs: [base]
steps:
  - name: app
    title: The app
    cluster: east
    namespace: demo
    manifests: [manifests/app.yaml]
    waits:
      - { name: app-ready, kind: Pod, selector: app=web, condition: Ready, timeout: 60s }
    checks:
      - name: web-ok
        from: { namespace: demo, workload: deploy/web }
        http: { url: "http://web.demo/", headers: { Authorization: "Bearer ${TOKEN}" } }
        expect: { status: 200 }
"#;

pub const MINI_NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n";

pub const MINI_MANIFEST: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata: { name: web }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      serviceAccountName: web
      containers: [{ name: c, image: nginx }]
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80 }]
"#;

impl Fixture {
    /// An empty directory.
    pub fn empty() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The valid mini plan.
    pub fn mini() -> Fixture {
        Fixture::empty()
            .file("plan.yaml", MINI_PLAN)
            .file("stages/base.yaml", MINI_BASE)
            .file("stages/app.yaml", MINI_APP)
            .file("manifests/ns.yaml", MINI_NS)
            .file("manifests/app.yaml", MINI_MANIFEST)
    }

    pub fn file(self, path: &str, text: &str) -> Fixture {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(&full, text).expect("write fixture");
        self
    }

    /// Replaces `from` by `to` in a fixture file (which must contain it).
    pub fn edit(self, path: &str, from: &str, to: &str) -> Fixture {
        let full = self.dir.path().join(path);
        let text = std::fs::read_to_string(&full).expect("read fixture");
        assert!(text.contains(from), "{path} does not contain {from:?}");
        let edited = text.replacen(from, to, 1);
        self.file(path, &edited)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `mtm --plan <dir> ARGS` in the fixture directory with a clean environment.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--plan", "."];
        all.extend_from_slice(args);
        mtm(self.path(), &all)
    }
}

/// Runs the mtm binary in `cwd` without the plan variables of the caller's environment.
pub fn mtm(cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for var in [
        "CLUSTER1",
        "CLUSTER2",
        "TOKEN",
        "AGENTGATEWAY_LICENSE_KEY",
        "AG_CHART",
        "AG_CHART_VERSION",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("run mtm");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: args.join(" "),
    }
}

/// Runs mtm in `cwd` keeping the caller's environment (KUBECONFIG, the testbed's plan
/// variables): for tests against the local clusters.
pub fn mtm_live(cwd: &Path, args: &[&str]) -> Run {
    mtm_live_env(cwd, args, &[])
}

/// `mtm_live` with extra environment variables.
pub fn mtm_live_env(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .output()
        .expect("run mtm");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: args.join(" "),
    }
}

/// Runs kubectl against the testbed; panics with its stderr when `must` and it fails.
pub fn kubectl(context: &str, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--context")
        .arg(context)
        .args(args)
        .output()
        .expect("kubectl on PATH: run the tests with tests/run")
}

/// `kubectl get -o json`, or `None` when it does not exist.
pub fn get_json(context: &str, args: &[&str]) -> Option<serde_json::Value> {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    let out = kubectl(context, &all);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("NotFound") || err.contains("not found"),
            "kubectl {all:?}: {err}"
        );
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("kubectl json"))
}

/// Fails with what to do when the local clusters' environment is missing.
pub fn need_testbed() {
    let kubeconfig = std::env::var("KUBECONFIG").unwrap_or_default();
    assert!(
        !kubeconfig.is_empty() && Path::new(&kubeconfig).is_file(),
        "KUBECONFIG does not name the testbed's kubeconfig: run the tests with tests/run"
    );
    for var in ["AG_CHART", "AG_CHART_VERSION", "AGENTGATEWAY_LICENSE_KEY"] {
        assert!(
            std::env::var(var).is_ok_and(|v| !v.is_empty()),
            "{var} is not set: run the tests with tests/run"
        );
    }
}

/// A lowercase name, `PREFIX-WHAT-...`, that no other test of this run or of an earlier
/// run uses: for namespaces, releases and CRD groups on the shared clusters.
pub fn unique(prefix: &str, what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{what}-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mtm"))
}

/// The repository root (where plans/ is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Run {
    pub fn ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "mtm {} failed:\n{}\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// Exit code 1 and a stderr line containing every part of `expected`.
    pub fn fails(&self, expected: &str) -> &Run {
        assert_eq!(
            self.code, 1,
            "mtm {} should exit 1, got {}\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(expected),
            "mtm {}: stderr does not contain {expected:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    pub fn stdout_has(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }
}

/// A local HTTP listener answering every request with `status`; its port.
pub fn answer_with(status: u16) -> u16 {
    use std::io::{Read, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    port
}
