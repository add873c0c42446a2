//! Applying one object by server-side apply under field manager `mtm`, and turning a
//! 409 conflict into the fields and managers it names.

use crate::KubeProvider;
use crate::cluster::gvk_of;
use crate::error::{KubeError, conflicts_of};
use crate::manifest::{is_builtin_group, prepare, unknown_kind};
use crate::takeover::{self, Target};
use mtm_provider::{Applied, ObjectId};
use serde_json::Value;
use std::time::Duration;

/// The field manager of every object mtm applies.
pub const MANAGER: &str = "mtm";

/// How long an apply waits for a kind to be served (a CRD established a moment ago).
const KIND_PATIENCE: Duration = Duration::from_secs(15);

impl KubeProvider {
    /// Applies `manifest` as `id` by server-side apply under field manager `mtm`; with
    /// `force_conflicts`, fields other managers hold are taken over, else only those of
    /// hand-edit managers (the ownership policy) and the others are an error naming those
    /// fields and managers. Hand-edit claims on the applied fields are cleared.
    pub async fn apply_object(
        &self,
        id: &ObjectId,
        manifest: &Value,
        force_conflicts: bool,
    ) -> Result<Applied, KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        // A built-in kind is served or never will be; a custom one may be a moment away.
        let patience = if is_builtin_group(&id.group) {
            Duration::ZERO
        } else {
            KIND_PATIENCE
        };
        let kind = cluster
            .resolve_patiently(&gvk_of(id), patience)
            .await?
            .ok_or_else(|| unknown_kind(cluster, id))?;
        let manifest = prepare(id, Some(&kind), manifest)?;
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = id.to_string();
        let group = crate::listing::group_key(&kind, id.namespace.as_deref());
        // What its plan read a moment ago, if the run has not written it since.
        let before = match cluster.listings.recent(&group, &id.name) {
            Some(before) => before,
            None => cluster.get(&api, &id.name, &object).await?,
        };
        let target = Target {
            cluster,
            api: &api,
            name: &id.name,
            object: &object,
            manager: MANAGER,
        };
        let applied = takeover::apply(&target, &self.ownership, &manifest, force_conflicts).await;
        // Applied or not, what was read before may no longer be what the server holds.
        cluster.listings.written(&group, &id.name);
        let applied = applied?;
        // Read as absent, yet others hold fields of it: created since that read.
        let prior = match &before {
            None => held_by_others(&applied),
            Some(_) => None,
        };
        let summary = match &before {
            None if prior.is_none() => "created",
            Some(b) if b.metadata.resource_version == applied.metadata.resource_version => {
                "unchanged"
            }
            _ => "configured",
        };
        if prior.is_some() {
            tracing::warn!(object = %id, "created by another client since mtm read it as absent: \
                what that client holds of it is kept as what existed before");
        }
        tracing::debug!(object = %id, summary, force_conflicts, "applied");
        Ok(Applied {
            uid: applied.metadata.uid.clone(),
            summary: summary.to_string(),
            prior,
            ..Applied::default()
        })
    }
}

/// What other field managers hold of an object mtm has just applied (its identity and
/// their fields), or `None` when mtm alone holds it. An object mtm read as absent and then
/// created has no other manager; one that has them existed before the apply, and this is
/// what stood before it as far as it can be known (the values mtm also set included).
fn held_by_others(applied: &kube::api::DynamicObject) -> Option<Value> {
    // Most applies are mtm's own creates: tell from the typed entries before converting.
    let mtm_alone =
        applied.metadata.managed_fields.iter().flatten().all(|e| {
            e.manager.as_deref() == Some(MANAGER) && e.operation.as_deref() == Some("Apply")
        });
    if mtm_alone {
        return None;
    }
    let value = serde_json::to_value(applied).ok()?;
    let others = crate::diff::other_sets(&value, MANAGER);
    if others.is_empty() {
        return None;
    }
    let mut set = serde_json::Map::new();
    for (_, fields) in &others {
        crate::diff::merge(&mut set, fields);
    }
    Some(crate::diff::declared(&value, &set))
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
