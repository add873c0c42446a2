//! `mtm rollback`: back to what an earlier revision recorded, from state alone.
//!
//! The target is the revision's snapshot of records. What state holds now and the target
//! lacks is destroyed (restoring what existed before mtm); what the target holds with
//! another hash than now is applied again from its stored manifest (generated values put
//! back in from `state/secrets/`); releases go back by `helm rollback` to the recorded
//! helm revision. The steps run through the scheduler like an apply: in dependency order
//! (the plan's graph; the kind order for what the plan no longer declares: namespaces and
//! CRDs first when applying, last when removing), in parallel, cancellable. Only
//! releases and generated values are looked up in the plan.

use super::apply::{Outcome, Progress, Recorded};
use super::change::Action;
use super::revision::{Finished, Ledger, Revision};
use super::{Engine, EngineError};
use crate::sched::Schedule;
use crate::store::Record;
use mtm_provider::resource::Spec;
use mtm_provider::{Manifest, ObjectId, Resource};
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::sync::watch;

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

/// For each step, the steps it waits for. Applies follow the plan's dependencies (or,
/// for what the plan no longer declares, the kind order) and come after every removal;
/// removals go the other way: what depends on a thing goes before it.
pub fn dependencies(steps: &[Step], graph: &crate::graph::Graph) -> Vec<Vec<usize>> {
    let needs = ancestors(steps, graph);
    let removal = |s: &Step| s.target.is_none();
    fn rec(s: &Step) -> &Record {
        s.target.as_ref().or(s.current.as_ref()).expect("a record")
    }
    let mut deps = vec![Vec::new(); steps.len()];
    for (a, sa) in steps.iter().enumerate() {
        for (b, sb) in steps.iter().enumerate() {
            if a == b {
                continue;
            }
            let (ra, rb) = (rec(sa), rec(sb));
            let ordered = |first: usize, then: usize, rf: &Record, rt: &Record| match (
                &needs[then],
                &needs[first],
            ) {
                (Some(n), Some(_)) => n.contains(&steps[first].address),
                _ => rf.cluster == rt.cluster && rank(rf) < rank(rt),
            };
            let waits = match (removal(sa), removal(sb)) {
                (false, true) => true,
                (false, false) => ordered(b, a, rb, ra),
                (true, true) => ordered(a, b, ra, rb),
                (true, false) => false,
            };
            if waits {
                deps[a].push(b);
            }
        }
    }
    deps
}

/// For each step whose address the plan declares, every address it needs, directly or
/// not; `None` for an address the plan does not declare.
fn ancestors(
    steps: &[Step],
    graph: &crate::graph::Graph,
) -> Vec<Option<std::collections::BTreeSet<String>>> {
    let lists = graph.dependency_lists();
    steps
        .iter()
        .map(|s| {
            let start = graph.index.get(&mtm_provider::Address(s.address.clone()))?;
            let mut seen = std::collections::BTreeSet::new();
            let mut todo = vec![start.index()];
            while let Some(i) = todo.pop() {
                for &d in &lists[i] {
                    let address = graph.graph[petgraph::graph::NodeIndex::new(d)]
                        .resource
                        .address
                        .to_string();
                    if seen.insert(address) {
                        todo.push(d);
                    }
                }
            }
            Some(seen)
        })
        .collect()
}

impl Engine<'_> {
    /// Walks `steps` in dependency order, at most `parallelism` at once, until done or
    /// cancelled, in a revision of `ledger` that records each step as it happens.
    pub async fn rollback(
        &self,
        steps: &[Step],
        ledger: &Ledger<'_>,
        cancel: watch::Receiver<bool>,
        progress: impl FnMut(Progress),
    ) -> Result<Finished, EngineError> {
        let log = Revision::new(ledger);
        let revision = log.number()?;
        let schedule = Schedule::new(dependencies(steps, &self.sel.graph))
            .expect("steps follow an acyclic graph");
        let addresses: Vec<String> = steps.iter().map(|s| s.address.clone()).collect();
        let worker = |i: usize| {
            let step = &steps[i];
            let cancel = cancel.clone();
            async move {
                self.rollback_step(step, revision, cancel)
                    .await
                    .map_err(|e| self.node_error(&step.address, &e).message)
            }
        };
        let walk = Recorded {
            schedule: &schedule,
            addresses: &addresses,
            revision: &log,
        };
        let report = self
            .walk(walk, |_| true, cancel.clone(), worker, progress)
            .await;
        Ok(log.finish(report)?.expect("the revision was begun"))
    }

    async fn rollback_step(
        &self,
        step: &Step,
        revision: u64,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, EngineError> {
        match (&step.target, &step.current) {
            (None, Some(current)) if current.kind == "generated" => {
                // A key made once is kept: the next apply uses it again.
                Ok(Outcome::Remove(step.address.clone(), step.action))
            }
            (None, Some(current)) => {
                let r = self.resource_of(current)?;
                self.remove(&r, current, cancel).await?;
                Ok(Outcome::Remove(step.address.clone(), step.action))
            }
            (Some(target), current) => {
                self.put_back(target, cancel).await?;
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

    /// Brings one resource back to what `target` recorded: an object or a patch applied
    /// from the stored manifest, a release rolled back to the recorded helm revision.
    async fn put_back(
        &self,
        target: &Record,
        cancel: watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        let r = self.resource_of(target)?;
        if target.kind == "object" && contains_hash(&target.manifest) {
            return Err(EngineError::OnlyHash);
        }
        let provider = self.provider(&r)?;
        match target.kind.as_str() {
            "object" | "patch" => provider.apply(&r, cancel).await.map(|_| ()),
            _ => provider.restore(&r, &target.manifest, cancel).await,
        }
        .map_err(EngineError::from)
    }

    /// The resource a record stands for, from state alone where it can be (objects and
    /// patches), else from the plan (releases and generated values by name).
    fn resource_of(&self, record: &Record) -> Result<Resource, EngineError> {
        let declared = self
            .sel
            .graph
            .index
            .get(&mtm_provider::Address(record.address.clone()))
            .map(|&i| self.sel.graph.graph[i].resource.clone());
        let spec = match record.kind.as_str() {
            "object" => Spec::Object {
                id: object_id(record).ok_or(EngineError::NoIdentity)?,
                manifest: Manifest::of(&self.substitute(&record.manifest)?),
            },
            "patch" => Spec::Patch {
                target: object_id(record).ok_or(EngineError::NoIdentity)?,
                fields: record
                    .manifest
                    .get("fields")
                    .cloned()
                    .unwrap_or(Value::Null),
                manager: record
                    .manifest
                    .get("manager")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            },
            "release" => self.release_spec(record)?,
            _ => {
                return declared.ok_or_else(|| EngineError::NotInPlan(record.address.clone()));
            }
        };
        let (step, stages, origin) = declared
            .map(|d| (d.step, d.stages, d.origin))
            .unwrap_or_default();
        Ok(Resource {
            address: mtm_provider::Address(record.address.clone()),
            spec,
            step,
            stages,
            origin,
        })
    }

    /// The plan's declaration of the release `record` holds.
    fn release_spec(&self, record: &Record) -> Result<Spec, EngineError> {
        let now: mtm_helm::ReleaseRecord = serde_json::from_value(record.manifest.clone())
            .map_err(|source| EngineError::Unreadable {
                what: "release record",
                source,
            })?;
        self.plan
            .stages
            .iter()
            .flat_map(|s| &s.decls)
            .filter_map(|d| d.spec.release())
            .find(|(_, r)| r.name == now.name && r.namespace == now.namespace)
            .map(|(_, release)| Spec::Release {
                cluster: record.cluster.clone().unwrap_or_default(),
                release: release.clone(),
            })
            .ok_or_else(|| EngineError::NotInPlan(format!("{}/{}", now.namespace, now.name)))
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
