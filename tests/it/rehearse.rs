//! `mtm rehearse` and `mtm verify` against the local clusters: each stage applied then its
//! checks run, a stop at the first failed check naming what was expected and seen, checks
//! from kwok's pods not applicable, the Markdown report, `--destroy`, and verify running
//! only the checks of what state says is applied.

use crate::support::{Fixture, Run, answer_with, kubectl, mtm_live, need_testbed, unique};
use serde_json::Value;

/// Stage a: a namespace and a ConfigMap on east, and a check from this machine against a
/// listener on `port`, expecting 200. Stage b: a ConfigMap, and a Deployment with a
/// check run from its pod (kwok's: not applicable).
fn fixture(ns: &str, port: u16) -> Fixture {
    let a = format!(
        "title: A\nsteps:\n  - name: base\n    title: Base\n    cluster: east\n    namespace: {ns}\n    manifests: [m/a.yaml]\n    checks:\n      - {{ name: reachable, http: {{ url: \"http://127.0.0.1:{port}/\" }}, expect: {{ status: 200 }} }}\n"
    );
    let b = format!(
        "title: B\nneeds: [a]\nsteps:\n  - name: app\n    title: App\n    cluster: east\n    namespace: {ns}\n    manifests: [m/b.yaml]\n    checks:\n      - name: from-pod\n        from: {{ namespace: {ns}, workload: deploy/app }}\n        http: {{ url: \"http://127.0.0.1:{port}/\" }}\n        expect: {{ status: 200 }}\n"
    );
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: app }\nspec:\n  selector: { matchLabels: { app: app } }\n  template:\n    metadata: { labels: { app: app } }\n    spec: { containers: [{ name: c, image: nginx }] }\n";
    Fixture::empty()
        .file(
            "plan.yaml",
            "plan: rehearsal\nclusters:\n  east: { context: east-ag }\n  west: { context: west-ag }\nstages: [a, b]\n",
        )
        .file("stages/a.yaml", &a)
        .file("stages/b.yaml", &b)
        .file(
            "m/a.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: first }}\n"),
        )
        .file(
            "m/b.yaml",
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: second }}\n---\n{deploy}"),
        )
}

fn live(f: &Fixture, args: &[&str]) -> Run {
    let mut all = vec!["--plan", "."];
    all.extend_from_slice(args);
    mtm_live(f.path(), &all)
}

fn stage_line<'a>(run: &'a Run, stage: &str) -> Option<&'a str> {
    run.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(stage))
}

#[test]
fn rehearse_stops_at_the_first_failed_check_naming_expected_and_seen() {
    need_testbed();
    let ns = unique("rh", "stop");
    let f = fixture(&ns, answer_with(500));
    let report = f.path().join("report.md");
    let run = live(&f, &["rehearse", "--report", report.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let a = stage_line(&run, "a").unwrap_or_else(|| panic!("no line for a:\n{}", run.stdout));
    assert!(a.contains("2 applied") && a.contains("check failed"), "{a}");
    run.stdout_has("FAILED a/east/check/reachable: expected HTTP 200, saw HTTP 500");
    assert!(
        stage_line(&run, "b").is_none(),
        "b was rehearsed:\n{}",
        run.stdout
    );
    // Stage b was never applied.
    let listed = live(&f, &["--output", "json", "state", "list"]);
    let records: Value = serde_json::from_str(&listed.ok().stdout).unwrap();
    assert!(
        records["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["address"].as_str().unwrap().starts_with("a/")),
        "{records}"
    );
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(markdown.contains("| a | 2 | 0 | 1 | 0 |"), "{markdown}");
    assert!(
        markdown.contains("| `a/east/check/reachable` | FAILED | HTTP 200 | HTTP 500 |"),
        "{markdown}"
    );

    // verify without --target: the checks of what is applied; b's are not applied.
    let verify = live(&f, &["verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    verify
        .stdout_has("not applied  b/east/check/from-pod")
        .stdout_has(
            "1 of 2 checks ran: 0 passed, 1 failed; 0 not applicable, 1 not applied, 0 retired",
        );
    live(&f, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn rehearse_runs_every_stage_and_destroy_leaves_nothing() {
    need_testbed();
    let ns = unique("rh", "all");
    let f = fixture(&ns, answer_with(200));
    let run = live(&f, &["rehearse", "--destroy"]);
    run.ok();
    let a = stage_line(&run, "a").unwrap();
    assert!(a.contains("1 passed") && a.contains(" ok"), "{a}");
    let b = stage_line(&run, "b").unwrap();
    assert!(
        b.contains("2 applied") && b.contains("1 not applicable"),
        "{b}"
    );
    run.stdout_has("Rehearse: 2 stages, 1 checks ran, 1 not applicable, destroyed; ok.");
    let gone = kubectl("east-ag", &["get", "namespace", &ns, "-o", "name"]);
    let phase = kubectl(
        "east-ag",
        &["get", "namespace", &ns, "-o", "jsonpath={.status.phase}"],
    );
    assert!(
        !gone.status.success() || String::from_utf8_lossy(&phase.stdout) == "Terminating",
        "namespace {ns} is still there"
    );
    // --strict counts kwok's not-applicable check as a failure.
    let strict = live(
        &f,
        &["--output", "json", "rehearse", "--strict", "--destroy"],
    );
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    let data: Value = serde_json::from_str(&strict.stdout).unwrap();
    assert_eq!(data["stages"][1]["outcome"], "check failed", "{data}");
    assert_eq!(data["destroyed"], true, "{data}");
}

/// The check addresses of a `mtm --output json verify` report under `key`.
fn listed(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}: {report}"))
        .iter()
        .map(|c| c.get("address").unwrap_or(c).as_str().unwrap().to_string())
        .collect()
}

#[test]
fn verify_runs_the_checks_of_what_is_applied_folded_like_everything_else() {
    need_testbed();
    let _one = crate::workshop::WORKSHOP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    crate::workshop::clean_workshop();
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| crate::workshop::workshop(state.path(), args);
    run(&["apply", "--auto-approve", "--target", "lab3"]).ok();
    let report: Value =
        serde_json::from_str(&run(&["--output", "json", "verify"]).ok().stdout).unwrap();
    let ran = listed(&report, "checks");
    assert!(
        ran.iter()
            .all(|a| ["lab1/", "lab2/", "lab3/"].iter().any(|p| a.starts_with(p))),
        "{ran:?}"
    );
    assert!(
        ran.contains(&"lab3/east/check/federated-tools".to_string()),
        "{ran:?}"
    );
    assert!(listed(&report, "notApplied").contains(&"lab5/east/check/alice-tools".to_string()));
    // Every check from kwok's pods is not applicable, never failed.
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "notApplicable"),
        "{report}"
    );

    run(&["apply", "--auto-approve"]).ok();
    let report: Value =
        serde_json::from_str(&run(&["--output", "json", "verify"]).ok().stdout).unwrap();
    let retired = listed(&report, "retired");
    for gone in [
        "lab1/east/check/dev-ui-baseline",
        "lab1/east/check/rogue-ui-baseline",
        "lab3/east/check/federated-tools",
        "lab4/east/check/allowlisted-tools",
    ] {
        assert!(
            retired.contains(&gone.to_string()),
            "{gone} not retired: {report}"
        );
    }
    assert!(listed(&report, "notApplied").is_empty(), "{report}");
    assert_eq!(listed(&report, "checks").len(), 8, "{report}");
    run(&["destroy", "--auto-approve"]).ok();
}
