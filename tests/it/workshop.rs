//! The workshop plan and small fixture plans applied to the two local clusters: plan,
//! apply (whole and targeted), drift shown by plan, destroy; fixtures for a CRD and its
//! custom resource in one run, a one-field edit, a field patch, and a wait that never
//! holds. Run by `tests/run`, which starts the clusters.

use crate::support::{Fixture, get_json, kubectl, mtm_live, need_testbed, repo};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const EAST: &str = "east-ag";
const WEST: &str = "west-ag";

fn exists(context: &str, args: &[&str]) -> bool {
    get_json(context, args).is_some()
}

fn helm_values() -> Value {
    let out = Command::new("helm")
        .args([
            "--kube-context",
            EAST,
            "-n",
            "agentgateway-system",
            "get",
            "values",
            "enterprise-agentgateway",
            "-o",
            "json",
        ])
        .output()
        .expect("helm on PATH");
    assert!(
        out.status.success(),
        "helm get values: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("helm json")
}

/// Puts the standup's release back as the testbed installed it (a failed earlier run may
/// have left token exchange on): only the licence key, given on stdin.
fn reset_release() {
    use std::io::Write;
    let chart = std::env::var("AG_CHART").unwrap();
    let licence = std::env::var("AGENTGATEWAY_LICENSE_KEY").unwrap();
    let mut helm = Command::new("helm")
        .args([
            "--kube-context",
            EAST,
            "-n",
            "agentgateway-system",
            "upgrade",
            "enterprise-agentgateway",
            &chart,
            "--reset-values",
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("helm on PATH");
    let values = serde_json::json!({ "licensing": { "licenseKey": licence } });
    helm.stdin
        .take()
        .unwrap()
        .write_all(values.to_string().as_bytes())
        .unwrap();
    assert!(
        helm.wait().unwrap().success(),
        "helm could not reset the standup release"
    );
}

pub(crate) fn wait_gone(context: &str, namespace: &str) {
    for _ in 0..120 {
        if !exists(context, &["namespace", namespace]) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("namespace {namespace} on {context} is still there after 60s");
}

/// Runs the workshop plan with its own state directory.
pub(crate) fn workshop(state: &Path, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["--state", state.to_str().unwrap()];
    all.extend_from_slice(args);
    mtm_live(&repo(), &all)
}

/// The namespaces the workshop creates, by kube context.
const WORKSHOP_NAMESPACES: [(&str, &str); 4] = [
    (EAST, "ai-tools"),
    (EAST, "ai-agents"),
    (EAST, "tokenexchange-test"),
    (WEST, "ai-tools"),
];

/// The workshop's namespaces and release are shared: one workshop test at a time.
pub(crate) static WORKSHOP: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn clean_workshop() {
    for (ctx, ns) in WORKSHOP_NAMESPACES {
        let _ = kubectl(
            ctx,
            &[
                "delete",
                "namespace",
                ns,
                "--ignore-not-found",
                "--wait=true",
            ],
        );
        wait_gone(ctx, ns);
    }
    reset_release();
}

#[test]
fn rollback_goes_back_to_labs_1_to_3_and_forward_again() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let before = helm_values();
    let state = tempfile::tempdir().unwrap();
    workshop(
        state.path(),
        &["apply", "--target", "lab3", "--auto-approve"],
    )
    .ok();
    workshop(
        state.path(),
        &["apply", "--target", "lab6", "--auto-approve"],
    )
    .ok();
    assert_eq!(helm_values()["tokenExchange"]["enabled"], true);

    let run = workshop(state.path(), &["rollback", "--auto-approve"]);
    run.ok().stdout_has("Rollback to revision 1");
    for name in ["mcp-jwt-auth", "mcp-user-rbac"] {
        assert!(
            !exists(
                EAST,
                &["-n", "ai-tools", "enterpriseagentgatewaypolicy", name]
            ),
            "{name} is still there after the rollback"
        );
    }
    wait_gone(EAST, "tokenexchange-test");
    assert_eq!(helm_values(), before, "the release's values are back");
    assert!(
        exists(EAST, &["-n", "ai-tools", "deployment", "catalog-mcp"]),
        "lab 1 went with the rollback"
    );
    assert!(
        exists(EAST, &["-n", "ai-tools", "agentgatewaybackend", "mcp-be"]),
        "lab 3 went with the rollback"
    );
    let run = workshop(
        state.path(),
        &["plan", "--target", "lab3", "--detailed-exitcode"],
    );
    assert_eq!(
        run.code, 0,
        "the clusters do not match labs 1-3:\n{}",
        run.stdout
    );

    workshop(state.path(), &["rollback", "--to", "2", "--auto-approve"]).ok();
    assert!(exists(
        EAST,
        &[
            "-n",
            "ai-tools",
            "enterpriseagentgatewaypolicy",
            "mcp-user-rbac"
        ]
    ));
    assert!(exists(
        EAST,
        &["-n", "tokenexchange-test", "deployment", "httpbin-up"]
    ));
    assert_eq!(
        helm_values()["tokenExchange"]["enabled"],
        true,
        "the release is forward again"
    );
    let run = workshop(
        state.path(),
        &["plan", "--target", "lab6", "--detailed-exitcode"],
    );
    assert_eq!(
        run.code, 0,
        "the clusters do not match labs 1-6:\n{}",
        run.stdout
    );

    workshop(state.path(), &["destroy", "--auto-approve"]).ok();
    assert_eq!(helm_values(), before);
}

#[test]
fn workshop_lifecycle_on_two_clusters() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let before = helm_values();
    let licence = std::env::var("AGENTGATEWAY_LICENSE_KEY").unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut outputs = String::new();

    // Labs 1-3 only.
    let run = workshop(
        state.path(),
        &["apply", "--target", "lab3", "--auto-approve", "-vv"],
    );
    outputs.push_str(&run.stdout);
    outputs.push_str(&run.stderr);
    run.ok();
    for what in [
        ["deployment", "catalog-mcp"],
        ["deployment", "orders-mcp"],
        ["deployment", "inventory-mcp"],
        ["service", "mcp-gateway"],
        ["gateway", "agw-waypoint"],
        ["httproute", "mcp-route"],
        ["agentgatewaybackend", "mcp-be"],
        ["enterpriseagentgatewaypolicy", "waypoint-authz"],
    ] {
        assert!(
            exists(EAST, &["-n", "ai-tools", what[0], what[1]]),
            "lab3 apply: {what:?} missing on east"
        );
    }
    assert!(exists(EAST, &["-n", "ai-agents", "deployment", "dev-ui"]));
    let svc = get_json(EAST, &["-n", "ai-tools", "service", "inventory-mcp"]).unwrap();
    assert_eq!(
        svc["metadata"]["labels"]["istio.io/use-waypoint"], "agw-waypoint",
        "lab 2's field patch"
    );
    assert!(
        !exists(
            EAST,
            &[
                "-n",
                "ai-tools",
                "enterpriseagentgatewaypolicy",
                "mcp-tool-allowlist"
            ]
        ),
        "lab4 applied by --target lab3"
    );
    assert!(
        !exists(EAST, &["namespace", "tokenexchange-test"]),
        "lab6 applied by --target lab3"
    );
    assert_eq!(
        helm_values()["tokenExchange"]["enabled"],
        before["tokenExchange"]["enabled"],
        "lab3 touched the release"
    );

    // Then the rest of labs 4-6.
    let run = workshop(
        state.path(),
        &["apply", "--target", "lab6", "--auto-approve", "-vv"],
    );
    outputs.push_str(&run.stdout);
    outputs.push_str(&run.stderr);
    run.ok();
    for name in ["mcp-jwt-auth", "mcp-user-rbac"] {
        assert!(
            exists(
                EAST,
                &["-n", "ai-tools", "enterpriseagentgatewaypolicy", name]
            ),
            "{name} missing after lab6"
        );
    }
    assert!(
        !exists(
            EAST,
            &[
                "-n",
                "ai-tools",
                "enterpriseagentgatewaypolicy",
                "mcp-tool-allowlist"
            ]
        ),
        "lab 5 replaces lab 4's allow-list"
    );
    let jwt = get_json(
        EAST,
        &[
            "-n",
            "ai-tools",
            "enterpriseagentgatewaypolicy",
            "mcp-jwt-auth",
        ],
    )
    .unwrap();
    let jwks = jwt
        .pointer("/spec/traffic/jwtAuthentication/providers/0/jwks/inline")
        .and_then(Value::as_str)
        .unwrap_or("");
    let parsed: Value = serde_json::from_str(jwks.trim())
        .unwrap_or_else(|e| panic!("inline JWKS is not JSON ({e}): {jwks}"));
    assert_eq!(parsed["keys"][0]["kty"], "RSA");
    assert!(exists(
        EAST,
        &["-n", "tokenexchange-test", "deployment", "mock-idp"]
    ));
    let values = helm_values();
    assert_eq!(
        values["tokenExchange"]["enabled"], true,
        "lab 6 turns token exchange on"
    );
    assert_eq!(
        values["licensing"]["licenseKey"], before["licensing"]["licenseKey"],
        "the licence key is kept"
    );
    // A value changed with helm outside mtm shows in the plan as that value.
    let chart = std::env::var("AG_CHART").unwrap();
    let outside = Command::new("helm")
        .args([
            "--kube-context",
            EAST,
            "-n",
            "agentgateway-system",
            "upgrade",
            "enterprise-agentgateway",
            &chart,
            "--reuse-values",
            "--set",
            "tokenExchange.tokenExpiration=1h",
        ])
        .output()
        .unwrap();
    assert!(
        outside.status.success(),
        "{}",
        String::from_utf8_lossy(&outside.stderr)
    );
    let run = workshop(
        state.path(),
        &["plan", "--target", "lab6", "--detailed-exitcode"],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("~ lab6/east/helm/agentgateway-system/enterprise-agentgateway (update)")
            && run.stdout.contains("values.tokenExchange.tokenExpiration")
            && run.stdout.contains("1h"),
        "{}",
        run.stdout
    );
    outputs.push_str(&run.stdout);
    // Without helm, the plan says so for the release and its cluster, and changes nothing.
    let mut args = vec!["--state", state.path().to_str().unwrap()];
    args.extend(["plan", "--target", "lab6"]);
    let run = crate::support::mtm_live_env(&repo(), &args, &[("MTM_HELM", "/nonexistent/helm")]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("lab6/east/helm/agentgateway-system/enterprise-agentgateway")
            && run.stdout.contains("helm"),
        "{}",
        run.stdout
    );

    // Everything, with the bonus move.
    let run = workshop(state.path(), &["apply", "--auto-approve", "-vv"]);
    outputs.push_str(&run.stdout);
    outputs.push_str(&run.stderr);
    run.ok();
    assert!(
        !exists(EAST, &["-n", "ai-tools", "deployment", "orders-mcp"]),
        "the bonus moves orders-mcp off east"
    );
    assert!(!exists(EAST, &["-n", "ai-tools", "service", "orders-mcp"]));
    let west = get_json(WEST, &["-n", "ai-tools", "service", "orders-mcp"])
        .expect("orders-mcp Service on west");
    assert_eq!(
        west["metadata"]["labels"]["solo.io/service-scope"],
        "global"
    );
    assert_eq!(west["metadata"]["labels"]["istio.io/global"], "true");
    assert!(exists(
        WEST,
        &["-n", "ai-tools", "deployment", "orders-mcp"]
    ));
    let ns = get_json(WEST, &["namespace", "ai-tools"]).unwrap();
    assert_eq!(ns["metadata"]["labels"]["topology.istio.io/network"], WEST);
    let be = get_json(EAST, &["-n", "ai-tools", "agentgatewaybackend", "mcp-be"]).unwrap();
    assert_eq!(
        be.pointer("/spec/mcp/targets/1/static/host").unwrap(),
        "orders-mcp.ai-tools.svc.west-ag.mesh.internal"
    );

    // Nothing left to do, and known without rendering the chart or dry-running the patch:
    // the release is read from helm's storage Secrets and mtm made it from this chart.
    let run = workshop(state.path(), &["plan", "--detailed-exitcode", "-vv"]);
    assert_eq!(
        run.code, 0,
        "plan after a full apply is not empty:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        !run.stderr.contains("running helm"),
        "a no-op plan ran helm:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("planned without a dry run")
                && l.contains("Service/ai-tools/inventory-mcp (patch")),
        "the field patch was dry-run although unchanged:\n{}",
        run.stderr
    );

    // Someone scales a Deployment: the plan shows that field.
    assert!(
        kubectl(
            EAST,
            &[
                "-n",
                "ai-tools",
                "scale",
                "deployment",
                "catalog-mcp",
                "--replicas=3"
            ]
        )
        .status
        .success()
    );
    let run = workshop(state.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("lab1/east/apps/Deployment/ai-tools/catalog-mcp")
            && run.stdout.contains("spec.replicas"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Plan: 0 to create, 1 to update"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("takes over .spec.replicas from kubectl"),
        "the plan does not say it takes the hand edit back: {}",
        run.stdout
    );
    // A hand edit is put right without a flag.
    workshop(state.path(), &["apply", "--auto-approve"]).ok();
    // A label nobody declares, added by another manager, is not ours: no diff.
    assert!(
        kubectl(
            EAST,
            &[
                "-n",
                "ai-tools",
                "label",
                "service",
                "catalog-mcp",
                "team=someone-else"
            ]
        )
        .status
        .success()
    );
    let run = workshop(state.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        run.code, 0,
        "an undeclared label shows in the plan:\n{}",
        run.stdout
    );
    // A declared label changed by someone else is.
    assert!(
        kubectl(
            EAST,
            &[
                "label",
                "namespace",
                "ai-tools",
                "istio.io/dataplane-mode=sidecar",
                "--overwrite"
            ]
        )
        .status
        .success()
    );
    let run = workshop(state.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("lab1/east/core/Namespace/_/ai-tools")
            && run.stdout.contains("istio.io/dataplane-mode"),
        "{}",
        run.stdout
    );

    // Tear down: nothing of the workshop is left, the release is as before.
    let run = workshop(state.path(), &["destroy", "--auto-approve", "-vv"]);
    outputs.push_str(&run.stdout);
    outputs.push_str(&run.stderr);
    run.ok();
    for (ctx, ns) in WORKSHOP_NAMESPACES {
        assert!(
            !exists(ctx, &["namespace", ns]),
            "namespace {ns} is left on {ctx}"
        );
    }
    assert_eq!(
        helm_values(),
        before,
        "destroy restores the release's values exactly"
    );

    assert!(
        !state.path().join("secrets/lab-jwt.json").exists(),
        "destroy left the generated key material in state/secrets"
    );

    // The licence key never reached output or state.
    assert!(!outputs.contains(&licence), "the licence key was printed");
    for entry in walk(state.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(licence.len())
                .any(|w| w == licence.as_bytes()),
            "the licence key is in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn unique(what: &str) -> String {
    crate::support::unique("it", what)
}

const LIVE_PLAN: &str = "plan: live\nclusters:\n  east: { context: east-ag }\n  west: { context: west-ag }\nstages: [a]\n";

fn live_fixture(stage: &str, manifests: &[(&str, String)]) -> Fixture {
    let mut f = Fixture::empty()
        .file("plan.yaml", LIVE_PLAN)
        .file("stages/a.yaml", stage);
    for (path, text) in manifests {
        f = f.file(path, text);
    }
    f
}

fn live(f: &Fixture, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["--plan", "."];
    all.extend_from_slice(args);
    mtm_live(f.path(), &all)
}

#[test]
fn crd_and_its_custom_resource_in_one_run() {
    need_testbed();
    let group = format!("{}.example.com", unique("g"));
    let ns = unique("crd");
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{ name: widgets.{group} }}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{ plural: widgets, singular: widget, kind: Widget }}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n"
    );
    let cr = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: {group}/v1\nkind: Widget\nmetadata: {{ name: w1, namespace: {ns} }}\nspec: {{ size: 3 }}\n"
    );
    let stage = "title: A\nsteps:\n  - name: crd\n    title: CRD\n    cluster: east\n    manifests: [m/crd.yaml]\n  - name: cr\n    title: CR\n    cluster: east\n    manifests: [m/cr.yaml]\n";
    let f = live_fixture(stage, &[("m/crd.yaml", crd), ("m/cr.yaml", cr)]);
    let run = live(&f, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "+ a/east/apiextensions.k8s.io/CustomResourceDefinition/_/widgets.{group} (create)"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "+ a/east/{group}/Widget/{ns}/w1 (create (CRD pending))"
        )),
        "{}",
        run.stdout
    );
    live(&f, &["apply", "--auto-approve"]).ok();
    let w =
        get_json(EAST, &["-n", &ns, &format!("widgets.{group}"), "w1"]).expect("the Widget exists");
    assert_eq!(w["spec"]["size"], 3);
    let run = live(&f, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    live(&f, &["destroy", "--auto-approve"]).ok();
    assert!(!exists(
        EAST,
        &["customresourcedefinition", &format!("widgets.{group}")]
    ));
}

#[test]
fn one_edited_field_is_the_whole_plan() {
    need_testbed();
    let ns = unique("edit");
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns} }}\ndata: {{ a: one }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: web, namespace: {ns} }}\nspec:\n  replicas: 1\n  selector: {{ matchLabels: {{ app: web }} }}\n  template:\n    metadata: {{ labels: {{ app: web }} }}\n    spec:\n      containers: [{{ name: c, image: nginx:1.27 }}]\n"
    );
    let stage = "title: A\nsteps:\n  - name: all\n    title: All\n    cluster: east\n    manifests: [m/all.yaml]\n";
    let f = live_fixture(stage, &[("m/all.yaml", manifest)]);
    live(&f, &["apply", "--auto-approve"]).ok();
    let cm_before =
        get_json(EAST, &["-n", &ns, "configmap", "cfg"]).unwrap()["metadata"]["resourceVersion"]
            .clone();
    let f = f.edit("m/all.yaml", "image: nginx:1.27", "image: nginx:1.28");
    let run = live(&f, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to delete"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("~ a/east/apps/Deployment/{ns}/web (update)")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("image")
            && run.stdout.contains("nginx:1.28")
            && run.stdout.contains("nginx:1.27"),
        "{}",
        run.stdout
    );
    live(&f, &["apply", "--auto-approve"]).ok();
    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert_eq!(
        d.pointer("/spec/template/spec/containers/0/image").unwrap(),
        "nginx:1.28"
    );
    let cm_after =
        get_json(EAST, &["-n", &ns, "configmap", "cfg"]).unwrap()["metadata"]["resourceVersion"]
            .clone();
    assert_eq!(cm_before, cm_after, "apply touched an unchanged object");
    live(&f, &["destroy", "--auto-approve"]).ok();
    wait_gone(EAST, &ns);
}

#[test]
fn a_field_patch_is_released_and_the_object_stays() {
    need_testbed();
    let ns = unique("patch");
    assert!(
        kubectl(EAST, &["create", "namespace", &ns])
            .status
            .success()
    );
    assert!(
        kubectl(
            EAST,
            &[
                "-n",
                &ns,
                "create",
                "service",
                "clusterip",
                "theirs",
                "--tcp=80:80"
            ]
        )
        .status
        .success()
    );
    let stage = format!(
        "title: A\nsteps:\n  - name: label\n    title: Label\n    cluster: east\n    patches:\n      - target: {{ apiVersion: v1, kind: Service, namespace: {ns}, name: theirs }}\n        fields: {{ metadata: {{ labels: {{ istio.io/use-waypoint: agw-waypoint }} }} }}\n"
    );
    let f = live_fixture(&stage, &[]);
    live(&f, &["apply", "--auto-approve"]).ok();
    let svc = get_json(EAST, &["-n", &ns, "service", "theirs"]).unwrap();
    assert_eq!(
        svc["metadata"]["labels"]["istio.io/use-waypoint"],
        "agw-waypoint"
    );
    assert_eq!(live(&f, &["plan", "--detailed-exitcode"]).code, 0);
    live(&f, &["destroy", "--auto-approve"]).ok();
    let svc = get_json(EAST, &["-n", &ns, "service", "theirs"]).expect("destroy left the Service");
    assert!(
        svc["metadata"]["labels"]
            .get("istio.io/use-waypoint")
            .is_none(),
        "the label is still there: {}",
        svc["metadata"]
    );
    let _ = kubectl(EAST, &["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn a_wait_that_never_holds_fails_and_the_rest_finishes() {
    need_testbed();
    let ns = unique("wait");
    let other = unique("other");
    let stage = format!(
        "title: A\nsteps:\n  - name: app\n    title: App\n    cluster: east\n    manifests: [m/ns.yaml]\n    waits:\n      - {{ name: never, kind: Pod, namespace: {ns}, selector: app=never, condition: Ready, timeout: 3s }}\n  - name: after\n    title: After\n    cluster: east\n    needs: [\"a/east/wait/never\"]\n    manifests: [m/after.yaml]\n  - name: other\n    title: Other\n    cluster: west\n    manifests: [m/other.yaml]\n"
    );
    let f = live_fixture(
        &stage,
        &[
            (
                "m/ns.yaml",
                format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n"),
            ),
            (
                "m/after.yaml",
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: after, namespace: {ns} }}\n"
                ),
            ),
            (
                "m/other.yaml",
                format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {other} }}\n"),
            ),
        ],
    );
    let run = live(&f, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("a/east/wait/never") && all.contains("Ready"),
        "{all}"
    );
    assert!(
        all.contains(&format!("skipped  a/east/core/ConfigMap/{ns}/after")),
        "{all}"
    );
    assert!(
        exists(WEST, &["namespace", &other]),
        "the independent branch did not finish"
    );
    assert!(!exists(EAST, &["-n", &ns, "configmap", "after"]));
    let state = live(&f, &["--output", "json", "state", "list"]);
    let records: Value = serde_json::from_str(&state.ok().stdout).unwrap();
    let addresses: Vec<&str> = records["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        vec![
            format!("a/east/core/Namespace/_/{ns}"),
            format!("a/west/core/Namespace/_/{other}")
        ]
    );
    live(&f, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn a_saved_plan_is_applied_only_if_nothing_moved() {
    need_testbed();
    let ns = unique("saved");
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns} }}\ndata: {{ a: one }}\n"
    );
    let stage = "title: A\nsteps:\n  - name: all\n    title: All\n    cluster: east\n    manifests: [m/all.yaml]\n";
    let f = live_fixture(stage, &[("m/all.yaml", manifest)]);
    live(&f, &["apply", "--auto-approve"]).ok();
    let f = f.edit("m/all.yaml", "a: one", "a: two");
    live(&f, &["plan", "--out", "saved.json"])
        .ok()
        .stdout_has("saved to saved.json");
    // Someone changes the object after the plan was saved.
    assert!(
        kubectl(
            EAST,
            &["-n", &ns, "label", "configmap", "cfg", "touched=yes"]
        )
        .status
        .success()
    );
    let run = live(&f, &["apply", "saved.json"]);
    run.fails(&format!(
        "a/east/core/ConfigMap/{ns}/cfg: changed on the cluster since the plan"
    ));
    assert_eq!(
        get_json(EAST, &["-n", &ns, "configmap", "cfg"]).unwrap()["data"]["a"],
        "one",
        "a refused apply changed the object"
    );
    live(&f, &["plan", "--out", "saved.json"]).ok();
    live(&f, &["apply", "saved.json"]).ok();
    assert_eq!(
        get_json(EAST, &["-n", &ns, "configmap", "cfg"]).unwrap()["data"]["a"],
        "two"
    );
    live(&f, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn a_cluster_that_is_down_fails_only_what_needs_it() {
    need_testbed();
    let ns = unique("up");
    let plan = "plan: live\nclusters:\n  east: { context: east-ag }\n  west: { context: no-such-context }\nstages: [a]\n";
    let stage = "title: A\nsteps:\n  - name: e\n    title: East\n    cluster: east\n    manifests: [m/e.yaml]\n  - name: w\n    title: West\n    cluster: west\n    manifests: [m/w.yaml]\n";
    let f = Fixture::empty()
        .file("plan.yaml", plan)
        .file("stages/a.yaml", stage)
        .file(
            "m/e.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n"),
        )
        .file(
            "m/w.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: { name: unreachable }\n",
        );
    // The plan names the cluster it cannot reach, once, and applies nothing.
    let not_attempted =
        "! not attempted: cluster west (context no-such-context) unreachable (1 resource)";
    let cause = "error: cluster west: cannot load kube context no-such-context: ";
    let run = live(&f, &["plan"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(not_attempted), "{}", run.stdout);
    assert_eq!(run.stderr.matches(cause).count(), 1, "{}", run.stderr);
    assert!(!exists(EAST, &["namespace", &ns]));
    // Applying everything: what needs the unreachable cluster is not attempted, said in
    // one line; the rest is applied and recorded.
    let run = live(&f, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(not_attempted), "{}", run.stdout);
    assert!(
        !run.stdout.contains("a/west/core/Namespace/_/unreachable"),
        "a line per resource of the unreachable cluster:\n{}",
        run.stdout
    );
    assert_eq!(run.stderr.matches(cause).count(), 1, "{}", run.stderr);
    assert!(
        exists(EAST, &["namespace", &ns]),
        "the reachable cluster's part was not applied"
    );
    let listed = live(&f, &["--output", "json", "state", "list"]);
    assert!(
        listed
            .ok()
            .stdout
            .contains(&format!("a/east/core/Namespace/_/{ns}"))
    );
    // The reachable part alone plans and applies cleanly.
    live(&f, &["apply", "--auto-approve", "--target", "a/east/**"]).ok();
    live(&f, &["destroy", "--auto-approve", "--target", "a/east/**"]).ok();
}

#[test]
fn drift_reports_what_others_changed_on_fields_mtm_manages() {
    need_testbed();
    let ns = unique("drift");
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns}, labels: {{ app: web }} }}\ndata: {{ a: one }}\n---\napiVersion: v1\nkind: Service\nmetadata: {{ name: web, namespace: {ns} }}\nspec:\n  selector: {{ app: web }}\n  ports: [{{ port: 80 }}]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: web, namespace: {ns} }}\nspec:\n  replicas: 1\n  selector: {{ matchLabels: {{ app: web }} }}\n  template:\n    metadata: {{ labels: {{ app: web }} }}\n    spec:\n      containers: [{{ name: c, image: nginx }}]\n"
    );
    let stage = "title: A\nsteps:\n  - name: all\n    title: All\n    cluster: east\n    manifests: [m/all.yaml]\n";
    let f = live_fixture(stage, &[("m/all.yaml", manifest)]);
    live(&f, &["apply", "--auto-approve"]).ok();
    let run = live(&f, &["drift"]);
    assert_eq!(
        run.code, 0,
        "drift right after apply:\n{}\n{}",
        run.stdout, run.stderr
    );

    // A field another manager sets that mtm does not declare is not drift.
    assert!(
        kubectl(
            EAST,
            &["-n", &ns, "label", "configmap", "cfg", "team=theirs"]
        )
        .status
        .success()
    );
    assert_eq!(live(&f, &["drift"]).code, 0, "an undeclared label is drift");

    assert!(
        kubectl(
            EAST,
            &["-n", &ns, "scale", "deployment", "web", "--replicas=3"]
        )
        .status
        .success()
    );
    assert!(
        kubectl(
            EAST,
            &[
                "-n",
                &ns,
                "label",
                "configmap",
                "cfg",
                "app=other",
                "--overwrite"
            ]
        )
        .status
        .success()
    );
    assert!(
        kubectl(EAST, &["-n", &ns, "delete", "service", "web"])
            .status
            .success()
    );
    let run = live(&f, &["--output", "json", "drift"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let drift = report["drift"].as_array().unwrap();
    let find = |address: &str, path: &str| {
        drift
            .iter()
            .find(|d| d["address"] == address && d["path"].as_str().unwrap().contains(path))
            .unwrap_or_else(|| panic!("no drift of {address} {path} in {drift:?}"))
    };
    let replicas = find(&format!("a/east/apps/Deployment/{ns}/web"), "replicas");
    assert_eq!(
        (replicas["expected"].clone(), replicas["live"].clone()),
        (Value::from(1), Value::from(3))
    );
    assert_eq!(replicas["cluster"], "east");
    let label = find(&format!("a/east/core/ConfigMap/{ns}/cfg"), "labels");
    assert_eq!(
        (label["expected"].clone(), label["live"].clone()),
        (Value::from("web"), Value::from("other"))
    );
    let gone = find(&format!("a/east/core/Service/{ns}/web"), "");
    assert!(gone["live"].is_null(), "{gone}");
    assert_eq!(drift.len(), 3, "{drift:?}");
    live(&f, &["destroy", "--auto-approve"]).ok();
}

const CRASH_PLAN: &str = "plan: crash\nvariables:\n  NS: { default: crash }\nclusters:\n  east: { context: east-ag }\n  west: { context: west-ag }\nstages: [a, b]\n";

fn crash_fixture() -> Fixture {
    let mut east = String::from("apiVersion: v1\nkind: Namespace\nmetadata: { name: \"${NS}\" }\n");
    for i in 0..6 {
        east.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cm-{i} }}\ndata: {{ k: v{i} }}\n"));
    }
    for d in ["one", "two"] {
        east.push_str(&format!(
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{ name: {d} }}\n---\napiVersion: v1\nkind: Service\nmetadata: {{ name: {d} }}\nspec: {{ selector: {{ app: {d} }}, ports: [{{ port: 80 }}] }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: {d} }}\nspec:\n  selector: {{ matchLabels: {{ app: {d} }} }}\n  template:\n    metadata: {{ labels: {{ app: {d} }} }}\n    spec:\n      serviceAccountName: {d}\n      containers: [{{ name: c, image: nginx }}]\n"
        ));
    }
    let mut west = String::from("apiVersion: v1\nkind: Namespace\nmetadata: { name: \"${NS}\" }\n");
    for i in 0..3 {
        west.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: w-{i} }}\n"
        ));
    }
    let mut more = String::new();
    for i in 0..4 {
        more.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: more-{i} }}\n"
        ));
    }
    Fixture::empty()
        .file("plan.yaml", CRASH_PLAN)
        .file("stages/a.yaml", "title: A\nsteps:\n  - name: e\n    title: East\n    cluster: east\n    namespace: \"${NS}\"\n    manifests: [m/e.yaml]\n  - name: w\n    title: West\n    cluster: west\n    namespace: \"${NS}\"\n    manifests: [m/w.yaml]\n")
        .file("stages/b.yaml", "title: B\nneeds: [a]\nsteps:\n  - name: more\n    title: More\n    cluster: east\n    namespace: \"${NS}\"\n    manifests: [m/more.yaml]\n")
        .file("m/e.yaml", &east)
        .file("m/w.yaml", &west)
        .file("m/more.yaml", &more)
}

#[test]
fn a_run_killed_at_twenty_points_leaves_state_that_converges() {
    use std::io::BufRead;
    need_testbed();
    let f = crash_fixture();
    let total = 21;
    let mut namespaces = Vec::new();
    for k in 0..20 {
        let ns = unique(&format!("kill{k}"));
        namespaces.push(ns.clone());
        let state = f.path().join(format!("state-{k}"));
        let var = format!("NS={ns}");
        let base = [
            "--plan",
            ".",
            "--state",
            state.to_str().unwrap(),
            "--var",
            &var,
        ];
        let mut child = Command::new(crate::support::bin())
            .args(base)
            .args(["apply", "--auto-approve", "--parallelism", "3"])
            .current_dir(f.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill after the k-th resource is reported done (k = 0: while it shows the plan).
        let mut seen = 0;
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            if k == 0
                || (line.trim_start().starts_with("created") && {
                    seen += 1;
                    seen >= k
                })
            {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let run = |args: &[&str]| {
            let mut all: Vec<&str> = base.to_vec();
            all.extend_from_slice(args);
            mtm_live(f.path(), &all)
        };
        // No `mtm unlock`: the lock ended with the killed process.
        let listed = run(&["--output", "json", "state", "list"]);
        let records: Value = serde_json::from_str(&listed.ok().stdout).unwrap_or(Value::Null);
        let before = records["resources"].as_array().map_or(0, Vec::len);
        assert!(
            before >= k,
            "kill point {k}: only {before} records for {k} reported resources"
        );
        let before_rerun = run(&["plan", "--detailed-exitcode"]);
        assert!(
            before_rerun.code == 0 || before_rerun.code == 2,
            "kill point {k}: plan after the kill: {}",
            before_rerun.stderr
        );
        run(&["apply", "--auto-approve"]).ok();
        let plan = run(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            plan.code, 0,
            "kill point {k}: not converged:\n{}",
            plan.stdout
        );
        let listed = run(&["--output", "json", "state", "list"]);
        let records: Value = serde_json::from_str(&listed.ok().stdout).unwrap();
        let records = records["resources"].as_array().unwrap();
        assert_eq!(
            records.len(),
            total,
            "kill point {k}: {} records",
            records.len()
        );
        assert!(
            records.iter().all(|r| r["prior"].is_null()),
            "kill point {k}: mtm's own objects were taken for what existed before: {:?}",
            records
                .iter()
                .filter(|r| !r["prior"].is_null())
                .map(|r| (&r["address"], &r["prior"]))
                .collect::<Vec<_>>()
        );
    }
    for ns in namespaces {
        let _ = kubectl(EAST, &["delete", "namespace", &ns, "--wait=false"]);
        let _ = kubectl(WEST, &["delete", "namespace", &ns, "--wait=false"]);
    }
}

#[test]
fn a_second_apply_is_refused_while_the_first_runs_and_proceeds_once_it_is_killed_without_unlock() {
    need_testbed();
    let ns = unique("lock");
    let stage = format!(
        "title: A\nsteps:\n  - name: ns\n    title: Ns\n    cluster: east\n    manifests: [m/ns.yaml]\n  - name: slow\n    title: Slow\n    cluster: east\n    needs: [\"a/east/core/Namespace/**\"]\n    waits:\n      - {{ name: never, kind: Pod, namespace: {ns}, selector: app=never, condition: Ready, timeout: 60s }}\n"
    );
    let f = live_fixture(
        &stage,
        &[(
            "m/ns.yaml",
            format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n"),
        )],
    );
    let mut first = Command::new(crate::support::bin())
        .args(["--plan", ".", "apply", "--auto-approve"])
        .current_dir(f.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = f.path().join("state/lock");
    for _ in 0..100 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(lock.exists(), "the first apply never took the lock");
    let second = live(&f, &["apply", "--auto-approve"]);
    second
        .fails(&format!("held by pid {}", first.id()))
        .fails("apply --auto-approve");
    first.kill().unwrap();
    first.wait().unwrap();
    let third = live(
        &f,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "a/east/core/Namespace/**",
        ],
    );
    // The operating system released the killed holder's lock: nothing to recover.
    third.ok();
    live(&f, &["destroy", "--auto-approve"]).ok();
}
