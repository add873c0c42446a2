//! `mtm apply --auto-approve` in one walk: every resource is planned (observed and diffed
//! against the cluster) and acted on by the same worker of one scheduler walk, as soon as
//! what it needs is done. There is no dry-run pass over the whole selection first, so an
//! object is planned after its namespace, its CRD and its generated values exist (its plan
//! knows more than a plan made up front could).
//!
//! The revision begins lazily, right before the first resource that changes something: a
//! run that finds nothing to change leaves state as it was (no empty revision). Outcomes
//! that change nothing but are recorded (a generated value's record) are held until the
//! revision exists, and dropped with it if it never does.
//!
//! A resource whose planning fails fails its node (its dependents are skipped, the rest
//! goes on); its error is returned with the plan, not reported as a progress failure.

use super::apply::{Outcome, PENDING, Progress, Recorded};
use super::change::{Action, Change};
use super::planner::Planned;
use super::revision::{Finished, Ledger, Revision};
use super::{Engine, EngineError, Family, NodeError, family};
use crate::plan::Node;
use crate::store::Record;
use mtm_provider::resource::Spec;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokio::sync::watch;

/// What one walk found and did.
pub struct Walked {
    /// The plan as the walk found it, in the selection's order; a resource skipped because
    /// a dependency failed was never planned and is not in it.
    pub planned: Planned,
    /// How the revision ended; `None` when nothing needed one (nothing changed).
    pub finished: Option<Finished>,
    /// Every resource succeeded and every state write too.
    pub clean: bool,
}

/// Whether applying `spec` as planned (`action`, with its `record`) leaves every cluster
/// and the generated values' files as they are.
pub fn at_rest(spec: &Spec, action: Action, record: Option<&Record>) -> bool {
    match family(spec) {
        Family::Object => action == Action::NoOp && record.is_some_and(|r| r.hash != PENDING),
        Family::Absent => record.is_none(),
        Family::Patch | Family::Release => action == Action::NoOp && record.is_some(),
        Family::Value => action != Action::Create,
        Family::Wait | Family::Require | Family::Check => true,
    }
}

/// The changes and planning errors the workers found, by node.
#[derive(Default)]
struct Found {
    changes: Vec<(usize, Change)>,
    errors: Vec<(usize, NodeError)>,
}

impl Engine<'_> {
    /// Plans and applies the selection in one walk, recording each outcome in the
    /// revision of `ledger` (begun before the first change).
    pub async fn apply_in_one_walk(
        &self,
        records: &BTreeMap<String, Record>,
        ledger: &Ledger<'_>,
        cancel: watch::Receiver<bool>,
        mut progress: impl FnMut(Progress),
    ) -> Result<Walked, EngineError> {
        let (nodes, schedule) = self.schedule(false);
        // Each kind and namespace is read in one LIST, when its first resource is planned.
        let resources: Vec<&mtm_provider::Resource> = nodes.iter().map(|n| &n.resource).collect();
        self.router.prefetch(&resources).await;
        let revision = Revision::new(ledger);
        let found: Mutex<Found> = Default::default();
        let plan_failed: Mutex<BTreeSet<String>> = Default::default();
        let worker = |i: usize| {
            let node = nodes[i];
            let (cancel, found, plan_failed) = (cancel.clone(), &found, &plan_failed);
            let revision = &revision;
            async move {
                let change = match self.plan_node(node, records).await {
                    Ok(change) => change,
                    Err(e) => {
                        let message = e.message.clone();
                        plan_failed.lock().expect("lock").insert(e.address.clone());
                        found.lock().expect("lock").errors.push((i, e));
                        return Err(message);
                    }
                };
                found
                    .lock()
                    .expect("lock")
                    .changes
                    .push((i, change.clone()));
                self.act(node, &change, records, revision, cancel)
                    .await
                    .map_err(|e| e.message)
            }
        };
        let shown = |p: Progress| match &p {
            Progress::Failed(e) if plan_failed.lock().expect("lock").contains(&e.address) => {}
            _ => progress(p),
        };
        let addresses = super::apply::addresses(&nodes);
        let walk = Recorded {
            schedule: &schedule,
            addresses: &addresses,
            revision: &revision,
        };
        let report = self
            .walk(walk, |_| true, cancel.clone(), worker, shown)
            .await;
        let clean = report.all_succeeded() && !revision.write_failed();
        let planned = self.planned_from(found.into_inner().expect("lock"), &nodes);
        Ok(Walked {
            planned,
            finished: revision.finish(report)?,
            clean,
        })
    }

    /// Acts on one planned resource: begins the revision first if it changes something.
    async fn act(
        &self,
        node: &Node,
        change: &Change,
        records: &BTreeMap<String, Record>,
        revision: &Revision<'_, '_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, NodeError> {
        let r = &node.resource;
        let record = records.get(r.address.as_str());
        // A requirement was checked while planning.
        if family(&r.spec) == Family::Require {
            return Ok(Outcome::Nothing(Action::Check));
        }
        let number = if at_rest(&r.spec, change.action, record) {
            revision.begun().unwrap_or(0)
        } else {
            revision
                .number()
                .map_err(|e| self.node_error(r.address.as_str(), &EngineError::from(e)))?
        };
        self.apply_node(node, Some(change), record, number, revision.store(), cancel)
            .await
    }

    fn planned_from(&self, found: Found, nodes: &[&Node]) -> Planned {
        let Found {
            mut changes,
            mut errors,
        } = found;
        changes.sort_by_key(|(i, _)| *i);
        errors.sort_by_key(|(i, _)| *i);
        Planned {
            changes: changes.into_iter().map(|(_, c)| c).collect(),
            errors: errors.into_iter().map(|(_, e)| e).collect(),
            down: self.down(nodes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str) -> Record {
        Record {
            address: "a/east/core/ConfigMap/ns/cfg".into(),
            cluster: Some("east".into()),
            identity: None,
            kind: "object".into(),
            hash: hash.into(),
            manifest: serde_json::json!({}),
            revision: 0,
            applied_at: "2026-01-01T00:00:00Z".into(),
            prior: None,
        }
    }

    #[test]
    fn only_what_changes_a_cluster_or_a_key_is_not_at_rest() {
        let id = mtm_provider::ObjectId {
            cluster: "east".into(),
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "cfg".into(),
        };
        let object = Spec::Object {
            id: id.clone(),
            manifest: Default::default(),
        };
        let done = record("h");
        let pending = record(PENDING);
        assert!(at_rest(&object, Action::NoOp, Some(&done)));
        assert!(!at_rest(&object, Action::NoOp, Some(&pending)));
        assert!(!at_rest(&object, Action::NoOp, None));
        assert!(!at_rest(&object, Action::Update, Some(&done)));
        assert!(!at_rest(&object, Action::Adopt, None));
        let absent = Spec::Absent { id };
        assert!(at_rest(&absent, Action::NoOp, None));
        assert!(!at_rest(&absent, Action::Delete, Some(&done)));
    }
}
