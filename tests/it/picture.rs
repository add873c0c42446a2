//! The workshop's picture: `mtm graph --format dot` draws the transitive reduction of the
//! dependency graph (checked here against the full edge list of `--output json`, by an
//! independent reachability search), Graphviz renders it, and the dot source committed
//! under docs/ (regenerated with docs/workshop-graph.sh) is what mtm prints today.

use crate::support::{mtm, repo};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The (from, to) pairs of the edges of a dot text.
fn dot_edges(dot: &str) -> BTreeSet<(String, String)> {
    dot.lines()
        .filter(|l| l.contains(" -> "))
        .map(|l| {
            let quoted: Vec<&str> = l.split('"').collect();
            (quoted[1].to_string(), quoted[3].to_string())
        })
        .collect()
}

/// Whether `to` can be reached from `from` in `next`.
fn reaches(next: &BTreeMap<&str, BTreeSet<&str>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from];
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n) {
            todo.extend(next.get(n).into_iter().flatten().copied());
        }
    }
    false
}

/// The edges of the full graph that no longer path implies.
fn reduction(all: &[(String, String)]) -> BTreeSet<(String, String)> {
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, b) in all {
        next.entry(a).or_default().insert(b);
    }
    all.iter()
        .filter(|(a, b)| {
            !next[a.as_str()]
                .iter()
                .any(|c| c != b && reaches(&next, c, b))
        })
        .cloned()
        .collect()
}

#[test]
fn the_workshop_dot_draws_exactly_the_transitive_reduction() {
    let json = mtm(&repo(), &["--output", "json", "graph"]);
    let graph: Value = serde_json::from_str(&json.ok().stdout).unwrap();
    let all: Vec<(String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let dot = mtm(&repo(), &["graph", "--format", "dot"]);
    let drawn = dot_edges(&dot.ok().stdout);
    let expected = reduction(&all);
    assert!(expected.len() < all.len(), "the workshop has implied edges");
    assert_eq!(drawn, expected);

    let every = mtm(&repo(), &["graph", "--format", "dot", "--all-edges"]);
    let every = dot_edges(&every.ok().stdout);
    assert_eq!(every, all.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn the_committed_picture_is_current_and_renders() {
    let committed = std::fs::read_to_string(repo().join("docs/workshop-graph.dot"))
        .expect("docs/workshop-graph.dot is committed");
    let now = mtm(&repo(), &["graph", "--format", "dot"]);
    assert!(
        now.ok().stdout == committed,
        "docs/workshop-graph.dot is not what `mtm graph --format dot` prints: run docs/workshop-graph.sh"
    );
    let svg = Command::new("dot")
        .args(["-Tsvg", "docs/workshop-graph.dot"])
        .current_dir(repo())
        .output()
        .expect("graphviz `dot` on PATH (tests/run installs it)");
    assert!(
        svg.status.success(),
        "{}",
        String::from_utf8_lossy(&svg.stderr)
    );
    let svg = String::from_utf8_lossy(&svg.stdout);
    assert!(svg.contains("<svg") && svg.contains("east (east&#45;ag)"));
    let committed_svg = std::fs::read_to_string(repo().join("docs/workshop-graph.svg")).unwrap();
    assert!(committed_svg.contains("<svg") && committed_svg.contains("east (east&#45;ag)"));
}
