//! Deleting one object and waiting until it is gone.
//!
//! Deletion uses foreground propagation, so an object is gone only once its dependents
//! are; a namespace is gone once its finalizers have emptied it. An object that is already
//! gone (or whose kind is no longer served) is a success. Which objects to delete, and in
//! what order, is the engine's business.

use crate::KubeProvider;
use crate::cluster::gvk_of;
use crate::error::KubeError;
use crate::manifest::to_value;
use kube::api::DeleteParams;
use mtm_provider::ObjectId;
use serde_json::Value;
use std::time::{Duration, Instant};

impl KubeProvider {
    /// Deletes `id` (foreground propagation) and waits until it is gone, at most the
    /// provider's delete timeout.
    pub async fn delete_object(&self, id: &ObjectId) -> Result<(), KubeError> {
        let cluster = self.cluster(&id.cluster)?;
        let Some(kind) = cluster.resolve(&gvk_of(id)).await? else {
            // Not served: its CRD is gone, and with it every object of the kind.
            return Ok(());
        };
        let api = cluster.api(&kind, id.namespace.as_deref()).await?;
        let object = id.to_string();
        let params = DeleteParams::foreground();
        let deleted = cluster
            .call(&object, || api.delete(&id.name, &params))
            .await;
        match deleted {
            Ok(_) => {}
            Err(e) if e.code() == Some(404) => {
                let group = crate::listing::group_key(&kind, id.namespace.as_deref());
                cluster.listings.written(&group, &id.name);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let live = cluster.get(&api, &id.name, &object).await?;
            let Some(live) = live else {
                let group = crate::listing::group_key(&kind, id.namespace.as_deref());
                cluster.listings.written(&group, &id.name);
                tracing::debug!(object = %id, after = ?start.elapsed(), "deleted");
                return Ok(());
            };
            if start.elapsed() + pause > self.delete_timeout {
                return Err(KubeError::DeleteTimeout {
                    object,
                    after: start.elapsed(),
                    last_seen: still_there(&to_value(id, &live)?),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// What holds an object that should be gone: its finalizers and any True condition.
pub(crate) fn still_there(live: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(f) = live
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        && !f.is_empty()
    {
        let names: Vec<&str> = f.iter().filter_map(Value::as_str).collect();
        parts.push(format!("finalizers {}", names.join(", ")));
    }
    if let Some(f) = live.pointer("/spec/finalizers").and_then(Value::as_array)
        && !f.is_empty()
    {
        // A namespace's own finalizers: it waits for its content to be removed.
        let names: Vec<&str> = f.iter().filter_map(Value::as_str).collect();
        parts.push(format!("namespace finalizers {}", names.join(", ")));
    }
    if let Some(phase) = live.pointer("/status/phase").and_then(Value::as_str) {
        parts.push(format!("phase {phase}"));
    }
    for c in live
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "True")
    {
        let ty = c["type"].as_str().unwrap_or("?");
        match c["message"].as_str() {
            Some(m) if !m.is_empty() => parts.push(format!("{ty}: {m}")),
            _ => parts.push(ty.to_string()),
        }
    }
    if parts.is_empty() {
        "no finalizers or conditions reported".into()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_finalizers_and_conditions() {
        let ns = json!({
            "metadata": {"name": "demo", "finalizers": ["example.com/hold"]},
            "status": {"phase": "Terminating", "conditions": [
                {"type": "NamespaceContentRemaining", "status": "True",
                 "message": "Some resources are remaining: configmaps. has 1 resource instances"},
                {"type": "NamespaceDeletionDiscoveryFailure", "status": "False"}
            ]}
        });
        assert_eq!(
            still_there(&ns),
            "finalizers example.com/hold; phase Terminating; NamespaceContentRemaining: \
             Some resources are remaining: configmaps. has 1 resource instances"
        );
    }
}
