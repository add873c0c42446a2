//! `mtm plan`: what applying the selection would change, resource by resource.
//!
//! Objects are planned by a server-side dry-run apply compared with the live object (the
//! kube provider); removals only touch what state says mtm created; releases are planned
//! by the helm provider; requirements are checked and a missing one is an error. Nothing
//! is changed on any cluster.

use super::change::{Action, Change, FieldChange, FieldClaim};
use super::{Engine, NodeError};
use crate::plan::Node;
use crate::store::Record;
use futures::StreamExt;
use mtm_provider::resource::Spec;
use serde_json::Value;
use std::collections::BTreeMap;

/// The plan of a selection: one change per selected resource (checks excluded).
#[derive(Debug, Default)]
pub struct Planned {
    pub changes: Vec<Change>,
    pub errors: Vec<NodeError>,
    /// Clusters that could not be used: their resources are not attempted.
    pub down: Vec<Down>,
}

/// A cluster that could not be used in this run, said once for all its resources.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Down {
    pub cluster: String,
    pub context: String,
    /// The provider's error: cluster, context, server and cause.
    pub message: String,
    /// How many selected resources of the cluster are not attempted.
    pub resources: usize,
}

impl Down {
    /// The one line that stands for every resource of the cluster.
    pub fn not_attempted(&self) -> String {
        format!(
            "not attempted: cluster {} (context {}) unreachable ({} resource{})",
            self.cluster,
            self.context,
            self.resources,
            if self.resources == 1 { "" } else { "s" }
        )
    }
}

/// The logical cluster of an address (`stage/cluster/...`).
pub fn cluster_of(address: &str) -> Option<&str> {
    address.split('/').nth(1)
}

impl Planned {
    /// Errors that are not an unreachable cluster: the plan cannot be applied.
    pub fn blocking_errors(&self) -> impl Iterator<Item = &NodeError> {
        self.errors.iter().filter(|e| !e.cluster_down)
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.changes())
    }
}

/// A change of `action` for a node, with its step's title, What and Why.
pub(crate) fn change(node: &Node, action: Action) -> Change {
    let r = &node.resource;
    Change {
        address: r.address.to_string(),
        kind: r.type_name().to_string(),
        cluster: r.cluster().map(str::to_string),
        action,
        diff: Vec::new(),
        note: None,
        claims: Vec::new(),
        live_version: None,
        step: r.step.step.clone(),
        title: r.step.title.clone(),
        what: r.step.what.clone(),
        why: r.step.why.clone(),
    }
}

/// A kube error for `address`, marked when its cluster could not be reached.
fn kube_fail(address: &mtm_provider::Address, e: mtm_kube::KubeError) -> NodeError {
    NodeError {
        cluster_down: e.is_cluster_fault(),
        ..NodeError::new(address.to_string(), e.to_string())
    }
}

fn field_change(d: mtm_kube::FieldDiff) -> FieldChange {
    FieldChange {
        path: d.path,
        before: d.before,
        after: d.after,
    }
}

/// What the ownership policy says of every changed field another manager holds, for an
/// apply as `ours`.
pub fn claims(
    ownership: &mtm_kube::Ownership,
    diff: &[mtm_kube::FieldDiff],
    ours: &str,
) -> Vec<FieldClaim> {
    diff.iter()
        .flat_map(|d| {
            ownership
                .claims(&d.owners, ours)
                .into_iter()
                .map(|claim| match claim {
                    mtm_kube::Claim::TakeOver { manager } => (manager, true),
                    mtm_kube::Claim::Conflict { manager } => (manager, false),
                })
                .map(|(manager, take_over)| FieldClaim {
                    path: d.path.clone(),
                    manager,
                    take_over,
                })
        })
        .collect()
}

fn version_of(live: Option<&Value>) -> Option<String> {
    live.and_then(|l| l.pointer("/metadata/resourceVersion"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn from_kube(action: mtm_kube::Action) -> Action {
    match action {
        mtm_kube::Action::Create => Action::Create,
        mtm_kube::Action::Update => Action::Update,
        mtm_kube::Action::NoOp => Action::NoOp,
        mtm_kube::Action::CrdPending => Action::Pending,
        mtm_kube::Action::Delete => Action::Delete,
    }
}

impl Engine<'_> {
    /// Plans every selected resource, at most `parallelism` at a time.
    pub async fn plan_all(&self, records: &BTreeMap<String, Record>) -> Planned {
        let nodes: Vec<&Node> = self
            .nodes()
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| !matches!(n.resource.spec, Spec::Check { .. }))
            .collect();
        let results: Vec<Result<Change, NodeError>> = futures::stream::iter(nodes.iter().copied())
            .map(|n| self.plan_node(n, records))
            .buffered(self.parallelism.max(1))
            .collect()
            .await;
        let mut planned = Planned::default();
        for r in results {
            match r {
                Ok(c) => planned.changes.push(c),
                Err(e) => planned.errors.push(e),
            }
        }
        planned.down = self.down(&nodes);
        planned
    }

    /// The clusters found down while planning, with how many of `nodes` they hold.
    pub(super) fn down(&self, nodes: &[&Node]) -> Vec<Down> {
        self.plan
            .clusters
            .values()
            .filter_map(|c| {
                let e = self.kube.unreachable(&c.name)?;
                Some(Down {
                    cluster: c.name.clone(),
                    context: c.context.clone(),
                    message: e.to_string(),
                    resources: nodes
                        .iter()
                        .filter(|n| n.resource.cluster() == Some(c.name.as_str()))
                        .count(),
                })
            })
            .collect()
    }

    pub(super) async fn plan_node(
        &self,
        node: &Node,
        records: &BTreeMap<String, Record>,
    ) -> Result<Change, NodeError> {
        let r = &node.resource;
        let fail = |message: String| NodeError::new(r.address.to_string(), message);
        let record = records.get(r.address.as_str());
        // A cluster that cannot be used fails every resource on it the same way, at once
        // (helm and the waits included), without asking it again.
        if let Some(cluster) = r.cluster() {
            self.kube
                .reach(cluster)
                .await
                .map_err(|e| kube_fail(&r.address, e))?;
        }
        match &r.spec {
            Spec::Object { id, manifest } => {
                let missing: Vec<&str> = {
                    let gens = self.gens.lock().expect("gens lock");
                    node.uses
                        .iter()
                        .filter(|g| !gens.contains_key(*g))
                        .map(String::as_str)
                        .collect()
                };
                let (manifest, note) = if missing.is_empty() {
                    (self.substitute(manifest).map_err(fail)?, None)
                } else {
                    (
                        (**manifest).clone(),
                        Some(format!(
                            "uses generated value {} made at apply; planned with placeholders",
                            missing.join(", ")
                        )),
                    )
                };
                let p = self
                    .kube
                    .plan_object(id, &manifest)
                    .await
                    .map_err(|e| kube_fail(&r.address, e))?;
                let mut c = change(node, from_kube(p.action));
                c.live_version = version_of(p.live.as_ref());
                c.claims = claims(self.kube.ownership(), &p.diff, mtm_kube::MANAGER);
                c.note = note.or(p.unvalidated);
                c.diff = p.diff.into_iter().map(field_change).collect();
                if record.is_none() && p.live.is_some() {
                    c.action = Action::Adopt;
                    c.note.get_or_insert_with(|| {
                        "exists, not made by mtm: adopted, and restored (not deleted) by destroy"
                            .into()
                    });
                }
                Ok(c)
            }
            Spec::Absent { id } => {
                if record.is_none() {
                    let mut c = change(node, Action::NoOp);
                    c.note = Some("removed by the plan; not in state, so left alone".into());
                    return Ok(c);
                }
                let p = self
                    .kube
                    .plan_delete(id)
                    .await
                    .map_err(|e| kube_fail(&r.address, e))?;
                let mut c = change(node, from_kube(p.action));
                c.live_version = version_of(p.live.as_ref());
                Ok(c)
            }
            Spec::Patch {
                target,
                fields,
                manager,
            } => {
                let p = self
                    .kube
                    .plan_patch(target, fields, manager)
                    .await
                    .map_err(|e| kube_fail(&r.address, e))?;
                let mut c = change(node, from_kube(p.action));
                c.live_version = version_of(p.live.as_ref());
                c.note = p.unvalidated;
                c.claims = claims(self.kube.ownership(), &p.diff, manager);
                c.diff = p.diff.into_iter().map(field_change).collect();
                Ok(c)
            }
            Spec::Release { cluster, release } => {
                let p = self
                    .helm
                    .plan_release(cluster, release)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let mut c = change(node, super::apply::release_action(&p));
                c.diff = p
                    .values_diff
                    .iter()
                    .map(|v| FieldChange {
                        path: format!("values.{}", v.path),
                        before: v.before.clone(),
                        after: v.after.clone(),
                    })
                    .collect();
                Ok(c)
            }
            Spec::Generated(g) => {
                let known = self.gens.lock().expect("gens lock").contains_key(&g.name);
                Ok(change(
                    node,
                    if known { Action::Check } else { Action::Create },
                ))
            }
            Spec::Require {
                cluster,
                requirement,
            } => {
                self.kube
                    .check_requirement(cluster, requirement)
                    .await
                    .map_err(|e| match e {
                        mtm_kube::RequireError::Kube(k) => kube_fail(&r.address, k),
                        other => fail(other.to_string()),
                    })?;
                Ok(change(node, Action::Check))
            }
            Spec::Wait { .. } | Spec::Check { .. } => Ok(change(node, Action::Check)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_the_policy_and_name_field_and_manager() {
        let diff = vec![
            mtm_kube::FieldDiff {
                path: "spec.replicas".into(),
                before: Some(3.into()),
                after: Some(1.into()),
                owners: vec!["horizontal-pod-autoscaler".into(), "kubectl".into()],
            },
            mtm_kube::FieldDiff {
                path: "spec.template.spec.containers[name=app].image".into(),
                before: None,
                after: None,
                owners: Vec::new(),
            },
        ];
        let lines: Vec<String> = claims(&mtm_kube::Ownership::default(), &diff, "mtm")
            .iter()
            .map(FieldClaim::describe)
            .collect();
        assert_eq!(
            lines,
            [
                "conflict: .spec.replicas is managed by horizontal-pod-autoscaler (apply needs --force-conflicts)",
                "takes over .spec.replicas from kubectl",
            ]
        );
    }
}
