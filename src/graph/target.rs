//! `--target`: which stages to fold and which resources of the result to act on.
//!
//! A stage target selects the stage and every stage it needs, with all their resources;
//! an address target (a glob) selects the matched resources of the whole plan. Both then
//! take everything the selection depends on. What depends on the selection but was left
//! out is reported, as Terraform users expect from `-target`.

use super::{Graph, Pattern};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Node, Plan, fold};
use mtm_provider::Address;
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use std::collections::BTreeSet;

/// The outcome of `--target`: the graph of the folded stages and what is selected in it.
#[derive(Debug)]
pub struct Selection {
    /// The stages folded, in plan order.
    pub stages: Vec<String>,
    pub graph: Graph,
    /// `selected[i]`: node i is acted on.
    pub selected: Vec<bool>,
    /// Resources that depend on the selection but are not in it.
    pub left_out: Vec<Address>,
}

impl Selection {
    pub fn selected_nodes(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .order()
            .into_iter()
            .filter(|i| self.selected[i.index()])
    }
}

/// Selects `targets` (all of the plan when empty).
pub fn select(plan: &Plan, targets: &[String]) -> Result<Selection, Diagnostics> {
    let all: Vec<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    select_in(plan, Graph::build(plan, fold(plan, &all))?, targets)
}

/// Selects `targets` (all of the plan when empty) in `full`, the graph of every stage of
/// `plan`, which a caller that built it hands over instead of having it built again.
pub fn select_in(plan: &Plan, full: Graph, targets: &[String]) -> Result<Selection, Diagnostics> {
    let all: Vec<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    if targets.is_empty() {
        let selected = vec![true; full.graph.node_count()];
        return Ok(Selection {
            stages: all,
            graph: full,
            selected,
            left_out: Vec::new(),
        });
    }

    let (stage_targets, patterns) = parse_targets(plan, &full, targets)?;
    let stage_closure = plan.needs_closure(stage_targets.iter().copied());
    let stages = stages_to_fold(plan, &all, &full, &stage_closure, &patterns);

    let root = |n: &Node| {
        let r = &n.resource;
        r.stages.iter().any(|s| stage_closure.contains(s))
            || patterns.iter().any(|p| p.matches(r.address.as_str()))
    };
    // When the targets need every stage, the full graph is the graph.
    if stages.len() == all.len() {
        return Ok(select_whole(full, None, stages, &root));
    }
    match full.kept(plan, &stages) {
        Some(keep) => Ok(select_kept(full, keep, stages, &root)),
        None => {
            let graph = Graph::build(plan, fold(plan, &stages))?;
            Ok(select_whole(graph, Some(&full), stages, &root))
        }
    }
}

/// The selection in `graph`, the graph of `stages`: what `root` picks with what it needs;
/// left out, what depends on it in `full` (`None`: `graph` is the full graph).
fn select_whole(
    graph: Graph,
    full: Option<&Graph>,
    stages: Vec<String>,
    root: &dyn Fn(&Node) -> bool,
) -> Selection {
    let roots: Vec<NodeIndex> = graph
        .graph
        .node_indices()
        .filter(|i| root(&graph.graph[*i]))
        .collect();
    let selected = graph.reach(roots, Direction::Incoming);
    let left_out = left_out(&graph, full.unwrap_or(&graph), &selected);
    Selection {
        stages,
        graph,
        selected,
        left_out,
    }
}

/// The selection in the graph of `stages` taken from `full` (its nodes with `keep` set):
/// selected and left out worked out on `full`, then its kept nodes moved, not copied.
fn select_kept(
    full: Graph,
    keep: Vec<bool>,
    stages: Vec<String>,
    root: &dyn Fn(&Node) -> bool,
) -> Selection {
    let roots: Vec<NodeIndex> = full
        .graph
        .node_indices()
        .filter(|i| keep[i.index()] && root(&full.graph[*i]))
        .collect();
    let chosen = full.reach_among(roots, Direction::Incoming, &keep);
    let downstream = full.reach(
        full.graph.node_indices().filter(|i| chosen[i.index()]),
        Direction::Outgoing,
    );
    let mut left_out: Vec<Address> = full
        .graph
        .node_indices()
        .filter(|i| downstream[i.index()] && !chosen[i.index()])
        .map(|i| full.graph[i].resource.address.clone())
        .collect();
    left_out.sort();
    let selected = chosen
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| *c)
        .collect();
    Selection {
        stages,
        graph: full.into_subgraph(&keep),
        selected,
        left_out,
    }
}

/// The targets split into stage names and address patterns, each checked against the plan.
fn parse_targets<'t>(
    plan: &Plan,
    full: &Graph,
    targets: &'t [String],
) -> Result<(Vec<&'t str>, Vec<Pattern>), Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut stage_targets: Vec<&str> = Vec::new();
    let mut patterns: Vec<Pattern> = Vec::new();
    for t in targets {
        let arg = format!("--target {t}");
        if !t.contains('/') {
            if plan.stage(t).is_some() {
                stage_targets.push(t);
            } else {
                diags.push(
                    Diagnostic::unplaced(arg, format!("unknown stage `{t}`")).help(format!(
                        "stages: {}; or give a resource address such as lab1/east/**",
                        plan.stage_names().join(", ")
                    )),
                );
            }
            continue;
        }
        match Pattern::new(t) {
            Err(e) => diags.push(Diagnostic::unplaced(arg, e.to_string())),
            Ok(p) => {
                if full.index.keys().any(|a| p.matches(a.as_str())) {
                    patterns.push(p);
                } else {
                    diags.push(
                        Diagnostic::unplaced(arg, format!("`{t}` matches no resource of the plan"))
                            .help("`mtm graph --format text` lists every address"),
                    );
                }
            }
        }
    }
    diags.into_result()?;
    Ok((stage_targets, patterns))
}

/// The stages to fold, in plan order: the targeted stages' closure and the needs closure
/// of every stage that declares a matched resource.
fn stages_to_fold(
    plan: &Plan,
    all: &[String],
    full: &Graph,
    stage_closure: &[String],
    patterns: &[Pattern],
) -> Vec<String> {
    let matched_stages: Vec<&str> = full
        .graph
        .node_weights()
        .filter(|n| {
            patterns
                .iter()
                .any(|p| p.matches(n.resource.address.as_str()))
        })
        .flat_map(|n| n.resource.stages.iter().map(String::as_str))
        .collect();
    let mut stages = stage_closure.to_vec();
    stages.extend(plan.needs_closure(matched_stages));
    all.iter().filter(|s| stages.contains(s)).cloned().collect()
}

/// The addresses of `full` downstream of the selection of `graph` but not in it, sorted.
fn left_out(graph: &Graph, full: &Graph, selected: &[bool]) -> Vec<Address> {
    let chosen: BTreeSet<&Address> = graph
        .graph
        .node_indices()
        .filter(|i| selected[i.index()])
        .map(|i| &graph.graph[i].resource.address)
        .collect();
    let starts = chosen.iter().filter_map(|a| full.index.get(*a).copied());
    let downstream = full.reach(starts, Direction::Outgoing);
    full.graph
        .node_indices()
        .filter(|i| downstream[i.index()])
        .map(|i| full.graph[i].resource.address.clone())
        .filter(|a| !chosen.contains(a))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests;
