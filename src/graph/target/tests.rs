//! `select_in` against the selection of a fold built again: the graph a targeted subset
//! of stages takes from the full graph must be the graph folding those stages builds.

use super::{Graph, Selection, select, select_in};
use crate::plan::{LoadOptions, Plan, fold, load};
use std::path::Path;

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: { name: NAME }\n";
const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: NAME, namespace: a }\ndata: { k: v }\n";
const PROBE: &str = "    checks: [{ name: probe, command: [\"true\"], expect: { contains: x } }]\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: NAME, namespace: a }\nspec:\n  selector: { matchLabels: { app: x } }\n  template:\n    metadata: { labels: { app: x } }\n    spec:\n      containers: [{ name: c, image: nginx }]\n      volumes: [{ name: v, configMap: { name: CM } }]\n";

/// Writes a plan of `stages` (name, needs, manifest text, extra step lines) and loads it.
fn plan(dir: &Path, stages: &[(&str, &str, String, &str)]) -> Plan {
    let names: Vec<&str> = stages.iter().map(|s| s.0).collect();
    std::fs::create_dir_all(dir.join("stages")).unwrap();
    std::fs::write(
        dir.join("plan.yaml"),
        format!(
            "plan: t\nclusters:\n  east: {{ context: east-ctx }}\nstages: [{}]\n",
            names.join(", ")
        ),
    )
    .unwrap();
    for (name, needs, manifest, extra) in stages {
        std::fs::write(dir.join(format!("{name}.yaml")), manifest).unwrap();
        std::fs::write(
            dir.join(format!("stages/{name}.yaml")),
            format!(
                "title: {name}\nneeds: [{needs}]\nsteps:\n  - name: s\n    title: s\n    cluster: east\n    manifests: [{name}.yaml]\n{extra}"
            ),
        )
        .unwrap();
    }
    load(dir, &LoadOptions::from_process(Vec::new())).unwrap_or_else(|d| panic!("{d}"))
}

fn docs(parts: &[(&str, &str)]) -> String {
    let texts: Vec<String> = parts
        .iter()
        .map(|(template, name)| template.replace("NAME", name).replace("CM", "cm1"))
        .collect();
    texts.join("---\n")
}

/// Everything a selection says, as text: nodes, edges with their reasons, what is
/// selected and what is left out.
fn describe(sel: &Selection) -> String {
    let g = &sel.graph.graph;
    let mut out = format!("stages {:?}\n", sel.stages);
    for i in g.node_indices() {
        out += &format!("node {:?} selected {}\n", g[i], sel.selected[i.index()]);
    }
    for e in g.raw_edges() {
        let (from, to) = (
            &g[e.source()].resource.address,
            &g[e.target()].resource.address,
        );
        out += &format!("edge {from} -> {to} ({})\n", e.weight);
    }
    out + &format!("left out {:?}\n", sel.left_out)
}

/// The selection as it was made before `select_in`: the targeted stages folded and their
/// graph built again.
fn rebuilt(plan: &Plan, targets: &[String]) -> String {
    let mut sel = select(plan, targets).unwrap();
    let graph = Graph::build(plan, fold(plan, &sel.stages)).unwrap();
    assert_eq!(graph.graph.node_count(), sel.graph.graph.node_count());
    sel.graph = graph;
    describe(&sel)
}

fn full(plan: &Plan) -> Graph {
    let all: Vec<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    Graph::build(plan, fold(plan, &all)).unwrap()
}

fn stage_of_three(
    third: String,
    extra: &'static str,
) -> [(&'static str, &'static str, String, &'static str); 3] {
    [
        ("s0", "", docs(&[(NS, "a"), (CM, "cm1")]), PROBE),
        (
            "s1",
            "s0",
            docs(&[(DEPLOY, "d1"), (CM, "cm2")]),
            "    needs: [\"s0/**\"]\n",
        ),
        ("s2", "s1", third, extra),
    ]
}

#[test]
fn a_stage_target_takes_its_graph_from_the_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), &stage_of_three(docs(&[(DEPLOY, "d2")]), ""));
    let targets = ["s1".to_string()];
    let stages = vec!["s0".to_string(), "s1".to_string()];
    assert!(full(&plan).kept(&plan, &stages).is_some());
    let sel = select_in(&plan, full(&plan), &targets).unwrap();
    assert_eq!(describe(&sel), rebuilt(&plan, &targets));
    assert_eq!(sel.graph.graph.node_count(), 5);
    assert_eq!(sel.graph.graph.edge_count(), 9, "{}", describe(&sel));
    assert!(sel.left_out.iter().any(|a| a.as_str().contains("d2")));
}

#[test]
fn an_address_target_selects_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), &stage_of_three(docs(&[(DEPLOY, "d2")]), ""));
    let targets = ["s1/east/apps/**".to_string()];
    let sel = select_in(&plan, full(&plan), &targets).unwrap();
    assert_eq!(describe(&sel), rebuilt(&plan, &targets));
}

#[test]
fn a_later_stage_redeclaring_an_object_makes_the_graph_built_again() {
    let dir = tempfile::tempdir().unwrap();
    // s2 re-declares s0's ConfigMap: folding s0 and s1 alone keeps its first content.
    let third =
        docs(&[(DEPLOY, "d2")]) + "---\n" + &CM.replace("NAME", "cm1").replace("v }", "w }");
    let plan = plan(dir.path(), &stage_of_three(third, ""));
    let stages = vec!["s0".to_string(), "s1".to_string()];
    assert!(full(&plan).kept(&plan, &stages).is_none());
    let targets = ["s1".to_string()];
    let sel = select_in(&plan, full(&plan), &targets).unwrap();
    assert_eq!(describe(&sel), rebuilt(&plan, &targets));
    assert!(describe(&sel).contains("\"v\""));
}

#[test]
fn a_later_stage_retiring_a_check_makes_the_graph_built_again() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        dir.path(),
        &stage_of_three(docs(&[(DEPLOY, "d2")]), "    removes: [{ check: probe }]\n"),
    );
    let stages = vec!["s0".to_string(), "s1".to_string()];
    assert!(full(&plan).kept(&plan, &stages).is_none());
}

#[test]
fn two_nodes_claiming_one_identity_make_the_graph_built_again() {
    let dir = tempfile::tempdir().unwrap();
    // s2 requires the Namespace s0 declares: inference finds one or the other.
    let plan = plan(
        dir.path(),
        &stage_of_three(
            docs(&[(DEPLOY, "d2")]),
            "    requires: [{ apiVersion: v1, kind: Namespace, name: a }]\n",
        ),
    );
    let stages = vec!["s0".to_string(), "s1".to_string()];
    assert!(full(&plan).kept(&plan, &stages).is_none());
    let targets = ["s1".to_string()];
    let sel = select_in(&plan, full(&plan), &targets).unwrap();
    assert_eq!(describe(&sel), rebuilt(&plan, &targets));
}
