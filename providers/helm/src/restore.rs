//! Taking a release back on destroy: `helm rollback` to the revision from before mtm (the
//! exact old values and chart, which mtm never stored), checked against the recorded
//! hash; the plan's `cleanupValues` when that revision is gone; `helm uninstall` for a
//! release mtm created.

use crate::HelmProvider;
use crate::apply::DEFAULT_TIMEOUT;
use crate::desired::{merged, redactor};
use crate::error::HelmError;
use crate::redact::Redactor;
use crate::release::{PriorRelease, Restored};
use crate::run::{Call, Target, is_not_found};
use mtm_provider::ReleaseSpec;
use tokio::sync::watch;

/// The description of the revision a cleanup makes. It does not start with `mtm:`: the
/// restored state counts as the release's own, not as mtm's change.
const CLEANUP_DESCRIPTION: &str = "restored by mtm with the plan's cleanupValues";

impl HelmProvider {
    /// Destroys the release as the plan and the recorded prior say: a release mtm created
    /// (`existing: false`) is uninstalled; one that existed is rolled back to `prior`.
    /// Without a prior, an existing release whose every revision is mtm's was installed
    /// by mtm and is uninstalled; otherwise `cleanupValues` are applied.
    pub async fn destroy_release(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
        prior: Option<&PriorRelease>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Restored, HelmError> {
        if !spec.existing {
            return self
                .uninstall_release(cluster, &spec.name, &spec.namespace, cancel)
                .await;
        }
        if let Some(prior) = prior {
            return self.restore_release(cluster, spec, prior, cancel).await;
        }
        let t = self.target(cluster, spec)?;
        let history = self.history(&t).await?;
        if history.is_empty() {
            return Ok(Restored::Absent);
        }
        if history.iter().all(|e| e.by_mtm()) {
            return self
                .uninstall_release(cluster, &spec.name, &spec.namespace, cancel)
                .await;
        }
        self.cleanup(&t, spec, "no revision from before mtm was recorded", cancel)
            .await
    }

    /// Restores a release that existed before mtm to `prior`: `helm rollback` to its
    /// revision, then checks that the user values hash to `prior.values_sha256`. Already
    /// there: nothing is done. The revision gone from helm's history (`--history-max`):
    /// the plan's `cleanupValues` are applied instead, and the answer says so.
    pub async fn restore_release(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
        prior: &PriorRelease,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<Restored, HelmError> {
        let t = self.target(cluster, spec)?;
        let Some((live, _)) = self.live(&t).await? else {
            return Ok(Restored::Absent);
        };
        if live.status == "deployed"
            && live.values_sha256 == prior.values_sha256
            && live.chart == prior.chart
            && live.chart_version == prior.chart_version
        {
            return Ok(Restored::RolledBack {
                to: prior.revision,
                revision: live.revision,
            });
        }
        let history = self.history(&t).await?;
        if !history
            .iter()
            .any(|e| e.revision == prior.revision && e.restorable())
        {
            let why = format!(
                "revision {} (from before mtm) is no longer in helm's history",
                prior.revision
            );
            return self.cleanup(&t, spec, &why, cancel).await;
        }

        let mut args = vec![
            "rollback".to_string(),
            t.name.clone(),
            prior.revision.to_string(),
        ];
        args.extend(t.scope_args());
        args.extend([
            "--wait".into(),
            "--timeout".into(),
            spec.timeout
                .clone()
                .unwrap_or_else(|| DEFAULT_TIMEOUT.into()),
        ]);
        self.helm
            .run(
                Call {
                    target: &t,
                    command: "rollback",
                    args,
                    stdin: None,
                    redactor: &redactor(spec, &[]),
                },
                Some(&mut cancel),
            )
            .await?;
        let after = self.live(&t).await?.map(|(l, _)| l);
        let actual = after
            .as_ref()
            .map_or("(release gone)".to_string(), |l| l.values_sha256.clone());
        if actual != prior.values_sha256 {
            return Err(HelmError::RestoreMismatch {
                release: t.release(),
                cluster: t.cluster.clone(),
                revision: prior.revision,
                expected: prior.values_sha256.clone(),
                actual,
            });
        }
        tracing::info!(release = %t.release(), cluster = %t.cluster, to = prior.revision,
            "release rolled back to its revision from before mtm");
        Ok(Restored::RolledBack {
            to: prior.revision,
            revision: after.map_or(0, |l| l.revision),
        })
    }

    /// Upgrades with the live values, the plan's `cleanupValues` on top, and the plan's
    /// non-empty sensitive values: the workshop's cleanup.
    async fn cleanup(
        &self,
        t: &Target,
        spec: &ReleaseSpec,
        why: &str,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<Restored, HelmError> {
        let Some(cleanup) = &spec.cleanup_values else {
            return Err(HelmError::NoRestore {
                release: t.release(),
                cluster: t.cluster.clone(),
                why: why.to_string(),
            });
        };
        let Some((_, live_values)) = self.live(t).await? else {
            return Ok(Restored::Absent);
        };
        let values = merged(t, spec, &live_values, cleanup)?;
        let redactor = redactor(spec, &[&live_values]);
        tracing::warn!(release = %t.release(), cluster = %t.cluster, why,
            "restoring with the plan's cleanupValues");
        let revision = self
            .upgrade(
                t,
                spec,
                &values,
                CLEANUP_DESCRIPTION,
                &redactor,
                &mut cancel,
            )
            .await?
            .version;
        Ok(Restored::CleanupValues {
            revision,
            why: why.to_string(),
        })
    }

    /// `helm uninstall` of a release mtm created; a release already gone is `Absent`.
    pub async fn uninstall_release(
        &self,
        cluster: &str,
        name: &str,
        namespace: &str,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<Restored, HelmError> {
        let t = self.target_named(cluster, name, namespace)?;
        let mut args = vec!["uninstall".to_string(), t.name.clone()];
        args.extend(t.scope_args());
        args.extend(["--wait".into(), "--timeout".into(), DEFAULT_TIMEOUT.into()]);
        let done = self
            .helm
            .run(
                Call {
                    target: &t,
                    command: "uninstall",
                    args,
                    stdin: None,
                    redactor: &Redactor::new(),
                },
                Some(&mut cancel),
            )
            .await;
        match done {
            Ok(_) => Ok(Restored::Uninstalled),
            Err(e) if is_not_found(&e) => Ok(Restored::Absent),
            Err(e) => Err(e),
        }
    }
}
