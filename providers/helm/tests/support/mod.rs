//! Helpers for the tests against the testbed's real clusters and the real helm: the
//! environment check, direct helm and kubectl calls (what a user would do outside mtm),
//! unique namespaces cleaned up on drop, and lab 6's release declaration.

#![allow(dead_code)]

use mtm_helm::HelmProvider;
use mtm_provider::ReleaseSpec;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const CONTEXT: &str = "east-ag";

/// The testbed's settings; panics with what to do when the environment is missing.
pub struct Env {
    pub chart: String,
    pub chart_version: String,
}

pub fn env() -> Env {
    let hint = "run the tests in the testbed's environment: \
        `tests/testbed/testbed up` (once) and `eval \"$(tests/testbed/testbed env)\"`";
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("{name} is not set: {hint}"))
    };
    var("KUBECONFIG");
    let env = Env {
        chart: var("AG_CHART"),
        chart_version: var("AG_CHART_VERSION"),
    };
    let ok = Command::new("helm")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "helm is not on PATH: {hint}");
    let ok = Command::new("kubectl")
        .args(["--context", CONTEXT, "get", "--raw", "/readyz"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "cluster {CONTEXT} is not reachable: {hint}");
    env
}

pub fn provider() -> HelmProvider {
    HelmProvider::new(BTreeMap::from([
        ("east".to_string(), "east-ag".to_string()),
        ("west".to_string(), "west-ag".to_string()),
    ]))
}

/// A string unique to this test run and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

/// Runs a command, with optional stdin; returns (success, stdout, stderr).
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// helm against east-ag; panics with helm's stderr on failure.
pub fn helm(args: &[&str], stdin: Option<&str>) -> String {
    let mut all = vec!["--kube-context", CONTEXT];
    all.extend_from_slice(args);
    let (ok, out, err) = run("helm", &all, stdin);
    assert!(ok, "helm {args:?} failed: {err}");
    out
}

pub fn kubectl(args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--context", CONTEXT];
    all.extend_from_slice(args);
    run("kubectl", &all, None)
}

/// A namespace of its own for one test, with its release name; both removed on drop.
pub struct Scratch {
    pub namespace: String,
    pub name: String,
}

impl Scratch {
    pub fn new(test: &str) -> Self {
        Scratch {
            namespace: unique(&format!("mtm-helm-{test}")),
            name: "agw".to_string(),
        }
    }

    /// `helm get values -o json` of the release.
    pub fn values(&self) -> Value {
        let out = helm(
            &[
                "get",
                "values",
                &self.name,
                "-n",
                &self.namespace,
                "-o",
                "json",
            ],
            None,
        );
        serde_json::from_str(&out).expect("helm get values is JSON")
    }

    /// `helm get metadata -o json` of the release.
    pub fn metadata(&self) -> Value {
        let out = helm(
            &[
                "get",
                "metadata",
                &self.name,
                "-n",
                &self.namespace,
                "-o",
                "json",
            ],
            None,
        );
        serde_json::from_str(&out).expect("helm get metadata is JSON")
    }

    /// `helm status`: false when the release does not exist.
    pub fn exists(&self) -> bool {
        let (ok, _, err) = run(
            "helm",
            &[
                "--kube-context",
                CONTEXT,
                "status",
                &self.name,
                "-n",
                &self.namespace,
            ],
            None,
        );
        assert!(ok || err.contains("not found"), "helm status failed: {err}");
        ok
    }

    /// A key of the stand-in chart's settings ConfigMap, as the cluster has it.
    pub fn setting(&self, key: &str) -> String {
        let path = format!("jsonpath={{.data.{}}}", key.replace('.', "\\."));
        let (ok, out, err) = kubectl(&[
            "-n",
            &self.namespace,
            "get",
            "configmap",
            &format!("{}-standin-settings", self.name),
            "-o",
            &path,
        ]);
        assert!(ok, "kubectl get configmap failed: {err}");
        out
    }

    /// Installs the stand-in chart with helm directly, as the standup did: licence key
    /// and the given values, from a values file on stdin.
    pub fn install_outside_mtm(&self, env: &Env, licence: &str, extra: Value) {
        let mut values = json!({ "licensing": { "licenseKey": licence } });
        merge(&mut values, extra);
        helm(
            &[
                "upgrade",
                "--install",
                &self.name,
                &env.chart,
                "-n",
                &self.namespace,
                "--create-namespace",
                "--wait",
                "--timeout",
                "120s",
                "-f",
                "-",
            ],
            Some(&values.to_string()),
        );
    }

    /// A new release of the local `chart` on this scratch namespace, with no values and
    /// helm's `timeout`.
    pub fn local(&self, chart: &Path, timeout: &str) -> ReleaseSpec {
        ReleaseSpec {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            chart: chart.to_string_lossy().into_owned(),
            version: None,
            existing: false,
            values: Value::Null,
            values_files: Vec::new(),
            sensitive_values: Default::default(),
            cleanup_values: None,
            timeout: Some(timeout.into()),
        }
    }

    /// lab 6's release, on this scratch namespace, with the given licence key.
    pub fn lab6(&self, env: &Env, licence: &str) -> ReleaseSpec {
        ReleaseSpec {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            chart: env.chart.clone(),
            version: Some(env.chart_version.clone()),
            existing: true,
            values: json!({
                "tokenExchange": {
                    "enabled": true,
                    "issuer": "enterprise-agentgateway.agentgateway-system.svc.cluster.local:7777",
                    "tokenExpiration": "24h",
                    "subjectValidator": {
                        "validatorType": "remote",
                        "remoteConfig": {
                            "url": "http://mock-idp.tokenexchange-test.svc.cluster.local/.well-known/jwks.json"
                        }
                    },
                    "actorValidator": { "validatorType": "k8s" },
                    "apiValidator": { "validatorType": "k8s" }
                }
            }),
            values_files: Vec::new(),
            sensitive_values: BTreeMap::from([(
                "licensing.licenseKey".to_string(),
                licence.to_string(),
            )]),
            cleanup_values: Some(json!({ "tokenExchange": { "enabled": false } })),
            timeout: Some("120s".into()),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = run(
            "helm",
            &[
                "--kube-context",
                CONTEXT,
                "uninstall",
                &self.name,
                "-n",
                &self.namespace,
            ],
            None,
        );
        let _ = kubectl(&["delete", "namespace", &self.namespace, "--wait=false"]);
    }
}

pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// A licence key unique to one test, so a leak is attributable.
pub fn licence() -> String {
    unique("test-licence-key-do-not-leak")
}

/// A chart in a temp dir: Chart.yaml plus the given templates.
pub fn chart(templates: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("Chart.yaml"),
        "apiVersion: v2\nname: mtm-helm-test\nversion: 0.1.0\nappVersion: \"0.1.0\"\n",
    )
    .expect("Chart.yaml");
    std::fs::create_dir(dir.path().join("templates")).expect("templates");
    for (name, text) in templates {
        std::fs::write(dir.path().join("templates").join(name), text).expect("template");
    }
    dir
}

/// Whether any process's command line contains `needle`; also the number of helm
/// processes seen.
pub fn scan_cmdlines(needle: &str) -> (bool, usize) {
    let mut found = false;
    let mut helms = 0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (false, 0);
    };
    for entry in dir.flatten() {
        let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
        if text.contains(needle) {
            found = true;
        }
        if text.split(' ').next().is_some_and(|p| p.ends_with("helm")) {
            helms += 1;
        }
    }
    (found, helms)
}
