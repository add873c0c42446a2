//! Drift of a release against what mtm recorded: a revision made outside mtm (`helm
//! upgrade`, `helm rollback`), user values changed since, and objects of the release
//! changed outside helm, found by `kubectl diff` of the release's own manifest against the
//! live objects (only the fields the chart sets; kubectl masks Secret data).
//!
//! Read-only. The kubectl binary is `$MTM_KUBECTL` or `kubectl` on PATH.

use crate::HelmProvider;
use crate::desired::redactor;
use crate::error::HelmError;
use crate::release::{LiveRelease, ReleaseRecord};
use crate::run::Target;
use crate::values::{self, ValueChange, redacted};
use mtm_provider::ReleaseSpec;
use serde::Serialize;
use std::io;

/// The environment variable naming the kubectl binary (default: `kubectl` on PATH).
pub const KUBECTL_ENV: &str = "MTM_KUBECTL";

/// How a release differs from its record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseDrift {
    /// The release now; `None` when it was removed outside mtm.
    pub live: Option<LiveRelease>,
    /// The live revision is not the recorded one.
    pub revision_changed: bool,
    /// Recorded user values against the live ones; sensitive leaves compared by hash and
    /// shown as `(sensitive)`.
    pub values: Vec<ValueChange>,
    /// `kubectl diff` of the live objects (`-`) against the release's manifest (`+`):
    /// fields the chart sets that were changed outside helm. Empty when none.
    pub objects_diff: String,
}

impl ReleaseDrift {
    pub fn is_clean(&self) -> bool {
        self.live.is_some()
            && !self.revision_changed
            && self.values.is_empty()
            && self.objects_diff.is_empty()
    }
}

impl HelmProvider {
    /// Compares the release on the logical `cluster` with its record from the last apply.
    pub async fn drift_release(
        &self,
        cluster: &str,
        spec: &ReleaseSpec,
        record: &ReleaseRecord,
    ) -> Result<ReleaseDrift, HelmError> {
        let t = self.target(cluster, spec)?;
        let Some(status) = self.status(&t, None).await? else {
            return Ok(ReleaseDrift {
                live: None,
                revision_changed: true,
                values: Vec::new(),
                objects_diff: String::new(),
            });
        };
        let manifest = status.manifest.clone();
        let (live, live_values) = status.into_live();
        let values = values::diff(
            &record.values_redacted,
            &redacted(&live_values, &record.sensitive_paths),
            &record.sensitive_paths,
        );
        let redactor = redactor(spec, &[&live_values]);
        let objects_diff = redactor.apply(&self.kubectl_diff(&t, manifest).await?);
        Ok(ReleaseDrift {
            revision_changed: live.revision != record.revision,
            live: Some(live),
            values,
            objects_diff,
        })
    }

    /// `kubectl diff -f -` of a manifest: exit 0 is no difference, 1 a difference.
    async fn kubectl_diff(&self, t: &Target, manifest: String) -> Result<String, HelmError> {
        let mut args = t.kubeconfig_args();
        args.extend([
            "--context".to_string(),
            t.context.clone(),
            "--namespace".to_string(),
            t.namespace.clone(),
            "diff".to_string(),
            "--filename".to_string(),
            "-".to_string(),
        ]);
        let program = self.kubectl.clone();
        let output = tokio::task::spawn_blocking(move || {
            duct::cmd(&program, &args)
                .stdin_bytes(manifest)
                .stdout_capture()
                .stderr_capture()
                .unchecked()
                .run()
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                HelmError::KubectlMissing {
                    release: t.release(),
                    cluster: t.cluster.clone(),
                    program: self.kubectl.to_string_lossy().into_owned(),
                }
            } else {
                HelmError::Spawn {
                    release: t.release(),
                    cluster: t.cluster.clone(),
                    command: "kubectl diff".into(),
                    source: e,
                }
            }
        })?;
        match output.status.code() {
            Some(0) => Ok(String::new()),
            Some(1) => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            _ => Err(HelmError::Kubectl {
                release: t.release(),
                cluster: t.cluster.clone(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            }),
        }
    }
}
