//! The habits users bring from Terraform, kubectl and helm: `--kubeconfig`, `MTM_STATE`
//! and `MTM_PLAN`, `--var-file` and `MTM_VAR_<NAME>`, `mtm show PLANFILE`,
//! `mtm plan --destroy`, and help pages with the global options apart and an example.
//! The offline ones run anywhere; the others apply a small plan (objects and a local helm
//! chart) on the local clusters, with `KUBECONFIG` removed from the environment.

use crate::support::{Fixture, Run, bin, need_testbed, unique};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn validate_json(f: &Fixture, args: &[&str], envs: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new(bin());
    cmd.args(["--plan", ".", "--output", "json", "validate"])
        .args(args)
        .current_dir(f.path())
        .env("NO_COLOR", "1")
        .env_remove("CLUSTER1")
        .env_remove("MTM_VAR_CLUSTER1")
        .envs(envs.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn var(report: &Value, name: &str) -> (String, String) {
    let v = &report["variables"][name];
    (
        v["value"].as_str().unwrap().to_string(),
        v["source"].as_str().unwrap().to_string(),
    )
}

#[test]
fn variables_come_from_var_files_and_mtm_var_environment_in_order() {
    let f = Fixture::mini()
        .file("one.yaml", "CLUSTER1: from-yaml\nCLUSTER2: west-yaml\n")
        .file("two.json", "{\"CLUSTER1\": \"from-json\"}\n");
    let bare = [("CLUSTER1", "from-bare-env")];
    let both = [
        ("CLUSTER1", "from-bare-env"),
        ("MTM_VAR_CLUSTER1", "from-mtm-var"),
    ];

    let r = validate_json(&f, &[], &bare);
    assert_eq!(
        var(&r, "CLUSTER1"),
        ("from-bare-env".into(), "environment CLUSTER1".into())
    );
    let r = validate_json(&f, &[], &both);
    assert_eq!(
        var(&r, "CLUSTER1"),
        ("from-mtm-var".into(), "environment MTM_VAR_CLUSTER1".into())
    );
    let r = validate_json(&f, &["--var-file", "one.yaml"], &both);
    assert_eq!(
        var(&r, "CLUSTER1"),
        ("from-yaml".into(), "--var-file one.yaml".into())
    );
    let r = validate_json(
        &f,
        &["--var-file", "one.yaml", "--var-file", "two.json"],
        &both,
    );
    assert_eq!(
        var(&r, "CLUSTER1"),
        ("from-json".into(), "--var-file two.json".into())
    );
    assert_eq!(
        var(&r, "CLUSTER2"),
        ("west-yaml".into(), "--var-file one.yaml".into())
    );
    let r = validate_json(
        &f,
        &["--var-file", "two.json", "--var", "CLUSTER1=from-var"],
        &both,
    );
    assert_eq!(var(&r, "CLUSTER1"), ("from-var".into(), "--var".into()));
    assert_eq!(var(&r, "CLUSTER2"), ("west-ag".into(), "default".into()));

    // The text report says where each value came from, too.
    f.run(&["validate", "--var-file", "one.yaml"])
        .ok()
        .stdout_has("CLUSTER1 = from-yaml (--var-file one.yaml)");
}

#[test]
fn a_bad_var_file_is_refused_with_its_location() {
    let f = Fixture::mini()
        .file("vars.yaml", "CLUSTER1: east-ag\nNOPE: x\n")
        .file("list.yaml", "CLUSTER1: [a, b]\n");
    f.run(&["validate", "--var-file", "vars.yaml"])
        .fails("vars.yaml:2:");
    f.run(&["validate", "--var-file", "vars.yaml"])
        .fails("unknown variable `NOPE`");
    f.run(&["validate", "--var-file", "list.yaml"])
        .fails("must be a string, number or boolean");
    f.run(&["validate", "--var-file", "missing.yaml"])
        .fails("missing.yaml: cannot read the variable file");
}

#[test]
fn mtm_plan_and_mtm_state_stand_for_the_flags() {
    let f = Fixture::mini();
    let elsewhere = tempfile::tempdir().unwrap();
    let state = elsewhere.path().join("my-state");
    let out = Command::new(bin())
        .args(["state", "list"])
        .current_dir(elsewhere.path())
        .env("MTM_PLAN", f.path())
        .env("MTM_STATE", &state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin())
        .args(["validate"])
        .current_dir(elsewhere.path())
        .env("NO_COLOR", "1")
        .env("MTM_PLAN", f.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("plan mini:"), "{stdout}");
}

#[test]
fn every_help_page_has_global_options_apart_and_an_example() {
    let mut cmds = vec![
        "validate",
        "graph",
        "plan",
        "show",
        "apply",
        "destroy",
        "drift",
        "rollback",
        "verify",
        "rehearse",
        "output",
        "state",
        "unlock",
        "completions",
    ];
    cmds.sort();
    for sub in ["list", "show", "history"] {
        let run = crate::support::mtm(Path::new("."), &["state", sub, "--help"]);
        run.ok()
            .stdout_has("Global options:")
            .stdout_has(&format!("Example: mtm state {sub}"));
    }
    for cmd in cmds {
        let run = crate::support::mtm(Path::new("."), &[cmd, "--help"]);
        run.ok();
        let global = run.stdout.find("Global options:");
        let own = run.stdout.find("Options:");
        assert!(
            global.is_some() && own.is_some_and(|o| o < global.unwrap()),
            "{cmd}: {}",
            run.stdout
        );
        assert!(
            run.stdout[global.unwrap()..].contains("--kubeconfig <PATH>"),
            "{cmd}"
        );
        assert!(
            run.stdout.contains(&format!("Example: mtm {cmd}"))
                || (cmd == "destroy" && run.stdout.contains("Example: mtm plan --destroy")),
            "{cmd}: {}",
            run.stdout
        );
    }
}

#[test]
fn show_of_something_else_names_the_file() {
    let f = Fixture::mini().file("notaplan.json", "{\"hello\": 1}\n");
    crate::support::mtm(f.path(), &["show", "notaplan.json"]).fails("notaplan.json:1:");
    crate::support::mtm(f.path(), &["show", "absent.json"]).fails("cannot read absent.json");
}

#[test]
fn plan_destroy_of_an_empty_state_touches_no_cluster() {
    // The contexts of this plan exist nowhere: plan --destroy reads only state.
    let f = Fixture::mini();
    let run = f.run(&[
        "--var",
        "CLUSTER1=no-such-context",
        "plan",
        "--destroy",
        "--detailed-exitcode",
    ]);
    run.ok()
        .stdout_has("Plan: 0 to create, 0 to update, 0 to delete");
    f.run(&["plan", "--destroy", "--out", "x.plan"])
        .fails("cannot be used with");
    assert!(!f.path().join("x.plan").exists());
}

// ---- on the local clusters ----------------------------------------------------------

const CHART: &str = "apiVersion: v2\nname: habit\nversion: 0.1.0\n";
const CHART_CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-chart\ndata:\n  greeting: {{ .Values.greeting | default \"hello\" | quote }}\n";

/// A plan with a namespace, a ConfigMap and a release of a local chart, on east.
fn habit_plan(ns: &str) -> Fixture {
    Fixture::empty()
        .file(
            "plan.yaml",
            "plan: habit\nvariables:\n  CLUSTER1: { default: no-such-context }\nclusters:\n  east: { context: \"${CLUSTER1}\" }\nstages: [a]\n",
        )
        .file(
            "stages/a.yaml",
            &format!(
                "title: A\nsteps:\n  - name: base\n    title: Base\n    what: The namespace and a ConfigMap\n    why: Somewhere to put the release\n    cluster: east\n    manifests: [m/base.yaml]\n  - name: rel\n    title: Release\n    cluster: east\n    needs: [\"a/east/core/Namespace/**\"]\n    releases:\n      - {{ name: habit, namespace: {ns}, chart: ./chart }}\n"
            ),
        )
        .file(
            "m/base.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: plain, namespace: {ns} }}\ndata: {{ a: b }}\n"),
        )
        .file("chart/Chart.yaml", CHART)
        .file("chart/templates/cm.yaml", CHART_CM)
        .file("vars.yaml", "CLUSTER1: east-ag\n")
}

/// mtm in the fixture without `KUBECONFIG` and with a HOME of no kubeconfig, so that the
/// clusters are found only through `--kubeconfig` when it is given.
fn without_kubeconfig_env(f: &Fixture, home: &Path, state: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .args(args)
        .current_dir(f.path())
        .env_remove("KUBECONFIG")
        .env_remove("CLUSTER1")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("MTM_PLAN", f.path())
        .env("MTM_STATE", state)
        .output()
        .expect("run mtm");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: args.join(" "),
    }
}

#[test]
fn kubeconfig_flag_show_and_plan_destroy_on_the_clusters() {
    need_testbed();
    let ns = unique("habit", "kc");
    let f = habit_plan(&ns);
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    let kc = home.path().join("copied-kubeconfig");
    std::fs::copy(std::env::var("KUBECONFIG").unwrap(), &kc).unwrap();
    let kc = kc.display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kc.as_str(), "--var-file", "vars.yaml"];
        all.extend_from_slice(args);
        without_kubeconfig_env(&f, home.path(), &state, &all)
    };

    // Without the flag (and no KUBECONFIG), the clusters cannot be found.
    let blind = without_kubeconfig_env(
        &f,
        home.path(),
        &state,
        &["--var-file", "vars.yaml", "plan"],
    );
    assert_eq!(blind.code, 1, "{}\n{}", blind.stdout, blind.stderr);

    // plan --out, then show: the same text; show --output json: the same changes.
    let planned = run(&["plan", "--out", "saved.plan"]);
    planned.ok();
    let printed: String = planned
        .stdout
        .lines()
        .filter(|l| !l.starts_with("saved to "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(printed.contains("Plan: 3 to create"), "{printed}");
    let shown = run(&["show", "saved.plan"]);
    shown.ok();
    assert_eq!(shown.stdout, printed);
    let json: Value =
        serde_json::from_str(&run(&["--output", "json", "show", "saved.plan"]).stdout).unwrap();
    assert_eq!(json["summary"]["create"], 3, "{json}");

    // Apply through the copied kubeconfig; helm and kubectl (drift) use it as well.
    run(&["apply", "saved.plan", "--auto-approve"]).ok();
    let cm = crate::support::get_json("east-ag", &["-n", &ns, "configmap", "from-chart"]);
    assert!(cm.is_some(), "the chart's ConfigMap is on east");
    assert!(state.is_dir(), "MTM_STATE is used");
    let drift = run(&["drift"]);
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);
    assert_eq!(run(&["plan", "--detailed-exitcode"]).code, 0);

    // plan --destroy: what destroy would do, exit 2 with --detailed-exitcode.
    let doomed = run(&["plan", "--destroy", "--detailed-exitcode", "--explain"]);
    assert_eq!(doomed.code, 2, "{}\n{}", doomed.stdout, doomed.stderr);
    assert!(
        doomed
            .stdout
            .contains(&format!("- a/east/core/Namespace/_/{ns} (delete)")),
        "{}",
        doomed.stdout
    );
    assert!(
        doomed
            .stdout
            .contains("Plan: 0 to create, 0 to update, 3 to delete"),
        "{}",
        doomed.stdout
    );
    assert!(
        doomed.stdout.contains("Somewhere to put the release"),
        "{}",
        doomed.stdout
    );
    // Nothing was destroyed by planning it.
    assert!(crate::support::get_json("east-ag", &["namespace", &ns]).is_some());

    run(&["destroy", "--auto-approve"]).ok();
    assert_eq!(run(&["plan", "--destroy", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_changed_multi_line_value_is_shown_as_a_line_diff_with_secrets_masked() {
    need_testbed();
    let ns = unique("habit", "diff");
    let script = |greeting: &str| {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: script, namespace: {ns} }}\ndata:\n  run.sh: |\n    #!/bin/sh\n    set -e\n    echo one\n    export TOKEN=${{TOKEN}}\n    echo {greeting}\n    echo four\n    echo five\n    echo six\n"
        )
    };
    let plan = "plan: diff\nvariables:\n  TOKEN: { sensitive: true, default: multi-line-s3cret }\nclusters:\n  east: { context: east-ag }\nstages: [a]\n";
    let stage = "title: A\nsteps:\n  - name: s\n    title: S\n    cluster: east\n    manifests: [m/all.yaml]\n";
    let f = Fixture::empty()
        .file("plan.yaml", plan)
        .file("stages/a.yaml", stage)
        .file("m/all.yaml", &script("three"));
    let live = |args: &[&str]| {
        let mut all = vec!["--plan", "."];
        all.extend_from_slice(args);
        crate::support::mtm_live(f.path(), &all)
    };
    live(&["apply", "--auto-approve"]).ok();
    std::fs::write(f.path().join("m/all.yaml"), script("THREE")).unwrap();
    let run = live(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("      - echo three\n      + echo THREE\n"),
        "{out}"
    );
    // Context lines around the change, not the whole script twice.
    assert!(out.contains("        echo one\n"), "{out}");
    assert!(out.contains("        echo five\n"), "{out}");
    assert_eq!(out.matches("echo four").count(), 1, "{out}");
    assert!(
        !out.contains("echo six") && !out.contains("set -e"),
        "{out}"
    );
    // The sensitive value in a context line is masked.
    assert!(out.contains("        export TOKEN=(sensitive)\n"), "{out}");
    assert!(!out.contains("multi-line-s3cret"), "{out}");
    live(&["destroy", "--auto-approve"]).ok();
}

/// What mtm's own completer offers for the last word of `words` (fish's protocol: one
/// candidate a line, its help after a tab).
fn complete(cwd: &Path, plan: Option<&Path>, words: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(bin());
    cmd.env("COMPLETE", "fish")
        .env_remove("MTM_PLAN")
        .arg("--")
        .arg("mtm")
        .args(words)
        .current_dir(cwd);
    if let Some(plan) = plan {
        cmd.env("MTM_PLAN", plan);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn target_and_var_complete_from_the_plan_here() {
    let f = Fixture::mini();
    let here = Some(f.path());
    assert_eq!(
        complete(f.path(), here, &["plan", "--target", "ba"]),
        ["base", "base/east/core/Namespace/_/demo"]
    );
    assert_eq!(
        complete(f.path(), here, &["apply", "--target", "app/east/apps/"]),
        ["app/east/apps/Deployment/demo/web"]
    );
    let all = complete(f.path(), here, &["graph", "--target", ""]);
    assert!(
        all.starts_with(&["base".to_string(), "app".to_string()]),
        "{all:?}"
    );
    assert!(
        all.contains(&"base/east/core/Namespace/_/demo".to_string()),
        "{all:?}"
    );
    assert_eq!(
        complete(f.path(), here, &["rehearse", "--target", "a"]),
        ["app"]
    );
    assert_eq!(complete(f.path(), here, &["--var", "TO"]), ["TOKEN="]);
    assert_eq!(
        complete(f.path(), here, &["validate", "--var", "CL"]),
        ["CLUSTER1=", "CLUSTER2="]
    );
    // The only plan under ./plans is found as mtm finds it.
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("plans")).unwrap();
    std::fs::rename(f.path(), project.path().join("plans/mini")).unwrap_or_else(|_| {
        panic!("move the fixture under plans/");
    });
    let found = complete(project.path(), None, &["plan", "--target", "ap"]);
    assert!(
        found.first().is_some_and(|c| c == "app") && found.len() == 6,
        "{found:?}"
    );
    // No plan here: nothing offered, no error.
    let empty = tempfile::tempdir().unwrap();
    assert!(complete(empty.path(), None, &["plan", "--target", ""]).is_empty());
}

#[test]
fn state_in_plan_yaml_is_the_default_and_the_flag_and_the_environment_win() {
    let f = Fixture::mini().edit(
        "plan.yaml",
        "stages: [base, app]\n",
        "stages: [base, app]\nstate: team-state\n",
    );
    let from_plan = f.run(&["state", "list"]);
    from_plan.ok();
    // The plan directory is `.` here, and the state directory is relative to it.
    assert!(
        from_plan.stdout.contains("no state yet in ./team-state"),
        "{}",
        from_plan.stdout
    );
    let flag = f.run(&["--state", "mine", "state", "list"]);
    assert!(
        flag.ok().stdout.contains("no state yet in mine"),
        "{}",
        flag.stdout
    );
    let out = Command::new(bin())
        .args(["--plan", ".", "state", "list"])
        .current_dir(f.path())
        .env("MTM_STATE", "from-env")
        .env("NO_COLOR", "1")
        .output()
        .expect("run mtm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no state yet in from-env"), "{stdout}");
}
