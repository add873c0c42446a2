//! The graph as text, Graphviz dot and Mermaid.
//!
//! Pure functions from a selection to a string; the CLI's renderer decides where it goes.
//! Text lists nodes in a stable topological order, each with what it depends on and why;
//! dot and mermaid group nodes by cluster and draw cross-cluster edges bold.

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
pub fn dot(plan: &Plan, sel: &Selection) -> String {
    let g = &sel.graph.graph;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&plan.name));
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];"
    );
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
                "{indent}{} [label={}];",
                quote(node.resource.address.as_str()),
                quote(&label(node))
            );
        }
        if !cluster.is_empty() {
            let _ = writeln!(out, "  }}");
        }
    }
    for (a, b, why) in edges_in(sel) {
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

/// A Mermaid flowchart.
pub fn mermaid(plan: &Plan, sel: &Selection) -> String {
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
    for (a, b, _) in edges_in(sel) {
        let arrow = if crosses(sel, a, b) { "==>" } else { "-->" };
        let _ = writeln!(out, "  n{} {arrow} n{}", a.index(), b.index());
    }
    out
}
