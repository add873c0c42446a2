//! Manifests as the API server will take them: identity checked against the object's
//! id, namespace filled in, Secret `stringData` folded into `data`; and objects as a plan
//! may show them (Secret values replaced by digests). Pure: no cluster.

use crate::cluster::{Cluster, Kind};
use crate::error::KubeError;
use crate::secret;
use mtm_provider::ObjectId;
use serde_json::Value;

/// Groups whose kinds are built into the API server: a missing kind there is a mistake,
/// not a CRD to come.
pub(crate) fn is_builtin_group(group: &str) -> bool {
    !group.contains('.')
        || matches!(
            group,
            "apiextensions.k8s.io"
                | "admissionregistration.k8s.io"
                | "apiregistration.k8s.io"
                | "authentication.k8s.io"
                | "authorization.k8s.io"
                | "certificates.k8s.io"
                | "coordination.k8s.io"
                | "discovery.k8s.io"
                | "events.k8s.io"
                | "flowcontrol.apiserver.k8s.io"
                | "networking.k8s.io"
                | "node.k8s.io"
                | "rbac.authorization.k8s.io"
                | "resource.k8s.io"
                | "scheduling.k8s.io"
                | "storage.k8s.io"
                | "storagemigration.k8s.io"
                | "internal.apiserver.k8s.io"
        )
}

/// The manifest with its identity checked against `id` and the namespace filled in.
pub(crate) fn prepare(
    id: &ObjectId,
    kind: Option<&Kind>,
    manifest: &Value,
) -> Result<Value, KubeError> {
    let bad = |message: String| KubeError::Manifest {
        object: id.to_string(),
        message,
    };
    let mut manifest = manifest.clone();
    let Some(obj) = manifest.as_object_mut() else {
        return Err(bad("not a mapping".into()));
    };
    let api_version = id.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None => {
            obj.insert("apiVersion".into(), Value::String(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => return Err(bad(format!("apiVersion {v} is not {api_version}"))),
    }
    match obj.get("kind").and_then(Value::as_str) {
        None => {
            obj.insert("kind".into(), Value::String(id.kind.clone()));
        }
        Some(k) if k == id.kind => {}
        Some(k) => return Err(bad(format!("kind {k} is not {}", id.kind))),
    }
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(meta) = meta.as_object_mut() else {
        return Err(bad("metadata is not a mapping".into()));
    };
    match meta.get("name").and_then(Value::as_str) {
        None => {
            meta.insert("name".into(), Value::String(id.name.clone()));
        }
        Some(n) if n == id.name => {}
        Some(n) => return Err(bad(format!("metadata.name {n} is not {}", id.name))),
    }
    let namespaced = kind.map(|k| k.namespaced);
    match (&id.namespace, namespaced) {
        (None, Some(true)) => {
            return Err(bad(format!(
                "{} is namespaced: give it a namespace",
                id.kind
            )));
        }
        (Some(ns), Some(true) | None) => match meta.get("namespace").and_then(Value::as_str) {
            None => {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            Some(n) if n == ns => {}
            Some(n) => return Err(bad(format!("metadata.namespace {n} is not {ns}"))),
        },
        (Some(_), Some(false)) => {
            return Err(bad(format!(
                "{} is cluster-scoped: it takes no namespace",
                id.kind
            )));
        }
        (None, _) => {}
    }
    if secret::is_secret(&id.group, &id.kind) {
        secret::fold_string_data(&mut manifest);
    }
    Ok(manifest)
}

/// The object as a plan may show it: Secret values replaced by digests.
pub(crate) fn shown(id: &ObjectId, mut obj: Value) -> Value {
    if secret::is_secret(&id.group, &id.kind) {
        secret::redact(&mut obj);
    }
    obj
}

pub(crate) fn to_value<T: serde::Serialize>(id: &ObjectId, obj: &T) -> Result<Value, KubeError> {
    serde_json::to_value(obj).map_err(|e| KubeError::Client {
        object: id.to_string(),
        message: format!("cannot read the object: {e}"),
    })
}

pub(crate) fn unknown_kind(cluster: &Cluster, id: &ObjectId) -> KubeError {
    KubeError::UnknownKind {
        cluster: cluster.name.clone(),
        api_version: id.api_version(),
        kind: id.kind.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(ns: Option<&str>) -> ObjectId {
        ObjectId {
            cluster: "east".into(),
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: ns.map(String::from),
            name: "cfg".into(),
        }
    }

    #[test]
    fn prepare_fills_namespace_and_checks_identity() {
        let m = prepare(
            &id(Some("demo")),
            None,
            &json!({"metadata": {"name": "cfg"}}),
        )
        .unwrap();
        assert_eq!(
            m,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "demo"}})
        );
        let err = prepare(&id(Some("demo")), None, &json!({"kind": "Secret"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "east/core/ConfigMap/demo/cfg: invalid manifest: kind Secret is not ConfigMap"
        );
    }

    #[test]
    fn builtin_groups() {
        assert!(is_builtin_group(""));
        assert!(is_builtin_group("apps"));
        assert!(is_builtin_group("rbac.authorization.k8s.io"));
        assert!(!is_builtin_group("gateway.networking.k8s.io"));
        assert!(!is_builtin_group("agentgateway.dev"));
    }
}
