//! `mtm apply`: executes a plan with the scheduler, in dependency order, across clusters.
//!
//! Each resource's state record is written the moment it succeeds (by the caller's event
//! handler, in event order), so a crash loses nothing already done. A failure skips what
//! depends on it; the rest finishes.

use super::change::{Action, Change};
use super::planner::Planned;
use super::record::{self, redact_value};
use super::values;
use super::{Engine, NodeError};
use crate::plan::Node;
use crate::sched::{self, Event, Schedule};
use crate::store::{Record, Store};
use mtm_provider::resource::Spec;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;
use tokio::sync::watch;

/// What a successful resource leaves for state.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Write this record (`action` for the revision's change list).
    Put(Box<Record>, Action),
    /// Forget this address.
    Remove(String, Action),
    /// Nothing to record (a wait, a requirement, an unchanged object already recorded).
    Nothing(Action),
}

/// Something that happened, for progress output.
#[derive(Debug)]
pub enum Progress {
    Started {
        address: String,
    },
    Done {
        address: String,
        action: Action,
        seconds: f64,
    },
    Failed(NodeError),
    Skipped {
        address: String,
        because: String,
    },
    Stopping {
        running: usize,
    },
}

/// Turns scheduler events into state writes (`on_outcome`) and progress; `shown` picks
/// the resources whose start and skip are worth a line.
pub fn relay<'a>(
    nodes: &'a [&'a Node],
    started: &'a std::sync::Mutex<HashMap<usize, Instant>>,
    shown: impl Fn(&str) -> bool + 'a,
    on_outcome: &'a mut impl FnMut(&Outcome),
    progress: &'a mut impl FnMut(Progress),
) -> impl FnMut(Event<Outcome>) + 'a {
    let addr = move |i: usize| nodes[i].resource.address.to_string();
    move |event| match event {
        Event::Started(i) if shown(&addr(i)) => progress(Progress::Started { address: addr(i) }),
        Event::Started(_) => {}
        Event::Succeeded(i, outcome) => {
            on_outcome(&outcome);
            let action = match &outcome {
                Outcome::Put(_, a) | Outcome::Remove(_, a) | Outcome::Nothing(a) => *a,
            };
            let seconds = started
                .lock()
                .expect("lock")
                .get(&i)
                .map_or(0.0, |t| t.elapsed().as_secs_f64());
            progress(Progress::Done {
                address: addr(i),
                action,
                seconds,
            });
        }
        Event::Failed { node, error } => {
            progress(Progress::Failed(NodeError::new(addr(node), error)))
        }
        Event::Skipped {
            node,
            failed_dependency,
        } if shown(&addr(node)) => progress(Progress::Skipped {
            address: addr(node),
            because: addr(failed_dependency),
        }),
        Event::Skipped { .. } => {}
        Event::Cancelled { running } => progress(Progress::Stopping { running }),
    }
}

/// The action a release plan amounts to.
pub fn release_action(p: &mtm_helm::ReleasePlan) -> Action {
    match p.action {
        mtm_helm::Action::Install => Action::Create,
        mtm_helm::Action::Upgrade => Action::Update,
        mtm_helm::Action::NoOp => Action::NoOp,
    }
}

/// The hash of a record written before its object is applied (the intent).
pub const PENDING: &str = "pending";

/// Server-owned fields dropped from a live object kept as the "before" of a restore.
pub fn strip_server_fields(mut live: Value) -> Value {
    if let Some(meta) = live.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(k);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if let Some(obj) = live.as_object_mut() {
        obj.remove("status");
    }
    live
}

impl Engine<'_> {
    /// The selected resources apply works on (checks are for `verify`), in order, with the
    /// dependency lists of the scheduler.
    pub fn schedule(&self, reverse: bool) -> (Vec<&Node>, Schedule) {
        let picked: Vec<_> = self
            .nodes()
            .into_iter()
            .filter(|(_, n)| !matches!(n.resource.spec, Spec::Check { .. }))
            .collect();
        let pos: HashMap<usize, usize> = picked
            .iter()
            .enumerate()
            .map(|(k, (i, _))| (i.index(), k))
            .collect();
        let all = self.sel.graph.dependency_lists();
        let mut deps = vec![Vec::new(); picked.len()];
        for (k, (i, _)) in picked.iter().enumerate() {
            for d in &all[i.index()] {
                if let Some(&dk) = pos.get(d) {
                    if reverse {
                        deps[dk].push(k);
                    } else {
                        deps[k].push(dk);
                    }
                }
            }
        }
        let schedule = Schedule::new(deps).expect("the graph is acyclic");
        (picked.into_iter().map(|(_, n)| n).collect(), schedule)
    }

    /// Every secret value known to this run: sensitive variables and generated values.
    pub fn secrets(&self) -> BTreeSet<String> {
        let mut s = self.plan.secrets();
        s.extend(values::secrets(&self.gens.lock().expect("gens lock")));
        s
    }

    /// Applies `planned`; `on_outcome` writes state for each success as it happens.
    #[allow(clippy::too_many_arguments)] // each is one thing the caller owns
    pub async fn apply(
        &self,
        planned: &Planned,
        records: &BTreeMap<String, Record>,
        revision: u64,
        intents: &dyn Store,
        cancel: watch::Receiver<bool>,
        mut on_outcome: impl FnMut(&Outcome),
        mut progress: impl FnMut(Progress),
    ) -> sched::Report {
        let changes: HashMap<&str, &Change> = planned
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c))
            .collect();
        let (nodes, schedule) = self.schedule(false);
        let started: std::sync::Mutex<HashMap<usize, Instant>> = Default::default();
        // Resources whose cluster was down when planned fail at once; their dependents
        // are skipped and the rest of the graph goes on.
        let unreachable: HashMap<&str, &str> = planned
            .errors
            .iter()
            .map(|e| (e.address.as_str(), e.message.as_str()))
            .collect();
        let worker = |i: usize| {
            let node = nodes[i];
            let down = unreachable
                .get(node.resource.address.as_str())
                .map(|m| m.to_string());
            let change = changes.get(node.resource.address.as_str()).copied();
            let record = records.get(node.resource.address.as_str());
            started.lock().expect("lock").insert(i, Instant::now());
            let cancel = cancel.clone();
            async move {
                if let Some(message) = down {
                    return Err(message);
                }
                self.apply_node(node, change, record, revision, intents, cancel)
                    .await
                    .map_err(|e| e.message)
            }
        };
        sched::run(
            &schedule,
            self.parallelism,
            cancel.clone(),
            worker,
            relay(&nodes, &started, |_| true, &mut on_outcome, &mut progress),
        )
        .await
    }

    pub(super) async fn apply_node(
        &self,
        node: &Node,
        change: Option<&Change>,
        record: Option<&Record>,
        revision: u64,
        intents: &dyn Store,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, NodeError> {
        let r = &node.resource;
        let fail = |message: String| NodeError::new(r.address.to_string(), message);
        let action = change.map_or(Action::Check, |c| c.action);
        let secrets = self.secrets();
        match &r.spec {
            Spec::Object { id, manifest } => {
                let settled = record.filter(|r| r.hash != PENDING);
                if action == Action::NoOp && settled.is_some() {
                    return Ok(Outcome::Nothing(Action::NoOp));
                }
                let template: &Value = manifest;
                let applied = self.substitute(template).map_err(fail)?;
                let prior = match record {
                    // Recorded, or intended by a run that died: its prior stands.
                    Some(r) => r.prior.clone(),
                    None => {
                        let prior = self
                            .kube
                            .get_object(id)
                            .await
                            .map_err(|e| fail(e.to_string()))?
                            .map(strip_server_fields);
                        // The intent goes to state before the object is touched, so a
                        // crash cannot leave an object of mtm's that state does not know,
                        // nor mistake it later for one that existed before.
                        let mut intent =
                            record::record(r, template, None, prior.clone(), revision, &secrets);
                        intent.hash = PENDING.to_string();
                        intents
                            .put_record(&intent)
                            .map_err(|e| fail(format!("cannot write state: {e}")))?;
                        prior
                    }
                };
                let done = self
                    .kube
                    .apply_object(id, &applied, self.force_conflicts)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                self.kube
                    .wait_ready(id)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let mut rec = record::record(r, &applied, done.uid, prior, revision, &secrets);
                // Stored with `${gen...}` in place, so rollback and drift can put the
                // generated values back without state ever holding them.
                rec.manifest = redact_value(template, &secrets);
                let action = if action == Action::NoOp {
                    Action::Create
                } else {
                    action
                };
                Ok(Outcome::Put(Box::new(rec), action))
            }
            Spec::Absent { id } => {
                if record.is_none() {
                    return Ok(Outcome::Nothing(Action::NoOp));
                }
                self.kube
                    .delete_object(id)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Outcome::Remove(r.address.to_string(), Action::Delete))
            }
            Spec::Patch {
                target,
                fields,
                manager,
            } => {
                if action == Action::NoOp && record.is_some() {
                    return Ok(Outcome::Nothing(Action::NoOp));
                }
                let done = self
                    .kube
                    .apply_patch(target, fields, manager, self.force_conflicts)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let body = json!({ "manager": manager, "fields": fields });
                let rec = record::record(r, &body, done.uid, None, revision, &secrets);
                Ok(Outcome::Put(
                    Box::new(rec),
                    if action == Action::NoOp {
                        Action::Update
                    } else {
                        action
                    },
                ))
            }
            Spec::Release { cluster, release } => {
                if action == Action::NoOp && record.is_some() {
                    return Ok(Outcome::Nothing(Action::NoOp));
                }
                let done = self
                    .helm
                    .apply_release(cluster, release, cancel)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                // What existed before mtm is kept from the first apply on.
                let prior = match record.and_then(|r| r.prior.clone()) {
                    Some(p) => Some(p),
                    None => done
                        .prior
                        .as_ref()
                        .map(|p| serde_json::to_value(p).expect("prior serializes")),
                };
                let body = serde_json::to_value(&done.record).expect("release record serializes");
                let rec = record::record(r, &body, None, prior, revision, &secrets);
                Ok(Outcome::Put(Box::new(rec), action))
            }
            Spec::Generated(spec) => {
                let made = values::make(&self.state_dir, spec).map_err(fail)?;
                let fingerprint = made.fingerprint();
                self.gens
                    .lock()
                    .expect("gens lock")
                    .insert(spec.name.clone(), made);
                let body = json!({ "name": spec.name, "fingerprint": fingerprint });
                let rec = record::record(r, &body, None, None, revision, &secrets);
                let rec = Record {
                    manifest: redact_value(&rec.manifest, &self.secrets()),
                    ..rec
                };
                Ok(Outcome::Put(
                    Box::new(rec),
                    if action == Action::Create {
                        Action::Create
                    } else {
                        Action::NoOp
                    },
                ))
            }
            Spec::Require {
                cluster,
                requirement,
            } => {
                self.kube
                    .check_requirement(cluster, requirement)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Outcome::Nothing(Action::Check))
            }
            Spec::Wait { cluster, wait } => {
                self.kube
                    .wait(cluster, wait)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Outcome::Nothing(Action::Check))
            }
            Spec::Check { .. } => Ok(Outcome::Nothing(Action::Check)),
        }
    }
}
