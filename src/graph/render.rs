//! The graph as text, Graphviz dot and Mermaid.
//!
//! Pure functions from a selection to a string; the CLI's renderer decides where it goes.
//! Text lists nodes in a stable topological order, each with what it depends on and why;
//! dot and mermaid draw each cluster as a box, fill each node with its stage's colour,
//! draw cross-cluster edges bold, and by default only the edges of the transitive
//! reduction (`reduce`): an edge another path implies is left out unless `all_edges`.

use super::Selection;
use crate::plan::{Node, Plan};
use mtm_provider::resource::Spec;
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use std::collections::BTreeMap;
use std::fmt::Write;

fn notes(node: &Node) -> String {
    let r = &node.resource;
    let mut notes = vec![r.type_name().to_string()];
    if r.stages.len() > 1 {
        let later = r.stages[1..].join(", ");
        if matches!(r.spec, Spec::Absent { .. }) {
            notes[0] = format!("removed by {later}");
        } else {
            notes.push(format!("replaced by {later}"));
        }
    }
    notes.join(", ")
}

fn edges_in(sel: &Selection) -> Vec<(NodeIndex, NodeIndex, &'static str)> {
    sel.graph
        .graph
        .edge_references()
        .filter(|e| sel.selected[e.source().index()] && sel.selected[e.target().index()])
        .map(|e| (e.source(), e.target(), *e.weight()))
        .collect()
}

/// The edges a picture draws: every selected one with `all_edges`, else those of the
/// transitive reduction, one per pair.
fn drawn(sel: &Selection, all_edges: bool) -> Vec<(NodeIndex, NodeIndex, &'static str)> {
    let edges = edges_in(sel);
    if all_edges {
        return edges;
    }
    let mut keep = super::reduce::reduction(&sel.graph);
    edges
        .into_iter()
        .filter(|(a, b, _)| keep.remove(&(*a, *b)))
        .collect()
}

/// Fill colours for stages, in plan order (pastel, readable under black text).
const PALETTE: [&str; 10] = [
    "#e8f1fb", "#fdebd0", "#d5f5e3", "#fadbd8", "#e8daef", "#fcf3cf", "#d1f2eb", "#f6ddcc",
    "#d6eaf8", "#ebedef",
];

/// The colour of a node's first stage, by the stage's place in the plan.
fn colour(plan: &Plan, node: &Node) -> &'static str {
    let stage = &node.resource.stages[0];
    let at = plan
        .stage_names()
        .iter()
        .position(|s| *s == stage.as_str())
        .unwrap_or(0);
    PALETTE[at % PALETTE.len()]
}

/// One line per selected node, its dependencies indented under it.
pub fn text(plan: &Plan, sel: &Selection) -> String {
    let g = &sel.graph.graph;
    let nodes: Vec<NodeIndex> = sel.selected_nodes().collect();
    let mut out = String::new();
    let edges = edges_in(sel);
    let _ = writeln!(
        out,
        "# plan {}: stages {}; {} resources, {} edges",
        plan.name,
        sel.stages.join(", "),
        nodes.len(),
        edges.len()
    );
    for i in nodes {
        let node = &g[i];
        let _ = writeln!(out, "{}  [{}]", node.resource.address, notes(node));
        let mut deps: Vec<(String, &str)> = g
            .edges_directed(i, Direction::Incoming)
            .filter(|e| sel.selected[e.source().index()])
            .map(|e| (g[e.source()].resource.address.to_string(), *e.weight()))
            .collect();
        deps.sort();
        for (dep, why) in deps {
            let _ = writeln!(out, "    after {dep} ({why})");
        }
    }
    if !sel.left_out.is_empty() {
        let _ = writeln!(
            out,
            "# left out: {} resources depend on the selection but were not selected",
            sel.left_out.len()
        );
        for a in &sel.left_out {
            let _ = writeln!(out, "#   {a}");
        }
    }
    out
}

fn label(node: &Node) -> String {
    let r = &node.resource;
    let tail = r
        .address
        .as_str()
        .splitn(3, '/')
        .nth(2)
        .unwrap_or(r.address.as_str())
        .to_string();
    format!("{}: {tail} ({})", r.stages[0], notes(node))
}

fn by_cluster(sel: &Selection) -> BTreeMap<String, Vec<NodeIndex>> {
    let mut groups: BTreeMap<String, Vec<NodeIndex>> = BTreeMap::new();
    for i in sel.selected_nodes() {
        let cluster = sel.graph.graph[i]
            .resource
            .cluster()
            .unwrap_or("")
            .to_string();
        groups.entry(cluster).or_default().push(i);
    }
    groups
}

fn crosses(sel: &Selection, a: NodeIndex, b: NodeIndex) -> bool {
    let g = &sel.graph.graph;
    match (g[a].resource.cluster(), g[b].resource.cluster()) {
        (Some(x), Some(y)) => x != y,
        _ => false,
    }
}

/// Graphviz dot.
pub fn dot(plan: &Plan, sel: &Selection, all_edges: bool) -> String {
    let g = &sel.graph.graph;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&plan.name));
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, style=filled, fontname=\"monospace\", fontsize=10];"
    );
    legend(plan, sel, &mut out);
    for (n, (cluster, nodes)) in by_cluster(sel).into_iter().enumerate() {
        let indent = if cluster.is_empty() { "  " } else { "    " };
        if !cluster.is_empty() {
            let context = plan.context(&cluster).unwrap_or("");
            let _ = writeln!(
                out,
                "  subgraph cluster_{n} {{\n    label={};",
                quote(&format!("{cluster} ({context})"))
            );
        }
        for i in nodes {
            let node = &g[i];
            let _ = writeln!(
                out,
                "{indent}{} [label={}, fillcolor=\"{}\"];",
                quote(node.resource.address.as_str()),
                quote(&label(node)),
                colour(plan, node)
            );
        }
        if !cluster.is_empty() {
            let _ = writeln!(out, "  }}");
        }
    }
    for (a, b, why) in drawn(sel, all_edges) {
        let style = if crosses(sel, a, b) {
            ", style=bold, color=\"#c0392b\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {} [tooltip={}{style}];",
            quote(g[a].resource.address.as_str()),
            quote(g[b].resource.address.as_str()),
            quote(why)
        );
    }
    out.push_str("}\n");
    out
}

/// A key of the stages' colours, as one row of boxes.
fn legend(plan: &Plan, sel: &Selection, out: &mut String) {
    let _ = writeln!(
        out,
        "  subgraph cluster_stages {{\n    label=\"stages\";\n    style=dashed;"
    );
    for (at, stage) in plan.stage_names().iter().enumerate() {
        if sel.stages.iter().any(|s| s == stage) {
            let _ = writeln!(
                out,
                "    \"stage:{stage}\" [label=\"{stage}\", fillcolor=\"{}\"];",
                PALETTE[at % PALETTE.len()]
            );
        }
    }
    out.push_str("  }\n");
}

/// A Mermaid flowchart.
pub fn mermaid(plan: &Plan, sel: &Selection, all_edges: bool) -> String {
    let g = &sel.graph.graph;
    let escape = |s: &str| s.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (cluster, nodes) in by_cluster(sel) {
        let indent = if cluster.is_empty() { "  " } else { "    " };
        if !cluster.is_empty() {
            let context = plan.context(&cluster).unwrap_or("");
            let _ = writeln!(
                out,
                "  subgraph {cluster}[\"{cluster} ({})\"]",
                escape(context)
            );
        }
        for i in nodes {
            let _ = writeln!(out, "{indent}n{}[\"{}\"]", i.index(), escape(&label(&g[i])));
        }
        if !cluster.is_empty() {
            out.push_str("  end\n");
        }
    }
    for (at, stage) in plan.stage_names().iter().enumerate() {
        let members: Vec<String> = sel
            .selected_nodes()
            .filter(|i| g[*i].resource.stages[0] == *stage)
            .map(|i| format!("n{}", i.index()))
            .collect();
        if !members.is_empty() {
            let _ = writeln!(
                out,
                "  classDef stage{at} fill:{}\n  class {} stage{at}",
                PALETTE[at % PALETTE.len()],
                members.join(",")
            );
        }
    }
    for (a, b, _) in drawn(sel, all_edges) {
        let arrow = if crosses(sel, a, b) { "==>" } else { "-->" };
        let _ = writeln!(out, "  n{} {arrow} n{}", a.index(), b.index());
    }
    out
}
