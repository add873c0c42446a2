//! State benchmark (not a test): opening a large state. A child process writes 100,000
//! records into a temporary store, each flushed as the engine writes them; this process
//! then times opening it for reading as `mtm state list` does (`open_read`), listing,
//! reading every record, and then opening it as a writer (`SledStore::open`, which
//! publishes the records the child wrote after its last publication), and prints its
//! peak memory (VmHWM), which the writing did not inflate. Figures only, no assertions.
//! Run with `cargo bench --bench state_open` (RECORDS=N to resize).

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests and benches print and read their environment

use mtm::store::{Identity, Record, SledStore, Store, open_read};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Set in the child: the directory to write into.
const WRITE_INTO: &str = "MTM_BENCH_STATE_WRITE_INTO";

fn main() {
    let count: u64 = std::env::var("RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    if let Some(dir) = std::env::var_os(WRITE_INTO) {
        write(Path::new(&dir), count);
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let status = Command::new(std::env::current_exe().unwrap())
        .env(WRITE_INTO, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "the writing child failed: {status}");
    let written = started.elapsed();
    let size = dir_size(dir.path());

    let baseline = peak_kib();
    let started = Instant::now();
    let store = open_read(dir.path(), "mtm state list").unwrap();
    let opened = started.elapsed();
    let listed = store.record_summaries().unwrap().len();
    let summaries = started.elapsed();
    let records = store.records().unwrap();
    let read = started.elapsed() - summaries + opened;
    drop(store);
    let started = Instant::now();
    drop(SledStore::open(dir.path()).unwrap());
    let writer = started.elapsed();
    let peak = peak_kib();

    println!(
        "state_open: {count} records written, {} read back, {:.1} MiB on disk",
        records.len(),
        mib(size)
    );
    println!(
        "  write (child, put_record each flushed): {:.2} s, {:.0} µs/record",
        written.as_secs_f64(),
        written.as_secs_f64() * 1e6 / count as f64
    );
    println!(
        "  open (to read):    {:>8.1} ms",
        opened.as_secs_f64() * 1e3
    );
    println!(
        "  open + list ({listed} summaries, as `mtm state list`): {:>8.1} ms",
        summaries.as_secs_f64() * 1e3
    );
    println!("  open + read all:   {:>8.1} ms", read.as_secs_f64() * 1e3);
    println!(
        "  open to write, publishing what the child wrote: {:>8.1} ms",
        writer.as_secs_f64() * 1e3
    );
    println!(
        "  peak memory (VmHWM): {:.1} MiB ({:.1} MiB before open)",
        peak as f64 / 1024.0,
        baseline as f64 / 1024.0
    );
}

fn write(dir: &Path, count: u64) {
    let store = SledStore::open(dir).unwrap();
    for i in 0..count {
        store.put_record(&record(i, 1)).unwrap();
    }
}

/// A Deployment-sized record, about 1 KiB of JSON.
fn record(i: u64, revision: u64) -> Record {
    let (cluster, namespace, name) = (
        if i.is_multiple_of(2) { "east" } else { "west" },
        format!("ns-{}", i / 1000),
        format!("app-{i}"),
    );
    let manifest = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace,
            "labels": {"app": name, "app.kubernetes.io/managed-by": "mtm"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "ghcr.io/example/mcp-server:1.2.3",
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": [{"name": "MCP_TOOLS", "value": "sha256:0123456789abcdef"}],
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]
                }],
                "volumes": [{"name": "config", "configMap": {"name": format!("{name}-config")}}]}
            }
        }
    });
    Record {
        address: format!("s{}/{cluster}/apps/Deployment/{namespace}/{name}", i % 10),
        cluster: Some(cluster.to_string()),
        identity: Some(Identity {
            group: "apps".to_string(),
            version: "v1".to_string(),
            kind: "Deployment".to_string(),
            namespace: Some(namespace),
            name,
            uid: Some(format!("00000000-0000-0000-0000-{i:012}")),
        }),
        kind: "object".to_string(),
        hash: format!("{i:064x}"),
        manifest,
        revision,
        applied_at: "2026-11-29T08:40:12Z".to_string(),
        prior: None,
    }
}

/// Peak resident memory of this process, in KiB (0 where /proc is missing).
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
