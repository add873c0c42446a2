//! `mtm apply --refresh-only`: the live values of drifted objects accepted into state
//! instead of put right. Nothing on a cluster changes.
//!
//! A drifted object's record becomes what mtm manages of the live object (the fields of
//! its field manager, with their live values); a Secret's values are kept as digests of
//! their bytes only, so state never holds them. An object deleted outside mtm is
//! forgotten, so the next apply creates it. Field patches and releases are left as they
//! are (their drift is put right by apply).

use super::apply::Outcome;
use super::change::Action;
use super::record::{hash_value, redact_value};
use super::revision::{Finished, Ledger, Revision};
use super::{Engine, EngineError, Family, NodeError, family};
use crate::generate::fingerprint_bytes;
use crate::store::{Record, now_rfc3339};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mtm_kube::diff::{declared, owned_set};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What mtm manages of `live`: identity and the fields of `manager`. For a Secret,
/// `data` becomes `stringData` of `sha256:` digests of the decoded bytes.
pub fn accepted(live: &Value, manager: &str, secret: bool) -> Value {
    let mut set = owned_set(live, manager);
    set.remove("f:status");
    let mut out = declared(live, &set);
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if secret && let Some(obj) = out.as_object_mut() {
        let data = obj.remove("data");
        obj.remove("stringData");
        if let Some(Value::Object(data)) = data {
            let digests: Map<String, Value> = data
                .into_iter()
                .map(|(k, v)| {
                    let bytes = STANDARD
                        .decode(v.as_str().unwrap_or_default())
                        .unwrap_or_default();
                    (k, Value::String(fingerprint_bytes(&bytes)))
                })
                .collect();
            obj.insert("stringData".into(), Value::Object(digests));
        }
    }
    out
}

impl Engine<'_> {
    /// Writes `outcomes` (from `refresh`) in a revision of their own.
    pub fn accept(
        &self,
        outcomes: Vec<Outcome>,
        ledger: &Ledger<'_>,
    ) -> Result<Finished, EngineError> {
        let revision = Revision::new(ledger);
        let number = revision.number()?;
        for mut o in outcomes {
            if let Outcome::Put(r, _) = &mut o {
                r.revision = number;
            }
            revision.record(&o);
        }
        let report = crate::sched::Report {
            outcomes: Vec::new(),
            cancelled: false,
        };
        Ok(revision.finish(report)?.expect("the revision was begun"))
    }

    /// The state changes that accept the live values of every drifted object (records
    /// with revision 0: `accept` sets the revision that writes them).
    pub async fn refresh(
        &self,
        records: &BTreeMap<String, Record>,
    ) -> (Vec<Outcome>, Vec<NodeError>) {
        let report = self.drift(records).await;
        let mut drifted: Vec<&str> = report.drift.iter().map(|d| d.address.as_str()).collect();
        drifted.dedup();
        let secrets = self.secrets();
        let mut outcomes = Vec::new();
        let mut errors = report.errors;
        for (_, node) in self.nodes() {
            let address = node.resource.address.as_str();
            let r = &node.resource;
            let (Family::Object, Some(id), Some(record)) =
                (family(&r.spec), r.object_id(), records.get(address))
            else {
                continue;
            };
            if !drifted.contains(&address) {
                continue;
            }
            let live = match self.provider(&node.resource) {
                Ok(provider) => provider
                    .live(&node.resource)
                    .await
                    .map_err(EngineError::from),
                Err(e) => Err(e),
            };
            match live {
                Ok(None) => outcomes.push(Outcome::Remove(address.to_string(), Action::Delete)),
                Ok(Some(live)) => {
                    let secret = mtm_kube::secret::is_secret(&id.group, &id.kind);
                    let manifest = accepted(&live, mtm_kube::MANAGER, secret);
                    let rec = Record {
                        hash: hash_value(&manifest),
                        manifest: redact_value(&manifest, &secrets),
                        revision: 0,
                        applied_at: now_rfc3339(),
                        ..record.clone()
                    };
                    outcomes.push(Outcome::Put(Box::new(rec), Action::Update));
                }
                Err(e) => errors.push(self.node_error(address, &e)),
            }
        }
        (outcomes, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_our_fields_with_live_values_and_secret_values_as_digests() {
        let live = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n", "resourceVersion": "7",
                "labels": {"app": "x", "theirs": "y"},
                "managedFields": [
                    {"manager": "mtm", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:data": {"f:password": {}}}},
                    {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:theirs": {}}}}}
                ]},
            "data": {"password": STANDARD.encode("hunter2"), "other": "eA=="},
            "type": "Opaque"
        });
        let got = accepted(&live, "mtm", true);
        assert_eq!(
            got,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "n", "labels": {"app": "x"}},
                "stringData": {"password": fingerprint_bytes(b"hunter2")}
            })
        );
        assert!(!got.to_string().contains(&STANDARD.encode("hunter2")));
    }
}
