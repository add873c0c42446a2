//! The plan of one object: a server-side dry-run apply (field manager `mtm`, conflicts
//! forced) compared with the live object, or what removing it would take away.
//!
//! The comparison itself is `diff`'s; this module makes the calls and decides the action.
//! It does not know the order of objects, state, or how a plan is shown.

use crate::KubeProvider;
use crate::apply::MANAGER;
use crate::cluster::gvk_of;
use crate::diff::{self, FieldDiff};
use crate::error::KubeError;
use crate::manifest::{is_builtin_group, prepare, shown, to_value, unknown_kind};
use kube::api::{Patch, PatchParams};
use mtm_provider::ObjectId;
use mtm_provider::Verdict;
use serde_json::Value;

/// What applying one object would do.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPlan {
    pub action: Verdict,
    /// The changed fields; for a create or a pending CRD, one entry with an empty path
    /// holding the whole object.
    pub diff: Vec<FieldDiff>,
    /// The live object, when it exists, for display: Secret values are replaced by
    /// digests (use [`KubeProvider::get_object`] for the object itself).
    pub live: Option<Value>,
    /// Why the server could not validate the object (namespace or CRD created in the
    /// same run); `None` when the plan comes from a dry run.
    pub unvalidated: Option<String>,
}

impl ObjectPlan {
    fn unvalidated(action: Verdict, manifest: &Value, why: String) -> Self {
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

/// The namespace a 404 says is missing, if that is what it says.
fn missing_namespace(err: &KubeError) -> Option<String> {
    let KubeError::Api { status, .. } = err else {
        return None;
    };
    let d = status.details.as_ref()?;
    (status.code == 404 && d.kind == "namespaces").then(|| d.name.clone())
}

impl KubeProvider {
    /// What applying `manifest` as `id` would change, from a server-side dry-run apply
    /// (field manager `mtm`, conflicts forced) compared with the live object.
    pub async fn plan_object(
        &self,
        id: &ObjectId,
        manifest: &Value,
    ) -> Result<ObjectPlan, KubeError> {
        self.plan_as(id, manifest, MANAGER, false).await
    }

    /// What applying the field patch `fields` on `target` under `manager` would change,
    /// compared on that manager's fields only. A target that does not exist yet (made in
    /// the same run) is planned unvalidated, as `Create`.
    pub async fn plan_patch(
        &self,
        target: &ObjectId,
        fields: &Value,
        manager: &str,
    ) -> Result<ObjectPlan, KubeError> {
        self.plan_as(target, fields, manager, true).await
    }

    async fn plan_as(
        &self,
        id: &ObjectId,
        manifest: &Value,
        manager: &str,
        is_patch: bool,
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
                Verdict::Pending,
                &shown(id, manifest),
                format!(
                    "no CRD serves {group}/{} {} yet: validated at apply",
                    id.version, id.kind
                ),
            ));
        };
        let mut manifest = prepare(id, Some(&kind), manifest)?;
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = if is_patch {
            format!("{id} (patch {manager})")
        } else {
            id.to_string()
        };
        let live = cluster.get(&api, &id.name, &object).await?;
        if is_patch {
            let Some(live) = &live else {
                return Ok(ObjectPlan::unvalidated(
                    Verdict::Create,
                    &shown(id, manifest),
                    format!(
                        "{} {} does not exist yet: patched at apply",
                        id.kind, id.name
                    ),
                ));
            };
            // As at apply: pinned to the object seen, never creating one.
            manifest["metadata"]["uid"] = serde_json::json!(live.metadata.uid);
        }
        let live = live
            .map(|l| to_value(id, &l).map(|v| shown(id, v)))
            .transpose()?;
        let params = PatchParams::apply(manager).force().dry_run();
        let patch = Patch::Apply(&manifest);
        let dry = cluster
            .call(&object, || api.patch(&id.name, &params, &patch))
            .await;
        let after = match dry {
            Ok(obj) => shown(id, to_value(id, &obj)?),
            Err(e) => {
                return match missing_namespace(&e) {
                    Some(ns) if live.is_none() => Ok(ObjectPlan::unvalidated(
                        Verdict::Create,
                        &shown(id, manifest),
                        format!("namespace {ns} does not exist yet: validated at apply"),
                    )),
                    _ => Err(e),
                };
            }
        };
        let diff = diff::object_diff(live.as_ref(), &after, manager);
        let action = match (&live, diff.is_empty()) {
            (None, _) => Verdict::Create,
            (Some(_), true) => Verdict::NoOp,
            (Some(_), false) => Verdict::Update,
        };
        Ok(ObjectPlan {
            action,
            diff,
            live,
            unvalidated: None,
        })
    }

    /// The live object as the server holds it, `None` when it does not exist (or its kind
    /// is not served). Unlike [`ObjectPlan::live`], Secret values are not redacted: this
    /// is what restoring an object that existed before mtm needs.
    pub async fn get_object(&self, id: &ObjectId) -> Result<Option<Value>, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let Some(kind) = cluster.resolve(&gvk_of(id)).await? else {
            return Ok(None);
        };
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let live = cluster.get(&api, &id.name, &id.to_string()).await?;
        live.map(|l| to_value(id, &l)).transpose()
    }

    /// What removing `id` would do: `Delete` with the live object when it exists, else
    /// `NoOp` (also when its kind is no longer served).
    pub async fn plan_delete(&self, id: &ObjectId) -> Result<ObjectPlan, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let noop = ObjectPlan {
            action: Verdict::NoOp,
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
            action: Verdict::Delete,
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
}
