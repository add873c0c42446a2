//! The plan of one object: a server-side dry-run apply (field manager `mtm`, conflicts
//! forced) compared with the live object, or what removing it would take away. An object
//! that does not exist is planned as declared (the server validates it when it is
//! applied), and one whose fields mtm holds exactly as declared needs no dry run either.
//!
//! The comparison itself is `diff`'s; this module makes the calls and decides the action.
//! It does not know the order of objects, state, or how a plan is shown.

use crate::KubeProvider;
use crate::apply::MANAGER;
use crate::cluster::gvk_of;
use crate::diff::{self, FieldDiff};
use crate::error::KubeError;
use crate::listing::group_key;
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
    /// The plan of making the whole object, as declared (not dry-run), with a note of why
    /// the server could not validate it yet.
    fn whole(action: Verdict, manifest: &Value, note: Option<String>) -> Self {
        ObjectPlan {
            action,
            diff: vec![FieldDiff {
                path: String::new(),
                before: None,
                after: Some(manifest.clone()),
                owners: Vec::new(),
            }],
            live: None,
            unvalidated: note,
        }
    }
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
            return not_served(cluster, id, manifest);
        };
        let mut manifest = prepare(id, Some(&kind), manifest)?;
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = if is_patch {
            format!("{id} (patch {manager})")
        } else {
            id.to_string()
        };
        let group = group_key(&kind, id.namespace.as_deref());
        cluster.list_if_wanted(&group).await;
        // A field patch reads its target from the same answer as the target's own plan.
        let listed = match is_patch {
            true => cluster.listings.peek(&group, &id.name),
            false => cluster.listings.take(&group, &id.name),
        };
        let live = match listed {
            Some(listed) => listed,
            None => {
                let live = cluster.get(&api, &id.name, &object).await?;
                cluster.listings.saw(&group, &id.name, live.as_ref());
                live
            }
        };
        let Some(live) = live else {
            // Nothing to compare with: planned as declared, validated when applied.
            let note = absent_note(cluster, id, kind.namespaced, is_patch).await;
            let manifest = shown(id, manifest);
            return Ok(ObjectPlan::whole(Verdict::Create, &manifest, note));
        };
        let uid = live.metadata.uid.clone();
        let live = to_value(id, &live)?;
        if unchanged(&live, &manifest, manager) {
            // What the manager holds of the object is exactly the declaration: nothing to
            // apply, and no dry run needed to know it.
            tracing::debug!(object = %object, "unchanged: planned without a dry run");
            return Ok(ObjectPlan {
                action: Verdict::NoOp,
                diff: Vec::new(),
                live: Some(shown(id, live)),
                unvalidated: None,
            });
        }
        if is_patch {
            // As at apply: pinned to the object seen, never creating one.
            manifest["metadata"]["uid"] = serde_json::json!(uid);
        }
        let dry = DryRun {
            cluster,
            api: &api,
            id,
            object: &object,
            manager,
        };
        dry.plan(shown(id, live), manifest).await
    }

    /// The live object as the server holds it, `None` when it does not exist (or its kind
    /// is not served). Unlike [`ObjectPlan::live`], Secret values are not redacted: this
    /// is what restoring an object that existed before mtm needs. An answer read within
    /// [`crate::listing::FRESH`] stands.
    pub async fn get_object(&self, id: &ObjectId) -> Result<Option<Value>, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let Some(kind) = cluster.resolve(&gvk_of(id)).await? else {
            return Ok(None);
        };
        // What the object's plan read a moment ago, if the run has not written it since.
        let group = group_key(&kind, id.namespace.as_deref());
        let live = match cluster.listings.recent(&group, &id.name) {
            Some(live) => live,
            None => {
                let api = cluster.api(&kind, id.namespace.as_deref()).await?;
                cluster.get(&api, &id.name, &id.to_string()).await?
            }
        };
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

/// Whether applying `manifest` as `manager` would leave `live` as it is: the fields the
/// manager holds are exactly the declared ones, with the declared values. Anything else
/// (a field to let go, a value the server would normalise, a Secret's `stringData`) is
/// left to the dry run.
pub(crate) fn unchanged(live: &Value, manifest: &Value, manager: &str) -> bool {
    let owned = diff::owned_set(live, manager);
    if owned.is_empty() {
        return false;
    }
    // Listed objects carry no apiVersion and kind: the identity is the same by lookup.
    let without_type = |v: Value| match v {
        Value::Object(mut m) => {
            m.remove("apiVersion");
            m.remove("kind");
            Value::Object(m)
        }
        other => other,
    };
    without_type(diff::declared(live, &owned)) == without_type(manifest.clone())
}

/// Why an object that does not exist cannot be validated now, when that is known: the
/// target of a field patch made in the same run, or a namespace that does not exist yet.
async fn absent_note(
    cluster: &crate::cluster::Cluster,
    id: &ObjectId,
    namespaced: bool,
    is_patch: bool,
) -> Option<String> {
    if is_patch {
        return Some(format!(
            "{} {} does not exist yet: patched at apply",
            id.kind, id.name
        ));
    }
    let ns = id.namespace.as_deref().filter(|_| namespaced)?;
    let missing = cluster.namespace_exists(ns).await == Some(false);
    missing.then(|| format!("namespace {ns} does not exist yet: validated at apply"))
}

/// The plan of an object whose kind is not served: an error for a built-in kind, else a
/// custom resource whose CRD comes in the same run.
fn not_served(
    cluster: &crate::cluster::Cluster,
    id: &ObjectId,
    manifest: &Value,
) -> Result<ObjectPlan, KubeError> {
    if is_builtin_group(&id.group) {
        return Err(unknown_kind(cluster, id));
    }
    let manifest = prepare(id, None, manifest)?;
    let group = if id.group.is_empty() {
        "core"
    } else {
        &id.group
    };
    let why = format!(
        "no CRD serves {group}/{} {} yet: validated at apply",
        id.version, id.kind
    );
    Ok(ObjectPlan::whole(
        Verdict::Pending,
        &shown(id, manifest),
        Some(why),
    ))
}

/// A server-side dry-run apply of one object, compared with the live one.
struct DryRun<'a> {
    cluster: &'a crate::cluster::Cluster,
    api: &'a kube::Api<kube::api::DynamicObject>,
    id: &'a ObjectId,
    object: &'a str,
    manager: &'a str,
}

impl DryRun<'_> {
    async fn plan(&self, live: Value, manifest: Value) -> Result<ObjectPlan, KubeError> {
        let id = self.id;
        let params = PatchParams::apply(self.manager).force().dry_run();
        let patch = Patch::Apply(&manifest);
        let dry = self
            .cluster
            .call(self.object, || self.api.patch(&id.name, &params, &patch))
            .await?;
        let after = shown(id, to_value(id, &dry)?);
        let diff = diff::object_diff(Some(&live), &after, self.manager);
        let action = match diff.is_empty() {
            true => Verdict::NoOp,
            false => Verdict::Update,
        };
        Ok(ObjectPlan {
            action,
            diff,
            live: Some(live),
            unvalidated: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::unchanged;
    use serde_json::{Value, json};

    fn live(value: &str, fields: Value) -> Value {
        // A manager's fields are always in the object (the server drops the claim with
        // the field).
        json!({
            "metadata": {"name": "cfg", "namespace": "demo", "resourceVersion": "7",
                "managedFields": [
                    {"manager": "mtm", "operation": "Apply", "fieldsV1": fields},
                    {"manager": "kubectl-edit", "operation": "Update",
                        "fieldsV1": {"f:data": {"f:other": {}}}}
                ]},
            "data": {"colour": value, "other": "x", "size": "2"}
        })
    }

    fn ours() -> Value {
        json!({"f:data": {"f:colour": {}}})
    }

    fn declared(value: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "demo"}, "data": {"colour": value}})
    }

    #[test]
    fn only_exactly_what_mtm_holds_skips_the_dry_run() {
        assert!(unchanged(&live("blue", ours()), &declared("blue"), "mtm"));
        assert!(
            !unchanged(&live("red", ours()), &declared("blue"), "mtm"),
            "a value changed"
        );
        let more = json!({"f:data": {"f:colour": {}, "f:size": {}}});
        assert!(
            !unchanged(&live("blue", more), &declared("blue"), "mtm"),
            "a field to let go"
        );
        assert!(
            !unchanged(
                &live("blue", ours()),
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "demo"}, "data": {"colour": "blue", "size": "2"}}),
                "mtm"
            ),
            "a field to take"
        );
        assert!(
            !unchanged(&live("blue", json!({})), &declared("blue"), "mtm"),
            "not ours yet"
        );
        assert!(
            !unchanged(&live("blue", ours()), &declared("blue"), "other"),
            "another manager"
        );
    }
}
