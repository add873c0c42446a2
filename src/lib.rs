//! mtm ("Master the Mesh"): a plan/apply engine for multi-cluster Kubernetes workshops.
//!
//! The library is the engine; `main.rs` only calls [`cli::main`]. The pure core (`plan`,
//! `graph`) loads and computes; `sched` walks a graph; `store` persists; `render` is the one
//! place that formats output. Cluster I/O lives in provider crates behind
//! `mtm_provider::Provider`, and for state kept in a cluster in `store::kube`.

pub mod cli;
pub mod cmdline;
pub mod diag;
pub mod duration;
pub mod engine;
pub mod fleet;
pub mod generate;
pub mod graph;
pub mod plan;
pub mod render;
pub mod sched;
pub mod store;
pub mod verify;
