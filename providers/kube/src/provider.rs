//! `mtm_provider::Provider` for Kubernetes resources: objects, absences, field patches,
//! waits and requirements. Releases, generated values and checks belong to other
//! providers and are refused here.
//!
//! Apply of an object is apply then wait for its kind's readiness; destroy deletes it (or
//! releases a patch). Errors become `ProviderError`s that name the cluster when the
//! cluster failed and the resource's address otherwise.

use crate::KubeProvider;
use crate::error::KubeError;
use crate::require::RequireError;
use crate::wait::WaitError;
use futures::future::BoxFuture;
use mtm_provider::{Applied, Provider, ProviderError, Resource, Spec};

fn from_kube(resource: &Resource, err: KubeError) -> ProviderError {
    match (err.is_cluster_fault(), err.cluster()) {
        (true, Some(cluster)) => {
            // ProviderError::Cluster names the cluster itself.
            let text = err.to_string();
            let message = text
                .strip_prefix(&format!("cluster {cluster}: "))
                .unwrap_or(&text)
                .to_string();
            ProviderError::Cluster {
                cluster: cluster.to_string(),
                message,
            }
        }
        _ => ProviderError::Resource {
            address: resource.address.to_string(),
            message: err.to_string(),
        },
    }
}

fn from_wait(resource: &Resource, err: WaitError) -> ProviderError {
    match err {
        WaitError::Kube(e) => from_kube(resource, e),
        other => ProviderError::Resource {
            address: resource.address.to_string(),
            message: other.to_string(),
        },
    }
}

fn from_require(resource: &Resource, err: RequireError) -> ProviderError {
    match err {
        RequireError::Kube(e) => from_kube(resource, e),
        other => ProviderError::Resource {
            address: resource.address.to_string(),
            message: other.to_string(),
        },
    }
}

fn applied(summary: &str) -> Applied {
    Applied {
        uid: None,
        summary: summary.to_string(),
    }
}

impl KubeProvider {
    async fn apply_resource(&self, r: &Resource) -> Result<Applied, ProviderError> {
        match &r.spec {
            Spec::Object { id, manifest } => {
                let done = self
                    .apply_object(id, manifest, self.force_conflicts)
                    .await
                    .map_err(|e| from_kube(r, e))?;
                self.wait_ready(id).await.map_err(|e| from_wait(r, e))?;
                Ok(done)
            }
            Spec::Absent { id } => {
                self.delete_object(id).await.map_err(|e| from_kube(r, e))?;
                Ok(applied("deleted"))
            }
            Spec::Patch {
                target,
                fields,
                manager,
            } => self
                .apply_patch(target, fields, manager, self.force_conflicts)
                .await
                .map_err(|e| from_kube(r, e)),
            Spec::Wait { cluster, wait } => {
                self.wait(cluster, wait)
                    .await
                    .map_err(|e| from_wait(r, e))?;
                Ok(applied(&format!("{} {}", wait.kind, wait.condition)))
            }
            Spec::Require {
                cluster,
                requirement,
            } => {
                self.check_requirement(cluster, requirement)
                    .await
                    .map_err(|e| from_require(r, e))?;
                Ok(applied("present"))
            }
            Spec::Release { .. } | Spec::Generated(_) | Spec::Check { .. } => Err(not_ours(r)),
        }
    }

    async fn destroy_resource(&self, r: &Resource) -> Result<(), ProviderError> {
        match &r.spec {
            Spec::Object { id, .. } => self.delete_object(id).await.map_err(|e| from_kube(r, e)),
            Spec::Patch {
                target, manager, ..
            } => self
                .release_patch(target, manager)
                .await
                .map_err(|e| from_kube(r, e)),
            // Nothing of these exists to remove: an absence, a wait, a requirement.
            Spec::Absent { .. } | Spec::Wait { .. } | Spec::Require { .. } => Ok(()),
            Spec::Release { .. } | Spec::Generated(_) | Spec::Check { .. } => Err(not_ours(r)),
        }
    }
}

fn not_ours(r: &Resource) -> ProviderError {
    ProviderError::Resource {
        address: r.address.to_string(),
        message: format!("a {} is not a kube resource", r.type_name()),
    }
}

impl Provider for KubeProvider {
    fn name(&self) -> &str {
        "kube"
    }

    fn apply<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_resource(resource))
    }

    fn destroy<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.destroy_resource(resource))
    }
}
