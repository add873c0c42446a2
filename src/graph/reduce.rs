//! The transitive reduction of the dependency graph: the edges no other path implies.
//!
//! `a -> b` is left out of a picture when `a -> x -> ... -> b` exists: the order it says
//! is already drawn. Apply still uses every edge; this is for reading only. Computed with
//! petgraph's `tred` (Habib, Morvan and Rampon) over a topological order.

use super::Graph;
use petgraph::algo::toposort;
use petgraph::algo::tred::{dag_to_toposorted_adjacency_list, dag_transitive_reduction_closure};
use petgraph::graph::NodeIndex;
use std::collections::HashSet;

/// The (from, to) pairs of the transitive reduction. The graph is acyclic (checked when
/// it is built).
pub fn reduction(graph: &Graph) -> HashSet<(NodeIndex, NodeIndex)> {
    let g = &graph.graph;
    let order = toposort(g, None).expect("the dependency graph is acyclic");
    let (list, _) = dag_to_toposorted_adjacency_list::<_, u32>(g, &order);
    let (reduced, _) = dag_transitive_reduction_closure(&list);
    reduced
        .edge_indices()
        .filter_map(|e| reduced.edge_endpoints(e))
        .map(|(a, b)| (order[a as usize], order[b as usize]))
        .collect()
}
