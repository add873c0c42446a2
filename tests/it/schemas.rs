//! The `--output json` shapes documented under docs/schemas/ are what mtm prints: every
//! schema compiles, and real outputs (offline, and of a small plan applied on the local
//! clusters: plan, saved plan, show, drift, verify, state list and history, output,
//! plan --destroy, rehearse) validate against them. The schemas forbid fields they do not
//! name, so a field added to an output without its schema fails here.

use crate::json_schema::Schema;
use crate::support::{Fixture, Run, mtm, mtm_live, need_testbed, repo, unique};
use serde_json::Value;
use std::collections::BTreeSet;

fn schema(name: &str) -> Schema {
    let path = repo().join("docs/schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap();
    Schema::new(schema).unwrap_or_else(|e| panic!("{name} is not a schema: {e}"))
}

/// Checks that `text` is JSON of the shape `name` documents, with `"version": 1`.
pub(crate) fn conforms(name: &str, text: &str) -> Value {
    let value: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: not JSON ({e}):\n{text}"));
    let validator = schema(name);
    let problems = validator.problems(&value);
    assert!(
        problems.is_empty(),
        "{name}:\n{}\n{text}",
        problems.join("\n")
    );
    assert_eq!(value["version"], 1, "{name}: {text}");
    value
}

fn json_of(run: &Run) -> &str {
    run.ok();
    &run.stdout
}

#[test]
fn every_schema_compiles_and_refuses_what_it_does_not_name() {
    let names: BTreeSet<String> = std::fs::read_dir(repo().join("docs/schemas"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        let v = schema(name);
        assert!(
            !v.accepts(&serde_json::json!({ "version": 1, "surprise": true })),
            "{name}"
        );
    }
}

#[test]
fn offline_outputs_match_their_schemas() {
    let f = Fixture::mini().file("vars.yaml", "CLUSTER2: west-from-file\n");
    let v = conforms(
        "validate.schema.json",
        json_of(&f.run(&["--output", "json", "--var-file", "vars.yaml", "validate"])),
    );
    assert_eq!(v["variables"]["CLUSTER2"]["source"], "--var-file vars.yaml");
    conforms(
        "graph.schema.json",
        json_of(&f.run(&["--output", "json", "graph"])),
    );
    conforms(
        "state-list.schema.json",
        json_of(&f.run(&["--output", "json", "state", "list"])),
    );
    conforms(
        "state-history.schema.json",
        json_of(&f.run(&["--output", "json", "state", "history"])),
    );
    let outputs = conforms(
        "output.schema.json",
        json_of(&f.run(&["--output", "json", "output"])),
    );
    assert!(
        outputs["outputs"].as_array().unwrap().len() >= 3,
        "{outputs}"
    );
    conforms(
        "output.schema.json",
        json_of(&f.run(&["--output", "json", "output", "var.CLUSTER1"])),
    );
    conforms(
        "plan.schema.json",
        json_of(&f.run(&["--output", "json", "plan", "--destroy"])),
    );
    // The workshop's graph, too.
    conforms(
        "graph.schema.json",
        json_of(&mtm(&repo(), &["--output", "json", "graph"])),
    );
}

fn stage(ns: &str) -> String {
    format!(
        "title: A\nsteps:\n  - name: app\n    title: App\n    cluster: east\n    manifests: [m/app.yaml]\n    checks:\n      - name: web-ok\n        from: {{ namespace: {ns}, workload: deploy/web }}\n        http: {{ url: \"http://web.{ns}/\" }}\n        expect: {{ status: 200 }}\n"
    )
}

fn manifest(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns} }}\ndata: {{ a: b }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: web, namespace: {ns} }}\nspec:\n  replicas: 1\n  selector: {{ matchLabels: {{ app: web }} }}\n  template:\n    metadata: {{ labels: {{ app: web }} }}\n    spec: {{ containers: [{{ name: web, image: nginx:1.27 }}] }}\n"
    )
}

#[test]
fn outputs_on_the_clusters_match_their_schemas() {
    need_testbed();
    let ns = unique("schema", "out");
    let f = Fixture::empty()
        .file(
            "plan.yaml",
            "plan: schemas\nvariables:\n  KEY: { sensitive: true, default: schema-s3cret }\nclusters:\n  east: { context: east-ag }\nstages: [a]\n",
        )
        .file("stages/a.yaml", &stage(&ns))
        .file("m/app.yaml", &manifest(&ns));
    let live = |args: &[&str]| {
        let mut all = vec!["--plan", "."];
        all.extend_from_slice(args);
        mtm_live(f.path(), &all)
    };
    let json = |args: &[&str]| {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        live(&all)
    };

    let planned = conforms(
        "plan.schema.json",
        json_of(&json(&["plan", "--out", "saved.plan"])),
    );
    let saved = std::fs::read_to_string(f.path().join("saved.plan")).unwrap();
    conforms("saved-plan.schema.json", &saved);
    let shown = conforms("plan.schema.json", json_of(&json(&["show", "saved.plan"])));
    assert_eq!(shown["changes"], planned["changes"]);

    live(&["apply", "saved.plan", "--auto-approve"]).ok();
    conforms("drift.schema.json", json_of(&json(&["drift"])));
    let verify = json(&["verify"]);
    let verify = conforms("verify.schema.json", &verify.stdout);
    assert_eq!(
        verify["checks"].as_array().map(Vec::len),
        Some(1),
        "{verify}"
    );
    conforms("state-list.schema.json", json_of(&json(&["state", "list"])));
    conforms(
        "state-history.schema.json",
        json_of(&json(&["state", "history"])),
    );
    conforms("output.schema.json", json_of(&json(&["output"])));
    let doomed = conforms("plan.schema.json", json_of(&json(&["plan", "--destroy"])));
    assert_eq!(doomed["summary"]["delete"], 3, "{doomed}");
    live(&["destroy", "--auto-approve"]).ok();

    let rehearsal = json(&["rehearse", "--destroy"]);
    let rehearsal = conforms("rehearse.schema.json", &rehearsal.stdout);
    assert_eq!(
        rehearsal["stages"][0]["checks"].as_array().map(Vec::len),
        Some(1),
        "{rehearsal}"
    );
    assert_eq!(rehearsal["destroyed"], true, "{rehearsal}");
}
