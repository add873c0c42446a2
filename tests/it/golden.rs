//! Golden tests: the rendered graph, and the plan of lab 2 from empty on the local
//! clusters, compared with files under tests/golden/.
//! Re-record with `MTM_BLESS=1 cargo test --test it golden`, then review the diff.

use crate::support::{Fixture, mtm, need_testbed, repo};
use crate::workshop::{WORKSHOP, clean_workshop};

fn check_golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os("MTM_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; record it with MTM_BLESS=1", path.display()));
    if expected != actual {
        let diff = similar_lines(&expected, actual);
        panic!("{name} differs from the golden file (MTM_BLESS=1 re-records):\n{diff}");
    }
}

/// The lines that differ, marked - (golden) and + (actual).
fn similar_lines(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for line in e.iter().filter(|l| !a.contains(l)) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in a.iter().filter(|l| !e.contains(l)) {
        out.push_str(&format!("+ {line}\n"));
    }
    out
}

fn workshop(args: &[&str]) -> String {
    let run = mtm(&repo(), args);
    run.ok();
    run.stdout.clone()
}

#[test]
fn workshop_graph_text() {
    check_golden("workshop.txt", &workshop(&["graph", "--format", "text"]));
}

#[test]
fn workshop_graph_lab6() {
    check_golden(
        "workshop-lab6.txt",
        &workshop(&["graph", "--format", "text", "--target", "lab6"]),
    );
}

#[test]
fn workshop_graph_bonus() {
    check_golden(
        "workshop-bonus.txt",
        &workshop(&["graph", "--format", "text", "--target", "bonus"]),
    );
}

#[test]
fn mini_graph_text() {
    let run = Fixture::mini().run(&["graph"]);
    check_golden("mini.txt", &run.ok().stdout);
}

#[test]
fn mini_graph_dot() {
    let run = Fixture::mini().run(&["graph", "--format", "dot"]);
    check_golden("mini.dot", &run.ok().stdout);
}

#[test]
fn mini_graph_mermaid() {
    let run = Fixture::mini().run(&["graph", "--format", "mermaid"]);
    check_golden("mini.mmd", &run.ok().stdout);
}

#[test]
fn mini_graph_address_target() {
    let run = Fixture::mini().run(&["graph", "--target", "app/east/core/Service/**"]);
    check_golden("mini-target-service.txt", &run.ok().stdout);
}

#[test]
fn workshop_plan_lab2_explain_from_empty() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let state = tempfile::tempdir().unwrap();
    let run = crate::workshop::workshop(state.path(), &["plan", "--target", "lab2", "--explain"]);
    let out = run.ok().stdout.clone();
    check_golden("workshop-plan-lab2-explain.txt", &out);
    // Each step's What and Why once, under its heading, never under its resources.
    let steps = out.lines().filter(|l| l.starts_with("--- step ")).count();
    let whats: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("    What: "))
        .collect();
    let distinct: std::collections::BTreeSet<&str> = whats.iter().copied().collect();
    assert!(steps > 2 && whats.len() == steps, "{out}");
    assert_eq!(distinct.len(), whats.len(), "a What is repeated:\n{out}");
    for stage in ["lab1", "lab2"] {
        assert!(out.contains(&format!("=== stage {stage}\n")), "{out}");
        assert!(out.contains(&format!("\nStage {stage}: ")), "{out}");
    }
    assert!(out.contains("\nCluster east: "), "{out}");
}
