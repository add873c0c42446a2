//! The dependency graph of the desired resources (petgraph), and `--target` selection.
//!
//! Edges point from a dependency to its dependent: `a -> b` means a is done before b. They
//! come from explicit `needs` and from what the manifests say (see `infer`). The graph
//! only computes: it never reads files, talks to clusters or prints.

mod infer;
mod pattern;
pub mod reduce;
pub mod render;
mod target;

pub use pattern::{Pattern, PatternError};
pub use target::{Selection, select, select_in};

use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Node, Plan};
use foldhash::HashMapExt;
use mtm_provider::Address;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// The graph of one desired state.
#[derive(Debug)]
pub struct Graph {
    pub graph: DiGraph<Node, &'static str>,
    pub index: foldhash::HashMap<Address, NodeIndex>,
    /// No two nodes claimed one key of inference (`infer::Inferred::unique`).
    unique: bool,
}

impl Graph {
    /// Builds the graph of `nodes`; a cycle is an error naming every node on it.
    pub fn build(plan: &Plan, nodes: Vec<Node>) -> Result<Graph, Diagnostics> {
        let contexts: HashMap<String, String> = plan
            .clusters
            .values()
            .map(|c| (c.context.clone(), c.name.clone()))
            .collect();
        let inferred = infer::edges(&nodes, &contexts);
        let mut graph = DiGraph::with_capacity(nodes.len(), inferred.edges.len());
        let mut index = foldhash::HashMap::with_capacity(nodes.len());
        for node in nodes {
            let address = node.resource.address.clone();
            index.insert(address, graph.add_node(node));
        }
        for (from, to, why) in inferred.edges {
            graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), why);
        }
        let built = Graph {
            graph,
            index,
            unique: inferred.unique,
        };
        built.check_cycles()?;
        Ok(built)
    }

    /// Which nodes of this graph of every stage of `plan` make the graph of the fold of
    /// `stages` alone, when that graph is these nodes and the edges between them: no other
    /// stage re-declares, removes or retires anything of those stages, and no two nodes
    /// claimed one key of inference. `None` otherwise.
    fn kept(&self, plan: &Plan, stages: &[String]) -> Option<Vec<bool>> {
        let inside = |name: &String| stages.contains(name);
        let retires_outside = plan
            .stages
            .iter()
            .filter(|s| !inside(&s.name))
            .any(|s| s.decls.iter().any(|d| d.retires));
        if !self.unique || retires_outside {
            return None;
        }
        let mut keep = Vec::with_capacity(self.graph.node_count());
        for node in self.graph.node_weights() {
            let of = &node.resource.stages;
            let within = of.iter().filter(|s| inside(s)).count();
            if within != 0 && within != of.len() {
                return None;
            }
            keep.push(within != 0);
        }
        Some(keep)
    }

    /// The nodes with `keep` set and the edges between them, both in their order here,
    /// moved out of this graph.
    fn into_subgraph(self, keep: &[bool]) -> Graph {
        let kept = keep.iter().filter(|k| **k).count();
        let (nodes, edges) = self.graph.into_nodes_edges();
        let mut graph = DiGraph::with_capacity(kept, 0);
        let mut to_new = vec![None; keep.len()];
        for (i, node) in nodes.into_iter().enumerate() {
            if keep[i] {
                to_new[i] = Some(graph.add_node(node.weight));
            }
        }
        for e in edges {
            if let (Some(from), Some(to)) = (to_new[e.source().index()], to_new[e.target().index()])
            {
                graph.add_edge(from, to, e.weight);
            }
        }
        let mut index = foldhash::HashMap::with_capacity(kept);
        for (address, i) in self.index {
            if let Some(new) = to_new[i.index()] {
                index.insert(address, new);
            }
        }
        Graph {
            graph,
            index,
            unique: self.unique,
        }
    }

    fn check_cycles(&self) -> Result<(), Diagnostics> {
        // A topological order takes every node exactly when there is no cycle; only then
        // are the strongly connected components needed, to name what is on each cycle.
        if self.order().len() == self.graph.node_count() {
            return Ok(());
        }
        let mut diags = Diagnostics::default();
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            let looped = scc.len() > 1 || self.graph.contains_edge(scc[0], scc[0]);
            if !looped {
                continue;
            }
            let mut members: Vec<&Node> = scc.iter().map(|i| &self.graph[*i]).collect();
            members.sort_by(|a, b| a.resource.address.cmp(&b.resource.address));
            let names: Vec<&str> = members
                .iter()
                .map(|n| n.resource.address.as_str())
                .collect();
            let o = &members[0].resource.origin;
            diags.push(
                Diagnostic::new(
                    &o.file,
                    o.line,
                    o.column,
                    format!(
                        "dependency cycle between {} resources: {}",
                        names.len(),
                        names.join(" -> ")
                    ),
                )
                .help("break it by removing one of the `needs` (or references) that join them"),
            );
        }
        diags.into_result()
    }

    pub fn node(&self, address: &str) -> Option<&Node> {
        self.index
            .get(&Address(address.to_string()))
            .map(|i| &self.graph[*i])
    }

    /// A topological order, stable: among ready nodes, the first declared goes first.
    pub fn order(&self) -> Vec<NodeIndex> {
        let mut indegree: Vec<usize> = self
            .graph
            .node_indices()
            .map(|i| {
                self.graph
                    .neighbors_directed(i, Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<usize>> = indegree
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| Reverse(i))
            .collect();
        let mut order = Vec::with_capacity(indegree.len());
        while let Some(Reverse(i)) = ready.pop() {
            order.push(NodeIndex::new(i));
            for next in self
                .graph
                .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
            {
                indegree[next.index()] -= 1;
                if indegree[next.index()] == 0 {
                    ready.push(Reverse(next.index()));
                }
            }
        }
        order
    }

    /// The direct dependencies of a node, by address.
    pub fn dependencies(&self, i: NodeIndex) -> BTreeSet<&Address> {
        self.graph
            .neighbors_directed(i, Direction::Incoming)
            .map(|d| &self.graph[d].resource.address)
            .collect()
    }

    /// For each node, the indices it depends on (for the scheduler).
    pub fn dependency_lists(&self) -> Vec<Vec<usize>> {
        self.graph
            .node_indices()
            .map(|i| {
                let mut deps: Vec<usize> = self
                    .graph
                    .neighbors_directed(i, Direction::Incoming)
                    .map(|d| d.index())
                    .collect();
                deps.sort_unstable();
                deps.dedup();
                deps
            })
            .collect()
    }

    /// Every node reachable from `start` following edges in `dir` (start included).
    pub fn reach(&self, start: impl IntoIterator<Item = NodeIndex>, dir: Direction) -> Vec<bool> {
        self.reach_among(start, dir, &vec![true; self.graph.node_count()])
    }

    /// As `reach`, through the nodes with `among` set only.
    fn reach_among(
        &self,
        start: impl IntoIterator<Item = NodeIndex>,
        dir: Direction,
        among: &[bool],
    ) -> Vec<bool> {
        let mut seen = vec![false; self.graph.node_count()];
        let mut todo: Vec<NodeIndex> = start.into_iter().collect();
        while let Some(i) = todo.pop() {
            if !among[i.index()] || std::mem::replace(&mut seen[i.index()], true) {
                continue;
            }
            todo.extend(self.graph.neighbors_directed(i, dir));
        }
        seen
    }
}
