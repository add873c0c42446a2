//! An object's manifest as the plan holds it: compact JSON text, parsed where it is used,
//! with what it names of other objects noted once, when the plan is loaded.
//!
//! A JSON tree costs several kilobytes per object (a map node per mapping); its text costs
//! a few hundred bytes. A plan of 100,000 objects holds every manifest from load to exit,
//! and reads each one's tree only when it plans or applies that object. The graph needs
//! only the names a manifest gives (a pod's ConfigMaps, a route's parents, a CRD's kind),
//! so those are kept beside the text and the graph never parses it.

use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// What a manifest names, noted at load for the dependency graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    /// Another object of the same cluster, with the reason the graph gives for the edge.
    /// `namespace` is where the object is looked for (`None`: cluster-scoped).
    Object {
        why: &'static str,
        group: String,
        kind: String,
        namespace: Option<String>,
        name: String,
    },
    /// A Service named by a host (`svc.ns.svc`, or one of another cluster's mesh names).
    Host(String),
    /// The kind a CustomResourceDefinition serves.
    Serves { group: String, kind: String },
}

/// A manifest: compact JSON text shared between the folds and graphs of a run.
#[derive(Clone)]
pub struct Manifest {
    text: Arc<str>,
    names: Arc<[Named]>,
}

impl Manifest {
    /// The manifest of `value`, with the names the graph needs (see [`Named`]).
    pub fn noting(value: &Value, names: Vec<Named>) -> Manifest {
        Manifest {
            text: value.to_string().into(),
            names: names.into(),
        }
    }

    /// The manifest of `value`, for a resource that is not placed in a graph (a record
    /// restored, templates filled in).
    pub fn of(value: &Value) -> Manifest {
        Manifest::noting(value, Vec::new())
    }

    /// The manifest's tree, parsed from its text.
    pub fn value(&self) -> Value {
        // The text was written from a tree by serde_json: it always parses.
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The manifest as compact JSON.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What it names of other objects, as noted at load.
    pub fn names(&self) -> &[Named] {
        &self.names
    }
}

impl From<Value> for Manifest {
    fn from(value: Value) -> Manifest {
        Manifest::of(&value)
    }
}

impl Default for Manifest {
    fn default() -> Manifest {
        Manifest::of(&Value::Null)
    }
}

impl PartialEq for Manifest {
    fn eq(&self, other: &Manifest) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_tree_comes_back_as_it_went_in() {
        let tree = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": {"z": "1", "a": "2"}},
            "data": {"n": 3, "f": 2.5, "big": u64::MAX, "neg": -7, "list": [null, true, "x"]}});
        let m = Manifest::of(&tree);
        assert_eq!(m.value(), tree);
        assert!(!m.text().contains('\n'), "{}", m.text());
        assert!(m.names().is_empty());
    }

    #[test]
    fn names_are_kept_and_equality_is_the_text() {
        let tree = json!({"kind": "Deployment"});
        let named = Manifest::noting(&tree, vec![Named::Host("a.b.svc".into())]);
        assert_eq!(named.names(), [Named::Host("a.b.svc".into())]);
        assert_eq!(named, Manifest::of(&tree));
        assert_ne!(named, Manifest::default());
    }
}
