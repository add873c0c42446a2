//! The command line on the workshop plan: the acceptance points of the engine foundation.

use crate::support::{Fixture, mtm, repo};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

fn json(args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let run = mtm(&repo(), &all);
    run.ok();
    serde_json::from_str(&run.stdout).expect("json output")
}

fn addresses(graph: &Value) -> BTreeSet<String> {
    graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn workshop_validates_offline() {
    mtm(&repo(), &["validate"])
        .ok()
        .stdout_has("plan agentic-mcp-lab: 8 stages");
}

#[test]
fn target_lab6_names_every_lab_node_and_no_bonus_node() {
    let full = json(&["graph"]);
    let text = mtm(&repo(), &["graph", "--format", "text", "--target", "lab6"]);
    text.ok();
    let labs = ["lab1", "lab2", "lab3", "lab4", "lab5", "lab6"];
    let mut named = 0;
    for node in full["nodes"].as_array().unwrap() {
        let address = node["address"].as_str().unwrap();
        let stages: Vec<&str> = node["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        if stages.iter().any(|s| labs.contains(s)) {
            assert!(text.stdout.contains(address), "lab6 graph lacks {address}");
            named += 1;
        }
    }
    assert!(named > 40, "only {named} lab nodes");
    for line in text.stdout.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("bonus"),
            "lab6 graph shows a bonus node: {line}"
        );
    }
}

#[test]
fn target_bonus_has_edges_from_west_to_east() {
    let g = json(&["graph", "--target", "bonus"]);
    let cluster_of = |a: &str| a.split('/').nth(1).unwrap().to_string();
    let crossing: Vec<String> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            cluster_of(e["from"].as_str().unwrap()) == "west"
                && cluster_of(e["to"].as_str().unwrap()) == "east"
        })
        .map(|e| format!("{} -> {}", e["from"], e["to"]))
        .collect();
    assert!(
        crossing.iter().any(
            |e| e.contains("bonus/west/core/Service/ai-tools/orders-mcp")
                && e.contains("AgentgatewayBackend/ai-tools/mcp-be")
        ),
        "no west Service -> east backend edge in {crossing:?}"
    );
    // The bonus moves orders-mcp: on east it is absent, on west present.
    let nodes = g["nodes"].as_array().unwrap();
    let kind_of = |a: &str| {
        nodes
            .iter()
            .find(|n| n["address"] == a)
            .map(|n| n["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(
        kind_of("lab1/east/apps/Deployment/ai-tools/orders-mcp").as_deref(),
        Some("absent")
    );
    assert_eq!(
        kind_of("bonus/west/apps/Deployment/ai-tools/orders-mcp").as_deref(),
        Some("object")
    );
}

#[test]
fn target_lab3_reports_left_out_dependents() {
    let g = json(&["graph", "--target", "lab3"]);
    let left: Vec<&str> = g["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Later stages' resources that build on lab 3 (lab 4's own are removed or retired by
    // lab 5 in the whole plan's fold, so lab 5's stand for them).
    assert!(
        left.iter().any(|a| a.starts_with("lab5/")),
        "left out: {left:?}"
    );
    let chosen = addresses(&g);
    assert!(
        chosen
            .iter()
            .all(|a| !a.starts_with("lab4/") && !a.starts_with("lab5/"))
    );
    assert!(chosen.contains("lab1/east/core/Namespace/_/ai-tools"));
}

#[test]
fn lab5_replaces_the_lab4_allow_list() {
    let g = json(&["graph", "--target", "lab5"]);
    let nodes = g["nodes"].as_array().unwrap();
    let allow = nodes
        .iter()
        .find(|n| {
            n["address"]
                .as_str()
                .unwrap()
                .ends_with("EnterpriseAgentgatewayPolicy/ai-tools/mcp-tool-allowlist")
        })
        .expect("the lab 4 allow-list is in the lab 5 graph");
    assert_eq!(allow["kind"], "absent");
}

#[test]
fn address_glob_target_takes_dependencies() {
    let g = json(&[
        "graph",
        "--target",
        "lab3/east/gateway.networking.k8s.io/HTTPRoute/*/*",
    ]);
    let chosen = addresses(&g);
    assert!(
        chosen.contains("lab3/east/core/Service/ai-tools/mcp-gateway"),
        "{chosen:?}"
    );
    assert!(
        chosen.iter().all(|a| !a.contains("/check/")),
        "checks are dependents, not dependencies"
    );
}

#[test]
fn dot_output_renders_with_graphviz() {
    let run = mtm(&repo(), &["graph", "--format", "dot"]);
    run.ok();
    let mut dot = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphviz `dot` is installed by tests/run");
    dot.stdin
        .take()
        .unwrap()
        .write_all(run.stdout.as_bytes())
        .unwrap();
    let out = dot.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn mermaid_edges_name_declared_nodes() {
    let run = mtm(
        &repo(),
        &["graph", "--format", "mermaid", "--target", "bonus"],
    );
    run.ok();
    let text = &run.stdout;
    assert!(text.starts_with("flowchart LR\n"));
    let declared: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().split_once("[\"").map(|(id, _)| id))
        .collect();
    let mut edges = 0;
    for line in text
        .lines()
        .filter(|l| l.contains("-->") || l.contains("==>"))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert!(
            declared.contains(parts[0]) && declared.contains(parts[2]),
            "undeclared node in {line}"
        );
        edges += 1;
    }
    assert!(edges > 10);
    assert!(text.contains("==>"), "the cross-cluster edge is drawn bold");
}

#[test]
fn sensitive_values_are_never_printed() {
    let f = Fixture::mini();
    for args in [
        vec!["validate"],
        vec!["--output", "json", "validate"],
        vec!["graph", "--format", "dot"],
    ] {
        let mut all = args.clone();
        all.extend(["--var", "TOKEN=hunter2-very-secret"]);
        let run = f.run(&all);
        run.ok();
        assert!(
            !run.stdout.contains("hunter2-very-secret")
                && !run.stderr.contains("hunter2-very-secret"),
            "{all:?} leaked:\n{}",
            run.stdout
        );
    }
    let run = f.run(&["validate"]);
    assert!(!run.stdout.contains("s3cr3t-value"));
    assert!(run.stdout.contains("TOKEN = (sensitive)"));
}

#[test]
fn environment_variables_override_defaults() {
    let mut cmd = Command::new(crate::support::bin());
    let f = Fixture::mini();
    let out = cmd
        .args(["--plan", ".", "validate"])
        .current_dir(f.path())
        .env("NO_COLOR", "1")
        .env("CLUSTER1", "from-env")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("east=from-env"), "{stdout}");
    let run = f.run(&["validate", "--var", "CLUSTER1=from-var"]);
    run.ok().stdout_has("east=from-var");
}

#[test]
fn completions_are_generated() {
    mtm(&repo(), &["completions", "bash"])
        .ok()
        .stdout_has("_mtm()");
}

#[test]
fn state_commands_on_an_empty_state() {
    let f = Fixture::mini();
    f.run(&["state", "list"]).ok().stdout_has("no state yet");
    f.run(&["state", "history", "--state", "st"]).ok();
}

#[test]
fn a_held_lock_refuses_writers_not_readers_and_is_not_broken_while_its_holder_lives() {
    let f = Fixture::mini();
    let dir = f.path().join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = mtm::store::Lock::acquire(&dir, "mtm apply --target lab6 (test holder)")
        .expect("take the lock");
    let pid = std::process::id().to_string();
    // Readers are never blocked; writers are refused naming the holder.
    f.run(&["state", "list"])
        .ok()
        .stdout_has("no resources in state");
    f.run(&["apply", "--auto-approve"])
        .fails(&format!("held by pid {pid}"))
        .fails("mtm apply --target lab6 (test holder)");
    f.run(&["unlock"]).fails(&pid);
    drop(lock);
    f.run(&["unlock"]).ok().stdout_has("is not locked");
}

#[test]
fn verify_runs_the_declared_checks_and_names_what_failed() {
    let ok = crate::support::answer_with(200);
    let denied = crate::support::answer_with(403);
    let stage = format!(
        "title: App\nneeds: [base]\nsteps:\n  - name: app\n    title: The app\n    cluster: east\n    checks:\n      - {{ name: allowed, http: {{ url: \"http://127.0.0.1:{ok}/\", headers: {{ Authorization: \"Bearer ${{TOKEN}}\" }} }}, expect: {{ status: 200 }} }}\n      - {{ name: denied, http: {{ url: \"http://127.0.0.1:{denied}/\" }}, expect: {{ status: 403 }} }}\n      - {{ name: mesh, requires: [istio], command: [istioctl, version], expect: {{ contains: x }} }}\n"
    );
    let f = Fixture::mini().file("stages/app.yaml", &stage);
    let run = f.run(&["verify", "--target", "app"]);
    run.ok().stdout_has(
        "2 of 3 checks ran: 2 passed, 0 failed; 1 not applicable, 0 not applied, 0 retired",
    );
    assert!(
        !run.stdout.contains("s3cr3t-value"),
        "a sensitive value was printed"
    );
    // The denied endpoint expected to allow: a failure naming the check, expected and seen.
    let f = f.edit(
        "stages/app.yaml",
        "expect: { status: 403 }",
        "expect: { status: 200 }",
    );
    let run = f.run(&["--output", "json", "verify", "--target", "app"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = &report["checks"];
    let denied = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "denied")
        .unwrap();
    assert_eq!(denied["status"], "failed");
    assert!(denied["seen"].as_str().unwrap().contains("403"), "{denied}");
    assert!(
        denied["expected"].as_str().unwrap().contains("200"),
        "{denied}"
    );
    let mesh = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mesh")
        .unwrap();
    assert_eq!(mesh["status"], "notApplicable", "{mesh}");
}
