//! The values the helm provider hands to the engine: a plan of one release, what an apply
//! did, what existed before mtm, and the record that state keeps.
//!
//! None of these holds a sensitive value in clear: values diffs mask sensitive leaves,
//! manifests are redacted, and records keep hashes. The serializable ones
//! (`PriorRelease`, `ReleaseRecord`) are what the engine stores.

use crate::values::ValueChange;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the stored shapes (`PriorRelease`, `ReleaseRecord`).
pub const RECORD_SCHEMA: u32 = 1;

/// What a plan would do to a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseAction {
    Install,
    Upgrade,
    NoOp,
}

/// The release as it is on the cluster now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveRelease {
    pub revision: u64,
    /// The chart's name (`Chart.yaml`'s `name`).
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    /// `deployed`, `failed`, `pending-upgrade`, ...
    pub status: String,
    /// The hash of its user values (`helm get values -o json`), see `values::values_sha256`.
    pub values_sha256: String,
}

/// A revision of a release that existed before mtm changed it: enough to restore it with
/// `helm rollback` and to check the result, without keeping its values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorRelease {
    pub revision: u64,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    pub values_sha256: String,
}

/// `plan_release`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasePlan {
    pub action: ReleaseAction,
    /// Live user values against the desired ones; sensitive leaves masked.
    pub values_diff: Vec<ValueChange>,
    /// Unified diff of the live release's manifest against the one the desired values
    /// render (`helm upgrade --install --dry-run=server`). Secret data is shown as hashes
    /// and sensitive values as `(sensitive)`. Empty when equal, and when mtm made the
    /// release from the same chart at the same values (no dry run then: see `chart`);
    /// from `decide_release`, also empty for an install or a change of values.
    pub manifest_diff: String,
    /// The release now; `None` when it is not installed.
    pub live: Option<LiveRelease>,
}

/// `apply_release`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedRelease {
    /// The revision this apply made.
    pub revision: u64,
    pub action: ReleaseAction,
    /// The release's state before mtm, when it existed; `None` when mtm installed it.
    /// The engine keeps the one from the first apply (see the crate docs).
    pub prior: Option<PriorRelease>,
    /// What state should store for this revision.
    pub record: ReleaseRecord,
}

/// What state keeps of an applied release: enough to find and check the revision later
/// (`helm rollback NAME REVISION`, then `values_sha256`), and a redacted copy of the
/// values for drift and for a reinstall when helm's history no longer has the revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    pub schema: u32,
    pub name: String,
    pub namespace: String,
    /// The chart as the plan names it (oci://..., repo/chart, path).
    pub chart: String,
    /// The chart's name and version as deployed.
    pub chart_name: String,
    pub version: String,
    pub app_version: String,
    pub revision: u64,
    /// The hash of the release's user values after the apply.
    pub values_sha256: String,
    /// Dotted paths whose values are sensitive.
    pub sensitive_paths: Vec<String>,
    /// The user values with every sensitive path replaced by `sha256:<hex>`.
    pub values_redacted: Value,
}

impl From<&ReleaseRecord> for PriorRelease {
    fn from(r: &ReleaseRecord) -> Self {
        PriorRelease {
            revision: r.revision,
            chart: r.chart_name.clone(),
            chart_version: r.version.clone(),
            app_version: r.app_version.clone(),
            values_sha256: r.values_sha256.clone(),
        }
    }
}

/// How `restore_release` brought a release back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "how")]
pub enum Restored {
    /// `helm rollback` to the prior revision, values checked against its hash.
    RolledBack { to: u64, revision: u64 },
    /// The prior revision was not in helm's history any more (or not known): upgraded
    /// with the live values and the plan's `cleanupValues` instead.
    CleanupValues { revision: u64, why: String },
    /// Uninstalled (mtm had created it).
    Uninstalled,
    /// Nothing to do: the release was not there.
    Absent,
}
