//! Engine benchmark (not a test): load, fold, graph build, topological sort and target
//! closure (on the graph built, as `graph::select` does) of a synthetic plan of 100,000
//! resources. Prints time per phase, what the YAML parser alone takes to read the
//! manifests (the load's floor on one core), and the process's peak memory. Run with `cargo bench --bench engine` (RESOURCES=N to resize).

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests and benches print and read their environment

use mtm::graph::{self, Graph};
use mtm::plan::{LoadOptions, fold, load};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

const STAGES: usize = 10;
const NAMESPACES_PER_STAGE: usize = 10;

/// Writes a plan of `total` resources: per namespace one Namespace, then ConfigMaps and
/// Deployments that mount the ConfigMap before them.
fn write_plan(dir: &Path, total: usize) {
    let per_ns = total / (STAGES * NAMESPACES_PER_STAGE);
    let stages: Vec<String> = (0..STAGES).map(|s| format!("s{s}")).collect();
    std::fs::create_dir_all(dir.join("stages")).unwrap();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(
        dir.join("plan.yaml"),
        format!(
            "plan: synthetic\nclusters:\n  east: {{ context: east-ag }}\n  west: {{ context: west-ag }}\nstages: [{}]\n",
            stages.join(", ")
        ),
    )
    .unwrap();
    for (s, stage) in stages.iter().enumerate() {
        let mut steps = String::new();
        for n in 0..NAMESPACES_PER_STAGE {
            let ns = format!("ns-{s}-{n}");
            let cluster = if n % 2 == 0 { "east" } else { "west" };
            let mut text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n");
            for i in 1..per_ns {
                if i % 2 == 1 {
                    let _ = write!(
                        text,
                        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: {ns}\ndata:\n  k: v{i}\n"
                    );
                } else {
                    let _ = write!(
                        text,
                        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d-{i}\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels: {{ app: d-{i} }}\n  template:\n    metadata:\n      labels: {{ app: d-{i} }}\n    spec:\n      containers: [{{ name: c, image: nginx }}]\n      volumes: [{{ name: v, configMap: {{ name: cm-{} }} }}]\n",
                        i - 1
                    );
                }
            }
            let file = format!("manifests/{ns}.yaml");
            std::fs::write(dir.join(&file), text).unwrap();
            let _ = write!(
                steps,
                "  - name: {ns}\n    title: {ns}\n    cluster: {cluster}\n    manifests: [{file}]\n"
            );
        }
        let needs = if s == 0 {
            String::new()
        } else {
            format!("needs: [s{}]\n", s - 1)
        };
        std::fs::write(
            dir.join(format!("stages/{stage}.yaml")),
            format!("title: {stage}\n{needs}steps:\n{steps}"),
        )
        .unwrap();
    }
}

/// How long the YAML parser takes to turn every manifest of the plan into events on one
/// thread, building nothing: what the load cannot go below on one core (the load builds its
/// trees from these events, see `plan::events`).
fn parse_floor(dir: &Path) -> std::time::Duration {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir.join("manifests")).unwrap() {
        texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let t = Instant::now();
    let mut events = 0usize;
    for text in &texts {
        let mut options = granit_parser::Options::default();
        options.emit_comments = false;
        let mut parser = granit_parser::Parser::new_from_str_with_options(text, options);
        while let Some(event) = parser.next_event() {
            event.unwrap();
            events += 1;
        }
    }
    assert!(events > texts.len());
    t.elapsed()
}

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let total: usize = std::env::var("RESOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    write_plan(dir.path(), total);
    let before = peak_mib();

    let parse_only = parse_floor(dir.path());

    let t = Instant::now();
    let plan =
        load(dir.path(), &LoadOptions::from_process(Vec::new())).unwrap_or_else(|d| panic!("{d}"));
    let load_time = t.elapsed();
    let after_load = peak_mib();

    let all: Vec<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    let t = Instant::now();
    let nodes = fold(&plan, &all);
    let count = nodes.len();
    let fold_time = t.elapsed();
    let after_fold = peak_mib();

    let t = Instant::now();
    let g = Graph::build(&plan, nodes).unwrap_or_else(|d| panic!("{d}"));
    let build_time = t.elapsed();
    let after_build = peak_mib();
    let edges = g.graph.edge_count();

    let t = Instant::now();
    let order = g.order();
    let sort_time = t.elapsed();
    assert_eq!(order.len(), count);

    let t = Instant::now();
    let sel = graph::select_in(&plan, g, &["s4".to_string()]).unwrap_or_else(|d| panic!("{d}"));
    let target_time = t.elapsed();
    let chosen = sel.selected.iter().filter(|s| **s).count();

    println!(
        "engine benchmark: {count} resources, {edges} edges (generated plan, {} stages)",
        STAGES
    );
    println!(
        "  load (YAML, variables, addresses)   {:>9.1} ms",
        load_time.as_secs_f64() * 1e3
    );
    println!(
        "  YAML parser's events, 1 thread      {:>9.1} ms (every manifest read, nothing built: the parser's share)",
        parse_only.as_secs_f64() * 1e3
    );
    println!(
        "  fold                                {:>9.1} ms",
        fold_time.as_secs_f64() * 1e3
    );
    println!(
        "  graph build (inferred edges, cycle) {:>9.1} ms",
        build_time.as_secs_f64() * 1e3
    );
    println!(
        "  topological sort                    {:>9.1} ms",
        sort_time.as_secs_f64() * 1e3
    );
    println!(
        "  --target s4 (closure on the graph)  {:>9.1} ms ({chosen} selected, {} left out)",
        target_time.as_secs_f64() * 1e3,
        sel.left_out.len()
    );
    println!(
        "  graph build + sort + target closure {:>9.1} ms",
        (build_time + sort_time + target_time).as_secs_f64() * 1e3
    );
    println!(
        "  peak memory (VmHWM)                 {:>9.1} MiB (before loading {before:.1}, after load {after_load:.1}, fold {after_fold:.1}, build {after_build:.1})",
        peak_mib()
    );
}
