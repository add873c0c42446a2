//! `plan_release`: what applying a release would change, read from the cluster and from a
//! server-side dry run, changing nothing; `decide_release`, the engine's plan of it, makes
//! the dry run only where it decides between an upgrade and nothing.
//!
//! The values diff compares the live user values with the desired ones (so a
//! `helm upgrade --set` made outside mtm shows as the value mtm would change back); the
//! manifest diff compares `helm get manifest` with the dry run's manifest. Drift of the
//! release's objects changed outside helm is not looked at here (see the crate docs).

use crate::HelmProvider;
use crate::chart;
use crate::desired::{desired, redactor, sensitive_paths};
use crate::error::HelmError;
use crate::manifest;
use crate::query::Status;
use crate::redact::Redactor;
use crate::release::{ReleaseAction, ReleasePlan};
use crate::run::{Call, Target};
use crate::values::{self, canonical};
use mtm_provider::ReleaseSpec;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct DryRun {
    #[serde(default)]
    manifest: String,
}

impl HelmProvider {
    /// The manifest the given values render to, from `helm upgrade --install --dry-run=server`.
    pub(crate) async fn dry_run(
        &self,
        t: &Target,
        spec: &ReleaseSpec,
        values: &Value,
        redactor: &Redactor,
    ) -> Result<String, HelmError> {
        let mut args = self.upgrade_args(t, spec);
        args.extend(
            ["--dry-run=server", "--output", "json"]
                .iter()
                .map(|s| s.to_string()),
        );
        let text = self
            .helm
            .run(
                Call {
                    target: t,
                    command: "upgrade --install --dry-run=server",
                    args,
                    stdin: Some(canonical(values).into_bytes()),
                    redactor,
                },
                None,
            )
            .await?;
        let dry: DryRun = serde_json::from_str(&text).map_err(|e| HelmError::Output {
            release: t.release(),
            cluster: t.cluster.clone(),
            command: "upgrade --install --dry-run=server".into(),
            message: e.to_string(),
        })?;
        Ok(dry.manifest)
    }

    /// Plans one release on the logical `cluster`: install, upgrade or nothing, with the
    /// values and manifest diffs. Runs helm read-only.
    pub async fn plan_release(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
    ) -> Result<ReleasePlan, HelmError> {
        self.plan(cluster, spec, true).await
    }

    /// As [`HelmProvider::plan_release`], with the manifest diff only where it decides
    /// the action: an install, or a change of values, is one whatever the chart renders,
    /// so no dry run is made for it (the server validates the render at apply).
    pub async fn decide_release(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
    ) -> Result<ReleasePlan, HelmError> {
        self.plan(cluster, spec, false).await
    }

    async fn plan(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
        full: bool,
    ) -> Result<ReleasePlan, HelmError> {
        let t = self.target(cluster, spec)?;
        let status = self.status(&t, None).await?;
        let live_values = status.as_ref().map(Status::values);
        let want = desired(&t, spec, live_values.as_ref())?;
        let empty = Value::Object(Default::default());
        let live_values = live_values.unwrap_or(empty);
        let redactor = redactor(spec, &[&live_values]);
        let values_diff = values::diff(&live_values, &want, &sensitive_paths(spec));
        let live = status.as_ref().map(Status::live);
        let settled = status
            .as_ref()
            .is_some_and(|s| s.at_rest(spec) && values_diff.is_empty());
        // Made by mtm from this very chart, at these values: it renders what it holds.
        let made_here = settled
            && status.as_ref().is_some_and(|s| {
                chart::made_from(&s.info.description, chart::fingerprint(spec).as_deref())
            });
        if !full && !settled {
            // No helm process to plan it, but its apply needs one.
            self.helm.require(&t)?;
        }
        let manifest_diff = if made_here || (!full && !settled) {
            String::new()
        } else {
            let rendered = self.dry_run(&t, spec, &want, &redactor).await?;
            let held = status.as_ref().map_or("", |s| s.manifest.as_str());
            manifest::diff(held, &rendered, &redactor)
        };
        let action = match &status {
            None => ReleaseAction::Install,
            Some(_) if settled && manifest_diff.is_empty() => ReleaseAction::NoOp,
            Some(_) => ReleaseAction::Upgrade,
        };
        Ok(ReleasePlan {
            action,
            values_diff,
            manifest_diff,
            live,
        })
    }
}
