//! A fleet: one plan run for many instances (an attendee's pair of clusters each), from a
//! `fleet.yaml` that lists them with the variables, kubeconfig and state that differ.
//!
//! This module is the pure part: the fleet file's model and its located errors (`file.rs`),
//! which instances a run takes (`--instances`, `--shard K/N`: `select.rs`), and the summary
//! of their results with the worst-exit rule (`summary.rs`). It reads the fleet file and
//! nothing else: it never opens state, never talks to a cluster and never prints; running
//! the instances is `cli/fleet.rs`'s.

mod file;
mod select;
mod summary;

pub use file::{Fleet, Instance, load, parse};
pub use select::{Shard, ShardError, pick};
pub use summary::{InstanceResult, Summary, worst};

use crate::diag::Diagnostics;

/// Why a fleet cannot be run as asked.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("cannot read the fleet file {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Every problem of the file, each at its file:line:column.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("--instances: {file} has no instance {}\n  help: its instances: {}", unknown.join(", "), known.join(", "))]
    UnknownInstances {
        file: String,
        unknown: Vec<String>,
        known: Vec<String>,
    },
}
