//! Secrets: what keeps their values out of plans, and what makes their changes visible.
//!
//! A Secret's `stringData` is never stored by the server (it is merged into `data`), so
//! the fields mtm would own under it never show in a diff. Manifests are therefore sent
//! with `stringData` moved into `data` (base64), as the server would store it. Before a
//! Secret is compared or handed back, every value under `data` is replaced by a digest,
//! so a plan says that a value changed without saying what it is. Pure functions.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Whether an object of this group and kind is a Secret.
pub fn is_secret(group: &str, kind: &str) -> bool {
    group.is_empty() && kind == "Secret"
}

/// Standard base64 with padding, as `data` holds it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Moves `stringData` into `data` (a `stringData` key wins, as on the server).
pub fn fold_string_data(manifest: &mut Value) {
    let Some(obj) = manifest.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = obj.remove("stringData") else {
        return;
    };
    let data = obj
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(data) = data {
        for (k, v) in strings {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(k, Value::String(base64(text.as_bytes())));
        }
    }
}

/// Replaces every value under `data` and `stringData` with `(sensitive sha256:<12 hex>)`.
pub fn redact(obj: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = obj.get_mut(field) {
            for v in map.values_mut() {
                let text = match &*v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let digest = Sha256::digest(text.as_bytes());
                let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                *v = Value::String(format!("(sensitive sha256:{hex})"));
            }
        }
    }
    if let Some(Value::Object(meta)) = obj.get_mut("metadata")
        && let Some(Value::Object(annotations)) = meta.get_mut("annotations")
    {
        // kubectl's client-side apply keeps the whole Secret here.
        if let Some(v) = annotations.get_mut("kubectl.kubernetes.io/last-applied-configuration") {
            *v = Value::String("(sensitive)".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hello world"), "aGVsbG8gd29ybGQ=");
    }

    #[test]
    fn string_data_moves_into_data() {
        let mut s = json!({"kind": "Secret", "data": {"a": "eA==", "b": "eQ=="},
                           "stringData": {"b": "bee"}});
        fold_string_data(&mut s);
        assert_eq!(
            s,
            json!({"kind": "Secret", "data": {"a": "eA==", "b": "YmVl"}})
        );
    }

    #[test]
    fn redacted_values_differ_when_values_differ() {
        let mut a = json!({"data": {"k": "YQ=="}});
        let mut b = json!({"data": {"k": "Yg=="}});
        redact(&mut a);
        redact(&mut b);
        let text = a["data"]["k"].as_str().unwrap();
        assert!(text.starts_with("(sensitive sha256:"), "{text}");
        assert!(!text.contains("YQ=="));
        assert_ne!(a, b);
    }
}
