//! The engine's edge to the clusters: planning, applying and destroying a selection with
//! the providers, the scheduler and the store.
//!
//! This is the one place that mutates clusters (through the providers). It reports what
//! happens through a callback and never prints: the CLI hands events to the renderer.

pub mod apply;
pub mod change;
pub mod destroy;
pub mod drift;
pub mod exec;
pub mod outputs;
pub mod planner;
pub mod record;
pub mod refresh;
pub mod rollback;
pub mod secret_drift;
pub mod values;
pub mod walk;

use crate::graph::Selection;
use crate::plan::{Node, Plan};
use mtm_kube::KubeProvider;
use petgraph::graph::NodeIndex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use values::GenValues;

/// What a run works with.
pub struct Engine<'a> {
    pub plan: &'a Plan,
    pub sel: &'a Selection,
    pub kube: KubeProvider,
    pub helm: mtm_helm::HelmProvider,
    pub state_dir: PathBuf,
    pub parallelism: usize,
    pub force_conflicts: bool,
    /// Generated values known so far (from earlier runs, or made during this one).
    pub gens: std::sync::Mutex<GenValues>,
}

impl<'a> Engine<'a> {
    pub fn new(plan: &'a Plan, sel: &'a Selection, state_dir: PathBuf) -> Engine<'a> {
        let contexts: BTreeMap<String, String> = plan
            .clusters
            .values()
            .map(|c| (c.name.clone(), c.context.clone()))
            .collect();
        Engine {
            plan,
            sel,
            kube: KubeProvider::new(contexts.clone()).with_ownership(
                mtm_kube::Ownership::with_extra(plan.hand_edit_managers.iter().cloned()),
            ),
            helm: mtm_helm::HelmProvider::new(contexts),
            state_dir,
            parallelism: 10,
            force_conflicts: false,
            gens: std::sync::Mutex::new(GenValues::new()),
        }
    }

    /// Reads the clusters' contexts from this kubeconfig (kube-rs, helm and kubectl alike)
    /// instead of `KUBECONFIG`.
    pub fn with_kubeconfig(mut self, path: &std::path::Path) -> Self {
        self.kube = self.kube.with_kubeconfig(path);
        self.helm = self.helm.with_kubeconfig(path);
        self
    }

    /// `value` with every `${gen.NAME.FIELD}` replaced by the generated values known now.
    pub fn substitute(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        let gens = self.gens.lock().expect("gens lock");
        crate::generate::substitute_value(value, &gens).map_err(|e| e.to_string())
    }

    /// The selected nodes in a stable topological order.
    pub fn nodes(&self) -> Vec<(NodeIndex, &Node)> {
        self.sel
            .selected_nodes()
            .map(|i| (i, &self.sel.graph.graph[i]))
            .collect()
    }
}

/// A problem with one resource, for the renderer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeError {
    pub address: String,
    pub message: String,
    /// The resource's cluster could not be reached (not a problem of the resource).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster_down: bool,
}

impl NodeError {
    pub fn new(address: impl Into<String>, message: impl Into<String>) -> NodeError {
        NodeError {
            address: address.into(),
            message: message.into(),
            cluster_down: false,
        }
    }
}
