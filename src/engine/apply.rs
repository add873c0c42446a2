//! `mtm apply`: executes a plan with the scheduler, in dependency order, across clusters.
//!
//! Each resource's state record is written the moment it succeeds (by the caller's event
//! handler, in event order), so a crash loses nothing already done. A failure skips what
//! depends on it; the rest finishes.

use super::change::{Action, Change};
use super::planner::Planned;
use super::record::{self, redact_value};
use super::revision::{Finished, Ledger, Revision};
use super::values;
use super::{Engine, EngineError, Family, NodeError, family};
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
fn relay<'a>(
    addresses: &'a [String],
    shown: impl Fn(&str) -> bool + 'a,
    on_outcome: &'a mut impl FnMut(&Outcome),
    progress: &'a mut impl FnMut(Progress),
) -> impl FnMut(Event<Outcome>) + 'a {
    let addr = move |i: usize| addresses[i].clone();
    // A node starts when its worker is called, which is when its Started event comes.
    let mut started: HashMap<usize, Instant> = HashMap::new();
    move |event| match event {
        Event::Started(i) => {
            started.insert(i, Instant::now());
            tracing::info!(address = %addr(i), "working on");
            if shown(&addr(i)) {
                progress(Progress::Started { address: addr(i) });
            }
        }
        Event::Succeeded(i, outcome) => {
            tracing::info!(address = %addr(i), "done");
            on_outcome(&outcome);
            let action = match &outcome {
                Outcome::Put(_, a) | Outcome::Remove(_, a) | Outcome::Nothing(a) => *a,
            };
            let seconds = started.get(&i).map_or(0.0, |t| t.elapsed().as_secs_f64());
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

/// A walk of `schedule` (its nodes named by `addresses`) recorded in `revision`.
pub(super) struct Recorded<'a> {
    pub schedule: &'a Schedule,
    pub addresses: &'a [String],
    pub revision: &'a Revision<'a, 'a>,
}

/// The addresses of `nodes`, by position.
pub fn addresses(nodes: &[&Node]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n.resource.address.to_string())
        .collect()
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
            .filter(|(_, n)| family(&n.resource.spec) != Family::Check)
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

    /// Applies `planned` in a revision of `ledger`, each outcome recorded as it happens.
    pub async fn apply(
        &self,
        planned: &Planned,
        records: &BTreeMap<String, Record>,
        ledger: &Ledger<'_>,
        cancel: watch::Receiver<bool>,
        progress: impl FnMut(Progress),
    ) -> Result<Finished, EngineError> {
        let changes: HashMap<&str, &Change> = planned
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c))
            .collect();
        let revision = Revision::new(ledger);
        let number = revision.number()?;
        let (nodes, schedule) = self.schedule(false);
        // Resources whose cluster was down when planned fail at once; their dependents
        // are skipped and the rest of the graph goes on.
        let unreachable: HashMap<&str, &str> = planned
            .errors
            .iter()
            .map(|e| (e.address.as_str(), e.message.as_str()))
            .collect();
        let worker = |i: usize| {
            let node = nodes[i];
            let address = node.resource.address.as_str();
            let down = unreachable.get(address).map(|m| m.to_string());
            let change = changes.get(address).copied();
            let record = records.get(address);
            let (cancel, store) = (cancel.clone(), revision.store());
            async move {
                if let Some(message) = down {
                    return Err(message);
                }
                self.apply_node(node, change, record, number, store, cancel)
                    .await
                    .map_err(|e| e.message)
            }
        };
        let addresses = addresses(&nodes);
        let walk = Recorded {
            schedule: &schedule,
            addresses: &addresses,
            revision: &revision,
        };
        let report = self
            .walk(walk, |_| true, cancel.clone(), worker, progress)
            .await;
        Ok(revision.finish(report)?.expect("the revision was begun"))
    }

    /// One scheduler walk whose successes are recorded in the revision as they come and
    /// whose events become progress; `shown` picks the resources whose start and skip
    /// are worth a line.
    pub(super) async fn walk<W, F>(
        &self,
        walk: Recorded<'_>,
        shown: impl Fn(&str) -> bool,
        cancel: watch::Receiver<bool>,
        worker: W,
        mut progress: impl FnMut(Progress),
    ) -> sched::Report
    where
        W: FnMut(usize) -> F,
        F: std::future::Future<Output = Result<Outcome, String>>,
    {
        let mut on_outcome = |o: &Outcome| walk.revision.record(o);
        let events = relay(walk.addresses, shown, &mut on_outcome, &mut progress);
        sched::run(walk.schedule, self.parallelism, cancel, worker, events).await
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
        let address = node.resource.address.to_string();
        self.act_on(node, change, record, revision, intents, cancel)
            .await
            .map_err(|e| self.node_error(&address, &e))
    }

    /// Brings one resource to its declaration through its provider; what state keeps.
    async fn act_on(
        &self,
        node: &Node,
        change: Option<&Change>,
        record: Option<&Record>,
        revision: u64,
        intents: &dyn Store,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, EngineError> {
        let r = &node.resource;
        let action = change.map_or(Action::Check, |c| c.action);
        let Some(provider) = self.router.provider(r) else {
            return Ok(Outcome::Nothing(Action::Check));
        };
        let settled = record.is_some_and(|r| r.hash != PENDING);
        match family(&r.spec) {
            Family::Absent if record.is_none() => return Ok(Outcome::Nothing(Action::NoOp)),
            Family::Absent => {
                provider.apply(r, cancel).await?;
                return Ok(Outcome::Remove(r.address.to_string(), Action::Delete));
            }
            Family::Object | Family::Patch | Family::Release
                if action == Action::NoOp && settled =>
            {
                return Ok(Outcome::Nothing(Action::NoOp));
            }
            Family::Wait | Family::Require => {
                provider.apply(r, cancel).await?;
                return Ok(Outcome::Nothing(Action::Check));
            }
            _ => {}
        }
        let captured = match record {
            // Recorded, or intended by a run that died: its prior stands.
            Some(_) => None,
            None => self.intend(node, revision, intents).await?,
        };
        let filled = self.filled(r)?;
        let done = match provider.apply(&filled, cancel).await {
            Ok(done) => done,
            Err(e) => {
                // A create the server refused leaves nothing of mtm's: nor does state.
                if record.is_none() && captured.is_none() && r.manifest().is_some() {
                    self.forget_if_absent(node, intents).await;
                }
                return Err(e.into());
            }
        };
        let prior = record
            .and_then(|r| r.prior.clone())
            .or(captured)
            .or(done.prior.clone());
        let rec = self.record_of(node, &filled, &done, prior, revision);
        Ok(Outcome::Put(Box::new(rec), applied_action(&r.spec, action)))
    }

    /// Before an object state does not know is touched: what exists now (the prior a
    /// destroy restores), written to state as an intent first, so a crash can neither
    /// leave an object of mtm's that state does not know nor mistake it later for one
    /// that existed before.
    async fn intend(
        &self,
        node: &Node,
        revision: u64,
        intents: &dyn Store,
    ) -> Result<Option<Value>, EngineError> {
        let r = &node.resource;
        let Some(manifest) = r.manifest() else {
            return Ok(None);
        };
        let prior = self.provider(r)?.live(r).await?.map(strip_server_fields);
        let mut intent = record::record(
            r,
            &manifest.value(),
            None,
            prior.clone(),
            revision,
            &self.secrets(),
        );
        intent.hash = PENDING.to_string();
        intents.put_record_soon(&intent).await?;
        Ok(prior)
    }

    /// Removes the intent written for `node` when its object does not exist after all
    /// (its create was refused); kept when that cannot be known.
    async fn forget_if_absent(&self, node: &Node, intents: &dyn Store) {
        let r = &node.resource;
        let Ok(provider) = self.provider(r) else {
            return;
        };
        if let Ok(None) = provider.live(r).await
            && let Err(e) = intents.remove_record(r.address.as_str())
        {
            tracing::warn!(address = %r.address, error = %e, "cannot remove the intent");
        }
    }

    /// The record of an applied resource: its declaration as sent (an object: with
    /// `${gen...}` kept in place, so rollback and drift can put the generated values back
    /// without state ever holding them), or what the provider said to keep.
    fn record_of(
        &self,
        node: &Node,
        filled: &mtm_provider::Resource,
        done: &mtm_provider::Applied,
        prior: Option<Value>,
        revision: u64,
    ) -> Record {
        let r = &node.resource;
        let secrets = self.secrets();
        let uid = done.uid.clone();
        if let (Some(template), Some(manifest)) = (r.manifest(), filled.manifest()) {
            let mut rec = record::record(r, &manifest.value(), uid, prior, revision, &secrets);
            if template != manifest {
                rec.manifest = redact_value(&template.value(), &secrets);
            }
            return rec;
        }
        if let Some((fields, manager)) = r.patch() {
            let body = json!({ "manager": manager, "fields": fields });
            return record::record(r, &body, uid, None, revision, &secrets);
        }
        let body = done.record.clone().unwrap_or(Value::Null);
        record::record(r, &body, uid, prior, revision, &secrets)
    }
}

/// The action an apply of `spec` planned as `action` records.
fn applied_action(spec: &Spec, action: Action) -> Action {
    match family(spec) {
        Family::Object if action == Action::NoOp => Action::Create,
        Family::Patch if action == Action::NoOp => Action::Update,
        Family::Value if action == Action::Create => Action::Create,
        Family::Value => Action::NoOp,
        _ => action,
    }
}
