//! The helm provider against the testbed's real clusters and the real helm binary, with
//! the stand-in enterprise-agentgateway chart: lab 6's upgrade of a release that existed
//! before mtm and its exact restore, an outside `helm upgrade --set` seen by the plan,
//! the licence key kept out of argv, errors and returned values, helm missing, a chart
//! that fails to render, cancellation, and the uninstall of a created release.
//!
//! Every test works on a release of its own in a namespace of its own; the testbed's
//! `agentgateway-system/enterprise-agentgateway` is never touched.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests and benches print and read their environment

mod support;

use mtm_helm::{HelmError, PriorRelease, ReleaseAction, Restored, ValueChange, values_sha256};
use mtm_provider::{Address, Provider, Resource, Spec, StepInfo};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::*;
use tokio::sync::watch;

fn never() -> watch::Receiver<bool> {
    watch::channel(false).1
}

/// Panics when `secret` shows in the text.
fn assert_hidden(what: &str, text: &str, secret: &str) {
    assert!(
        !text.contains(secret),
        "the licence key leaked into {what}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_release_keeps_its_values_and_destroy_restores_them_exactly() {
    let env = env();
    let s = Scratch::new("restore");
    let key = licence();
    s.install_outside_mtm(&env, &key, json!({ "image": "registry.invalid/custom:1" }));
    let before = s.values();
    assert_eq!(s.setting("tokenExchange.enabled"), "false");

    let p = provider();
    let spec = s.lab6(&env, &key);
    let plan = p.plan_release("east", &spec).await.expect("plan");
    assert_eq!(plan.action, ReleaseAction::Upgrade);
    assert!(
        plan.values_diff.contains(&ValueChange {
            path: "tokenExchange.enabled".into(),
            before: None,
            after: Some(json!(true)),
        }),
        "{:#?}",
        plan.values_diff
    );
    assert!(
        plan.manifest_diff
            .contains("+  tokenExchange.enabled: \"true\""),
        "{}",
        plan.manifest_diff
    );
    let prior = p
        .prior_release("east", &spec)
        .await
        .expect("prior")
        .expect("a prior for a release from before mtm");
    assert_eq!(prior.revision, 1);
    assert_eq!(prior.values_sha256, values_sha256(&before));

    let applied = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    assert_eq!(
        (applied.action, applied.revision),
        (ReleaseAction::Upgrade, 2)
    );
    assert_eq!(applied.prior.as_ref(), Some(&prior));
    let after = s.values();
    let mut expected = before.clone();
    merge(&mut expected, spec.values.clone());
    assert_eq!(after, expected, "other values kept, licence key included");
    assert_eq!(after["licensing"]["licenseKey"], json!(key));
    assert_eq!(after["image"], json!("registry.invalid/custom:1"));
    assert_eq!(s.setting("tokenExchange.enabled"), "true");
    assert_eq!(applied.record.revision, 2);
    assert_eq!(applied.record.values_sha256, values_sha256(&after));
    assert_eq!(applied.record.sensitive_paths, vec!["licensing.licenseKey"]);
    assert_eq!(
        applied.record.values_redacted["licensing"]["licenseKey"],
        json!(format!("sha256:{}", s.setting("licenseKeySha256"))),
        "the record keeps the key's hash, as the chart computes it"
    );
    for (what, text) in [
        ("the plan's Debug", format!("{plan:?}")),
        ("the plan's JSON", serde_json::to_string(&plan).unwrap()),
        ("the apply's Debug", format!("{applied:?}")),
        ("the apply's JSON", serde_json::to_string(&applied).unwrap()),
    ] {
        assert_hidden(what, &text, &key);
    }

    // Applying again changes nothing and makes no revision.
    let plan = p.plan_release("east", &spec).await.expect("plan again");
    assert_eq!(plan.action, ReleaseAction::NoOp, "{plan:#?}");
    assert!(plan.values_diff.is_empty() && plan.manifest_diff.is_empty());
    assert_eq!(
        p.prior_release("east", &spec)
            .await
            .expect("prior")
            .as_ref(),
        Some(&prior),
        "mtm's revision is not a prior"
    );
    let again = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply again");
    assert_eq!((again.action, again.revision), (ReleaseAction::NoOp, 2));

    // Restore through the Provider trait, with the prior the engine stored.
    let resource = Resource {
        address: Address(format!("lab6/east/helm/{}/{}", s.namespace, s.name)),
        spec: Spec::Release {
            cluster: "east".into(),
            release: spec.clone(),
        },
        step: Arc::new(StepInfo::default()),
        stages: vec!["lab6".into()],
        origin: Default::default(),
    };
    let kept = serde_json::to_value(&prior).unwrap();
    p.restore(&resource, &kept, never()).await.expect("destroy");
    assert_eq!(s.metadata()["revision"], json!(3), "one rollback revision");
    assert_eq!(s.values(), before, "values exactly as before mtm");
    assert_eq!(s.setting("tokenExchange.enabled"), "false");
    // Destroying twice is harmless.
    let twice = p
        .destroy_release("east", &spec, Some(&prior), never())
        .await
        .expect("destroy twice");
    assert_eq!(twice, Restored::RolledBack { to: 1, revision: 3 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_helm_upgrade_set_shows_in_the_plan_as_the_changed_value() {
    let env = env();
    let s = Scratch::new("outside");
    let key = licence();
    s.install_outside_mtm(&env, &key, json!({}));
    let p = provider();
    let spec = s.lab6(&env, &key);
    p.apply_release("east", &spec, never())
        .await
        .expect("apply");

    // Someone changes the release behind mtm's back, the licence key included.
    let other_key = licence();
    helm(
        &[
            "upgrade",
            &s.name,
            &env.chart,
            "-n",
            &s.namespace,
            "--reuse-values",
            "--set",
            "tokenExchange.tokenExpiration=1h",
            "-f",
            "-",
        ],
        Some(&json!({ "licensing": { "licenseKey": other_key } }).to_string()),
    );

    let plan = p.plan_release("east", &spec).await.expect("plan");
    assert_eq!(plan.action, ReleaseAction::Upgrade);
    assert_eq!(
        plan.values_diff,
        vec![
            ValueChange {
                path: "licensing.licenseKey".into(),
                before: Some(json!("(sensitive)")),
                after: Some(json!("(sensitive)")),
            },
            ValueChange {
                path: "tokenExchange.tokenExpiration".into(),
                before: Some(json!("1h")),
                after: Some(json!("24h")),
            },
        ]
    );
    assert!(
        plan.manifest_diff.contains("-    tokenExpiration: 1h")
            && plan.manifest_diff.contains("+    tokenExpiration: 24h"),
        "{}",
        plan.manifest_diff
    );
    assert!(
        plan.manifest_diff
            .contains("license-key: (sensitive sha256:"),
        "the Secret's change shows as hashes: {}",
        plan.manifest_diff
    );
    let live = plan.live.as_ref().expect("live");
    assert_eq!(live.revision, 3);
    assert_eq!(
        p.prior_release("east", &spec)
            .await
            .expect("prior")
            .map(|p| p.revision),
        Some(3),
        "the newest revision not made by mtm"
    );
    for (what, text) in [
        ("the plan's Debug", format!("{plan:?}")),
        ("the plan's JSON", serde_json::to_string(&plan).unwrap()),
    ] {
        assert_hidden(what, &text, &key);
        assert_hidden(what, &text, &other_key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_key_never_on_a_command_line() {
    let env = env();
    let s = Scratch::new("argv");
    let key = licence();
    let mut spec = s.lab6(&env, &key);
    spec.existing = false;

    let done = Arc::new(AtomicBool::new(false));
    let leaked = Arc::new(AtomicBool::new(false));
    let helms = Arc::new(AtomicUsize::new(0));
    let scanner = {
        let (done, leaked, helms, key) = (done.clone(), leaked.clone(), helms.clone(), key.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let (found, n) = scan_cmdlines(&key);
                if found {
                    leaked.store(true, Ordering::Relaxed);
                }
                helms.fetch_add(n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let p = provider();
    let plan = p.plan_release("east", &spec).await.expect("plan");
    assert_eq!(plan.action, ReleaseAction::Install);
    let applied = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    done.store(true, Ordering::Relaxed);
    scanner.join().expect("scanner");

    assert!(
        helms.load(Ordering::Relaxed) > 0,
        "the scanner never saw a helm process, so it proved nothing"
    );
    assert!(
        !leaked.load(Ordering::Relaxed),
        "the licence key was on a process's command line"
    );
    assert_eq!(
        s.values()["licensing"]["licenseKey"],
        json!(key),
        "but helm got it"
    );
    assert_hidden("the plan", &format!("{plan:?}"), &key);
    assert_hidden("the apply", &format!("{applied:?}"), &key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_missing_is_a_clear_error_naming_release_and_cluster() {
    let env = env();
    let s = Scratch::new("nohelm");
    let spec = s.lab6(&env, &licence());
    let p = provider().with_helm("/nonexistent/helm");
    let err = p
        .apply_release("east", &spec, never())
        .await
        .expect_err("no helm");
    assert!(matches!(err, HelmError::HelmMissing { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("release {}/agw on cluster east", s.namespace))
            && text.contains("helm not found on PATH: install helm 3.19+"),
        "{text}"
    );
    let err = p.plan_release("east", &spec).await.expect_err("no helm");
    assert!(err.to_string().contains("helm not found on PATH"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_that_fails_to_render_reports_helm_stderr_and_leaves_the_release() {
    let env = env();
    let s = Scratch::new("badchart");
    let key = licence();
    s.install_outside_mtm(&env, &key, json!({}));
    let before = s.values();
    let bad = chart(&[(
        "bad.yaml",
        "{{ fail (printf \"stand-in render failure for key %s\" .Values.licensing.licenseKey) }}\n",
    )]);
    let mut spec = s.lab6(&env, &key);
    spec.chart = bad.path().to_string_lossy().into_owned();
    spec.version = None;

    let p = provider();
    for err in [
        p.plan_release("east", &spec).await.expect_err("plan fails"),
        p.apply_release("east", &spec, never())
            .await
            .expect_err("apply fails"),
    ] {
        let text = err.to_string();
        assert!(
            text.contains(&format!("release {}/agw on cluster east", s.namespace))
                && text.contains("stand-in render failure for key (sensitive)"),
            "helm's stderr, redacted, in: {text}"
        );
        assert_hidden("the error", &text, &key);
        assert_hidden("the error's Debug", &format!("{err:?}"), &key);
    }
    assert_eq!(s.metadata()["revision"], json!(1), "no revision made");
    assert_eq!(s.values(), before, "release unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_release_is_uninstalled_through_the_provider_trait() {
    let env = env();
    let s = Scratch::new("created");
    let mut spec = s.lab6(&env, &licence());
    spec.existing = false;
    let resource = Resource {
        address: Address(format!("lab6/east/helm/{}/{}", s.namespace, s.name)),
        spec: Spec::Release {
            cluster: "east".into(),
            release: spec,
        },
        step: Arc::new(StepInfo::default()),
        stages: vec!["lab6".into()],
        origin: Default::default(),
    };
    let p = provider();
    let applied = p.apply(&resource, never()).await.expect("apply");
    assert_eq!(applied.summary, "installed (revision 1)");
    assert_eq!(applied.prior, None, "mtm created it");
    let record: mtm_helm::ReleaseRecord =
        serde_json::from_value(applied.record.expect("a record for state")).unwrap();
    assert_eq!(record.revision, 1);
    assert!(s.exists());
    p.delete(&resource, never()).await.expect("destroy");
    assert!(!s.exists(), "uninstalled");
    // Gone already: destroy again is fine.
    p.delete(&resource, never()).await.expect("destroy again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_release_installed_by_mtm_is_uninstalled_without_a_prior() {
    let env = env();
    let s = Scratch::new("mtminstalled");
    let spec = s.lab6(&env, &licence());
    let p = provider();
    let applied = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    assert_eq!(
        (applied.action, applied.prior),
        (ReleaseAction::Install, None)
    );
    let done = p
        .destroy_release("east", &spec, None, never())
        .await
        .expect("destroy");
    assert_eq!(done, Restored::Uninstalled);
    assert!(!s.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prior_revision_gone_falls_back_to_cleanup_values() {
    let env = env();
    let s = Scratch::new("cleanup");
    let key = licence();
    s.install_outside_mtm(&env, &key, json!({}));
    let spec = s.lab6(&env, &key);
    let p = provider();
    let applied = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    let gone = PriorRelease {
        revision: 99,
        ..applied.prior.clone().expect("prior")
    };
    let done = p
        .restore_release("east", &spec, &gone, never())
        .await
        .expect("restore");
    assert!(
        matches!(&done, Restored::CleanupValues { revision: 3, why } if why.contains("revision 99")),
        "{done:?}"
    );
    let values = s.values();
    assert_eq!(values["tokenExchange"]["enabled"], json!(false));
    assert_eq!(values["licensing"]["licenseKey"], json!(key));
    assert_eq!(s.setting("tokenExchange.enabled"), "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_does_not_wait_for_the_pods_of_the_release() {
    env();
    let s = Scratch::new("nowait");
    // A Deployment that can never be ready: with --wait and this timeout helm would fail.
    let never_ready = chart(&[(
        "deploy.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: never-ready
spec:
  replicas: 1
  selector: { matchLabels: { app: never-ready } }
  template:
    metadata: { labels: { app: never-ready } }
    spec:
      nodeSelector: { mtm-test/no-such-node: "true" }
      containers: [{ name: c, image: stand-in.invalid/none:1 }]
"#,
    )]);
    let spec = s.local(never_ready.path(), "2s");
    let done = provider()
        .apply_release("east", &spec, never())
        .await
        .expect("applied without waiting for the pods");
    assert_eq!(done.action, ReleaseAction::Install);
    assert_eq!(s.metadata()["status"], "deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_sends_sigterm_and_leaves_no_pending_release() {
    env();
    let s = Scratch::new("cancel");
    // A hook Job that can never be scheduled: helm waits for it until cancelled.
    let stuck = chart(&[(
        "hook.yaml",
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: stuck
  annotations:
    helm.sh/hook: post-install,post-upgrade
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: { mtm-test/no-such-node: "true" }
      containers: [{ name: c, image: stand-in.invalid/none:1 }]
"#,
    )]);
    let spec = s.local(stuck.path(), "300s");
    let (tx, rx) = watch::channel(false);
    let p = provider().with_grace(Duration::from_secs(20));
    let started = std::time::Instant::now();
    let apply = tokio::spawn(async move { p.apply_release("east", &spec, rx).await });
    tokio::time::sleep(Duration::from_secs(4)).await;
    if apply.is_finished() {
        panic!("apply ended before the cancel: {:?}", apply.await);
    }
    tx.send(true).expect("cancel");
    let err = apply.await.expect("join").expect_err("cancelled");
    assert!(err.is_cancelled(), "{err}");
    assert!(
        !err.to_string().contains("SIGKILL"),
        "helm stopped on SIGTERM within the grace period: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let status = s.metadata()["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        status, "failed",
        "after a cancel the release is marked failed by helm, not left pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_shows_objects_changed_outside_helm_and_outside_upgrades() {
    let env = env();
    let s = Scratch::new("drift");
    let key = licence();
    s.install_outside_mtm(&env, &key, json!({}));
    let spec = s.lab6(&env, &key);
    let p = provider();
    let applied = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    let drift = p
        .drift_release("east", &spec, &applied.record)
        .await
        .expect("drift");
    assert!(drift.is_clean(), "{drift:#?}");

    let (ok, _, err) = kubectl(&[
        "-n",
        &s.namespace,
        "scale",
        "deployment",
        &s.name,
        "--replicas=3",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = kubectl(&[
        "-n",
        &s.namespace,
        "patch",
        "secret",
        &format!("{}-license", s.name),
        "-p",
        r#"{"stringData":{"license-key":"changed-outside-helm"}}"#,
    ]);
    assert!(ok, "{err}");
    let drift = p
        .drift_release("east", &spec, &applied.record)
        .await
        .expect("drift");
    assert!(
        !drift.revision_changed && drift.values.is_empty(),
        "{drift:#?}"
    );
    assert!(
        drift.objects_diff.contains("-  replicas: 3")
            && drift.objects_diff.contains("+  replicas: 1")
            && drift.objects_diff.contains("v1.Secret"),
        "{}",
        drift.objects_diff
    );
    assert_hidden("the drift", &format!("{drift:?}"), &key);
    assert_hidden("the drift", &format!("{drift:?}"), "changed-outside-helm");

    helm(
        &[
            "upgrade",
            &s.name,
            &env.chart,
            "-n",
            &s.namespace,
            "--reuse-values",
            "--set",
            "tokenExchange.enabled=false",
        ],
        None,
    );
    let drift = p
        .drift_release("east", &spec, &applied.record)
        .await
        .expect("drift");
    assert!(drift.revision_changed, "{drift:#?}");
    assert_eq!(
        drift.values,
        vec![ValueChange {
            path: "tokenExchange.enabled".into(),
            before: Some(json!(true)),
            after: Some(json!(false)),
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_revision_is_enough_to_roll_back_to_it() {
    let env = env();
    let s = Scratch::new("record");
    let key = licence();
    let mut spec = s.lab6(&env, &key);
    spec.existing = false;
    let p = provider();
    let first = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    let first_values = s.values();
    spec.values["tokenExchange"]["tokenExpiration"] = json!("2h");
    let second = p
        .apply_release("east", &spec, never())
        .await
        .expect("apply");
    assert_eq!((first.revision, second.revision), (1, 2));
    assert_ne!(first.record.values_sha256, second.record.values_sha256);

    // What state kept of revision 1, through JSON as a store would keep it.
    let stored = serde_json::to_string(&first.record).expect("serialize");
    assert_hidden("the stored record", &stored, &key);
    let record: mtm_helm::ReleaseRecord = serde_json::from_str(&stored).expect("deserialize");
    let done = p
        .restore_release("east", &spec, &PriorRelease::from(&record), never())
        .await
        .expect("roll back");
    assert_eq!(done, Restored::RolledBack { to: 1, revision: 3 });
    assert_eq!(s.values(), first_values);
    assert_eq!(s.values()["licensing"]["licenseKey"], json!(key));
}

/// The runner's last resort, with a stand-in helm that ignores SIGTERM (the real helm
/// stops on it, see `cancel_sends_sigterm_and_leaves_no_pending_release`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_ignoring_sigterm_is_killed_after_the_grace_period() {
    let env = env();
    let s = Scratch::new("sigkill");
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("helm");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \" $* \" in\n  *\" upgrade \"*) trap '' TERM; exec sleep 60 ;;\n\
         esac\necho 'Error: release: not found' >&2\nexit 1\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let p = provider()
        .with_helm(&script)
        .with_grace(Duration::from_secs(1));
    let spec = s.lab6(&env, &licence());
    let (tx, rx) = watch::channel(false);
    let started = std::time::Instant::now();
    let apply = tokio::spawn(async move { p.apply_release("east", &spec, rx).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(true).expect("cancel");
    let err = apply.await.expect("join").expect_err("cancelled");
    assert!(
        err.is_cancelled()
            && err
                .to_string()
                .contains("then SIGKILL after the grace period"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
