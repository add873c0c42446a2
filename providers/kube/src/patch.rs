//! Field patches: a few fields set on an object mtm does not own (lab 2's waypoint label
//! on a Service), by server-side apply under the patch's own field manager.
//!
//! Releasing a patch applies an empty object under the same manager: the server then
//! removes exactly the fields only that manager held and leaves the object and everyone
//! else's fields alone. A patch never creates its target: a missing target is an error
//! on apply and nothing to do on release.

use crate::KubeProvider;
use crate::cluster::gvk_of;
use crate::error::KubeError;
use crate::manifest::{prepare, unknown_kind};
use crate::takeover::{self, Target};
use kube::api::{Patch, PatchParams};
use mtm_provider::{Applied, ObjectId};
use serde_json::{Value, json};

impl KubeProvider {
    /// Applies `fields` (a partial object) on the existing object `target` under field
    /// manager `manager`; `force_conflicts` takes over fields another manager holds (hand
    /// edits are taken over without it, as for objects).
    pub async fn apply_patch(
        &self,
        target: &ObjectId,
        fields: &Value,
        manager: &str,
        force_conflicts: bool,
    ) -> Result<Applied, KubeError> {
        let cluster = self.cluster(&target.cluster)?;
        let kind = cluster
            .resolve(&gvk_of(target))
            .await?
            .ok_or_else(|| unknown_kind(cluster, target))?;
        let body = prepare(target, Some(&kind), fields)?;
        let api = cluster.api(&kind, target.namespace.as_deref()).await?;
        let object = format!("{target} (patch {manager})");
        let Some(live) = cluster.get(&api, &target.name, &object).await? else {
            return Err(KubeError::NotFound { object });
        };
        // The uid pins the apply to the object we saw: it never recreates a deleted one.
        let mut body = body;
        body["metadata"]["uid"] = json!(live.metadata.uid);
        let t = Target {
            cluster,
            api: &api,
            name: &target.name,
            object: &object,
            manager,
        };
        let applied = takeover::apply(&t, &self.ownership, &body, force_conflicts).await?;
        let group = crate::listing::group_key(&kind, target.namespace.as_deref());
        cluster.listings.written(&group, &target.name);
        let summary = if live.metadata.resource_version == applied.metadata.resource_version {
            "unchanged"
        } else {
            "patched"
        };
        tracing::debug!(object = %target, manager, summary, "patch applied");
        Ok(Applied {
            uid: applied.metadata.uid.clone(),
            summary: summary.into(),

            ..Applied::default()
        })
    }

    /// Removes what `manager` set on `target`, leaving the object. A target that is gone
    /// (or whose kind is not served) has nothing left to release.
    pub async fn release_patch(&self, target: &ObjectId, manager: &str) -> Result<(), KubeError> {
        let cluster = self.cluster(&target.cluster)?;
        let Some(kind) = cluster.resolve(&gvk_of(target)).await? else {
            return Ok(());
        };
        let api = cluster.api(&kind, target.namespace.as_deref()).await?;
        let object = format!("{target} (patch {manager})");
        let Some(live) = cluster.get(&api, &target.name, &object).await? else {
            return Ok(());
        };
        let mut body = prepare(target, Some(&kind), &json!({}))?;
        body["metadata"]["uid"] = json!(live.metadata.uid);
        let params = PatchParams::apply(manager);
        let patch = Patch::Apply(&body);
        let released = cluster
            .call(&object, || api.patch(&target.name, &params, &patch))
            .await;
        match released {
            Ok(_) => {
                let group = crate::listing::group_key(&kind, target.namespace.as_deref());
                cluster.listings.written(&group, &target.name);
                Ok(())
            }
            // Deleted between the read and the apply: nothing left to release.
            Err(e) if matches!(e.code(), Some(404) | Some(409)) => {
                match cluster.get(&api, &target.name, &object).await? {
                    None => Ok(()),
                    Some(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
