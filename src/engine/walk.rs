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

use super::apply::{Outcome, PENDING, Progress, relay};
use super::change::{Action, Change};
use super::planner::Planned;
use super::{Engine, NodeError};
use crate::plan::Node;
use crate::sched;
use crate::store::{Record, Store};
use mtm_provider::resource::Spec;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::watch;

/// A revision begun the first time it is needed.
pub struct LazyRevision<'a> {
    begin: Box<dyn Fn() -> Result<u64, String> + 'a>,
    number: Mutex<Option<u64>>,
}

impl<'a> LazyRevision<'a> {
    /// `begin` starts the revision and returns its number, or says why it cannot.
    pub fn new(begin: impl Fn() -> Result<u64, String> + 'a) -> LazyRevision<'a> {
        LazyRevision {
            begin: Box::new(begin),
            number: Mutex::new(None),
        }
    }

    /// The revision's number, beginning it now if it was not yet.
    pub fn get(&self) -> Result<u64, String> {
        let mut number = self.number.lock().expect("revision lock");
        if let Some(n) = *number {
            return Ok(n);
        }
        let n = (self.begin)()?;
        *number = Some(n);
        Ok(n)
    }

    /// The revision's number if it was begun.
    pub fn begun(&self) -> Option<u64> {
        *self.number.lock().expect("revision lock")
    }
}

/// What one walk found and did.
pub struct Walked {
    /// The plan as the walk found it, in the selection's order; a resource skipped because
    /// a dependency failed was never planned and is not in it.
    pub planned: Planned,
    pub report: sched::Report,
}

/// Whether applying `spec` as planned (`action`, with its `record`) leaves every cluster
/// and the generated values' files as they are.
pub fn at_rest(spec: &Spec, action: Action, record: Option<&Record>) -> bool {
    match spec {
        Spec::Object { .. } => action == Action::NoOp && record.is_some_and(|r| r.hash != PENDING),
        Spec::Absent { .. } => record.is_none(),
        Spec::Patch { .. } | Spec::Release { .. } => action == Action::NoOp && record.is_some(),
        Spec::Generated(_) => action != Action::Create,
        Spec::Require { .. } | Spec::Wait { .. } | Spec::Check { .. } => true,
    }
}

/// Outcomes recorded before the revision exists, written once it does.
struct Held<'f, F: FnMut(&Outcome, u64)> {
    held: Vec<Outcome>,
    write: &'f mut F,
}

impl<F: FnMut(&Outcome, u64)> Held<'_, F> {
    fn outcome(&mut self, revision: Option<u64>, outcome: &Outcome) {
        match revision {
            None if matches!(outcome, Outcome::Nothing(_)) => {}
            None => self.held.push(outcome.clone()),
            Some(n) => {
                self.flush(n);
                (self.write)(outcome, n);
            }
        }
    }

    fn flush(&mut self, revision: u64) {
        for mut outcome in std::mem::take(&mut self.held) {
            if let Outcome::Put(record, _) = &mut outcome {
                record.revision = revision;
            }
            (self.write)(&outcome, revision);
        }
    }
}

/// The changes and planning errors the workers found, by node.
#[derive(Default)]
struct Found {
    changes: Vec<(usize, Change)>,
    errors: Vec<(usize, NodeError)>,
}

impl Engine<'_> {
    /// Plans and applies the selection in one walk; `write` records each outcome in the
    /// revision it is given, in event order.
    pub async fn apply_in_one_walk(
        &self,
        records: &BTreeMap<String, Record>,
        revision: &LazyRevision<'_>,
        intents: &dyn Store,
        cancel: watch::Receiver<bool>,
        mut write: impl FnMut(&Outcome, u64),
        mut progress: impl FnMut(Progress),
    ) -> Walked {
        let (nodes, schedule) = self.schedule(false);
        let started: Mutex<HashMap<usize, Instant>> = Default::default();
        let found: Mutex<Found> = Default::default();
        let plan_failed: Mutex<BTreeSet<String>> = Default::default();
        let worker = |i: usize| {
            let node = nodes[i];
            started.lock().expect("lock").insert(i, Instant::now());
            let (cancel, found, plan_failed) = (cancel.clone(), &found, &plan_failed);
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
                self.act(node, &change, records, revision, intents, cancel)
                    .await
            }
        };
        let mut held = Held {
            held: Vec::new(),
            write: &mut write,
        };
        let mut on_outcome = |o: &Outcome| held.outcome(revision.begun(), o);
        let mut shown = |p: Progress| match &p {
            Progress::Failed(e) if plan_failed.lock().expect("lock").contains(&e.address) => {}
            _ => progress(p),
        };
        let events = relay(&nodes, &started, |_| true, &mut on_outcome, &mut shown);
        let report = sched::run(&schedule, self.parallelism, cancel.clone(), worker, events).await;
        if let Some(n) = revision.begun() {
            held.flush(n);
        }
        let found = found.into_inner().expect("lock");
        Walked {
            planned: self.planned_from(found, &nodes),
            report,
        }
    }

    /// Acts on one planned resource: begins the revision first if it changes something.
    async fn act(
        &self,
        node: &Node,
        change: &Change,
        records: &BTreeMap<String, Record>,
        revision: &LazyRevision<'_>,
        intents: &dyn Store,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, String> {
        let r = &node.resource;
        let record = records.get(r.address.as_str());
        // A requirement was checked while planning.
        if matches!(r.spec, Spec::Require { .. }) {
            return Ok(Outcome::Nothing(Action::Check));
        }
        let number = if at_rest(&r.spec, change.action, record) {
            revision.begun().unwrap_or(0)
        } else {
            revision.get()?
        };
        self.apply_node(node, Some(change), record, number, intents, cancel)
            .await
            .map_err(|e| e.message)
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
    use std::cell::Cell;

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
    fn the_revision_begins_once_and_only_when_asked() {
        let calls = Cell::new(0);
        let revision = LazyRevision::new(|| {
            calls.set(calls.get() + 1);
            Ok(7)
        });
        assert_eq!(revision.begun(), None);
        assert_eq!(revision.get(), Ok(7));
        assert_eq!(revision.get(), Ok(7));
        assert_eq!(revision.begun(), Some(7));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn a_revision_that_cannot_begin_says_why_and_is_tried_again() {
        let revision = LazyRevision::new(|| Err("cannot write state: full".to_string()));
        assert_eq!(revision.get(), Err("cannot write state: full".to_string()));
        assert_eq!(revision.begun(), None);
    }

    #[test]
    fn outcomes_before_the_revision_are_held_then_written_in_it() {
        let mut written: Vec<(String, u64, u64)> = Vec::new();
        let mut write = |o: &Outcome, n: u64| {
            if let Outcome::Put(r, _) = o {
                written.push((r.address.clone(), r.revision, n));
            }
        };
        let mut held = Held {
            held: Vec::new(),
            write: &mut write,
        };
        held.outcome(None, &Outcome::Nothing(Action::NoOp));
        held.outcome(None, &Outcome::Put(Box::new(record("h")), Action::NoOp));
        assert_eq!(held.held.len(), 1, "Nothing is never held");
        held.outcome(
            Some(3),
            &Outcome::Put(Box::new(record("h")), Action::Create),
        );
        assert!(held.held.is_empty());
        let address = "a/east/core/ConfigMap/ns/cfg".to_string();
        assert_eq!(written, [(address.clone(), 3, 3), (address, 0, 3)]);
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
