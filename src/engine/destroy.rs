//! `mtm destroy`: the selection in reverse dependency order (namespaces last, since
//! everything in them depends on them), touching only what state says mtm did. What
//! existed before mtm is restored, not deleted: objects to their earlier content,
//! releases to their earlier revision, field patches released.

use super::apply::{Outcome, Progress, relay};
use super::change::{Action, Change};
use super::{Engine, NodeError};
use crate::plan::Node;
use crate::sched;
use crate::store::Record;
use mtm_provider::resource::Spec;
use std::collections::BTreeMap;
use std::time::Instant;
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

    /// Destroys the selection; `on_outcome` updates state as each resource goes.
    pub async fn destroy(
        &self,
        records: &BTreeMap<String, Record>,
        cancel: watch::Receiver<bool>,
        mut on_outcome: impl FnMut(&Outcome),
        mut progress: impl FnMut(Progress),
    ) -> sched::Report {
        let (nodes, schedule) = self.schedule(true);
        let started: std::sync::Mutex<std::collections::HashMap<usize, Instant>> =
            Default::default();
        let worker = |i: usize| {
            let node = nodes[i];
            let record = records.get(node.resource.address.as_str());
            started.lock().expect("lock").insert(i, Instant::now());
            let cancel = cancel.clone();
            async move {
                self.destroy_node(node, record, cancel)
                    .await
                    .map_err(|e| e.message)
            }
        };
        sched::run(
            &schedule,
            self.parallelism,
            cancel.clone(),
            worker,
            relay(
                &nodes,
                &started,
                |a| records.contains_key(a),
                &mut on_outcome,
                &mut progress,
            ),
        )
        .await
    }

    async fn destroy_node(
        &self,
        node: &Node,
        record: Option<&Record>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Outcome, NodeError> {
        let r = &node.resource;
        let fail = |message: String| NodeError::new(r.address.to_string(), message);
        let Some(record) = record else {
            return Ok(Outcome::Nothing(Action::NoOp));
        };
        let address = r.address.to_string();
        match &r.spec {
            Spec::Object { id, .. } | Spec::Absent { id } => {
                if let Some(prior) = &record.prior {
                    self.kube
                        .apply_object(id, prior, true)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    return Ok(Outcome::Remove(address, Action::Restore));
                }
                self.kube
                    .delete_object(id)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Outcome::Remove(address, Action::Delete))
            }
            Spec::Patch {
                target, manager, ..
            } => {
                self.kube
                    .release_patch(target, manager)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Outcome::Remove(address, Action::Delete))
            }
            Spec::Release { cluster, release } => match &record.prior {
                Some(prior) => {
                    let prior: mtm_helm::PriorRelease = serde_json::from_value(prior.clone())
                        .map_err(|e| {
                            fail(format!("state holds an unreadable prior release: {e}"))
                        })?;
                    self.helm
                        .restore_release(cluster, release, &prior, cancel)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    Ok(Outcome::Remove(address, Action::Restore))
                }
                None => {
                    self.helm
                        .uninstall_release(cluster, &release.name, &release.namespace, cancel)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    Ok(Outcome::Remove(address, Action::Delete))
                }
            },
            Spec::Generated(g) => {
                // The key material goes with the resource: nothing secret is left behind.
                let path = crate::generate::SecretFile::path(&self.state_dir, &g.name)
                    .map_err(|e| fail(e.to_string()))?;
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(fail(format!("cannot remove {}: {e}", path.display()))),
                }
                Ok(Outcome::Remove(address, Action::Delete))
            }
            Spec::Require { .. } | Spec::Wait { .. } | Spec::Check { .. } => {
                Ok(Outcome::Nothing(Action::NoOp))
            }
        }
    }
}
