//! `mtm destroy`: the selection in reverse dependency order (namespaces last, since
//! everything in them depends on them), touching only what state says mtm did. What
//! existed before mtm is restored, not deleted: objects to their earlier content,
//! releases to their earlier revision, field patches released.

use super::apply::{Outcome, Progress, Recorded};
use super::change::{Action, Change};
use super::revision::{Finished, Ledger, Revision};
use super::{Engine, EngineError, Family, NodeError, family};
use crate::plan::Node;
use crate::store::Record;
use std::collections::BTreeMap;
use tokio::sync::watch;

impl Engine<'_> {
    /// The addresses destroy would act on: selected resources that state records.
    pub fn destroy_plan<'r>(
        &self,
        records: &'r BTreeMap<String, Record>,
    ) -> Vec<(&'r Record, Action)> {
        let (nodes, _) = self.schedule(true);
        let mut out: Vec<(&Record, Action)> = nodes
            .iter()
            .rev()
            .filter_map(|n| records.get(n.resource.address.as_str()))
            .map(|r| {
                (
                    r,
                    if r.prior.is_some() {
                        Action::Restore
                    } else {
                        Action::Delete
                    },
                )
            })
            .collect();
        out.retain(|(r, _)| r.kind != "generated");
        out
    }

    /// What destroy would do, as the changes of a plan (`mtm plan --destroy`): from state
    /// alone, in the order destroy takes them.
    pub fn destroy_changes(&self, records: &BTreeMap<String, Record>) -> Vec<Change> {
        let (nodes, _) = self.schedule(true);
        nodes
            .iter()
            .rev()
            .filter_map(|n| {
                let record = records.get(n.resource.address.as_str())?;
                if record.kind == "generated" {
                    return None;
                }
                let action = if record.prior.is_some() {
                    Action::Restore
                } else {
                    Action::Delete
                };
                Some(super::planner::change(n, action))
            })
            .collect()
    }

    /// Destroys the selection in a revision of `ledger`, state updated as each resource
    /// goes.
    pub async fn destroy(
        &self,
        records: &BTreeMap<String, Record>,
        ledger: &Ledger<'_>,
        cancel: watch::Receiver<bool>,
        progress: impl FnMut(Progress),
    ) -> Result<Finished, EngineError> {
        let revision = Revision::new(ledger);
        revision.number()?;
        let (nodes, schedule) = self.schedule(true);
        let worker = |i: usize| {
            let node = nodes[i];
            let record = records.get(node.resource.address.as_str());
            let cancel = cancel.clone();
            async move {
                self.destroy_node(node, record, cancel)
                    .await
                    .map_err(|e| e.message)
            }
        };
        let addresses = super::apply::addresses(&nodes);
        let walk = Recorded {
            schedule: &schedule,
            addresses: &addresses,
            revision: &revision,
        };
        let shown = |a: &str| records.contains_key(a);
        let report = self
            .walk(walk, shown, cancel.clone(), worker, progress)
            .await;
        Ok(revision.finish(report)?.expect("the revision was begun"))
    }

    async fn destroy_node(
        &self,
        node: &Node,
        record: Option<&Record>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, NodeError> {
        let r = &node.resource;
        let Some(record) = record else {
            return Ok(Outcome::Nothing(Action::NoOp));
        };
        self.remove(r, record, cancel)
            .await
            .map_err(|e| self.node_error(r.address.as_str(), &e))
    }

    /// Takes away what mtm made of `r` as `record` says: what existed before is restored,
    /// the rest deleted. A wait or a requirement has nothing to take away.
    pub(super) async fn remove(
        &self,
        r: &mtm_provider::Resource,
        record: &Record,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, EngineError> {
        let address = r.address.to_string();
        let provider = match family(&r.spec) {
            Family::Wait | Family::Require | Family::Check => {
                return Ok(Outcome::Nothing(Action::NoOp));
            }
            _ => self.provider(r)?,
        };
        // A patch's prior is never restored: its fields are let go.
        match &record.prior {
            Some(prior) if family(&r.spec) != Family::Patch => {
                provider.restore(r, prior, cancel).await?;
                Ok(Outcome::Remove(address, Action::Restore))
            }
            _ => {
                provider.delete(r, cancel).await?;
                Ok(Outcome::Remove(address, Action::Delete))
            }
        }
    }
}
