//! The engine's edge to the clusters: planning, applying and destroying a selection with
//! the providers, the scheduler and the store.
//!
//! This is the one place that mutates clusters (through the providers). It reports what
//! happens through a callback and never prints: the CLI hands events to the renderer.

pub mod apply;
pub mod change;
pub mod destroy;
pub mod drift;
pub mod error;
pub mod exec;
pub mod outputs;
pub mod planner;
pub mod record;
pub mod refresh;
pub mod revision;
pub mod rollback;
pub mod router;
pub mod secret_drift;
pub mod values;
pub mod walk;

pub use error::EngineError;
pub use router::{Family, Router, Wiring, family};

use crate::graph::Selection;
use crate::plan::{Node, Plan};
use mtm_provider::{Cancel, Manifest, Resource, Spec};
use petgraph::graph::NodeIndex;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use values::GenValues;

/// What a run works with.
pub struct Engine<'a> {
    pub plan: &'a Plan,
    pub sel: &'a Selection,
    pub router: Router,
    pub state_dir: PathBuf,
    pub parallelism: usize,
    /// Generated values known so far (from earlier runs, or made during this one),
    /// shared with the generated-value provider.
    pub gens: Arc<Mutex<GenValues>>,
}

impl<'a> Engine<'a> {
    /// An engine on the real clusters of `plan`, wired as `wiring` says (its contexts are
    /// the plan's).
    pub fn new(plan: &'a Plan, sel: &'a Selection, state_dir: PathBuf, wiring: Wiring) -> Self {
        let wiring = Wiring {
            contexts: plan
                .clusters
                .values()
                .map(|c| (c.name.clone(), c.context.clone()))
                .collect(),
            hand_edit_managers: plan.hand_edit_managers.clone(),
            ..wiring
        };
        let gens = Arc::new(Mutex::new(GenValues::new()));
        let router = Router::clusters(&wiring, &state_dir, gens.clone());
        Engine::with_router(plan, sel, state_dir, router, gens)
    }

    /// An engine on the providers of `router` (tests: fakes), sharing `gens` with them.
    pub fn with_router(
        plan: &'a Plan,
        sel: &'a Selection,
        state_dir: PathBuf,
        router: Router,
        gens: Arc<Mutex<GenValues>>,
    ) -> Self {
        Engine {
            plan,
            sel,
            router,
            state_dir,
            parallelism: 10,
            gens,
        }
    }

    /// `value` with every `${gen.NAME.FIELD}` replaced by the generated values known now.
    pub fn substitute(&self, value: &serde_json::Value) -> Result<serde_json::Value, EngineError> {
        let gens = self.gens.lock().expect("gens lock");
        Ok(crate::generate::substitute_value(value, &gens)?)
    }

    /// `resource` with its manifest's templates filled in (an object), ready for its
    /// provider; other resources as they are.
    pub fn filled<'r>(&self, resource: &'r Resource) -> Result<Cow<'r, Resource>, EngineError> {
        let (Some(id), Some(manifest)) = (resource.object_id(), resource.manifest()) else {
            return Ok(Cow::Borrowed(resource));
        };
        // Without a `${` there is nothing to fill in: the manifest goes as it is.
        if !manifest.text().contains("${") {
            return Ok(Cow::Borrowed(resource));
        }
        let mut out = resource.clone();
        out.spec = Spec::Object {
            id: id.clone(),
            manifest: Manifest::of(&self.substitute(&manifest.value())?),
        };
        Ok(Cow::Owned(out))
    }

    /// The provider of `resource`, or the error for one no provider handles.
    pub fn provider(
        &self,
        resource: &Resource,
    ) -> Result<&dyn mtm_provider::Provider, EngineError> {
        self.router
            .provider(resource)
            .ok_or(EngineError::NoProvider(resource.type_name()))
    }

    /// The selected nodes in a stable topological order.
    pub fn nodes(&self) -> Vec<(NodeIndex, &Node)> {
        self.sel
            .selected_nodes()
            .map(|i| (i, &self.sel.graph.graph[i]))
            .collect()
    }

    /// A resource's error for the renderer; a cluster fault counts as the cluster being
    /// down only when the run found that cluster unreachable.
    pub fn node_error(&self, address: &str, e: &EngineError) -> NodeError {
        let down = e.is_cluster_fault()
            && planner::cluster_of(address).is_some_and(|c| self.router.unreachable(c).is_some());
        NodeError {
            cluster_down: down,
            ..NodeError::new(address, e.message())
        }
    }
}

/// A cancel signal that never fires, for work that is not cancelled (a plan).
pub fn never_cancelled() -> Cancel {
    // The providers read a closed channel (its sender dropped) as never cancelled.
    tokio::sync::watch::channel(false).1
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

/// Runs `work` on every item, at most `parallelism` at a time, and gives the results in
/// the items' order. A slow item (a helm release) holds one slot only: the others keep
/// starting as slots free up (`buffered` would stop starting new ones while it waits).
pub(crate) async fn each_at_most<I, T, F, Fut>(items: I, parallelism: usize, work: F) -> Vec<T>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use futures::StreamExt;
    let mut done: Vec<(usize, T)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let running = work(item);
            async move { (i, running.await) }
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}
