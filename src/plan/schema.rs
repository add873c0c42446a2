//! The plan's files as written: `plan.yaml` and `stages/<stage>.yaml`, as serde types.
//!
//! These types only describe shape: unknown fields and wrong types are rejected here by
//! serde-saphyr with their position. Meaning (do stages exist, do variables resolve,
//! is a namespace missing) is checked by `load`. Manifests are not typed at all: they are
//! plain Kubernetes YAML, read by `manifest`.

use mtm_provider::resource::{CheckSpec, GenSpec, Provides, ReleaseSpec, WaitSpec};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub plan: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, Spanned<VariableDecl>>,
    pub clusters: BTreeMap<String, Spanned<ClusterDecl>>,
    pub stages: Vec<Spanned<String>>,
    /// Field managers whose claims mtm takes over without `--force-conflicts`, besides
    /// the kubectl family and mtm's own (a trailing `*` is a prefix).
    #[serde(default, rename = "handEditManagers")]
    pub hand_edit_managers: Vec<Spanned<String>>,
    /// Where state lives when `--state` and `MTM_STATE` do not say: a directory
    /// (relative to the plan directory) or `kube://CONTEXT/NAMESPACE[/NAME]`.
    #[serde(default)]
    pub state: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default, deserialize_with = "mtm_provider::strict::bool")]
    pub sensitive: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterDecl {
    pub context: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    pub title: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    #[serde(default)]
    pub steps: Vec<Spanned<StepDecl>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDecl {
    pub name: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub what: Option<String>,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub cluster: Option<Spanned<String>>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    #[serde(default)]
    pub manifests: Vec<Spanned<String>>,
    #[serde(default)]
    pub patches: Vec<Spanned<PatchDecl>>,
    #[serde(default)]
    pub releases: Vec<Spanned<ReleaseSpec>>,
    #[serde(default)]
    pub generate: Vec<Spanned<GenSpec>>,
    #[serde(default)]
    pub removes: Vec<Spanned<RemoveRef>>,
    #[serde(default)]
    pub requires: Vec<Spanned<RequireDecl>>,
    #[serde(default)]
    pub waits: Vec<Spanned<WaitSpec>>,
    #[serde(default)]
    pub checks: Vec<Spanned<CheckSpec>>,
}

/// An entry of `removes`: an object an earlier stage declared (apiVersion, kind, name and
/// namespace as in `ObjectRef`), or a check an earlier stage declared (`check: NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveRef {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A reference to one Kubernetes object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    #[serde(default)]
    pub cluster: Option<String>,
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchDecl {
    pub target: ObjectRef,
    pub fields: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequireDecl {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub provides: Option<Provides>,
    #[serde(default)]
    pub release: Option<ReleaseRef>,
    #[serde(default)]
    pub hint: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRef {
    pub namespace: String,
    pub name: String,
}
