//! Resources: the nodes of a plan once it is loaded, variables resolved and stages folded.
//!
//! The declaration types (`ReleaseSpec`, `GenSpec`, `WaitSpec`, `CheckSpec`) are also the
//! plan file's schema for those lists, so they deny unknown fields. Nothing here knows how
//! a resource is applied; that is the providers' business.

use crate::address::{Address, ObjectId};
use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The workshop step a resource comes from, with its "What" and "Why".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    pub stage: String,
    pub step: String,
    pub title: String,
    pub what: String,
    pub why: String,
}

/// Where a declaration was read from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub file: String,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One node of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub address: Address,
    pub spec: Spec,
    pub step: Arc<StepInfo>,
    /// Every stage that declared, replaced or removed this resource, in plan order.
    pub stages: Vec<String>,
    pub origin: Origin,
}

impl Resource {
    /// The logical cluster the resource lives on; `None` for generated values.
    pub fn cluster(&self) -> Option<&str> {
        match &self.spec {
            Spec::Object { id, .. } | Spec::Absent { id } => Some(&id.cluster),
            Spec::Patch { target, .. } => Some(&target.cluster),
            Spec::Release { cluster, .. }
            | Spec::Require { cluster, .. }
            | Spec::Wait { cluster, .. }
            | Spec::Check { cluster, .. } => Some(cluster),
            Spec::Generated(_) => None,
        }
    }

    /// The Kubernetes object it declares, removes or patches.
    pub fn object_id(&self) -> Option<&ObjectId> {
        match &self.spec {
            Spec::Object { id, .. } | Spec::Absent { id } | Spec::Patch { target: id, .. } => {
                Some(id)
            }
            _ => None,
        }
    }

    /// The manifest of a declared object.
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.spec {
            Spec::Object { manifest, .. } => Some(manifest),
            _ => None,
        }
    }

    /// A field patch's fields and field manager.
    pub fn patch(&self) -> Option<(&Value, &str)> {
        match &self.spec {
            Spec::Patch {
                fields, manager, ..
            } => Some((fields, manager)),
            _ => None,
        }
    }

    /// A short word for the kind of resource, for output.
    pub fn type_name(&self) -> &'static str {
        match &self.spec {
            Spec::Object { .. } => "object",
            Spec::Absent { .. } => "absent",
            Spec::Patch { .. } => "patch",
            Spec::Release { .. } => "release",
            Spec::Generated(_) => "generated",
            Spec::Require { .. } => "require",
            Spec::Wait { .. } => "wait",
            Spec::Check { .. } => "check",
        }
    }
}

impl Spec {
    /// The release it declares, with its cluster.
    pub fn release(&self) -> Option<(&str, &ReleaseSpec)> {
        match self {
            Spec::Release { cluster, release } => Some((cluster, release)),
            _ => None,
        }
    }

    /// The generated value it declares.
    pub fn generated(&self) -> Option<&GenSpec> {
        match self {
            Spec::Generated(g) => Some(g),
            _ => None,
        }
    }
}

// A check is boxed: inline it made every resource (and every node of every fold and
// graph) the size of a check, several times that of an object. The other variants are
// close enough in size to stay inline.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    /// A Kubernetes object applied with server-side apply. The manifest is held as text
    /// and shared, not copied, between the folds and graphs of one run.
    Object {
        id: ObjectId,
        manifest: Manifest,
    },
    /// An object an earlier stage declared and a later one removes.
    Absent {
        id: ObjectId,
    },
    /// Fields set on an object mtm does not own, under a field manager of their own.
    Patch {
        target: ObjectId,
        fields: Value,
        manager: String,
    },
    Release {
        cluster: String,
        release: ReleaseSpec,
    },
    Generated(GenSpec),
    /// Something the plan assumes exists and never creates.
    Require {
        cluster: String,
        requirement: Requirement,
    },
    Wait {
        cluster: String,
        wait: WaitSpec,
    },
    Check {
        cluster: String,
        check: Box<CheckSpec>,
    },
}

/// A helm release. Its `Debug` masks the sensitive values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseSpec {
    pub name: String,
    pub namespace: String,
    pub chart: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Installed before mtm: upgraded with reuse-values and restored on destroy.
    #[serde(default, deserialize_with = "crate::strict::bool")]
    pub existing: bool,
    #[serde(default)]
    pub values: Value,
    /// Values files (relative to the plan directory), merged in order under `values`;
    /// the loader reads them, so providers see only `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Dotted path to value; given to helm on stdin only.
    #[serde(default)]
    pub sensitive_values: BTreeMap<String, String>,
    /// Values applied on destroy when the values from before mtm are not known.
    #[serde(default)]
    pub cleanup_values: Option<Value>,
    #[serde(default)]
    pub timeout: Option<String>,
}

impl std::fmt::Debug for ReleaseSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked: BTreeMap<&str, &str> = self
            .sensitive_values
            .keys()
            .map(|k| (k.as_str(), "(sensitive)"))
            .collect();
        f.debug_struct("ReleaseSpec")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("chart", &self.chart)
            .field("version", &self.version)
            .field("existing", &self.existing)
            .field("values", &self.values)
            .field("values_files", &self.values_files)
            .field("sensitive_values", &masked)
            .field("cleanup_values", &self.cleanup_values)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A value mtm generates instead of copying it from a sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: GenKind,
    pub issuer: String,
    pub audience: String,
    pub subjects: Vec<String>,
    #[serde(default)]
    pub lifetime: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GenKind {
    /// An RSA key, its JWKS, and RS256 tokens per subject.
    #[serde(rename = "jwt-rsa")]
    JwtRsa,
}

impl GenSpec {
    /// The fields other resources may reference as `${gen.NAME.FIELD}`.
    pub fn fields(&self) -> Vec<String> {
        match self.kind {
            GenKind::JwtRsa => std::iter::once("jwks".to_string())
                .chain(self.subjects.iter().map(|s| format!("token.{s}")))
                .collect(),
        }
    }
}

/// What a stage assumes exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Requirement {
    Object {
        id: ObjectId,
        /// For a CRD: the kind it serves.
        provides: Option<Provides>,
        hint: Option<String>,
    },
    Release {
        namespace: String,
        name: String,
        hint: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provides {
    pub group: String,
    pub kind: String,
    pub scope: Scope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// The workshop's `kubectl wait`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitSpec {
    pub name: String,
    #[serde(default)]
    pub api_version: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// One object by name; without it, every object the selector matches.
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub selector: Option<String>,
    pub condition: String,
    #[serde(default)]
    pub timeout: Option<String>,
}

/// One of the workshop's proofs, run by `mtm verify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Capabilities the cluster must have (e.g. `istio`); without them: not applicable.
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub from: Option<ExecFrom>,
    #[serde(default)]
    pub http: Option<HttpCall>,
    #[serde(default)]
    pub mcp: Option<McpCall>,
    #[serde(default)]
    pub token_exchange: Option<TokenExchangeCall>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    pub expect: Expect,
}

impl CheckSpec {
    /// How many of the probe kinds (http, mcp, tokenExchange, command) are set.
    pub fn probe_count(&self) -> usize {
        [
            self.http.is_some(),
            self.mcp.is_some(),
            self.token_exchange.is_some(),
            self.command.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecFrom {
    pub namespace: String,
    /// `deploy/NAME` or `pod/NAME`, as kubectl exec takes it.
    pub workload: String,
    #[serde(default)]
    pub container: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCall {
    pub url: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpCall {
    pub url: String,
    /// The JSON-RPC method, e.g. `tools/list`.
    pub method: String,
    #[serde(default)]
    pub bearer: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenExchangeCall {
    /// The STS token endpoint (its path differs between releases).
    pub url: String,
    pub subject_token: String,
    #[serde(default)]
    pub subject_token_type: Option<String>,
    /// The call made with the exchanged token.
    pub then: HttpCall,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    #[serde(default, deserialize_with = "crate::strict::opt_u16")]
    pub status: Option<u16>,
    #[serde(default, deserialize_with = "crate::strict::opt_count")]
    pub tool_count: Option<usize>,
    #[serde(default)]
    pub tool_prefixes: Vec<String>,
    /// The exact tool names, in any order.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    #[serde(default)]
    pub contains: Option<String>,
}

impl Expect {
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_debug_masks_sensitive_values() {
        let spec = ReleaseSpec {
            name: "r".into(),
            namespace: "n".into(),
            chart: "c".into(),
            version: None,
            existing: true,
            values: Value::Null,
            values_files: Vec::new(),
            sensitive_values: [(
                "licensing.licenseKey".to_string(),
                "k-123-secret".to_string(),
            )]
            .into(),
            cleanup_values: None,
            timeout: None,
        };
        let shown = format!("{spec:?}");
        assert!(!shown.contains("k-123-secret"), "{shown}");
        assert!(shown.contains("licensing.licenseKey"));
    }
}
