//! Helpers for the tests against the local clusters: where the testbed's kubeconfig and
//! kubectl are, a provider bound to `east` and `west`, unique names, and object ids.
//!
//! The testbed must be up (`tests/testbed/testbed up`): without it every test fails with
//! a message that says so. Nothing here skips.

#![allow(dead_code)]

use mtm_kube::KubeProvider;
use mtm_provider::ObjectId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Testbed {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads `VALUE` from an `export NAME=VALUE` line that bash's `printf %q` quoted.
fn exported(text: &str, name: &str) -> Option<String> {
    let prefix = format!("export {name}=");
    let raw = text.lines().find_map(|l| l.strip_prefix(&prefix))?;
    let raw = raw.trim_matches('\'');
    Some(raw.replace('\\', ""))
}

/// The testbed, checked to be running; panics with what to do when it is not.
pub fn testbed() -> &'static Testbed {
    static TESTBED: OnceLock<Testbed> = OnceLock::new();
    TESTBED.get_or_init(|| {
        let script = repo_root().join("tests/testbed/testbed");
        let env = Command::new(&script)
            .arg("env")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let text = String::from_utf8_lossy(&env.stdout);
        let dir = exported(&text, "MTM_TESTBED_DIR").expect("testbed env names MTM_TESTBED_DIR");
        let kubeconfig = exported(&text, "KUBECONFIG").expect("testbed env names KUBECONFIG");
        let tb = Testbed {
            kubeconfig: PathBuf::from(kubeconfig),
            kubectl: PathBuf::from(dir).join("bin/kubectl"),
        };
        // What these tests need: both API servers answering through the kubeconfig.
        for context in ["east-ag", "west-ag"] {
            let ready = Command::new(&tb.kubectl)
                .arg("--kubeconfig")
                .arg(&tb.kubeconfig)
                .args(["--context", context, "get", "--raw", "/readyz"])
                .output();
            let ok = matches!(&ready, Ok(o) if o.status.success());
            if !ok {
                let status = Command::new(&script).arg("status").output();
                let status = status
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout).into_owned()
                            + &String::from_utf8_lossy(&o.stderr)
                    })
                    .unwrap_or_default();
                panic!(
                    "the local clusters are not up ({context} does not answer through {}): run \
                     `tests/testbed/testbed up` from the repository root first.\n\
                     testbed status:\n{status}",
                    tb.kubeconfig.display()
                );
            }
        }
        tb
    })
}

/// A provider for `east` (east-ag) and `west` (west-ag) on the testbed's kubeconfig.
pub fn provider() -> KubeProvider {
    let contexts = BTreeMap::from([
        ("east".to_string(), "east-ag".to_string()),
        ("west".to_string(), "west-ag".to_string()),
    ]);
    KubeProvider::new(contexts).with_kubeconfig(&testbed().kubeconfig)
}

/// Runs kubectl on a logical cluster; panics with its output if it fails.
pub fn kubectl(cluster: &str, args: &[&str]) -> String {
    let out = kubectl_try(cluster, args);
    match out {
        Ok(s) => s,
        Err(e) => panic!("kubectl --context {cluster}-ag {}: {e}", args.join(" ")),
    }
}

/// Runs kubectl; its stdout, or its stderr as the error.
pub fn kubectl_try(cluster: &str, args: &[&str]) -> Result<String, String> {
    let tb = testbed();
    let out = Command::new(&tb.kubectl)
        .arg("--kubeconfig")
        .arg(&tb.kubeconfig)
        .arg("--context")
        .arg(format!("{cluster}-ag"))
        .args(args)
        .output()
        .expect("run kubectl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A name no other test or run uses: `prefix-<time><counter>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{:x}{n}", (nanos / 1000) & 0xff_ffff)
}

pub fn id(cluster: &str, api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectId {
    let (group, version) = ObjectId::split_api_version(api_version);
    ObjectId {
        cluster: cluster.into(),
        group,
        version,
        kind: kind.into(),
        namespace: ns.map(String::from),
        name: name.into(),
    }
}

pub fn namespace_id(cluster: &str, name: &str) -> ObjectId {
    id(cluster, "v1", "Namespace", None, name)
}

/// Deletes a cluster-scoped object (a namespace, a CRD) when dropped, also when the test
/// panics, without waiting.
pub struct Cleanup {
    cluster: String,
    kind: String,
    name: String,
}

pub fn cleanup(cluster: &str, namespace: &str) -> Cleanup {
    cleanup_object(cluster, "namespace", namespace)
}

pub fn cleanup_object(cluster: &str, kind: &str, name: &str) -> Cleanup {
    Cleanup {
        cluster: cluster.into(),
        kind: kind.into(),
        name: name.into(),
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = kubectl_try(
            &self.cluster,
            &[
                "delete",
                &self.kind,
                &self.name,
                "--ignore-not-found",
                "--wait=false",
            ],
        );
    }
}
