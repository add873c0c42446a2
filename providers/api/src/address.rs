//! Resource addresses and Kubernetes object identities.
//!
//! An address is the stable name of a resource across runs: `stage/cluster/...`, where the
//! stage is the first stage that declares the resource. It is what `--target` matches, what
//! state is keyed by, and what every message names. An [`ObjectId`] is the identity of
//! a Kubernetes object on a logical cluster; two declarations with the same identity are
//! the same object.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The stable address of a resource, e.g. `lab1/east/apps/Deployment/ai-tools/catalog-mcp`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(pub String);

impl Address {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stage segment (the first one).
    pub fn stage(&self) -> &str {
        self.0.split('/').next().unwrap_or("")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identity of a Kubernetes object on a logical cluster (`east`, `west`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId {
    pub cluster: String,
    /// The API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    /// Splits an `apiVersion` into group and version (`v1` is the core group).
    pub fn split_api_version(api_version: &str) -> (String, String) {
        match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `group/Kind/namespace/name`, with `core` for the core group and `_` for no namespace.
    pub fn tail(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        let ns = self.namespace.as_deref().unwrap_or("_");
        format!("{group}/{}/{ns}/{}", self.kind, self.name)
    }

    /// The identity without the version: two API versions of one object are one object.
    pub fn key(&self) -> (String, String, String, Option<String>, String) {
        (
            self.cluster.clone(),
            self.group.clone(),
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
        )
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.tail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_uses_core_and_underscore() {
        let id = ObjectId {
            cluster: "east".into(),
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "ai-tools".into(),
        };
        assert_eq!(id.tail(), "core/Namespace/_/ai-tools");
        assert_eq!(id.api_version(), "v1");
        assert_eq!(
            ObjectId::split_api_version("apps/v1"),
            ("apps".to_string(), "v1".to_string())
        );
    }
}
