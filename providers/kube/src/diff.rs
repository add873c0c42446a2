//! The field diff of a live object against the result of a server-side dry-run apply,
//! limited to the fields our field manager owns.
//!
//! Which fields are ours is read from `metadata.managedFields` (the `FieldsV1` sets): the
//! union of what the manager owned before and what it would own after. Everything else
//! (status, defaults, fields of other managers, server bookkeeping) is outside the diff,
//! so the diff is empty when nothing of ours would change. Pure: values in, values out; it
//! never talks to a cluster.

use serde_json::{Map, Value};

pub use mtm_provider::FieldDiff;

/// Server-owned metadata that is never part of a diff, even if a set names it.
const IGNORED_METADATA: &[&str] = &[
    "f:managedFields",
    "f:resourceVersion",
    "f:uid",
    "f:generation",
    "f:creationTimestamp",
    "f:deletionTimestamp",
    "f:deletionGracePeriodSeconds",
    "f:selfLink",
];

/// The `FieldsV1` set of every managedFields entry of `manager` with operation Apply.
pub fn owned_set(obj: &Value, manager: &str) -> Map<String, Value> {
    let mut set = Map::new();
    for entry in managed_fields(obj) {
        if entry["manager"] == manager
            && entry["operation"] == "Apply"
            && let Some(f) = entry["fieldsV1"].as_object()
        {
            merge(&mut set, f);
        }
    }
    set
}

/// Every other entry's set, labelled with its manager: who may conflict with us.
pub fn other_sets(obj: &Value, manager: &str) -> Vec<(String, Map<String, Value>)> {
    managed_fields(obj)
        .filter(|e| !(e["manager"] == manager && e["operation"] == "Apply"))
        .filter_map(|e| {
            let name = e["manager"].as_str()?.to_string();
            Some((name, e["fieldsV1"].as_object()?.clone()))
        })
        .collect()
}

fn managed_fields(obj: &Value) -> impl Iterator<Item = &Value> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Adds every field of `b` to `a`.
pub fn merge(a: &mut Map<String, Value>, b: &Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(k), v.as_object()) {
            (Some(Value::Object(existing)), Some(sub)) => merge(existing, sub),
            (None, _) => {
                a.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
}

/// The diff of `before` (live, `None` when absent) against `after` (the dry-run result) on
/// the fields `manager` owns in either.
pub fn object_diff(before: Option<&Value>, after: &Value, manager: &str) -> Vec<FieldDiff> {
    let mut set = owned_set(after, manager);
    let others = match before {
        Some(b) => {
            merge(&mut set, &owned_set(b, manager));
            other_sets(b, manager)
        }
        None => Vec::new(),
    };
    strip_ignored(&mut set);
    let Some(before) = before else {
        return vec![FieldDiff {
            path: String::new(),
            before: None,
            after: Some(declared(after, &set)),
            owners: Vec::new(),
        }];
    };
    let mut walker = Walker {
        others: &others,
        out: Vec::new(),
    };
    // The root of a set is never a leaf: an empty set owns nothing.
    walker.walk_children(&set, before, after, &mut Vec::new());
    walker.out
}

/// An object as we declare it: its identity and the fields of `set`.
pub fn declared(after: &Value, set: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for key in ["apiVersion", "kind"] {
        if let Some(v) = after.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut meta = Map::new();
    for key in ["name", "namespace"] {
        if let Some(v) = after.pointer(&format!("/metadata/{key}")) {
            meta.insert(key.into(), v.clone());
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    if set.keys().any(|k| k != ".")
        && let Value::Object(owned) = project(after, set)
    {
        merge_values(&mut out, owned);
    }
    Value::Object(out)
}

fn merge_values(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Object(existing)), Value::Object(sub)) => merge_values(existing, sub),
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
}

fn strip_ignored(set: &mut Map<String, Value>) {
    set.remove("f:status");
    if let Some(Value::Object(meta)) = set.get_mut("f:metadata") {
        for k in IGNORED_METADATA {
            meta.remove(*k);
        }
    }
}

/// The part of `value` that `set` names (the whole value at a leaf of the set).
pub fn project(value: &Value, set: &Map<String, Value>) -> Value {
    let children: Vec<(&String, &Value)> = set.iter().filter(|(k, _)| *k != ".").collect();
    if children.is_empty() {
        return value.clone();
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, sub) in children {
                if let Some(name) = key.strip_prefix("f:")
                    && let Some(v) = map.get(name)
                {
                    out.insert(name.to_string(), project(v, as_set(sub)));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut picked: Vec<(usize, Value)> = children
                .iter()
                .filter_map(|(key, sub)| {
                    let i = position(key, items)?;
                    Some((i, project(&items[i], as_set(sub))))
                })
                .collect();
            picked.sort_by_key(|(i, _)| *i);
            Value::Array(picked.into_iter().map(|(_, v)| v).collect())
        }
        other => other.clone(),
    }
}

fn as_set(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The child of `value` that a set key (`f:`, `k:`, `v:`, `i:`) names.
fn select<'v>(key: &str, value: &'v Value) -> Option<&'v Value> {
    if let Some(name) = key.strip_prefix("f:") {
        return value.as_object()?.get(name);
    }
    let items = value.as_array()?;
    position(key, items).map(|i| &items[i])
}

/// The index of the list element a `k:`, `v:` or `i:` key names.
fn position(key: &str, items: &[Value]) -> Option<usize> {
    if let Some(k) = key.strip_prefix("k:") {
        let fields: Map<String, Value> = serde_json::from_str(k).ok()?;
        items
            .iter()
            .position(|e| fields.iter().all(|(f, v)| e.get(f) == Some(v)))
    } else if let Some(v) = key.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(v).ok()?;
        items.iter().position(|e| *e == wanted)
    } else if let Some(i) = key.strip_prefix("i:") {
        let i: usize = i.parse().ok()?;
        (i < items.len()).then_some(i)
    } else {
        None
    }
}

/// A set key as a path segment: `.name`, `["a.b/c"]`, `[name=app]`, `[0]`.
fn segment(key: &str) -> String {
    if let Some(name) = key.strip_prefix("f:") {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        return if plain {
            format!(".{name}")
        } else {
            format!("[{}]", Value::String(name.to_string()))
        };
    }
    if let Some(k) = key.strip_prefix("k:")
        && let Ok(fields) = serde_json::from_str::<Map<String, Value>>(k)
    {
        let parts: Vec<String> = fields
            .iter()
            .map(|(f, v)| match v {
                Value::String(s) => format!("{f}={s}"),
                other => format!("{f}={other}"),
            })
            .collect();
        return format!("[{}]", parts.join(","));
    }
    if let Some(v) = key.strip_prefix("v:") {
        return format!("[{v}]");
    }
    if let Some(i) = key.strip_prefix("i:") {
        return format!("[{i}]");
    }
    format!("[{key}]")
}

fn render_path(keys: &[String]) -> String {
    let text: String = keys.iter().map(|k| segment(k)).collect();
    text.strip_prefix('.').unwrap_or(&text).to_string()
}

/// Whether `set` contains the path `keys` (any field at or under it).
fn contains(set: &Map<String, Value>, keys: &[String]) -> bool {
    let mut cur = set;
    for k in keys {
        match cur.get(k) {
            Some(Value::Object(sub)) => cur = sub,
            Some(_) => return true,
            None => return false,
        }
    }
    true
}

struct Walker<'a> {
    others: &'a [(String, Map<String, Value>)],
    out: Vec<FieldDiff>,
}

impl Walker<'_> {
    fn emit(&mut self, keys: &[String], before: Option<Value>, after: Option<Value>) {
        let mut owners: Vec<String> = self
            .others
            .iter()
            .filter(|(_, set)| !keys.is_empty() && contains(set, keys))
            .map(|(m, _)| m.clone())
            .collect();
        owners.sort();
        owners.dedup();
        self.out.push(FieldDiff {
            path: render_path(keys),
            before,
            after,
            owners,
        });
    }

    fn walk_children(
        &mut self,
        set: &Map<String, Value>,
        before: &Value,
        after: &Value,
        keys: &mut Vec<String>,
    ) {
        for (key, sub) in set.iter().filter(|(k, _)| *k != ".") {
            keys.push(key.clone());
            self.walk(as_set(sub), select(key, before), select(key, after), keys);
            keys.pop();
        }
    }

    fn walk(
        &mut self,
        set: &Map<String, Value>,
        before: Option<&Value>,
        after: Option<&Value>,
        keys: &mut Vec<String>,
    ) {
        let leaf = set.keys().all(|k| k == ".");
        match (before, after) {
            (None, None) => {}
            (Some(b), Some(a)) if leaf => {
                if b != a {
                    self.emit(keys, Some(b.clone()), Some(a.clone()));
                }
            }
            (Some(b), Some(a)) => {
                let same_shape = matches!(
                    (b, a),
                    (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_))
                );
                if !same_shape {
                    if b != a {
                        self.emit(keys, Some(project(b, set)), Some(project(a, set)));
                    }
                    return;
                }
                self.walk_children(set, b, a, keys);
            }
            (b, a) => {
                let b = b.map(|v| project(v, set));
                let a = a.map(|v| project(v, set));
                self.emit(keys, b, a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A deployment as the server returns it, with mtm's set and one from `kubectl-scale`.
    fn live() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "demo", "resourceVersion": "41", "uid": "u1",
                "generation": 2,
                "labels": {"app": "web", "team": "blue"},
                "managedFields": [
                    {"manager": "mtm", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:template": {"f:spec": {"f:containers": {
                            "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}
                        }}}}
                    }},
                    {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                    {"manager": "kubectl-label", "operation": "Update",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}
                ]
            },
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "app", "image": "nginx:1", "imagePullPolicy": "IfNotPresent"}
            ]}}},
            "status": {"availableReplicas": 3}
        })
    }

    /// The dry-run result of a manifest with replicas 1 and image nginx:2.
    fn dry_run() -> Value {
        let mut v = live();
        v["metadata"]["resourceVersion"] = json!("42");
        v["spec"]["replicas"] = json!(1);
        v["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        v["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"] = json!({});
        v["status"] = json!({"availableReplicas": 1});
        v
    }

    fn paths(d: &[FieldDiff]) -> Vec<String> {
        d.iter()
            .map(|f| {
                format!(
                    "{}: {} -> {} {:?}",
                    f.path,
                    f.before.as_ref().map_or("-".into(), |v| v.to_string()),
                    f.after.as_ref().map_or("-".into(), |v| v.to_string()),
                    f.owners
                )
            })
            .collect()
    }

    #[test]
    fn reports_only_our_fields() {
        let d = object_diff(Some(&live()), &dry_run(), "mtm");
        assert_eq!(
            paths(&d),
            vec![
                "spec.replicas: 3 -> 1 [\"kubectl-scale\"]",
                "spec.template.spec.containers[name=app].image: \"nginx:1\" -> \"nginx:2\" []",
            ]
        );
    }

    #[test]
    fn identical_is_empty_even_when_status_and_version_differ() {
        let mut after = live();
        after["metadata"]["resourceVersion"] = json!("99");
        after["status"] = json!({"availableReplicas": 0});
        after["metadata"]["labels"]["team"] = json!("red");
        assert!(object_diff(Some(&live()), &after, "mtm").is_empty());
    }

    #[test]
    fn create_is_one_projected_entry() {
        let d = object_diff(None, &dry_run(), "mtm");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "");
        assert_eq!(
            d[0].after,
            Some(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
                "spec": {"replicas": 1, "template": {"spec": {"containers": [
                    {"name": "app", "image": "nginx:2"}
                ]}}}
            }))
        );
    }

    #[test]
    fn dropped_field_and_new_list_element() {
        let mut after = live();
        // mtm stops declaring the label (only mtm owned it: the server removes it) ...
        after["metadata"]["labels"] = json!({"team": "blue"});
        // ... and adds a sidecar container.
        after["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "side", "image": "busybox", "imagePullPolicy": "Always"}));
        after["metadata"]["managedFields"][0]["fieldsV1"] = json!({
            "f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}},
                "k:{\"name\":\"side\"}": {".": {}, "f:name": {}, "f:image": {}}
            }}}}
        });
        assert_eq!(
            paths(&object_diff(Some(&live()), &after, "mtm")),
            vec![
                "metadata.labels.app: \"web\" -> - []",
                "spec.template.spec.containers[name=side]: - -> {\"image\":\"busybox\",\"name\":\"side\"} []",
            ]
        );
    }

    #[test]
    fn nothing_owned_is_no_diff() {
        // A Namespace declared by name only: the server keeps no set for us at all.
        let live = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "x"}}});
        let mut after = live.clone();
        after["metadata"]["managedFields"] = json!([{"manager": "before-first-apply",
            "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]);
        assert!(object_diff(Some(&live), &after, "mtm").is_empty());
        assert_eq!(
            object_diff(None, &after, "mtm")[0].after,
            Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}))
        );
    }

    #[test]
    fn dotted_keys_are_quoted() {
        assert_eq!(
            render_path(&[
                "f:metadata".into(),
                "f:labels".into(),
                "f:istio.io/use-waypoint".into()
            ]),
            "metadata.labels[\"istio.io/use-waypoint\"]"
        );
        assert_eq!(render_path(&["f:spec".into(), "i:2".into()]), "spec[2]");
    }
}
