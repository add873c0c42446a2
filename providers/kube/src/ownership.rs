//! The ownership policy: whose field claims mtm takes over without being asked.
//!
//! Server-side apply refuses to change a field another field manager holds. That protects
//! what a controller manages (an autoscaler's replicas), and mtm keeps that protection:
//! such a field is a conflict that needs `--force-conflicts`. It is wrong for a field a
//! person changed by hand on an object mtm declares, which is exactly the drift mtm puts
//! right. So the fields of *hand-edit managers* (the kubectl family, mtm's own other
//! managers, and any the plan adds) are taken over, and their claims on the fields mtm
//! declares are cleared, so that a field later dropped from the plan is really removed
//! (kubernetes/kubernetes#99003). Pure: values in, values out.

use crate::diff::owned_set;
use serde_json::{Map, Value};

/// The hand-edit managers every plan has: `kubectl` and every `kubectl-<command>`
/// (`kubectl-client-side-apply`, `kubectl-edit`, `kubectl-label`, `kubectl-annotate`,
/// `kubectl-patch`, `kubectl-scale`, ...), and mtm's own field-patch managers (`mtm-*`).
pub const DEFAULT_HAND_EDIT: &[&str] = &["kubectl", "kubectl-*", "mtm-*"];

/// Which field managers are hand edits. A name ending in `*` is a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    patterns: Vec<String>,
}

impl Default for Ownership {
    fn default() -> Self {
        Ownership {
            patterns: DEFAULT_HAND_EDIT.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// What the policy says about a field another manager holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRule {
    /// A hand edit: taken over without a flag.
    TakeOver { manager: String },
    /// A controller's: a conflict that needs `--force-conflicts`.
    Conflict { manager: String },
}

impl Ownership {
    /// The default hand-edit managers and `extra` (from the plan).
    pub fn with_extra(extra: impl IntoIterator<Item = String>) -> Ownership {
        let mut o = Ownership::default();
        for e in extra {
            if !o.patterns.contains(&e) {
                o.patterns.push(e);
            }
        }
        o
    }

    /// The patterns, defaults first.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `manager` edits by hand (taken over), as seen by the applying manager
    /// `ours`: a manager is never a hand edit of itself.
    pub fn is_hand_edit(&self, manager: &str, ours: &str) -> bool {
        manager != ours
            && self.patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => manager.starts_with(prefix) && manager.len() > prefix.len(),
                None => manager == p,
            })
    }

    /// The claims of `owners` on a field that applying as `ours` would change.
    pub fn claims(&self, owners: &[String], ours: &str) -> Vec<FieldRule> {
        owners
            .iter()
            .map(|m| {
                let manager = m.clone();
                if self.is_hand_edit(m, ours) {
                    FieldRule::TakeOver { manager }
                } else {
                    FieldRule::Conflict { manager }
                }
            })
            .collect()
    }

    /// `obj`'s managedFields with the fields that `ours` applies removed from every
    /// hand-edit manager's entry (an entry left with nothing is dropped); `None` when no
    /// hand-edit manager claims any of them.
    pub fn cleared_managed_fields(&self, obj: &Value, ours: &str) -> Option<Vec<Value>> {
        let mine = owned_set(obj, ours);
        if mine.is_empty() {
            return None;
        }
        let entries = obj.pointer("/metadata/managedFields")?.as_array()?;
        let mut changed = false;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let manager = entry["manager"].as_str().unwrap_or_default();
            let hand = self.is_hand_edit(manager, ours);
            let Some(set) = entry["fieldsV1"].as_object().filter(|_| hand) else {
                out.push(entry.clone());
                continue;
            };
            let mut set = set.clone();
            if !subtract(&mut set, &mine) {
                out.push(entry.clone());
                continue;
            }
            changed = true;
            if set.is_empty() {
                continue;
            }
            let mut entry = entry.clone();
            entry["fieldsV1"] = Value::Object(set);
            out.push(entry);
        }
        changed.then_some(out)
    }
}

/// Removes from `set` every field `mine` names (a field set, as in `FieldsV1`); a node
/// left without children is removed too. Whether anything was removed.
pub fn subtract(set: &mut Map<String, Value>, mine: &Map<String, Value>) -> bool {
    let mut changed = false;
    let keys: Vec<String> = set.keys().cloned().collect();
    for key in keys {
        let Some(ours) = mine.get(&key) else {
            continue;
        };
        if key == "." {
            set.remove(&key);
            changed = true;
            continue;
        }
        let ours = ours.as_object().cloned().unwrap_or_default();
        let emptied = match set.get_mut(&key).and_then(Value::as_object_mut) {
            // A leaf of ours (no children, not even ".") takes the whole subtree.
            Some(child) if ours.is_empty() => {
                child.clear();
                true
            }
            Some(child) => {
                let was_empty = child.is_empty();
                changed |= subtract(child, &ours);
                was_empty || child.is_empty()
            }
            None => false,
        };
        if emptied {
            set.remove(&key);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn kubectl_family_and_mtm_patches_are_hand_edits() {
        let o = Ownership::default();
        for m in [
            "kubectl",
            "kubectl-client-side-apply",
            "kubectl-edit",
            "kubectl-label",
            "kubectl-annotate",
            "kubectl-patch",
            "kubectl-scale",
            "mtm-patch-lab2-waypoint",
        ] {
            assert!(o.is_hand_edit(m, "mtm"), "{m}");
        }
        for m in [
            "horizontal-pod-autoscaler",
            "kube-controller-manager",
            "kubectlish",
            "helm",
            "mtm",
            "mtm-",
        ] {
            assert!(!o.is_hand_edit(m, "mtm"), "{m}");
        }
        assert!(!o.is_hand_edit("mtm-patch-a", "mtm-patch-a"));
    }

    #[test]
    fn the_plan_extends_the_list() {
        let o = Ownership::with_extra(strings(&["k9s", "lens-*"]));
        assert!(o.is_hand_edit("k9s", "mtm"));
        assert!(o.is_hand_edit("lens-desktop", "mtm"));
        assert!(!o.is_hand_edit("k9s-plugin", "mtm"));
        assert_eq!(
            o.claims(
                &strings(&["kubectl-scale", "horizontal-pod-autoscaler"]),
                "mtm"
            ),
            vec![
                FieldRule::TakeOver {
                    manager: "kubectl-scale".into()
                },
                FieldRule::Conflict {
                    manager: "horizontal-pod-autoscaler".into()
                }
            ]
        );
    }

    /// A Deployment made by `kubectl apply` (client-side), then applied by mtm with force:
    /// kubectl-client-side-apply still holds the fields whose value mtm did not change.
    fn adopted() -> Value {
        json!({"metadata": {"name": "web", "managedFields": [
            {"manager": "kubectl-client-side-apply", "operation": "Update", "fieldsV1": {
                "f:metadata": {"f:annotations": {".": {},
                    "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {},
                        "f:args": {}, "f:imagePullPolicy": {}}}}}}
            }},
            {"manager": "mtm", "operation": "Apply", "fieldsV1": {
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {},
                        "f:args": {}}}}}}
            }},
            {"manager": "horizontal-pod-autoscaler", "operation": "Update", "fieldsV1": {
                "f:spec": {"f:replicas": {}}
            }},
            {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale",
             "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]}})
    }

    #[test]
    fn clearing_leaves_hand_edits_only_what_mtm_does_not_declare() {
        let cleared = Ownership::default()
            .cleared_managed_fields(&adopted(), "mtm")
            .expect("something to clear");
        let managers: Vec<&str> = cleared
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        // kubectl-scale held only replicas: its entry goes; the controller's stays.
        assert_eq!(
            managers,
            [
                "kubectl-client-side-apply",
                "mtm",
                "horizontal-pod-autoscaler"
            ]
        );
        assert_eq!(
            cleared[0]["fieldsV1"],
            json!({
                "f:metadata": {"f:annotations": {".": {},
                    "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {"f:imagePullPolicy": {}}}}}}
            })
        );
        assert_eq!(cleared[1], adopted()["metadata"]["managedFields"][1]);
        assert_eq!(cleared[2], adopted()["metadata"]["managedFields"][2]);
    }

    #[test]
    fn nothing_to_clear_is_none() {
        let mut obj = adopted();
        let fields = obj["metadata"]["managedFields"].as_array_mut().unwrap();
        fields.retain(|e| e["manager"] == "mtm" || e["manager"] == "horizontal-pod-autoscaler");
        assert_eq!(
            Ownership::default().cleared_managed_fields(&obj, "mtm"),
            None
        );
        assert_eq!(
            Ownership::default().cleared_managed_fields(&adopted(), "nobody"),
            None
        );
    }

    #[test]
    fn a_leaf_of_ours_takes_the_subtree() {
        let mut theirs = json!({"f:data": {"f:a": {}, "f:b": {}}, "f:keep": {}});
        let mine = json!({"f:data": {}});
        assert!(subtract(
            theirs.as_object_mut().unwrap(),
            mine.as_object().unwrap()
        ));
        assert_eq!(theirs, json!({"f:keep": {}}));
        // Owning a map ("." only) is not owning its keys.
        let mut theirs = json!({"f:labels": {".": {}, "f:team": {}}});
        let mine = json!({"f:labels": {".": {}}});
        assert!(subtract(
            theirs.as_object_mut().unwrap(),
            mine.as_object().unwrap()
        ));
        assert_eq!(theirs, json!({"f:labels": {"f:team": {}}}));
    }
}
