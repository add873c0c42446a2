//! Ownership on the local clusters: hand edits (kubectl) of declared objects put right by
//! a plain `mtm apply`, a lab done by hand adopted and restored by destroy, a field
//! dropped from the plan after adoption really removed, a controller's field still a
//! conflict, Secret values compared by digest, and `mtm output`. The kubectl used is the
//! real one, so the field managers are the ones kubectl records. Run by `tests/run`.

use crate::support::{Fixture, get_json, kubectl, mtm_live, need_testbed, repo};
use crate::workshop::{WORKSHOP, clean_workshop, wait_gone, workshop};
use serde_json::Value;
use std::process::Command;

const EAST: &str = "east-ag";

fn unique(what: &str) -> String {
    crate::support::unique("own", what)
}

fn kubectl_ok(args: &[&str]) {
    let out = kubectl(EAST, args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn plan_yaml(extra: &str) -> String {
    format!(
        "plan: own\nvariables:\n  OWN_PASSWORD: {{ sensitive: true, default: var-s3cret-value }}\n  OWN_USER: {{ default: plain-user }}\nclusters:\n  east: {{ context: east-ag }}\n  west: {{ context: west-ag }}\nstages: [a]\n{extra}"
    )
}

const STAGE: &str = "title: A\nsteps:\n  - name: all\n    title: All\n    cluster: east\n    manifests: [m/all.yaml]\n";

fn fixture(extra_plan: &str, stage: &str, manifest: &str) -> Fixture {
    Fixture::empty()
        .file("plan.yaml", &plan_yaml(extra_plan))
        .file("stages/a.yaml", stage)
        .file("m/all.yaml", manifest)
}

fn live(f: &Fixture, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["--plan", "."];
    all.extend_from_slice(args);
    mtm_live(f.path(), &all)
}

fn drift_json(run: &crate::support::Run) -> Vec<Value> {
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("drift json: {e}\n{}\n{}", run.stdout, run.stderr));
    report["drift"].as_array().cloned().unwrap_or_default()
}

fn has_drift(drift: &[Value], address: &str, path: &str) -> bool {
    drift
        .iter()
        .any(|d| d["address"] == address && d["path"].as_str().unwrap_or("").contains(path))
}

#[test]
fn hand_edits_of_lab3_are_put_right_by_a_plain_apply() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    workshop(st, &["apply", "--target", "lab3", "--auto-approve"]).ok();

    // What people do by hand: kubectl scale, label, edit (here: patch) and delete.
    kubectl_ok(&[
        "-n",
        "ai-tools",
        "scale",
        "deploy/catalog-mcp",
        "--replicas=3",
    ]);
    kubectl_ok(&[
        "-n",
        "ai-tools",
        "label",
        "service",
        "mcp-gateway",
        "istio.io/use-waypoint=elsewhere",
        "--overwrite",
    ]);
    kubectl_ok(&[
        "-n",
        "ai-tools",
        "patch",
        "deployment",
        "orders-mcp",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"node:22-alpine"}]"#,
    ]);
    kubectl_ok(&["-n", "ai-tools", "delete", "httproute", "mcp-route"]);

    let run = workshop(st, &["--output", "json", "drift", "--target", "lab3"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let drift = drift_json(&run);
    for (address, path) in [
        (
            "lab1/east/apps/Deployment/ai-tools/catalog-mcp",
            "spec.replicas",
        ),
        (
            "lab3/east/core/Service/ai-tools/mcp-gateway",
            "istio.io/use-waypoint",
        ),
        ("lab1/east/apps/Deployment/ai-tools/orders-mcp", "image"),
        (
            "lab3/east/gateway.networking.k8s.io/HTTPRoute/ai-tools/mcp-route",
            "",
        ),
    ] {
        assert!(
            has_drift(&drift, address, path),
            "{address} {path}: {drift:?}"
        );
    }

    // The plan says whose fields it takes over; no flag is needed.
    let run = workshop(st, &["plan", "--target", "lab3"]);
    run.ok()
        .stdout_has("takes over .spec.replicas from kubectl")
        .stdout_has("from kubectl-label")
        .stdout_has("from kubectl-patch");
    workshop(st, &["apply", "--target", "lab3", "--auto-approve"]).ok();
    let run = workshop(st, &["drift", "--target", "lab3"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let catalog = get_json(EAST, &["-n", "ai-tools", "deployment", "catalog-mcp"]).unwrap();
    assert_eq!(catalog["spec"]["replicas"], 1);
    let gateway = get_json(EAST, &["-n", "ai-tools", "service", "mcp-gateway"]).unwrap();
    assert_eq!(
        gateway["metadata"]["labels"]["istio.io/use-waypoint"],
        "agw-waypoint"
    );
    let orders = get_json(EAST, &["-n", "ai-tools", "deployment", "orders-mcp"]).unwrap();
    assert_eq!(
        orders["spec"]["template"]["spec"]["containers"][0]["image"],
        "node:20-alpine"
    );
    assert!(get_json(EAST, &["-n", "ai-tools", "httproute", "mcp-route"]).is_some());
    workshop(st, &["destroy", "--auto-approve"]).ok();
    clean_workshop();
}

fn container_command(deploy: &Value) -> Value {
    deploy["spec"]["template"]["spec"]["containers"][0]["command"].clone()
}

#[test]
fn lab1_done_by_hand_is_adopted_and_destroy_leaves_it_as_it_was() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let script = repo().join("tests/fixtures/by-hand/lab1.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("CLUSTER1", EAST)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "the workshop's LAB 1 by hand: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_hand = get_json(EAST, &["-n", "ai-tools", "deployment", "catalog-mcp"]).unwrap();
    let state = tempfile::tempdir().unwrap();
    let st = state.path();

    let run = workshop(st, &["plan", "--target", "lab1", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    run.stdout_has("> lab1/east/apps/Deployment/ai-tools/catalog-mcp (adopt)")
        .stdout_has("> lab1/east/core/Namespace/_/ai-tools (adopt)")
        .stdout_has("from kubectl-client-side-apply");
    assert!(!run.stdout.contains("conflict:"), "{}", run.stdout);

    workshop(st, &["apply", "--target", "lab1", "--auto-approve"]).ok();
    let run = workshop(st, &["plan", "--target", "lab1", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let applied = get_json(EAST, &["-n", "ai-tools", "deployment", "catalog-mcp"]).unwrap();
    assert_ne!(container_command(&applied), container_command(&by_hand));

    workshop(st, &["destroy", "--target", "lab1", "--auto-approve"]).ok();
    for ns in ["ai-tools", "ai-agents"] {
        let n = get_json(EAST, &["namespace", ns]).expect("a namespace made by hand stays");
        assert_eq!(
            n["metadata"]["labels"]["istio.io/dataplane-mode"],
            "ambient"
        );
    }
    let after = get_json(EAST, &["-n", "ai-tools", "deployment", "catalog-mcp"])
        .expect("a Deployment made by hand stays");
    assert_eq!(container_command(&after), container_command(&by_hand));
    assert!(get_json(EAST, &["-n", "ai-agents", "deployment", "dev-ui"]).is_some());
    assert!(get_json(EAST, &["-n", "ai-tools", "service", "orders-mcp"]).is_some());
    clean_workshop();
}

fn web(ns: &str, extra_labels: &str, env: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n  labels: {{ app: web{extra_labels} }}\nspec:\n  replicas: 1\n  selector: {{ matchLabels: {{ app: web }} }}\n  template:\n    metadata: {{ labels: {{ app: web }} }}\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.27\n{env}"
    )
}

const ENV: &str = "        env: [{ name: MODE, value: by-hand }]\n";

#[test]
fn a_field_dropped_from_the_plan_after_adoption_is_removed() {
    need_testbed();
    let ns = unique("drop");
    kubectl_ok(&["create", "namespace", &ns]);
    let by_hand = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(by_hand.path(), web(&ns, ", tier: hand", ENV)).unwrap();
    // Client-side apply, as the workshop does: kubectl-client-side-apply owns every field.
    kubectl_ok(&["apply", "-f", by_hand.path().to_str().unwrap()]);

    let f = fixture("", STAGE, &web(&ns, ", tier: hand", ENV));
    let address = format!("a/east/apps/Deployment/{ns}/web");
    live(&f, &["plan"])
        .ok()
        .stdout_has(&format!("> {address} (adopt)"));
    live(&f, &["apply", "--auto-approve"]).ok();

    let f = f.file("m/all.yaml", &web(&ns, "", ""));
    let run = live(&f, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    run.stdout_has(&format!("~ {address} (update)"));
    live(&f, &["apply", "--auto-approve"]).ok();

    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert!(d["metadata"]["labels"].get("tier").is_none(), "{d}");
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none(),
        "{d}"
    );
    let d = get_json(
        EAST,
        &["-n", &ns, "deployment", "web", "--show-managed-fields"],
    )
    .unwrap();
    let kubectl_claims: Vec<&Value> = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manager"] == "kubectl-client-side-apply")
        .collect();
    assert!(
        !serde_json::to_string(&kubectl_claims)
            .unwrap()
            .contains("f:tier"),
        "{kubectl_claims:?}"
    );
    let run = live(&f, &["drift"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Destroy restores what was there before mtm: the label made by hand comes back.
    live(&f, &["destroy", "--auto-approve"]).ok();
    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert_eq!(d["metadata"]["labels"]["tier"], "hand");
    kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn a_controller_field_conflicts_and_a_hand_edit_does_not() {
    need_testbed();
    let ns = unique("ctl");
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns} }}\ndata: {{ a: one }}\n---\n{}",
        web(&ns, "", "")
    );
    // The plan adds its own hand-edit manager to the kubectl family.
    let f = fixture("handEditManagers: [test-console]\n", STAGE, &manifest);
    live(&f, &["apply", "--auto-approve"]).ok();
    kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "deployment",
        "web",
        "--field-manager=test-autoscaler",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":2}}"#,
    ]);
    kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "cfg",
        "--field-manager=test-console",
        "--type=merge",
        "-p",
        r#"{"data":{"a":"two"}}"#,
    ]);
    live(&f, &["plan"])
        .ok()
        .stdout_has("conflict: .spec.replicas is managed by test-autoscaler")
        .stdout_has("takes over .data.a from test-console");

    let run = live(&f, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("field manager \"test-autoscaler\" owns .spec.replicas"),
        "{said}"
    );
    let cm = get_json(EAST, &["-n", &ns, "configmap", "cfg"]).unwrap();
    assert_eq!(cm["data"]["a"], "one", "the hand edit was not taken over");
    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert_eq!(d["spec"]["replicas"], 2, "the controller's field was taken");

    live(&f, &["apply", "--auto-approve", "--force-conflicts"]).ok();
    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
    let run = live(&f, &["drift"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    live(&f, &["destroy", "--auto-approve"]).ok();
    wait_gone(EAST, &ns);
}

const GEN_STAGE: &str = "title: A\nsteps:\n  - name: all\n    title: All\n    cluster: east\n    generate:\n      - { name: lab-jwt, type: jwt-rsa, issuer: http://lab6, audience: lab6, subjects: [alice, bob] }\n    manifests: [m/all.yaml]\n";

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn secrets(ns: &str) -> String {
    let secret = |name: &str, body: String| {
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{ name: {name}, namespace: {ns} }}\n{body}"
        )
    };
    [
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n"),
        secret(
            "s-string",
            "stringData: { password: literal-s3cret }\n".into(),
        ),
        secret(
            "s-data",
            format!("data: {{ password: {} }}\n", b64("data-s3cret")),
        ),
        secret(
            "s-both",
            format!(
                "data: {{ a: {}, b: {} }}\nstringData: {{ a: ay }}\n",
                b64("old"),
                b64("bee")
            ),
        ),
        secret(
            "s-var",
            "stringData: { password: \"${OWN_PASSWORD}\", user: \"${OWN_USER}\" }\n".into(),
        ),
        secret(
            "s-gen",
            "stringData: { token: \"${gen.lab-jwt.token.alice}\" }\n".into(),
        ),
    ]
    .concat()
}

#[test]
fn secret_values_drift_by_digest_in_every_form() {
    need_testbed();
    let ns = unique("secret");
    let f = fixture("", GEN_STAGE, &secrets(&ns));
    live(&f, &["apply", "--auto-approve"]).ok();
    let run = live(&f, &["drift"]);
    assert_eq!(
        run.code, 0,
        "right after apply:\n{}\n{}",
        run.stdout, run.stderr
    );
    let run = live(&f, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "s-var",
        "-p",
        r#"{"stringData":{"password":"changed-by-hand"}}"#,
    ]);
    let run = live(&f, &["drift"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    run.stdout_has(&format!("a/east/core/Secret/{ns}/s-var data.password"))
        .stdout_has("(sensitive sha256:");
    for value in [
        "changed-by-hand",
        &b64("changed-by-hand"),
        "var-s3cret-value",
        &b64("var-s3cret-value"),
    ] {
        assert!(!run.stdout.contains(value), "{}", run.stdout);
        assert!(!run.stderr.contains(value), "{}", run.stderr);
    }
    let drift = drift_json(&live(&f, &["--output", "json", "drift"]));
    assert_eq!(drift.len(), 1, "{drift:?}");

    live(&f, &["apply", "--auto-approve"]).ok();
    let run = live(&f, &["drift"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    live(&f, &["destroy", "--auto-approve"]).ok();
    wait_gone(EAST, &ns);
}

#[test]
fn output_gives_generated_tokens_by_name_and_masks_a_listing() {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
    need_testbed();
    let ns = unique("output");
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: jwks, namespace: {ns} }}\ndata: {{ jwks.json: \"${{gen.lab-jwt.jwks}}\" }}\n"
    );
    let f = fixture("", GEN_STAGE, &manifest);
    live(&f, &["output", "gen.lab-jwt.token.alice"]).fails("not generated yet");
    live(&f, &["apply", "--auto-approve"]).ok();

    let token = live(&f, &["output", "gen.lab-jwt.token.alice"])
        .ok()
        .stdout
        .clone();
    let jwks = live(&f, &["output", "gen.lab-jwt.jwks"])
        .ok()
        .stdout
        .clone();
    let set: JwkSet = serde_json::from_str(jwks.trim()).expect("a JWK set");
    let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&["http://lab6"]);
    validation.set_audience(&["lab6"]);
    let claims = decode::<Value>(token.trim(), &key, &validation).expect("the token validates");
    assert_eq!(claims.claims["sub"], "alice");

    let listing = live(&f, &["output"]).ok().stdout.clone();
    assert!(
        listing.contains("gen.lab-jwt.token.alice = (sensitive)"),
        "{listing}"
    );
    assert!(listing.contains("var.OWN_USER = plain-user"), "{listing}");
    assert!(
        listing.contains("var.OWN_PASSWORD = (sensitive)"),
        "{listing}"
    );
    assert!(!listing.contains(token.trim()), "{listing}");
    let json = live(&f, &["--output", "json", "output"])
        .ok()
        .stdout
        .clone();
    assert!(
        !json.contains(token.trim()) && !json.contains("var-s3cret-value"),
        "{json}"
    );
    let all = live(&f, &["output", "--show-sensitive"])
        .ok()
        .stdout
        .clone();
    assert!(all.contains(token.trim()), "{all}");
    live(&f, &["output", "gen.nope"]).fails("no output named `gen.nope`");
    live(&f, &["destroy", "--auto-approve"]).ok();
    wait_gone(EAST, &ns);
}

#[test]
fn refresh_only_accepts_live_values_into_state_and_apply_puts_them_right() {
    need_testbed();
    let ns = unique("refresh");
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{ name: s, namespace: {ns} }}\nstringData: {{ password: \"${{OWN_PASSWORD}}\" }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cfg, namespace: {ns} }}\ndata: {{ a: one }}\n---\n{}",
        web(&ns, "", "")
    );
    let f = fixture("", STAGE, &manifest);
    live(&f, &["apply", "--auto-approve"]).ok();
    kubectl_ok(&["-n", &ns, "scale", "deployment", "web", "--replicas=3"]);
    kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "cfg",
        "-p",
        r#"{"data":{"a":"two"}}"#,
    ]);
    kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "s",
        "-p",
        r#"{"stringData":{"password":"refreshed-by-hand"}}"#,
    ]);
    kubectl_ok(&["-n", &ns, "delete", "configmap", "cfg"]);
    assert_eq!(live(&f, &["drift"]).code, 2);

    let run = live(&f, &["apply", "--refresh-only", "--auto-approve"]);
    run.ok()
        .stdout_has(&format!(
            "a/east/apps/Deployment/{ns}/web: live values accepted"
        ))
        .stdout_has(&format!(
            "a/east/core/ConfigMap/{ns}/cfg: deleted outside mtm"
        ));
    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert_eq!(d["spec"]["replicas"], 3, "refresh-only changed the cluster");
    let run = live(&f, &["drift"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let state = live(&f, &["--output", "json", "state", "list"]);
    assert!(
        !state.ok().stdout.contains("refreshed-by-hand")
            && !state.stdout.contains(&b64("refreshed-by-hand")),
        "{}",
        state.stdout
    );

    // The plan still declares its values: a plain apply puts them back.
    let run = live(&f, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    live(&f, &["apply", "--auto-approve"]).ok();
    let d = get_json(EAST, &["-n", &ns, "deployment", "web"]).unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
    assert!(get_json(EAST, &["-n", &ns, "configmap", "cfg"]).is_some());
    assert_eq!(live(&f, &["drift"]).code, 0);
    live(&f, &["destroy", "--auto-approve"]).ok();
    wait_gone(EAST, &ns);
}
