//! Objects: the plan of one object (a server-side dry-run apply compared with the live
//! object) and its apply (server-side apply under field manager `mtm`).
//!
//! The comparison itself is `diff`'s; this module makes the calls and decides the action.
//! It does not know the order of objects, state, or how a plan is shown.

use crate::KubeProvider;
use crate::cluster::{Cluster, Kind, gvk_of};
use crate::diff::{self, FieldDiff};
use crate::error::{KubeError, conflicts_of};
use crate::secret;
use kube::api::{Patch, PatchParams};
use mtm_provider::{Applied, ObjectId};
use serde_json::Value;
use std::time::Duration;

/// The field manager of every object mtm applies.
pub const MANAGER: &str = "mtm";

/// How long an apply waits for a kind to be served (a CRD established a moment ago).
const KIND_PATIENCE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    NoOp,
    /// The kind is not served yet (its CRD is created in the same run): validated at apply.
    CrdPending,
    /// The object exists and the plan removes it.
    Delete,
}

/// What applying one object would do.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPlan {
    pub action: Action,
    /// The changed fields; for a create or a pending CRD, one entry with an empty path
    /// holding the whole object.
    pub diff: Vec<FieldDiff>,
    /// The live object, when it exists.
    pub live: Option<Value>,
    /// Why the server could not validate the object (namespace or CRD created in the
    /// same run); `None` when the plan comes from a dry run.
    pub unvalidated: Option<String>,
}

impl ObjectPlan {
    fn unvalidated(action: Action, manifest: &Value, why: String) -> Self {
        ObjectPlan {
            action,
            diff: vec![FieldDiff {
                path: String::new(),
                before: None,
                after: Some(manifest.clone()),
                owners: Vec::new(),
            }],
            live: None,
            unvalidated: Some(why),
        }
    }
}

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
fn shown(id: &ObjectId, mut obj: Value) -> Value {
    if secret::is_secret(&id.group, &id.kind) {
        secret::redact(&mut obj);
    }
    obj
}

/// The namespace a 404 says is missing, if that is what it says.
fn missing_namespace(err: &KubeError) -> Option<String> {
    let KubeError::Api { status, .. } = err else {
        return None;
    };
    let d = status.details.as_ref()?;
    (status.code == 404 && d.kind == "namespaces").then(|| d.name.clone())
}

pub(crate) fn to_value<T: serde::Serialize>(id: &ObjectId, obj: &T) -> Result<Value, KubeError> {
    serde_json::to_value(obj).map_err(|e| KubeError::Client {
        object: id.to_string(),
        message: format!("cannot read the object: {e}"),
    })
}

impl KubeProvider {
    /// What applying `manifest` as `id` would change, from a server-side dry-run apply
    /// (field manager `mtm`, conflicts forced) compared with the live object.
    pub async fn plan_object(
        &self,
        id: &ObjectId,
        manifest: &Value,
    ) -> Result<ObjectPlan, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let Some(kind) = cluster.resolve(&gvk_of(id)).await? else {
            if is_builtin_group(&id.group) {
                return Err(unknown_kind(cluster, id));
            }
            let manifest = prepare(id, None, manifest)?;
            let group = if id.group.is_empty() {
                "core"
            } else {
                &id.group
            };
            return Ok(ObjectPlan::unvalidated(
                Action::CrdPending,
                &shown(id, manifest),
                format!(
                    "no CRD serves {group}/{} {} yet: validated at apply",
                    id.version, id.kind
                ),
            ));
        };
        let manifest = prepare(id, Some(&kind), manifest)?;
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = id.to_string();
        let live = cluster.get(&api, &id.name, &object).await?;
        let live = live
            .map(|l| to_value(id, &l).map(|v| shown(id, v)))
            .transpose()?;
        let params = PatchParams::apply(MANAGER).force().dry_run();
        let patch = Patch::Apply(&manifest);
        let dry = cluster
            .call(&object, || api.patch(&id.name, &params, &patch))
            .await;
        let after = match dry {
            Ok(obj) => shown(id, to_value(id, &obj)?),
            Err(e) => {
                return match missing_namespace(&e) {
                    Some(ns) if live.is_none() => Ok(ObjectPlan::unvalidated(
                        Action::Create,
                        &shown(id, manifest),
                        format!("namespace {ns} does not exist yet: validated at apply"),
                    )),
                    _ => Err(e),
                };
            }
        };
        let diff = diff::object_diff(live.as_ref(), &after, MANAGER);
        let action = match (&live, diff.is_empty()) {
            (None, _) => Action::Create,
            (Some(_), true) => Action::NoOp,
            (Some(_), false) => Action::Update,
        };
        Ok(ObjectPlan {
            action,
            diff,
            live,
            unvalidated: None,
        })
    }

    /// What removing `id` would do: `Delete` with the live object when it exists, else
    /// `NoOp` (also when its kind is no longer served).
    pub async fn plan_delete(&self, id: &ObjectId) -> Result<ObjectPlan, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let noop = ObjectPlan {
            action: Action::NoOp,
            diff: Vec::new(),
            live: None,
            unvalidated: None,
        };
        let Some(kind) = cluster.resolve(&gvk_of(id)).await? else {
            return Ok(noop);
        };
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = id.to_string();
        let Some(live) = cluster.get(&api, &id.name, &object).await? else {
            return Ok(noop);
        };
        let live = shown(id, to_value(id, &live)?);
        let owned = diff::owned_set(&live, MANAGER);
        Ok(ObjectPlan {
            action: Action::Delete,
            diff: vec![FieldDiff {
                path: String::new(),
                before: Some(diff::declared(&live, &owned)),
                after: None,
                owners: Vec::new(),
            }],
            live: Some(live),
            unvalidated: None,
        })
    }

    /// Applies `manifest` as `id` by server-side apply under field manager `mtm`; with
    /// `force_conflicts`, fields other managers hold are taken over, else they are an error
    /// naming those fields and managers.
    pub async fn apply_object(
        &self,
        id: &ObjectId,
        manifest: &Value,
        force_conflicts: bool,
    ) -> Result<Applied, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let kind = cluster
            .resolve_patiently(&gvk_of(id), KIND_PATIENCE)
            .await?
            .ok_or_else(|| unknown_kind(cluster, id))?;
        let manifest = prepare(id, Some(&kind), manifest)?;
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = id.to_string();
        let before = cluster.get(&api, &id.name, &object).await?;
        let mut params = PatchParams::apply(MANAGER);
        if force_conflicts {
            params = params.force();
        }
        let patch = Patch::Apply(&manifest);
        let applied = cluster
            .call(&object, || api.patch(&id.name, &params, &patch))
            .await
            .map_err(|e| as_conflict(e, &object))?;
        let summary = match &before {
            None => "created",
            Some(b) if b.metadata.resource_version == applied.metadata.resource_version => {
                "unchanged"
            }
            Some(_) => "configured",
        };
        Ok(Applied {
            uid: applied.metadata.uid.clone(),
            summary: summary.to_string(),
        })
    }
}

pub(crate) fn unknown_kind(cluster: &Cluster, id: &ObjectId) -> KubeError {
    KubeError::UnknownKind {
        cluster: cluster.name.clone(),
        api_version: id.api_version(),
        kind: id.kind.clone(),
    }
}

/// A 409 from an apply, turned into the conflicts it names.
pub(crate) fn as_conflict(err: KubeError, object: &str) -> KubeError {
    match err {
        KubeError::Api { status, .. }
            if status.code == 409 && !conflicts_of(&status).is_empty() =>
        {
            KubeError::Conflict {
                object: object.to_string(),
                conflicts: conflicts_of(&status),
            }
        }
        other => other,
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
