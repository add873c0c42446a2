//! `mtm drift`: live objects and releases compared with what the last apply recorded, over
//! the fields mtm manages. Nothing is changed.
//!
//! The expected side is the manifest in state. Sensitive strings are stored there as their
//! `sha256:` hash, so a field whose live value hashes to the stored hash is not drift.

use super::{Engine, NodeError, secret_drift};
use crate::generate::fingerprint as sha256;
use crate::store::Record;
use futures::StreamExt;
use mtm_provider::resource::Spec;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One drifted field; an empty path means the whole resource (e.g. deleted outside mtm).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Drift {
    pub address: String,
    pub cluster: Option<String>,
    pub path: String,
    pub expected: Option<Value>,
    pub live: Option<Value>,
}

#[derive(Debug, Default, Serialize)]
pub struct DriftReport {
    pub checked: usize,
    pub drift: Vec<Drift>,
    pub errors: Vec<NodeError>,
}

/// Whether `live` is what state stored as a hash.
fn same_by_hash(expected: Option<&Value>, live: Option<&Value>) -> bool {
    match (
        expected.and_then(Value::as_str),
        live.and_then(Value::as_str),
    ) {
        (Some(e), Some(l)) if e.starts_with("sha256:") => sha256(l) == e,
        _ => false,
    }
}

impl Engine<'_> {
    /// Checks every selected resource that state records.
    pub async fn drift(&self, records: &BTreeMap<String, Record>) -> DriftReport {
        let jobs: Vec<_> = self
            .nodes()
            .into_iter()
            .filter_map(|(_, n)| records.get(n.resource.address.as_str()).map(|r| (n, r)))
            .collect();
        let results: Vec<Result<Vec<Drift>, NodeError>> = futures::stream::iter(jobs)
            .map(|(n, r)| self.drift_node(&n.resource, r))
            .buffered(self.parallelism.max(1))
            .collect()
            .await;
        let mut report = DriftReport::default();
        for r in results {
            report.checked += 1;
            match r {
                Ok(d) => report.drift.extend(d),
                Err(e) => report.errors.push(e),
            }
        }
        report
    }

    async fn drift_node(
        &self,
        r: &mtm_provider::Resource,
        record: &Record,
    ) -> Result<Vec<Drift>, NodeError> {
        let fail = |message: String| NodeError::new(r.address.to_string(), message);
        let drift = |path: String, expected: Option<Value>, live: Option<Value>| Drift {
            address: r.address.to_string(),
            cluster: r.cluster().map(str::to_string),
            path,
            expected,
            live,
        };
        let plan = match &r.spec {
            Spec::Object { id, .. } => {
                let expected = self.substitute(&record.manifest).map_err(fail)?;
                let plan = self.kube.plan_object(id, &expected).await;
                if mtm_kube::secret::is_secret(&id.group, &id.kind) {
                    let p = plan.map_err(|e| fail(e.to_string()))?;
                    return self
                        .secret_values(id, &expected, object_drift(p, &drift), &drift)
                        .await
                        .map_err(fail);
                }
                plan
            }
            Spec::Patch {
                target, manager, ..
            } => {
                let fields = record
                    .manifest
                    .get("fields")
                    .cloned()
                    .unwrap_or(Value::Null);
                self.kube.plan_patch(target, &fields, manager).await
            }
            Spec::Release { cluster, release } => {
                let rec: mtm_helm::ReleaseRecord = serde_json::from_value(record.manifest.clone())
                    .map_err(|e| fail(format!("state holds an unreadable release record: {e}")))?;
                let d = self
                    .helm
                    .drift_release(cluster, release, &rec)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let mut out = Vec::new();
                if d.live.is_none() {
                    out.push(drift(
                        String::new(),
                        Some(Value::String(format!("revision {}", rec.revision))),
                        None,
                    ));
                }
                if d.revision_changed
                    && let Some(live) = &d.live
                {
                    out.push(drift(
                        "revision".into(),
                        Some(rec.revision.into()),
                        Some(live.revision.into()),
                    ));
                }
                out.extend(
                    d.values
                        .into_iter()
                        .map(|v| drift(format!("values.{}", v.path), v.before, v.after)),
                );
                if !d.objects_diff.is_empty() {
                    out.push(drift(
                        "objects".into(),
                        None,
                        Some(Value::String(d.objects_diff)),
                    ));
                }
                return Ok(out);
            }
            _ => return Ok(Vec::new()),
        };
        let p = plan.map_err(|e| fail(e.to_string()))?;
        Ok(object_drift(p, &drift))
    }
}

impl Engine<'_> {
    /// A Secret's drift: its values compared by digest of the decoded bytes instead of
    /// by the diff (which sees only hashes state keeps for sensitive values).
    async fn secret_values(
        &self,
        id: &mtm_provider::ObjectId,
        expected: &Value,
        mut out: Vec<Drift>,
        drift: &impl Fn(String, Option<Value>, Option<Value>) -> Drift,
    ) -> Result<Vec<Drift>, String> {
        if out.iter().any(|d| d.path.is_empty()) {
            return Ok(out);
        }
        out.retain(|d| !secret_drift::is_value_path(&d.path));
        if let Some(live) = self.kube.get_object(id).await.map_err(|e| e.to_string())? {
            let declared = secret_drift::declared(expected);
            out.extend(
                secret_drift::compare(&declared, &live)
                    .into_iter()
                    .map(|k| drift(k.path, Some(k.expected.into()), k.live.map(Value::from))),
            );
        }
        Ok(out)
    }
}

/// The drift a plan of the recorded manifest shows: the whole object when it is gone,
/// else the changed fields (a hashed value that matches is not drift).
fn object_drift(
    p: mtm_kube::ObjectPlan,
    drift: &impl Fn(String, Option<Value>, Option<Value>) -> Drift,
) -> Vec<Drift> {
    match p.action {
        mtm_kube::Action::NoOp => Vec::new(),
        mtm_kube::Action::Create | mtm_kube::Action::CrdPending => {
            vec![drift(
                String::new(),
                Some(Value::String("exists".into())),
                None,
            )]
        }
        _ => p
            .diff
            .into_iter()
            .filter(|d| !same_by_hash(d.after.as_ref(), d.before.as_ref()))
            .map(|d| drift(d.path, d.after, d.before))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hashed_values_compare_by_hash() {
        let h = json!(sha256("s3cret"));
        assert!(same_by_hash(Some(&h), Some(&json!("s3cret"))));
        assert!(!same_by_hash(Some(&h), Some(&json!("other"))));
        assert!(!same_by_hash(Some(&json!("plain")), Some(&json!("plain"))));
    }
}
