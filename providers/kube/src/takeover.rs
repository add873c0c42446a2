//! One server-side apply under the ownership policy: conflicts with hand-edit managers
//! only are taken over (the apply is repeated with force), any other conflict stays an
//! error unless forced; after the apply, hand-edit managers' claims on the applied
//! fields are cleared from `metadata.managedFields`.

use crate::apply::as_conflict;
use crate::cluster::Cluster;
use crate::error::KubeError;
use crate::ownership::Ownership;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// Where one apply goes and under which manager.
pub(crate) struct Target<'a> {
    pub cluster: &'a Cluster,
    pub api: &'a Api<DynamicObject>,
    pub name: &'a str,
    /// The object as errors name it.
    pub object: &'a str,
    pub manager: &'a str,
}

/// How many times clearing claims is tried when the object moves in between (a
/// controller busy with the change just applied), and the first pause between tries.
const CLEAR_ATTEMPTS: u32 = 5;
const CLEAR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Applies `body` under the policy: forced when `force`, else hand-edit conflicts only.
pub(crate) async fn apply(
    t: &Target<'_>,
    ownership: &Ownership,
    body: &Value,
    force: bool,
) -> Result<DynamicObject, KubeError> {
    let applied = match apply_once(t, body, force).await {
        Err(KubeError::Conflict { conflicts, .. })
            if conflicts
                .iter()
                .all(|c| ownership.is_hand_edit(&c.manager, t.manager)) =>
        {
            let managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
            tracing::info!(
                object = t.object,
                ?managers,
                "taking over hand-edited fields"
            );
            apply_once(t, body, true).await?
        }
        other => other?,
    };
    clear_claims(t, ownership, applied).await
}

async fn apply_once(t: &Target<'_>, body: &Value, force: bool) -> Result<DynamicObject, KubeError> {
    let mut params = PatchParams::apply(t.manager);
    if force {
        params = params.force();
    }
    let patch = Patch::Apply(body);
    t.cluster
        .call(t.object, || t.api.patch(t.name, &params, &patch))
        .await
        .map_err(|e| as_conflict(e, t.object))
}

/// Removes hand-edit managers' claims on the fields `t.manager` applied; the object as
/// it is afterwards.
async fn clear_claims(
    t: &Target<'_>,
    ownership: &Ownership,
    mut obj: DynamicObject,
) -> Result<DynamicObject, KubeError> {
    for attempt in 0..CLEAR_ATTEMPTS {
        let value = serde_json::to_value(&obj).map_err(|e| KubeError::Client {
            object: t.object.to_string(),
            message: format!("cannot read the object: {e}"),
        })?;
        let Some(fields) = ownership.cleared_managed_fields(&value, t.manager) else {
            return Ok(obj);
        };
        // The resourceVersion makes the write fail rather than drop a claim made since.
        let body = json!({"metadata": {
            "resourceVersion": obj.metadata.resource_version,
            "managedFields": fields,
        }});
        let params = PatchParams {
            field_manager: Some(t.manager.to_string()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(&body);
        match t
            .cluster
            .call(t.object, || t.api.patch(t.name, &params, &patch))
            .await
        {
            Ok(done) => {
                tracing::debug!(object = t.object, "cleared hand-edit claims");
                return Ok(done);
            }
            Err(e) if e.code() == Some(409) => {
                tracing::debug!(object = t.object, error = %e, "clearing claims: object moved");
                tokio::time::sleep(CLEAR_PAUSE * 2u32.pow(attempt)).await;
                match t.cluster.get(t.api, t.name, t.object).await? {
                    Some(fresh) => obj = fresh,
                    None => return Ok(obj),
                }
            }
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(
        object = t.object,
        "the object kept changing: hand-edit claims left in place"
    );
    Ok(obj)
}
