//! Drift of a Secret's values, by digest of the decoded bytes on both sides.
//!
//! What was declared (the manifest in state, generated values put back) may hold a value
//! in `stringData` (text) or `data` (base64), or only its `sha256:` hash when it came
//! from a sensitive variable. The server keeps `data` only. Each declared key becomes
//! the digest of the bytes it stands for, each live key the digest of its decoded bytes,
//! and only digests are compared and shown: no value is ever printed. Pure.

use crate::generate::{fingerprint, fingerprint_bytes as digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::collections::BTreeMap;

/// What state lets us know of one declared value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Declared {
    /// `sha256:<hex>` of the value's bytes (from `stringData`, or decoded `data`).
    Bytes(String),
    /// `sha256:<hex>` of the base64 text a `data` entry held (a hashed sensitive value).
    Base64Text(String),
}

/// One key whose live value is not the declared one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDrift {
    /// `data.password`, `data["tls.crt"]`.
    pub path: String,
    /// `(sensitive sha256:<12 hex>)` of the declared bytes, or `(sensitive)`.
    pub expected: String,
    /// `(sensitive sha256:<12 hex>)` of the live bytes, `None` when the key is missing.
    pub live: Option<String>,
}

/// Whether `s` is a hash state keeps in place of a sensitive value.
fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The declared value of every key of a Secret manifest (`stringData` wins over `data`).
pub fn declared(manifest: &Value) -> BTreeMap<String, Declared> {
    let mut out = BTreeMap::new();
    if let Some(data) = manifest.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            let v = text(v);
            let d = if is_hash(&v) {
                Declared::Base64Text(v)
            } else {
                match STANDARD.decode(v.trim()) {
                    Ok(bytes) => Declared::Bytes(digest(&bytes)),
                    Err(_) => Declared::Base64Text(fingerprint(&v)),
                }
            };
            out.insert(k.clone(), d);
        }
    }
    if let Some(strings) = manifest.get("stringData").and_then(Value::as_object) {
        for (k, v) in strings {
            let v = text(v);
            let d = if is_hash(&v) {
                Declared::Bytes(v)
            } else {
                Declared::Bytes(fingerprint(&v))
            };
            out.insert(k.clone(), d);
        }
    }
    out
}

fn shown(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("(sensitive sha256:{})", &hex[..hex.len().min(12)])
}

/// A key as a path segment under `data`.
fn path(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("data.{key}")
    } else {
        format!("data[{}]", Value::String(key.to_string()))
    }
}

/// The declared keys whose live value (in the live Secret's `data`) differs or is missing.
pub fn compare(declared: &BTreeMap<String, Declared>, live: &Value) -> Vec<KeyDrift> {
    let live_data = live.get("data").and_then(Value::as_object);
    let mut out = Vec::new();
    for (key, want) in declared {
        let expected = match want {
            Declared::Bytes(d) => shown(d),
            Declared::Base64Text(_) => "(sensitive)".to_string(),
        };
        let Some(b64) = live_data.and_then(|d| d.get(key)).map(text) else {
            out.push(KeyDrift {
                path: path(key),
                expected,
                live: None,
            });
            continue;
        };
        let bytes = STANDARD.decode(b64.trim()).unwrap_or_default();
        let live_digest = digest(&bytes);
        let same = match want {
            Declared::Bytes(d) => *d == live_digest,
            Declared::Base64Text(d) => {
                *d == fingerprint(&b64) || *d == fingerprint(&STANDARD.encode(&bytes))
            }
        };
        if !same {
            out.push(KeyDrift {
                path: path(key),
                expected,
                live: Some(shown(&live_digest)),
            });
        }
    }
    out
}

/// Whether a field path of a diff is a Secret value (compared here, not by the diff).
pub fn is_value_path(path: &str) -> bool {
    ["data", "stringData"].iter().any(|f| {
        path == *f
            || path
                .strip_prefix(f)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(pairs: &[(&str, &str)]) -> Value {
        let data: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(STANDARD.encode(v))))
            .collect();
        json!({"kind": "Secret", "data": data})
    }

    #[test]
    fn every_form_matches_what_the_server_stores() {
        let stored = live(&[
            ("a", "alpha"),
            ("b", "beta"),
            ("c", "gamma"),
            ("d", "delta"),
        ]);
        let forms = [
            json!({"stringData": {"a": "alpha"}}),
            json!({"data": {"b": STANDARD.encode("beta")}}),
            // Both: stringData wins for the same key.
            json!({"data": {"c": STANDARD.encode("old")}, "stringData": {"c": "gamma"}}),
            // From a sensitive variable: state holds the hash of the text.
            json!({"stringData": {"d": fingerprint("delta")}}),
            json!({"data": {"d": fingerprint(&STANDARD.encode("delta"))}}),
        ];
        for form in forms {
            assert_eq!(compare(&declared(&form), &stored), vec![], "{form}");
        }
    }

    #[test]
    fn a_changed_or_missing_value_is_named_never_shown() {
        let declared = declared(&json!({"stringData": {"password": "s3cret", "tls.key": "k"}}));
        let drift = compare(&declared, &live(&[("password", "other")]));
        assert_eq!(drift.len(), 2, "{drift:?}");
        assert_eq!(drift[0].path, "data.password");
        assert_eq!(drift[1].path, "data[\"tls.key\"]");
        assert_eq!(drift[1].live, None);
        let text = format!("{drift:?}");
        for secret in ["s3cret", "other", &STANDARD.encode("other")] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(drift[0].expected.starts_with("(sensitive sha256:"));
        assert_ne!(drift[0].expected, drift[0].live.clone().unwrap());
    }

    #[test]
    fn value_paths() {
        assert!(is_value_path("data"));
        assert!(is_value_path("data.password"));
        assert!(is_value_path("data[\"tls.crt\"]"));
        assert!(is_value_path("stringData.a"));
        assert!(!is_value_path("dataset"));
        assert!(!is_value_path("metadata.labels.data"));
    }
}
