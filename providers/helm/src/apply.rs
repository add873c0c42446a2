//! `apply_release`: install or upgrade one release with `helm upgrade --install`, all of
//! its values (the reused ones included) on stdin, and report the revision made, the
//! revision from before mtm, and the record for state.
//!
//! A release already at the desired values, chart version and rendered manifest is left
//! alone (no new revision). Every revision mtm makes carries the description
//! `mtm: apply`, which is how a later run tells mtm's revisions from the ones before it.

use crate::HelmProvider;
use crate::chart;
use crate::desired::{desired, redactor, sensitive_paths};
use crate::error::HelmError;
use crate::query::Status;
use crate::redact::Redactor;
use crate::release::{AppliedRelease, LiveRelease, RECORD_SCHEMA, ReleaseAction, ReleaseRecord};
use crate::run::{Call, Target};
use crate::values::{canonical, redacted};
use mtm_provider::ReleaseSpec;
use serde_json::Value;
use tokio::sync::watch;

/// The timeout helm gets when the plan names none.
pub const DEFAULT_TIMEOUT: &str = "5m";

impl HelmProvider {
    /// `upgrade --install NAME CHART --kube-context C --namespace NS [--version V]
    /// --reset-values --values - --create-namespace`: the values are all on stdin, so they
    /// replace the release's (reuse is done by mtm, see `desired`).
    pub(crate) fn upgrade_args(&self, t: &Target, spec: &ReleaseSpec) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "upgrade".into(),
            "--install".into(),
            t.name.clone(),
            spec.chart.clone(),
        ];
        args.extend(t.scope_args());
        if let Some(v) = &spec.version {
            args.extend(["--version".into(), v.clone()]);
        }
        args.extend(
            ["--reset-values", "--values", "-", "--create-namespace"]
                .iter()
                .map(|s| s.to_string()),
        );
        args
    }

    pub(crate) async fn upgrade(
        &self,
        t: &Target,
        spec: &ReleaseSpec,
        values: &Value,
        description: &str,
        redactor: &Redactor,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Status, HelmError> {
        // No `--wait`: the release is done when helm has applied it, as in the workshop's
        // own `helm upgrade`; a plan that needs its pods ready says so with a wait node.
        // The timeout still bounds the chart's hooks.
        let mut args = self.upgrade_args(t, spec);
        args.extend([
            "--timeout".into(),
            spec.timeout
                .clone()
                .unwrap_or_else(|| DEFAULT_TIMEOUT.into()),
            "--description".into(),
            description.into(),
            "--output".into(),
            "json".into(),
        ]);
        let text = self
            .helm
            .run(
                Call {
                    target: t,
                    command: "upgrade --install",
                    args,
                    stdin: Some(canonical(values).into_bytes()),
                    redactor,
                },
                Some(cancel),
            )
            .await?;
        let revision = Status::revision_in(t, "upgrade --install", &text)?;
        self.status(t, Some(revision))
            .await?
            .ok_or_else(|| HelmError::Output {
                release: t.release(),
                cluster: t.cluster.clone(),
                command: "status".into(),
                message: format!("revision {revision} is not there after upgrade --install"),
            })
    }

    /// Installs or upgrades the release on the logical `cluster`. `cancel` flipping to
    /// true sends helm SIGTERM and, after the grace period, SIGKILL.
    pub async fn apply_release(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<AppliedRelease, HelmError> {
        let t = self.target(cluster, spec)?;
        let status = self.status(&t, None).await?;
        let live_values = status.as_ref().map(Status::values);
        let want = desired(&t, spec, live_values.as_ref())?;
        let empty = Value::Object(Default::default());
        let redactor = redactor(spec, &[live_values.as_ref().unwrap_or(&empty)]);
        let prior = match &status {
            Some(s) => self.prior(&t, Some(s)).await?,
            None => None,
        };
        let fingerprint = chart::fingerprint(spec);
        if let Some(s) = &status
            && self
                .unchanged(&t, spec, s, &want, fingerprint.as_deref(), &redactor)
                .await?
        {
            let (live, values) = (s.live(), s.values());
            tracing::info!(release = %t.release(), cluster = %t.cluster, revision = live.revision,
                "release unchanged");
            return Ok(AppliedRelease {
                revision: live.revision,
                action: ReleaseAction::NoOp,
                prior,
                record: record(spec, &live, &values),
            });
        }
        let action = match status {
            Some(_) => ReleaseAction::Upgrade,
            None => ReleaseAction::Install,
        };
        let description = chart::description(fingerprint.as_deref());
        let after = self
            .upgrade(&t, spec, &want, &description, &redactor, &mut cancel)
            .await?;
        let (after, values) = (after.live(), after.values());
        tracing::info!(release = %t.release(), cluster = %t.cluster, revision = after.revision,
            ?action, "release applied");
        Ok(AppliedRelease {
            revision: after.revision,
            action,
            prior,
            record: record(spec, &after, &values),
        })
    }

    /// Deployed, at the desired values and version, and rendering the live manifest: known
    /// without a dry run when mtm made the revision from this very chart.
    async fn unchanged(
        &self,
        t: &Target,
        spec: &ReleaseSpec,
        live: &Status,
        want: &Value,
        fingerprint: Option<&str>,
        redactor: &Redactor,
    ) -> Result<bool, HelmError> {
        if !live.at_rest(spec) || canonical(&live.values()) != canonical(want) {
            return Ok(false);
        }
        if chart::made_from(&live.info.description, fingerprint) {
            return Ok(true);
        }
        let rendered = self.dry_run(t, spec, want, redactor).await?;
        Ok(crate::manifest::diff(&live.manifest, &rendered, redactor).is_empty())
    }
}

/// What state keeps of the release as it is now.
pub(crate) fn record(spec: &ReleaseSpec, live: &LiveRelease, values: &Value) -> ReleaseRecord {
    let sensitive = sensitive_paths(spec);
    ReleaseRecord {
        schema: RECORD_SCHEMA,
        name: spec.name.clone(),
        namespace: spec.namespace.clone(),
        chart: spec.chart.clone(),
        chart_name: live.chart.clone(),
        version: live.chart_version.clone(),
        app_version: live.app_version.clone(),
        revision: live.revision,
        values_sha256: live.values_sha256.clone(),
        values_redacted: redacted(values, &sensitive),
        sensitive_paths: sensitive,
    }
}
