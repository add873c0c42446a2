//! Helm values as JSON: dotted paths, the deep merge that `--reuse-values` performs, the
//! canonical hash that identifies a set of values without storing it, the values diff of a
//! plan, and the redacted copy that state may keep.
//!
//! Pure functions only; nothing here runs helm.

use crate::redact::MASK;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One changed leaf of a release's user values. A sensitive leaf shows as `(sensitive)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueChange {
    /// Dotted path, e.g. `tokenExchange.enabled`.
    pub path: String,
    /// `None`: the path is not set before.
    pub before: Option<Value>,
    /// `None`: the path is not set after.
    pub after: Option<Value>,
}

/// Splits a dotted path; `\.` is a literal dot in a key.
pub fn split_path(path: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => parts.last_mut().expect("one part").push(n),
                None => parts.last_mut().expect("one part").push('\\'),
            },
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

fn join_path(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| p.replace('.', "\\."))
        .collect::<Vec<_>>()
        .join(".")
}

/// Sets `value` at the dotted `path`, creating maps on the way. Fails (with a message) when
/// a part of the path is an empty key or an existing non-map value.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = split_path(path);
    if parts.iter().any(String::is_empty) {
        return Err("empty key in the path".into());
    }
    if !root.is_object() {
        *root = Value::Object(Map::new());
    }
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let map = match node {
            Value::Object(m) => m,
            Value::Null => {
                *node = Value::Object(Map::new());
                node.as_object_mut().expect("just made a map")
            }
            _ => {
                return Err(format!("`{}` is not a map", join_path(&parts[..i])));
            }
        };
        if i + 1 == parts.len() {
            map.insert(part.clone(), value);
            return Ok(());
        }
        node = map.entry(part.clone()).or_insert(Value::Null);
    }
    Ok(())
}

pub fn get_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    split_path(path)
        .iter()
        .try_fold(root, |node, part| node.as_object()?.get(part))
}

/// Merges `over` into `base` as helm merges values files: maps recursively, anything else
/// replaced.
pub fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// User values as helm reports them: `null` (no user values) is the empty map.
pub fn normalize(v: Value) -> Value {
    if v.is_null() {
        Value::Object(Map::new())
    } else {
        v
    }
}

/// JSON with map keys sorted at every level and no whitespace: one text per set of values.
pub fn canonical(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&m[k.as_str()], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash that identifies a release's user values (`helm get values -o json`).
pub fn values_sha256(v: &Value) -> String {
    sha256_hex(canonical(&normalize(v.clone())).as_bytes())
}

/// The hash kept in place of a sensitive value: of the string itself for a string (so it
/// matches `sha256sum` of the key), of its canonical JSON otherwise.
pub fn secret_sha256(v: &Value) -> String {
    match v {
        Value::String(s) => sha256_hex(s.as_bytes()),
        other => sha256_hex(canonical(other).as_bytes()),
    }
}

/// A copy of the values with every sensitive path replaced by `sha256:<hex>`.
pub fn redacted(v: &Value, sensitive_paths: &[String]) -> Value {
    let mut out = normalize(v.clone());
    for path in sensitive_paths {
        if let Some(secret) = get_path(&out, path).cloned() {
            let hashed = Value::String(format!("sha256:{}", secret_sha256(&secret)));
            // The path exists and leads through maps, so setting it cannot fail.
            let _ = set_path(&mut out, path, hashed);
        }
    }
    out
}

/// The leaves that differ between two sets of values, in path order. Maps are walked;
/// arrays and scalars are leaves. Sensitive leaves show as `(sensitive)`.
pub fn diff(before: &Value, after: &Value, sensitive_paths: &[String]) -> Vec<ValueChange> {
    let sensitive: Vec<Vec<String>> = sensitive_paths.iter().map(|p| split_path(p)).collect();
    let mut out = Vec::new();
    walk(
        &mut Vec::new(),
        Some(&normalize(before.clone())),
        Some(&normalize(after.clone())),
        &sensitive,
        &mut out,
    );
    out
}

fn walk(
    path: &mut Vec<String>,
    before: Option<&Value>,
    after: Option<&Value>,
    sensitive: &[Vec<String>],
    out: &mut Vec<ValueChange>,
) {
    // A map against a map or against nothing is walked, so that an added or removed
    // subtree shows leaf by leaf and its sensitive leaves are masked one by one.
    fn as_map(v: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
        match v {
            Some(Value::Object(m)) => Some(Some(m)),
            None => Some(None),
            Some(_) => None,
        }
    }
    if let (Some(b), Some(a)) = (as_map(before), as_map(after))
        && (b.is_some() || a.is_some())
    {
        let mut keys: Vec<&String> = b.iter().chain(a.iter()).flat_map(|m| m.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            path.push(k.clone());
            walk(
                path,
                b.and_then(|m| m.get(k)),
                a.and_then(|m| m.get(k)),
                sensitive,
                out,
            );
            path.pop();
        }
        return;
    }
    if before == after {
        return;
    }
    // A leaf at or above a sensitive path (a scalar replacing a map that holds one).
    let masked = sensitive
        .iter()
        .any(|s| path.starts_with(s) || s.starts_with(path));
    let show = |v: Option<&Value>| {
        v.map(|v| {
            if masked {
                Value::String(MASK.into())
            } else {
                v.clone()
            }
        })
    };
    out.push(ValueChange {
        path: join_path(path),
        before: show(before),
        after: show(after),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_and_get_dotted_paths() {
        let mut v = json!({"licensing": {"other": 1}});
        set_path(&mut v, "licensing.licenseKey", json!("k")).unwrap();
        set_path(&mut v, r"annotations.a\.b/c", json!("x")).unwrap();
        assert_eq!(
            v,
            json!({"licensing": {"other": 1, "licenseKey": "k"}, "annotations": {"a.b/c": "x"}})
        );
        assert_eq!(get_path(&v, "licensing.licenseKey"), Some(&json!("k")));
        assert!(set_path(&mut v, "licensing.other.x", json!(1)).is_err());
        assert!(set_path(&mut v, "a..b", json!(1)).is_err());
    }

    #[test]
    fn merge_keeps_what_the_override_does_not_name() {
        let mut base = json!({"a": {"x": 1, "y": 2}, "list": [1, 2], "s": "old"});
        deep_merge(&mut base, &json!({"a": {"y": 3}, "list": [9], "n": null}));
        assert_eq!(
            base,
            json!({"a": {"x": 1, "y": 3}, "list": [9], "s": "old", "n": null})
        );
    }

    #[test]
    fn hash_ignores_key_order_and_null_is_empty() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"c":3,"d":2},"b":1}"#).unwrap();
        assert_eq!(values_sha256(&a), values_sha256(&b));
        assert_eq!(values_sha256(&Value::Null), values_sha256(&json!({})));
        assert_eq!(canonical(&a), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }

    #[test]
    fn diff_masks_sensitive_leaves() {
        let before = json!({"licensing": {"licenseKey": "old"}, "t": {"enabled": false}});
        let after = json!({"licensing": {"licenseKey": "new"}, "t": {"enabled": true, "i": "x"}});
        let d = diff(&before, &after, &["licensing.licenseKey".to_string()]);
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("old") && !text.contains("new"), "{text}");
        let added = diff(&json!({}), &after, &["licensing.licenseKey".to_string()]);
        assert_eq!(added.len(), 3, "{added:?}");
        assert_eq!(added[0].after, Some(json!(MASK)));
        let replaced = diff(
            &json!({"licensing": "x"}),
            &after,
            &["licensing.licenseKey".into()],
        );
        assert_eq!(replaced[0].after, Some(json!(MASK)), "{replaced:?}");
        assert_eq!(
            d,
            vec![
                ValueChange {
                    path: "licensing.licenseKey".into(),
                    before: Some(json!(MASK)),
                    after: Some(json!(MASK)),
                },
                ValueChange {
                    path: "t.enabled".into(),
                    before: Some(json!(false)),
                    after: Some(json!(true)),
                },
                ValueChange {
                    path: "t.i".into(),
                    before: None,
                    after: Some(json!("x")),
                },
            ]
        );
    }

    #[test]
    fn redacted_hashes_sensitive_paths() {
        let v = json!({"licensing": {"licenseKey": "abc"}, "x": 1});
        let r = redacted(&v, &["licensing.licenseKey".into(), "missing.path".into()]);
        assert_eq!(
            r,
            json!({"licensing": {"licenseKey":
                "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}, "x": 1})
        );
    }
}
