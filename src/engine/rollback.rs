//! `mtm rollback`: back to what an earlier revision recorded, from state alone.
//!
//! The target is the revision's snapshot of records. What state holds now and the target
//! lacks is destroyed (restoring what existed before mtm); what the target holds with
//! another hash than now is applied again from its stored manifest (generated values put
//! back in from `state/secrets/`); releases go back by `helm rollback` to the recorded
//! helm revision. Order follows the kinds: namespaces and CRDs first when applying, last
//! when removing. The current plan files are not read.

use super::apply::{Outcome, Progress};
use super::change::Action;
use super::{Engine, NodeError};
use crate::store::Record;
use mtm_provider::ObjectId;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// One step of the way back.
#[derive(Clone, Debug)]
pub struct Step {
    pub address: String,
    pub action: Action,
    /// The record to go back to (`None`: the resource goes).
    pub target: Option<Record>,
    /// The record now (`None`: the resource is not there now).
    pub current: Option<Record>,
}

fn rank(r: &Record) -> u8 {
    match r.identity.as_ref().map(|i| i.kind.as_str()) {
        Some("Namespace") => 0,
        Some("CustomResourceDefinition") => 1,
        _ if r.kind == "generated" => 2,
        Some("ServiceAccount" | "ConfigMap" | "Secret") => 3,
        _ if r.kind == "patch" => 6,
        _ => 4,
    }
}

/// The way from `current` back to `target`: removals (reverse kind order) then applies.
pub fn steps(current: &BTreeMap<String, Record>, target: &BTreeMap<String, Record>) -> Vec<Step> {
    let mut removals: Vec<Step> = current
        .values()
        .filter(|r| !target.contains_key(&r.address))
        .map(|r| Step {
            address: r.address.clone(),
            action: if r.prior.is_some() {
                Action::Restore
            } else {
                Action::Delete
            },
            target: None,
            current: Some(r.clone()),
        })
        .collect();
    removals.sort_by_key(|s| std::cmp::Reverse(rank(s.current.as_ref().expect("current"))));
    let mut applies: Vec<Step> = target
        .values()
        .filter(|t| current.get(&t.address).is_none_or(|c| c.hash != t.hash))
        .map(|t| Step {
            address: t.address.clone(),
            action: if current.contains_key(&t.address) {
                Action::Update
            } else {
                Action::Create
            },
            target: Some(t.clone()),
            current: current.get(&t.address).cloned(),
        })
        .collect();
    applies.sort_by_key(|s| rank(s.target.as_ref().expect("target")));
    removals.extend(applies);
    removals
}

fn object_id(r: &Record) -> Option<ObjectId> {
    let i = r.identity.as_ref()?;
    Some(ObjectId {
        cluster: r.cluster.clone()?,
        group: i.group.clone(),
        version: i.version.clone(),
        kind: i.kind.clone(),
        namespace: i.namespace.clone(),
        name: i.name.clone(),
    })
}

impl Engine<'_> {
    /// Walks `steps` in order, one at a time (the order is the dependency order).
    pub async fn rollback(
        &self,
        steps: &[Step],
        revision: u64,
        mut on_outcome: impl FnMut(&Outcome),
        mut progress: impl FnMut(Progress),
    ) -> Result<(), NodeError> {
        for step in steps {
            let t = Instant::now();
            progress(Progress::Started {
                address: step.address.clone(),
            });
            match self.rollback_step(step, revision).await {
                Ok(outcome) => {
                    on_outcome(&outcome);
                    progress(Progress::Done {
                        address: step.address.clone(),
                        action: step.action,
                        seconds: t.elapsed().as_secs_f64(),
                    });
                }
                Err(e) => {
                    progress(Progress::Failed(e.clone()));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn rollback_step(&self, step: &Step, revision: u64) -> Result<Outcome, NodeError> {
        let fail = |message: String| NodeError::new(step.address.clone(), message);
        match (&step.target, &step.current) {
            (None, Some(current)) => {
                match current.kind.as_str() {
                    "object" => {
                        let id = object_id(current)
                            .ok_or_else(|| fail("state has no identity for it".into()))?;
                        match &current.prior {
                            Some(prior) => {
                                self.kube
                                    .apply_object(&id, prior, true)
                                    .await
                                    .map_err(|e| fail(e.to_string()))?;
                            }
                            None => self
                                .kube
                                .delete_object(&id)
                                .await
                                .map_err(|e| fail(e.to_string()))?,
                        }
                    }
                    "patch" => {
                        let id = object_id(current)
                            .ok_or_else(|| fail("state has no identity for it".into()))?;
                        let manager = current
                            .manifest
                            .get("manager")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        self.kube
                            .release_patch(&id, manager)
                            .await
                            .map_err(|e| fail(e.to_string()))?;
                    }
                    "release" => self.release_back(current, None).await.map_err(fail)?,
                    _ => {}
                }
                Ok(Outcome::Remove(step.address.clone(), step.action))
            }
            (Some(target), current) => {
                match target.kind.as_str() {
                    "object" => {
                        let id = object_id(target)
                            .ok_or_else(|| fail("state has no identity for it".into()))?;
                        let manifest = self.substitute(&target.manifest).map_err(fail)?;
                        if contains_hash(&manifest) {
                            return Err(fail(
                                "state holds only the hash of a sensitive value in this manifest: apply the plan instead".into(),
                            ));
                        }
                        self.kube
                            .apply_object(&id, &manifest, self.force_conflicts)
                            .await
                            .map_err(|e| fail(e.to_string()))?;
                        self.kube
                            .wait_ready(&id)
                            .await
                            .map_err(|e| fail(e.to_string()))?;
                    }
                    "patch" => {
                        let id = object_id(target)
                            .ok_or_else(|| fail("state has no identity for it".into()))?;
                        let manager = target
                            .manifest
                            .get("manager")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let fields = target
                            .manifest
                            .get("fields")
                            .cloned()
                            .unwrap_or(Value::Null);
                        self.kube
                            .apply_patch(&id, &fields, manager, self.force_conflicts)
                            .await
                            .map_err(|e| fail(e.to_string()))?;
                    }
                    "release" => self
                        .release_back(current.as_ref().unwrap_or(target), Some(target))
                        .await
                        .map_err(fail)?,
                    "generated"
                        if !self
                            .gens
                            .lock()
                            .expect("gens lock")
                            .keys()
                            .any(|k| step.address.ends_with(&format!("/gen/{k}"))) =>
                    {
                        return Err(fail("its secret material is gone from state/secrets: apply the plan instead".into()));
                    }
                    _ => {}
                }
                let mut rec = target.clone();
                rec.revision = revision;
                rec.applied_at = crate::store::now_rfc3339();
                if let Some(c) = current
                    && rec.prior.is_none()
                {
                    rec.prior = c.prior.clone();
                }
                Ok(Outcome::Put(Box::new(rec), step.action))
            }
            (None, None) => Ok(Outcome::Nothing(Action::NoOp)),
        }
    }

    /// A release back to `target`'s helm revision, or to what it was before mtm.
    async fn release_back(&self, current: &Record, target: Option<&Record>) -> Result<(), String> {
        let now: mtm_helm::ReleaseRecord = serde_json::from_value(current.manifest.clone())
            .map_err(|e| format!("state holds an unreadable release record: {e}"))?;
        let cluster = current.cluster.clone().unwrap_or_default();
        let spec = self
            .plan
            .stages
            .iter()
            .flat_map(|s| &s.decls)
            .find_map(|d| match &d.spec {
                mtm_provider::resource::Spec::Release { release, .. }
                    if release.name == now.name && release.namespace == now.namespace =>
                {
                    Some(release.clone())
                }
                _ => None,
            })
            .ok_or_else(|| {
                format!(
                    "release {}/{} is not in the plan any more",
                    now.namespace, now.name
                )
            })?;
        let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
        let result = match target {
            Some(t) => {
                let to: mtm_helm::ReleaseRecord = serde_json::from_value(t.manifest.clone())
                    .map_err(|e| format!("state holds an unreadable release record: {e}"))?;
                self.helm
                    .restore_release(&cluster, &spec, &mtm_helm::PriorRelease::from(&to), cancel)
                    .await
                    .map(|_| ())
            }
            None => match &current.prior {
                Some(p) => {
                    let prior: mtm_helm::PriorRelease = serde_json::from_value(p.clone())
                        .map_err(|e| format!("state holds an unreadable prior release: {e}"))?;
                    self.helm
                        .restore_release(&cluster, &spec, &prior, cancel)
                        .await
                        .map(|_| ())
                }
                None => self
                    .helm
                    .uninstall_release(&cluster, &now.name, &now.namespace, cancel)
                    .await
                    .map(|_| ()),
            },
        };
        drop(cancel_tx);
        result.map_err(|e| e.to_string())
    }
}

/// Whether a manifest still holds a `sha256:` stand-in for a sensitive value.
fn contains_hash(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with("sha256:") && s.len() == 71,
        Value::Array(items) => items.iter().any(contains_hash),
        Value::Object(map) => map.values().any(contains_hash),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Identity;

    fn rec(address: &str, kind: &str, hash: &str) -> Record {
        Record {
            address: address.into(),
            cluster: Some("east".into()),
            identity: Some(Identity {
                group: String::new(),
                version: "v1".into(),
                kind: kind.into(),
                namespace: None,
                name: address.into(),
                uid: None,
            }),
            kind: "object".into(),
            hash: hash.into(),
            manifest: Value::Null,
            revision: 1,
            applied_at: String::new(),
            prior: None,
        }
    }

    #[test]
    fn removals_first_namespaces_last_then_applies_namespaces_first() {
        let current: BTreeMap<String, Record> = [
            rec("ns2", "Namespace", "a"),
            rec("cm2", "ConfigMap", "a"),
            rec("cm1", "ConfigMap", "new"),
        ]
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
        let target: BTreeMap<String, Record> =
            [rec("cm1", "ConfigMap", "old"), rec("ns1", "Namespace", "b")]
                .into_iter()
                .map(|r| (r.address.clone(), r))
                .collect();
        let got: Vec<(String, Action)> = steps(&current, &target)
            .into_iter()
            .map(|s| (s.address, s.action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("cm2".to_string(), Action::Delete),
                ("ns2".to_string(), Action::Delete),
                ("ns1".to_string(), Action::Create),
                ("cm1".to_string(), Action::Update),
            ]
        );
    }
}
