//! State records of what was applied: the hash of the applied manifest and the manifest
//! itself with every sensitive string replaced by its hash.
//!
//! Pure functions: the caller passes the secrets to hide and the revision; nothing here
//! writes state.

use crate::generate::fingerprint as sha256;
use crate::store::{Identity, Record, now_rfc3339};
use mtm_provider::resource::Resource;
use serde_json::Value;
use std::collections::BTreeSet;

/// The hash of a JSON value (serde_json writes maps in key order: canonical enough).
pub fn hash_value(value: &Value) -> String {
    sha256(&value.to_string())
}

/// A copy of `value` where every string containing a secret is replaced by its hash.
pub fn redact_value(value: &Value, secrets: &BTreeSet<String>) -> Value {
    match value {
        Value::String(s) if secrets.iter().any(|x| s.contains(x.as_str())) => {
            Value::String(sha256(s))
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_value(v, secrets)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_value(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The record of a resource applied in `revision`, `applied` being what was sent.
pub fn record(
    resource: &Resource,
    applied: &Value,
    uid: Option<String>,
    prior: Option<Value>,
    revision: u64,
    secrets: &BTreeSet<String>,
) -> Record {
    let identity = resource.object_id().map(|id| Identity {
        group: id.group.clone(),
        version: id.version.clone(),
        kind: id.kind.clone(),
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        uid,
    });
    Record {
        address: resource.address.to_string(),
        cluster: resource.cluster().map(str::to_string),
        identity,
        kind: resource.type_name().to_string(),
        hash: hash_value(applied),
        manifest: redact_value(applied, secrets),
        revision,
        applied_at: now_rfc3339(),
        prior: prior.map(|p| redact_value(&p, secrets)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_become_hashes() {
        let secrets: BTreeSet<String> = ["hunter2".to_string()].into();
        let v = json!({"a": "x hunter2 y", "b": ["hunter2"], "c": "plain", "d": 3});
        let r = redact_value(&v, &secrets);
        assert_eq!(r["a"], json!(sha256("x hunter2 y")));
        assert_eq!(r["b"][0], json!(sha256("hunter2")));
        assert_eq!(r["c"], "plain");
        assert!(!r.to_string().contains("hunter2"));
    }
}
