//! `mtm_provider::Provider` for helm releases. Other kinds of resource are refused.
//!
//! The trait reports only a summary line, so apply keeps the full [`AppliedRelease`] for
//! the engine to take ([`HelmProvider::take_applied`]), and destroy restores the prior the
//! engine handed over ([`HelmProvider::remember_prior`]).

use crate::release::Action;
use crate::{AppliedRelease, HelmError, HelmProvider, Restored};
use futures::future::BoxFuture;
use mtm_provider::{Applied, Provider, ProviderError, Resource, Spec};

fn to_provider_error(resource: &Resource, err: HelmError) -> ProviderError {
    if err.is_cancelled() {
        tracing::warn!(address = %resource.address, "{err}");
        return ProviderError::Cancelled;
    }
    if err.is_environment_fault() {
        return ProviderError::Cluster {
            cluster: err.cluster().to_string(),
            message: err.to_string(),
        };
    }
    ProviderError::Resource {
        address: resource.address.to_string(),
        message: err.to_string(),
    }
}

fn not_a_release(resource: &Resource) -> ProviderError {
    ProviderError::Resource {
        address: resource.address.to_string(),
        message: format!(
            "the helm provider handles releases only, not a {}",
            resource.type_name()
        ),
    }
}

fn summary(applied: &AppliedRelease) -> String {
    match applied.action {
        Action::Install => format!("installed (revision {})", applied.revision),
        Action::Upgrade => format!("upgraded (revision {})", applied.revision),
        Action::NoOp => format!("unchanged (revision {})", applied.revision),
    }
}

impl Provider for HelmProvider {
    fn name(&self) -> &str {
        "helm"
    }

    fn apply<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(async move {
            let Spec::Release { cluster, release } = &resource.spec else {
                return Err(not_a_release(resource));
            };
            let applied = self
                .apply_release(cluster, release, self.cancel())
                .await
                .map_err(|e| to_provider_error(resource, e))?;
            let line = summary(&applied);
            self.keep_applied(resource.address.clone(), applied);
            Ok(Applied {
                uid: None,
                summary: line,
            })
        })
    }

    fn destroy<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let Spec::Release { cluster, release } = &resource.spec else {
                return Err(not_a_release(resource));
            };
            let prior = self.prior_for(&resource.address);
            let done = self
                .destroy_release(cluster, release, prior.as_ref(), self.cancel())
                .await
                .map_err(|e| to_provider_error(resource, e))?;
            if let Restored::CleanupValues { why, .. } = &done {
                tracing::warn!(address = %resource.address,
                    "restored with the plan's cleanupValues: {why}");
            }
            Ok(())
        })
    }
}
