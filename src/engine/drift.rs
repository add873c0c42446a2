//! `mtm drift`: live objects and releases compared with what the last apply recorded, over
//! the fields mtm manages. Nothing is changed.
//!
//! The expected side is the manifest in state. Sensitive strings are stored there as their
//! `sha256:` hash, so a field whose live value hashes to the stored hash is not drift.

use super::{Engine, EngineError, Family, NodeError, family, secret_drift};
use crate::generate::fingerprint as sha256;
use crate::store::Record;
use mtm_provider::DriftField;
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
        let resources: Vec<&mtm_provider::Resource> =
            jobs.iter().map(|(n, _)| &n.resource).collect();
        self.router.prefetch(&resources).await;
        let results = super::each_at_most(jobs, self.parallelism, |(n, r)| {
            self.drift_node(&n.resource, r)
        })
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
        self.drift_of(r, record)
            .await
            .map_err(|e| self.node_error(r.address.as_str(), &e))
    }

    /// How `r` on its cluster differs from `record`, over the fields mtm manages.
    async fn drift_of(
        &self,
        r: &mtm_provider::Resource,
        record: &Record,
    ) -> Result<Vec<Drift>, EngineError> {
        let drift = |f: DriftField| Drift {
            address: r.address.to_string(),
            cluster: r.cluster().map(str::to_string),
            path: f.path,
            expected: f.expected,
            live: f.live,
        };
        let Some(provider) = self.router.provider(r) else {
            return Ok(Vec::new());
        };
        // Objects are compared with their recorded manifest, generated values put back.
        let object = family(&r.spec) == Family::Object;
        let expected = match object {
            true => self.substitute(&record.manifest)?,
            false => record.manifest.clone(),
        };
        let found = provider.drift(r, &expected).await?;
        let mut out: Vec<Drift> = found
            .into_iter()
            .filter(|f| !same_by_hash(f.expected.as_ref(), f.live.as_ref()))
            .map(drift)
            .collect();
        if let Some(id) = r.object_id()
            && object
            && mtm_kube::secret::is_secret(&id.group, &id.kind)
            && !out.iter().any(|d| d.path.is_empty())
        {
            // A Secret's values are compared by digest of their bytes instead of by the
            // diff, which sees only the hashes state keeps for sensitive values.
            out.retain(|d| !secret_drift::is_value_path(&d.path));
            if let Some(live) = provider.live(r).await? {
                let declared = secret_drift::declared(&expected);
                out.extend(
                    secret_drift::compare(&declared, &live)
                        .into_iter()
                        .map(|k| {
                            drift(DriftField {
                                path: k.path,
                                expected: Some(k.expected.into()),
                                live: k.live.map(Value::from),
                            })
                        }),
                );
            }
        }
        Ok(out)
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
