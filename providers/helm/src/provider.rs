//! `mtm_provider::Provider` for helm releases. Other kinds of resource are refused.
//!
//! Observe is `decide_release` (the values diff as fields under `values.`); apply reports
//! the record state keeps and, the first time, the release from before mtm; delete
//! uninstalls; restore takes back either that prior or a revision state recorded
//! (`helm rollback`); drift compares the release with its record.

use crate::{AppliedRelease, HelmError, HelmProvider, PriorRelease, ReleaseAction, ReleaseRecord};
use mtm_provider::{
    Answer, Applied, Cancel, DriftField, FieldDiff, Observed, Provider, ProviderError, ReleaseSpec,
    Resource, Spec, Verdict,
};
use serde_json::Value;

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

fn unreadable(resource: &Resource, what: &str, err: serde_json::Error) -> ProviderError {
    ProviderError::Resource {
        address: resource.address.to_string(),
        message: format!("state holds an unreadable {what}: {err}"),
    }
}

/// The release a resource declares, or the error for one that is not a release.
fn release_of(resource: &Resource) -> Result<(&str, &ReleaseSpec), ProviderError> {
    match &resource.spec {
        Spec::Release { cluster, release } => Ok((cluster, release)),
        _ => Err(ProviderError::Resource {
            address: resource.address.to_string(),
            message: format!(
                "the helm provider handles releases only, not a {}",
                resource.type_name()
            ),
        }),
    }
}

fn summary(applied: &AppliedRelease) -> String {
    match applied.action {
        ReleaseAction::Install => format!("installed (revision {})", applied.revision),
        ReleaseAction::Upgrade => format!("upgraded (revision {})", applied.revision),
        ReleaseAction::NoOp => format!("unchanged (revision {})", applied.revision),
    }
}

/// A snapshot to restore: a prior release as kept at the first apply, or a revision's
/// record (a rollback).
fn snapshot_of(resource: &Resource, snapshot: &Value) -> Result<PriorRelease, ProviderError> {
    if let Ok(prior) = serde_json::from_value::<PriorRelease>(snapshot.clone()) {
        return Ok(prior);
    }
    serde_json::from_value::<ReleaseRecord>(snapshot.clone())
        .map(|r| PriorRelease::from(&r))
        .map_err(|e| unreadable(resource, "release record", e))
}

impl HelmProvider {
    async fn observe_release(&self, resource: &Resource) -> Result<Observed, ProviderError> {
        let (cluster, release) = release_of(resource)?;
        let plan = self
            .decide_release(cluster, release)
            .await
            .map_err(|e| to_provider_error(resource, e))?;
        let verdict = match plan.action {
            ReleaseAction::Install => Verdict::Create,
            ReleaseAction::Upgrade => Verdict::Update,
            ReleaseAction::NoOp => Verdict::NoOp,
        };
        let mut observed = Observed::just(verdict);
        observed.diff = plan
            .values_diff
            .into_iter()
            .map(|v| FieldDiff {
                path: format!("values.{}", v.path),
                before: v.before,
                after: v.after,
                owners: Vec::new(),
            })
            .collect();
        Ok(observed)
    }

    async fn apply_one(
        &self,
        resource: &Resource,
        cancel: Cancel,
    ) -> Result<Applied, ProviderError> {
        let (cluster, release) = release_of(resource)?;
        let done = self
            .apply_release(cluster, release, cancel)
            .await
            .map_err(|e| to_provider_error(resource, e))?;
        Ok(Applied {
            uid: None,
            summary: summary(&done),
            record: Some(serde_json::to_value(&done.record).expect("a record serializes")),
            prior: done
                .prior
                .as_ref()
                .map(|p| serde_json::to_value(p).expect("a prior serializes")),
        })
    }

    async fn drift_one(
        &self,
        resource: &Resource,
        recorded: &Value,
    ) -> Result<Vec<DriftField>, ProviderError> {
        let (cluster, release) = release_of(resource)?;
        let record: ReleaseRecord = serde_json::from_value(recorded.clone())
            .map_err(|e| unreadable(resource, "release record", e))?;
        let d = self
            .drift_release(cluster, release, &record)
            .await
            .map_err(|e| to_provider_error(resource, e))?;
        let field = |path: &str, expected: Option<Value>, live: Option<Value>| DriftField {
            path: path.to_string(),
            expected,
            live,
        };
        let mut out = Vec::new();
        match &d.live {
            None => out.push(field(
                "",
                Some(Value::String(format!("revision {}", record.revision))),
                None,
            )),
            Some(live) if d.revision_changed => out.push(field(
                "revision",
                Some(record.revision.into()),
                Some(live.revision.into()),
            )),
            Some(_) => {}
        }
        out.extend(
            d.values
                .into_iter()
                .map(|v| field(&format!("values.{}", v.path), v.before, v.after)),
        );
        if !d.objects_diff.is_empty() {
            out.push(field("objects", None, Some(Value::String(d.objects_diff))));
        }
        Ok(out)
    }
}

impl Provider for HelmProvider {
    fn name(&self) -> &str {
        "helm"
    }

    fn observe<'a>(&'a self, resource: &'a Resource) -> Answer<'a, Observed> {
        Box::pin(self.observe_release(resource))
    }

    fn apply<'a>(&'a self, resource: &'a Resource, cancel: Cancel) -> Answer<'a, Applied> {
        Box::pin(self.apply_one(resource, cancel))
    }

    fn delete<'a>(&'a self, resource: &'a Resource, cancel: Cancel) -> Answer<'a, ()> {
        Box::pin(async move {
            let (cluster, release) = release_of(resource)?;
            self.uninstall_release(cluster, &release.name, &release.namespace, cancel)
                .await
                .map(|_| ())
                .map_err(|e| to_provider_error(resource, e))
        })
    }

    fn restore<'a>(
        &'a self,
        resource: &'a Resource,
        snapshot: &'a Value,
        cancel: Cancel,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            let (cluster, release) = release_of(resource)?;
            let prior = snapshot_of(resource, snapshot)?;
            self.restore_release(cluster, release, &prior, cancel)
                .await
                .map(|_| ())
                .map_err(|e| to_provider_error(resource, e))
        })
    }

    fn drift<'a>(
        &'a self,
        resource: &'a Resource,
        recorded: &'a Value,
    ) -> Answer<'a, Vec<DriftField>> {
        Box::pin(self.drift_one(resource, recorded))
    }
}
