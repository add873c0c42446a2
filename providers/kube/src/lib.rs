//! The Kubernetes provider of mtm: per-object plans from server-side dry-run applies,
//! server-side apply under field manager `mtm`, field patches under their own managers,
//! deletes that wait until the object is gone, readiness waits, and requirement checks,
//! on any number of logical clusters bound to kube contexts.
//!
//! The engine calls it one resource at a time: [`KubeProvider::plan_object`],
//! [`KubeProvider::plan_patch`], [`KubeProvider::plan_delete`] to plan;
//! [`KubeProvider::apply_object`], [`KubeProvider::apply_patch`],
//! [`KubeProvider::release_patch`], [`KubeProvider::delete_object`],
//! [`KubeProvider::wait`], [`KubeProvider::wait_ready`] and
//! [`KubeProvider::check_requirement`] to act; or the `mtm_provider::Provider` trait,
//! which combines them per `Spec`. It knows nothing of the plan's graph, the order of
//! resources, state, or output: it returns values (plans, errors) and the engine renders
//! them. Every cluster call goes through one retry policy (`retry`); each cluster's
//! client and discovery are made on first use and kept for the provider's life (one run).
//!
//! Every apply follows one ownership policy ([`Ownership`]): fields held by hand-edit
//! managers (kubectl's) are taken over and their claims cleared; a field a controller
//! holds is a conflict unless forced.

mod apply;
mod cluster;
pub mod condition;
mod delete;
pub mod diff;
pub mod error;
mod exec;
mod helm_storage;
mod listing;
mod manifest;
mod nodes;
pub mod ownership;
mod patch;
pub mod plan;
mod provider;
pub mod require;
pub mod retry;
pub mod secret;
mod takeover;
pub mod wait;

pub use apply::MANAGER;
pub use cluster::Kind;
pub use diff::FieldDiff;
pub use error::{Conflict, KubeError};
pub use exec::Executed;
pub use ownership::{FieldRule, Ownership};
pub use plan::ObjectPlan;
pub use require::RequireError;
pub use retry::RetryPolicy;
pub use wait::WaitError;

use cluster::Cluster;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The Kubernetes provider: one lazily connected client per logical cluster.
pub struct KubeProvider {
    contexts: BTreeMap<String, String>,
    kubeconfig: Option<PathBuf>,
    retry: RetryPolicy,
    clusters: BTreeMap<String, Arc<Cluster>>,
    force_conflicts: bool,
    ownership: Ownership,
    ready_timeout: Duration,
    delete_timeout: Duration,
    request_timeout: Duration,
}

impl KubeProvider {
    /// A provider for `contexts`: logical cluster (`east`) to kube context (`east-ag`),
    /// read from the kubeconfig (`KUBECONFIG`, else `~/.kube/config`) on first use.
    pub fn new(contexts: BTreeMap<String, String>) -> Self {
        let mut p = KubeProvider {
            contexts,
            kubeconfig: None,
            retry: RetryPolicy::default(),
            clusters: BTreeMap::new(),
            force_conflicts: false,
            ownership: Ownership::default(),
            ready_timeout: wait::DEFAULT_TIMEOUT,
            delete_timeout: wait::DEFAULT_TIMEOUT,
            request_timeout: cluster::DEFAULT_REQUEST_TIMEOUT,
        };
        p.rebuild();
        p
    }

    /// Reads contexts from this kubeconfig file instead of `KUBECONFIG`.
    pub fn with_kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self.rebuild();
        self
    }

    /// How transient failures (429, 5xx, refused connections) are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self.rebuild();
        self
    }

    /// How long one request may wait for the server's answer (`--request-timeout`).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.set_request_timeout(timeout);
        self
    }

    /// [`KubeProvider::with_request_timeout`] in place.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
        self.rebuild();
    }

    /// Whether `cluster` can be used: its context loads and its server answers discovery
    /// (made once and kept). A cluster found down stays down for the run.
    pub async fn reach(&self, cluster: &str) -> Result<(), KubeError> {
        self.cluster(cluster)?.reach().await
    }

    /// The error of a cluster found down earlier in this run (context not loaded, server
    /// unreachable): everything on it fails at once with it.
    pub fn unreachable(&self, cluster: &str) -> Option<KubeError> {
        self.clusters.get(cluster).and_then(|c| c.fault())
    }

    /// Whether `Provider::apply` takes over fields other managers hold (`--force-conflicts`).
    pub fn with_force_conflicts(mut self, force: bool) -> Self {
        self.force_conflicts = force;
        self
    }

    /// Whose fields are taken over without `--force-conflicts` (hand edits, see
    /// [`Ownership`]); the default is the kubectl family and mtm's own patch managers.
    pub fn with_ownership(mut self, ownership: Ownership) -> Self {
        self.ownership = ownership;
        self
    }

    /// The ownership policy of this provider.
    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// How long `Provider::apply` waits for an object's readiness.
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// How long a delete waits for the object to be gone.
    pub fn with_delete_timeout(mut self, timeout: Duration) -> Self {
        self.delete_timeout = timeout;
        self
    }

    fn rebuild(&mut self) {
        self.clusters = self
            .contexts
            .iter()
            .map(|(name, context)| {
                let c = Cluster::new(
                    name.clone(),
                    context.clone(),
                    self.kubeconfig.clone(),
                    self.retry,
                    self.request_timeout,
                );
                (name.clone(), Arc::new(c))
            })
            .collect();
    }

    fn cluster(&self, name: &str) -> Result<&Cluster, KubeError> {
        self.clusters
            .get(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| KubeError::UnknownCluster {
                cluster: name.to_string(),
                known: self.contexts.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// Forgets the discovery of `cluster`: the next call asks the server again.
    pub async fn refresh_discovery(&self, cluster: &str) -> Result<(), KubeError> {
        self.cluster(cluster)?.invalidate_discovery().await;
        Ok(())
    }

    /// The kind `api_version`/`kind` resolves to on `cluster` (discovery refreshed once
    /// if unknown), `None` when the server does not serve it.
    pub async fn resolve_kind(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Kind>, KubeError> {
        let (g, v) = mtm_provider::ObjectId::split_api_version(api_version);
        self.cluster(cluster)?
            .resolve(&kube::core::GroupVersionKind::gvk(&g, &v, kind))
            .await
    }
}
