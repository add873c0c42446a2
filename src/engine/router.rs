//! The engine's only door to the clusters: one provider per kind of resource, held as
//! trait objects, and the one place that picks a provider for a resource's spec.
//!
//! `Router::clusters` wires the real providers (kube for objects, absences, patches,
//! waits and requirements; helm for releases; the generated-value provider for keys and
//! tokens). Tests wire fakes with `Router::new`.

use super::values::{GenValues, ValueProvider};
use mtm_helm::HelmProvider;
use mtm_kube::KubeProvider;
use mtm_provider::{Pods, Provider, Resource, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the engine needs to know of a kind of resource: which provider takes it, how it
/// is recorded, planned and taken away. The one place that looks at a resource's spec to
/// decide; everything else in the engine asks this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// A Kubernetes object mtm applies: its intent written first, adopted if it exists,
    /// restored (what existed before) or deleted by destroy.
    Object,
    /// An object a later stage removes: deleted only when state knows it.
    Absent,
    /// Fields set on an object mtm does not own: let go by destroy.
    Patch,
    /// A helm release: its provider says what state keeps.
    Release,
    /// A generated value: recorded by fingerprint, kept through rollbacks.
    Value,
    /// A wait: waited for, never recorded.
    Wait,
    /// A requirement (what the standup made): checked, never made or recorded.
    Require,
    /// One of the workshop's proofs: `mtm verify` runs it, no provider does.
    Check,
}

/// The family of a spec.
pub fn family(spec: &Spec) -> Family {
    match spec {
        Spec::Object { .. } => Family::Object,
        Spec::Absent { .. } => Family::Absent,
        Spec::Patch { .. } => Family::Patch,
        Spec::Release { .. } => Family::Release,
        Spec::Generated(_) => Family::Value,
        Spec::Wait { .. } => Family::Wait,
        Spec::Require { .. } => Family::Require,
        Spec::Check { .. } => Family::Check,
    }
}

/// How the real providers are set up for one run.
#[derive(Clone, Debug, Default)]
pub struct Wiring {
    /// Logical cluster to kube context.
    pub contexts: BTreeMap<String, String>,
    /// Read contexts from this kubeconfig instead of `KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    /// The limit on one API request (unset: the kube provider's default).
    pub request_timeout: Option<Duration>,
    /// Take over fields other managers own.
    pub force_conflicts: bool,
    /// Field managers whose fields are hand edits, taken over without forcing.
    pub hand_edit_managers: Vec<String>,
}

/// The providers of one run, by kind of resource.
#[derive(Clone)]
pub struct Router {
    objects: Arc<dyn Provider>,
    releases: Arc<dyn Provider>,
    values: Arc<dyn Provider>,
    pods: Arc<dyn Pods>,
}

impl Router {
    /// Providers given by the caller (tests: fakes).
    pub fn new(
        objects: Arc<dyn Provider>,
        releases: Arc<dyn Provider>,
        values: Arc<dyn Provider>,
        pods: Arc<dyn Pods>,
    ) -> Router {
        Router {
            objects,
            releases,
            values,
            pods,
        }
    }

    /// The real providers: the clusters through kube-rs and helm, generated values in
    /// `state_dir`.
    pub fn clusters(wiring: &Wiring, state_dir: &Path, gens: Arc<Mutex<GenValues>>) -> Router {
        let mut kube = KubeProvider::new(wiring.contexts.clone())
            .with_force_conflicts(wiring.force_conflicts)
            .with_ownership(mtm_kube::Ownership::with_extra(
                wiring.hand_edit_managers.iter().cloned(),
            ));
        let mut helm = HelmProvider::new(wiring.contexts.clone());
        if let Some(path) = &wiring.kubeconfig {
            kube = kube.with_kubeconfig(path);
            helm = helm.with_kubeconfig(path);
        }
        if let Some(timeout) = wiring.request_timeout {
            kube = kube.with_request_timeout(timeout);
        }
        let kube = Arc::new(kube);
        let helm = helm.with_release_secrets(Arc::new(HelmStorage(kube.clone())));
        Router {
            objects: kube.clone(),
            releases: Arc::new(helm),
            values: Arc::new(ValueProvider::new(state_dir, gens)),
            pods: kube,
        }
    }

    /// The provider of `resource`; `None` for a check (`mtm verify` runs those).
    pub fn provider(&self, resource: &Resource) -> Option<&dyn Provider> {
        match family(&resource.spec) {
            Family::Object | Family::Absent | Family::Patch | Family::Wait | Family::Require => {
                Some(self.objects.as_ref())
            }
            Family::Release => Some(self.releases.as_ref()),
            Family::Value => Some(self.values.as_ref()),
            Family::Check => None,
        }
    }

    /// Lets the object provider read ahead what a pass of plans of `resources` needs.
    pub async fn prefetch(&self, resources: &[&Resource]) {
        if let Err(e) = self.objects.prefetch(resources).await {
            tracing::debug!(error = %e, "no read ahead: each resource is read on its own");
        }
    }

    /// Whether `cluster` can be used, asked of the cluster's provider once per run.
    pub async fn reach(&self, cluster: &str) -> Result<(), mtm_provider::ProviderError> {
        self.objects.reach(cluster).await
    }

    /// Why `cluster` could not be used, if it was found so.
    pub fn unreachable(&self, cluster: &str) -> Option<String> {
        self.objects.unreachable(cluster)
    }

    /// The pods of the clusters, for checks.
    pub fn pods(&self) -> &dyn Pods {
        self.pods.as_ref()
    }
}

/// helm's storage Secrets read with the clusters' own clients, for the helm provider.
struct HelmStorage(Arc<KubeProvider>);

impl std::fmt::Debug for HelmStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HelmStorage(kube provider)")
    }
}

impl mtm_helm::ReleaseSecrets for HelmStorage {
    fn revisions<'a>(
        &'a self,
        cluster: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<mtm_helm::StoredRevision>, String>> {
        Box::pin(async move {
            let found = self.0.helm_revisions(cluster, namespace, name).await;
            Ok(found
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(version, release)| mtm_helm::StoredRevision { version, release })
                .collect())
        })
    }
}
