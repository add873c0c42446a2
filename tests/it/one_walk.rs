//! `mtm apply --auto-approve` plans and applies in one walk on the local clusters: an
//! object is planned after what it needs exists (so its plan knows its namespace is there,
//! where a plan made up front can only say "validated at apply"), the lines and state
//! records are those of a plan-then-apply run, and a run with nothing to change begins
//! no revision. Run by `tests/run`.

use crate::support::{Fixture, Run, kubectl, mtm_live, need_testbed, unique};
use serde_json::Value;

/// Deletes the test's namespace when dropped.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = kubectl(
            "east-ag",
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

fn fixture(ns: &str) -> Fixture {
    Fixture::empty()
        .file(
            "plan.yaml",
            "plan: walk\nclusters:\n  east: { context: east-ag }\nstages: [a]\n",
        )
        .file(
            "stages/a.yaml",
            "title: A\nsteps:\n  - name: all\n    title: All\n    cluster: east\n    manifests: [m/all.yaml]\n",
        )
        .file(
            "m/all.yaml",
            &format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns} }}\ndata: {{ a: one }}\n"
            ),
        )
}

fn live(f: &Fixture, args: &[&str]) -> Run {
    let mut all = vec!["--plan", ".", "--state", "state"];
    all.extend_from_slice(args);
    mtm_live(f.path(), &all)
}

fn revisions(f: &Fixture) -> Vec<Value> {
    let run = live(f, &["--output", "json", "state", "history"]);
    run.ok();
    let history: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("history json: {e}\n{}", run.stdout));
    history["revisions"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no revisions in {history}"))
}

#[test]
fn apply_plans_each_object_after_what_it_needs_and_a_no_op_run_begins_no_revision() {
    need_testbed();
    let ns = unique("walk", "one");
    let _cleanup = Namespace(ns.clone());
    let f = fixture(&ns);
    let cfg = format!("a/east/core/ConfigMap/{ns}/cfg");

    // Planned up front, the ConfigMap cannot be validated: its namespace does not exist.
    live(&f, &["plan"])
        .ok()
        .stdout_has(&format!("namespace {ns} does not exist yet"));

    // In one walk it is planned once the namespace exists: a create with no caveat, and
    // no dry run for objects that do not exist yet (the apply itself is validated).
    let run = live(&f, &["-vv", "apply", "--auto-approve"]);
    run.ok()
        .stdout_has(&format!("created  {cfg} ("))
        .stdout_has(&format!("+ {cfg} (create)"))
        .stdout_has("applied revision 1");
    assert!(
        !run.stdout.contains("does not exist yet"),
        "planned before its namespace existed:\n{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("fieldManager=mtm") && !run.stderr.contains("dryRun"),
        "no apply logged, or a dry run of a new object:\n{}",
        run.stderr
    );
    let listed = live(&f, &["state", "list"]);
    listed.ok().stdout_has(&cfg);

    // Nothing to change: no revision, state as it was.
    live(&f, &["apply", "--auto-approve"])
        .ok()
        .stdout_has("No changes.");
    assert_eq!(revisions(&f).len(), 1, "a no-op apply began a revision");

    // A change: the update line, the diff, and one more revision with that change.
    let f = f.edit("m/all.yaml", "a: one", "a: two");
    live(&f, &["apply", "--auto-approve"])
        .ok()
        .stdout_has(&format!("updated  {cfg} ("))
        .stdout_has("applied revision 2");
    let history = revisions(&f);
    assert_eq!(history.len(), 2, "{history:?}");
    let shown = live(&f, &["state", "show", "--revision", "2"]);
    shown.ok().stdout_has(&cfg);
    let got = kubectl(
        "east-ag",
        &[
            "get",
            "configmap",
            "cfg",
            "-n",
            &ns,
            "-o",
            "jsonpath={.data.a}",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout), "two");

    live(&f, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn an_object_the_server_refuses_fails_alone_and_the_rest_is_applied() {
    need_testbed();
    let ns = unique("walk", "bad");
    let _cleanup = Namespace(ns.clone());
    // A data key the API server refuses (the loader checks names, not keys): the other
    // objects are applied.
    let f = fixture(&ns).file(
        "m/all.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: bad, namespace: {ns} }}\ndata: {{ \"bad key!\": x }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: ok, namespace: {ns} }}\ndata: {{ a: one }}\n"
        ),
    );
    let run = live(&f, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains(&format!("ConfigMap/{ns}/bad")), "{said}");
    run.stdout_has(&format!("created  a/east/core/ConfigMap/{ns}/ok ("));
    let history = revisions(&f);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["result"]["state"], "failed", "{history:?}");
    // The refused create left nothing of mtm's, and no intent in state either.
    let listed = live(&f, &["state", "list"]);
    listed
        .ok()
        .stdout_has(&format!("a/east/core/ConfigMap/{ns}/ok"));
    assert!(
        !listed.stdout.contains(&format!("ConfigMap/{ns}/bad")),
        "the refused object is still in state:\n{}",
        listed.stdout
    );
    live(&f, &["destroy", "--auto-approve"]).ok();
}
