//! Malformed plans: each test breaks one thing in the mini plan and asserts the located
//! message (file:line:column or the argument at fault) and exit code 1.

use crate::support::Fixture;

#[test]
fn the_mini_plan_is_valid() {
    Fixture::mini()
        .run(&["validate"])
        .ok()
        .stdout_has("plan mini: 2 stages");
}

#[test]
fn bad_yaml_in_plan_file() {
    Fixture::mini()
        .edit("plan.yaml", "stages: [base, app]", "stages: [base, app")
        .run(&["validate"])
        .fails("./plan.yaml:10:9: invalid YAML: unclosed bracket");
}

#[test]
fn unknown_field_in_plan_file() {
    Fixture::mini()
        .edit("plan.yaml", "title: A small", "titel: A small")
        .run(&["validate"])
        .fails("./plan.yaml:2:1: invalid YAML: unknown field `titel`");
}

#[test]
fn unknown_field_in_a_step() {
    Fixture::mini()
        .edit("stages/base.yaml", "    manifests:", "    manifest:")
        .run(&["validate"])
        .fails("./stages/base.yaml:8:5: invalid YAML: unknown field `manifest`");
}

#[test]
fn unknown_field_in_a_check() {
    Fixture::mini()
        .edit("stages/app.yaml", "expect: { status", "expects: { status")
        .run(&["validate"])
        .fails("./stages/app.yaml:15:9: invalid YAML: unknown field `expects`");
}

#[test]
fn wrong_type_for_stages() {
    Fixture::mini()
        .edit("plan.yaml", "stages: [base, app]", "stages: base")
        .run(&["validate"])
        .fails("./plan.yaml:10:9: invalid YAML: expected sequence start");
}

#[test]
fn wrong_type_for_a_variable_default() {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "CLUSTER1: { default: east-ag }",
            "CLUSTER1: { default: [east-ag] }",
        )
        .run(&["validate"])
        .fails("./plan.yaml:4:")
        .fails("invalid YAML");
}

#[test]
fn wrong_type_for_a_status_code() {
    Fixture::mini()
        .edit("stages/app.yaml", "status: 200", "status: ok")
        .run(&["validate"])
        .fails(
            "./stages/app.yaml:15:27: invalid YAML: `status`: expected a whole number from 0 to 65535, unquoted, got string \"ok\"",
        );
}

#[test]
fn unknown_stage_in_needs() {
    Fixture::mini()
        .edit("stages/app.yaml", "needs: [base]", "needs: [bsae]")
        .run(&["validate"])
        .fails("./stages/app.yaml:2:9: unknown stage `bsae` in needs");
}

#[test]
fn stage_needing_a_later_stage() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "title: Base\n",
            "title: Base\nneeds: [app]\n",
        )
        .run(&["validate"])
        .fails("./stages/base.yaml:2:9: stage `base` needs `app`, which does not come before it");
}

#[test]
fn unknown_stage_in_target() {
    Fixture::mini()
        .run(&["graph", "--target", "lab9"])
        .fails("--target lab9: unknown stage `lab9`")
        .fails("stages: base, app");
}

#[test]
fn bad_glob_in_target() {
    Fixture::mini()
        .run(&["graph", "--target", "app/east/[oops"])
        .fails("--target app/east/[oops: bad glob `app/east/[oops`");
}

#[test]
fn target_matching_nothing() {
    Fixture::mini()
        .run(&["graph", "--target", "app/west/**"])
        .fails("--target app/west/**: `app/west/**` matches no resource of the plan");
}

#[test]
fn duplicate_object_in_one_stage() {
    Fixture::mini()
        .file("manifests/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n")
        .run(&["validate"])
        .fails("./manifests/ns.yaml:5:1: duplicate address base/east/core/Namespace/_/demo: stage `base` declares this object twice (first at ./manifests/ns.yaml:1:1)");
}

#[test]
fn duplicate_wait_name() {
    Fixture::mini()
        .edit(
            "stages/app.yaml",
            "    waits:\n",
            "    waits:\n      - { name: app-ready, kind: Pod, condition: Ready }\n",
        )
        .run(&["validate"])
        .fails("duplicate address app/east/wait/app-ready");
}

#[test]
fn duplicate_step_name() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "steps:\n",
            "steps:\n  - name: ns\n    title: Again\n",
        )
        .run(&["validate"])
        .fails("./stages/base.yaml:5:11: step `ns` is declared twice in stage `base` (first at line 3)");
}

#[test]
fn cycle_through_explicit_needs() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "    cluster: east\n",
            "    cluster: east\n    needs: [\"app/east/apps/Deployment/demo/web\"]\n",
        )
        .run(&["validate"])
        .fails("dependency cycle between")
        .fails("app/east/apps/Deployment/demo/web")
        .fails("base/east/core/Namespace/_/demo");
}

#[test]
fn missing_variable() {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "CLUSTER2: { default: west-ag }",
            "CLUSTER2: { description: no default }",
        )
        .run(&["validate"])
        .fails("./plan.yaml:5:13: variable `CLUSTER2` has no value")
        .fails("--var CLUSTER2=VALUE");
}

#[test]
fn missing_variable_given_by_var_is_fine() {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "CLUSTER2: { default: west-ag }",
            "CLUSTER2: { description: no default }",
        )
        .run(&["validate", "--var", "CLUSTER2=w"])
        .ok()
        .stdout_has("west=w");
}

#[test]
fn unknown_variable_in_a_manifest() {
    Fixture::mini()
        .edit(
            "manifests/app.yaml",
            "serviceAccountName: web",
            "serviceAccountName: ${SA}",
        )
        .run(&["validate"])
        .fails("./manifests/app.yaml:13:27: unknown variable `SA`");
}

#[test]
fn unterminated_reference() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "title: Namespaces",
            "title: Names ${OOPS",
        )
        .run(&["validate"])
        .fails("./stages/base.yaml:4:18: unterminated `${`");
}

#[test]
fn namespaced_object_without_namespace() {
    Fixture::mini()
        .edit("stages/app.yaml", "    namespace: demo\n", "")
        .run(&["validate"])
        .fails(
            "./manifests/app.yaml:1:1: ServiceAccount web: namespaced object without a namespace",
        );
}

#[test]
fn cluster_scoped_object_with_namespace() {
    Fixture::mini()
        .file("manifests/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: { name: demo, namespace: x }\n")
        .run(&["validate"])
        .fails("./manifests/ns.yaml:1:1: Namespace demo: Namespace is cluster-scoped but has a namespace");
}

#[test]
fn custom_kind_without_crd() {
    Fixture::mini()
        .file("manifests/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w, namespace: demo }\n")
        .run(&["validate"])
        .fails("./manifests/ns.yaml:5:1: Widget w: no CustomResourceDefinition for kind Widget in group example.com on cluster east");
}

#[test]
fn unknown_cluster_in_a_step() {
    Fixture::mini()
        .edit("stages/base.yaml", "cluster: east", "cluster: north")
        .run(&["validate"])
        .fails("./stages/base.yaml:7:14: unknown cluster `north`")
        .fails("clusters in plan.yaml: east, west");
}

#[test]
fn objects_without_a_cluster() {
    Fixture::mini()
        .edit("stages/base.yaml", "    cluster: east\n", "")
        .run(&["validate"])
        .fails("./manifests/ns.yaml:1:1: Namespace demo has no cluster");
}

#[test]
fn missing_manifest_file() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "manifests/ns.yaml",
            "manifests/nope.yaml",
        )
        .run(&["validate"])
        .fails("./stages/base.yaml:8:17: cannot read manifest ./manifests/nope.yaml");
}

#[test]
fn missing_stage_file() {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "stages: [base, app]",
            "stages: [base, app, extra]",
        )
        .run(&["validate"])
        .fails("./plan.yaml:10:21: stage `extra`: cannot read ./stages/extra.yaml");
}

#[test]
fn stage_listed_twice() {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "stages: [base, app]",
            "stages: [base, app, base]",
        )
        .run(&["validate"])
        .fails("./plan.yaml:10:21: stage `base` is listed twice");
}

#[test]
fn bad_stage_name() {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "stages: [base, app]",
            "stages: [base, app, Lab7]",
        )
        .run(&["validate"])
        .fails("./plan.yaml:10:21: stage name `Lab7` must be lowercase letters, digits and dashes");
}

#[test]
fn manifest_without_name() {
    Fixture::mini()
        .file(
            "manifests/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {}\n",
        )
        .run(&["validate"])
        .fails("./manifests/ns.yaml:1:1: manifest document has no metadata.name");
}

#[test]
fn manifest_document_that_is_a_list() {
    Fixture::mini()
        .file("manifests/ns.yaml", "- apiVersion: v1\n  kind: Namespace\n")
        .run(&["validate"])
        .fails("./manifests/ns.yaml:1:1: a manifest document must be a Kubernetes object");
}

#[test]
fn bad_yaml_in_a_manifest() {
    Fixture::mini()
        .file(
            "manifests/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: { name: demo\n",
        )
        .run(&["validate"])
        .fails("./manifests/ns.yaml:")
        .fails("invalid YAML");
}

#[test]
fn var_for_an_unknown_variable() {
    Fixture::mini()
        .run(&["validate", "--var", "CLUSTR1=x"])
        .fails("--var CLUSTR1: unknown variable `CLUSTR1`")
        .fails("variables of this plan: CLUSTER1, CLUSTER2, TOKEN");
}

#[test]
fn var_without_equals() {
    Fixture::mini()
        .run(&["validate", "--var", "CLUSTER1"])
        .fails("--var: `CLUSTER1` is not NAME=VALUE");
}

#[test]
fn removing_what_no_earlier_stage_declares() {
    Fixture::mini()
        .edit(
            "stages/app.yaml",
            "    waits:\n",
            "    removes:\n      - { apiVersion: v1, kind: ConfigMap, namespace: demo, name: ghost }\n    waits:\n",
        )
        .run(&["validate"])
        .fails("./stages/app.yaml:10:9: removes east/core/ConfigMap/demo/ghost, which no earlier stage declares");
}

#[test]
fn check_with_two_probes() {
    Fixture::mini()
        .edit("stages/app.yaml", "        expect:", "        command: [true]\n        expect:")
        .run(&["validate"])
        .fails("./stages/app.yaml:12:9: check `web-ok` needs exactly one of http, mcp, tokenExchange, command (it has 2)");
}

#[test]
fn check_expecting_nothing() {
    Fixture::mini()
        .edit("stages/app.yaml", "expect: { status: 200 }", "expect: {}")
        .run(&["validate"])
        .fails("check `web-ok` expects nothing");
}

#[test]
fn unknown_generated_value() {
    Fixture::mini()
        .edit(
            "stages/app.yaml",
            "Bearer ${TOKEN}",
            "Bearer ${gen.jwt.token.alice}",
        )
        .run(&["validate"])
        .fails("./stages/app.yaml:14:76: unknown generated value `jwt`");
}

#[test]
fn generated_value_field_that_does_not_exist() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "    manifests:",
            "    generate:\n      - { name: jwt, type: jwt-rsa, issuer: http://x, audience: x, subjects: [alice] }\n    manifests:",
        )
        .edit("stages/app.yaml", "Bearer ${TOKEN}", "Bearer ${gen.jwt.token.bob}")
        .run(&["validate"])
        .fails("generated value `jwt` has no field `token.bob`")
        .fails("fields: jwks, token.alice");
}

#[test]
fn generated_value_from_a_stage_not_needed() {
    Fixture::mini()
        .edit("stages/app.yaml", "needs: [base]\n", "")
        .edit(
            "stages/base.yaml",
            "    manifests:",
            "    generate:\n      - { name: jwt, type: jwt-rsa, issuer: http://x, audience: x, subjects: [alice] }\n    manifests:",
        )
        .edit("stages/app.yaml", "Bearer ${TOKEN}", "Bearer ${gen.jwt.token.alice}")
        .run(&["validate"])
        .fails("stage `app` uses `jwt`, generated by stage `base`, which it does not need");
}

#[test]
fn bad_duration() {
    Fixture::mini()
        .edit("stages/app.yaml", "timeout: 60s", "timeout: 1d")
        .run(&["validate"])
        .fails("./stages/app.yaml:10:9: wait timeout `1d` is not a positive duration");
}

#[test]
fn needs_matching_nothing() {
    Fixture::mini()
        .edit(
            "stages/app.yaml",
            "    cluster: east\n",
            "    cluster: east\n    needs: [\"base/west/**\"]\n",
        )
        .run(&["validate"])
        .fails(
            "./stages/app.yaml:7:13: needs `base/west/**`, which matches no resource of the plan",
        );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let run = Fixture::mini()
        .edit("stages/base.yaml", "cluster: east", "cluster: north")
        .edit(
            "manifests/app.yaml",
            "serviceAccountName: web",
            "serviceAccountName: ${IMAGE}",
        )
        .edit("stages/app.yaml", "timeout: 60s", "timeout: soon")
        .run(&["validate"]);
    run.fails("unknown cluster `north`")
        .fails("unknown variable `IMAGE`")
        .fails("wait timeout `soon`")
        .fails("problems found");
}

#[test]
fn no_plan_under_plans() {
    let dir = Fixture::empty();
    crate::support::mtm(dir.path(), &["validate"]).fails("--plan: no plan found under ./plans");
}

#[test]
fn several_plans_under_plans() {
    let f = Fixture::empty()
        .file("plans/a/plan.yaml", "plan: a\nclusters: {}\nstages: []\n")
        .file("plans/b/plan.yaml", "plan: b\nclusters: {}\nstages: []\n");
    crate::support::mtm(f.path(), &["validate"])
        .fails("several plans under ./plans: plans/a, plans/b");
}

#[test]
fn missing_values_file_of_a_release() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "    manifests:",
            "    releases:\n      - { name: r, namespace: demo, chart: ./chart, valuesFiles: [values/none.yaml] }\n    manifests:",
        )
        .run(&["validate"])
        .fails("./stages/base.yaml:9:9: cannot read values file ./values/none.yaml");
}

#[test]
fn bad_yaml_in_a_values_file() {
    Fixture::mini()
        .edit(
            "stages/base.yaml",
            "    manifests:",
            "    releases:\n      - { name: r, namespace: demo, chart: ./chart, valuesFiles: [values/bad.yaml] }\n    manifests:",
        )
        .file("values/bad.yaml", "a: [1, 2\n")
        .run(&["validate"])
        .fails("./values/bad.yaml:1:")
        .fails("invalid YAML");
}
