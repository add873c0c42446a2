//! `mtm plan`: what applying the selection would change, resource by resource.
//!
//! Objects are planned by a server-side dry-run apply compared with the live object (the
//! kube provider); removals only touch what state says mtm created; releases are planned
//! by the helm provider; requirements are checked and a missing one is an error. Nothing
//! is changed on any cluster.

use super::change::{Action, Change, FieldChange, FieldClaim};
use super::{Engine, EngineError, Family, NodeError, family};
use crate::plan::Node;
use crate::store::Record;
use mtm_provider::Verdict;
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

/// A resource ready for its provider, and the note of a plan made with placeholders.
type Filled<'n> = (std::borrow::Cow<'n, mtm_provider::Resource>, Option<String>);

/// A provider's changed field as a plan shows it.
fn field_change(d: mtm_provider::FieldDiff) -> FieldChange {
    FieldChange {
        path: d.path,
        before: d.before,
        after: d.after,
    }
}

fn field_claim(c: mtm_provider::Claim) -> FieldClaim {
    FieldClaim {
        path: c.path,
        manager: c.manager,
        take_over: c.take_over,
    }
}

/// The plan's action for a provider's verdict.
pub fn action_of(verdict: Verdict) -> Action {
    match verdict {
        Verdict::Create => Action::Create,
        Verdict::Update => Action::Update,
        Verdict::NoOp => Action::NoOp,
        Verdict::Pending => Action::Pending,
        Verdict::Delete => Action::Delete,
        Verdict::Check => Action::Check,
    }
}

impl Engine<'_> {
    /// Plans every selected resource, at most `parallelism` at a time.
    pub async fn plan_all(&self, records: &BTreeMap<String, Record>) -> Planned {
        let nodes: Vec<&Node> = self
            .nodes()
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| family(&n.resource.spec) != Family::Check)
            .collect();
        let resources: Vec<&mtm_provider::Resource> = nodes.iter().map(|n| &n.resource).collect();
        self.router.prefetch(&resources).await;
        let results = super::each_at_most(nodes.iter().copied(), self.parallelism, |n| {
            self.plan_node(n, records)
        })
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
                let message = self.router.unreachable(&c.name)?;
                Some(Down {
                    cluster: c.name.clone(),
                    context: c.context.clone(),
                    message,
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
        let address = node.resource.address.to_string();
        self.observe_node(node, records)
            .await
            .map_err(|e| self.node_error(&address, &e))
    }

    /// Observes one resource through its provider and says what applying it would do.
    async fn observe_node(
        &self,
        node: &Node,
        records: &BTreeMap<String, Record>,
    ) -> Result<Change, EngineError> {
        let r = &node.resource;
        let record = records.get(r.address.as_str());
        // A cluster that cannot be used fails every resource on it the same way, at once
        // (helm and the waits included), without asking it again.
        if let Some(cluster) = r.cluster() {
            self.router.reach(cluster).await?;
        }
        let kind = family(&r.spec);
        if kind == Family::Check {
            return Ok(change(node, Action::Check));
        }
        if kind == Family::Absent && record.is_none() {
            let mut c = change(node, Action::NoOp);
            c.note = Some("removed by the plan; not in state, so left alone".into());
            return Ok(c);
        }
        let (filled, placeholders) = self.filled_or_placeholders(node)?;
        let seen = self.provider(r)?.observe(&filled).await?;
        let mut c = change(node, action_of(seen.verdict));
        c.live_version = seen.live_version;
        c.note = placeholders.or(seen.note);
        c.claims = seen.claims.into_iter().map(field_claim).collect();
        c.diff = seen.diff.into_iter().map(field_change).collect();
        if record.is_none() && seen.adoptable {
            c.action = Action::Adopt;
            c.note.get_or_insert_with(|| {
                "exists, not made by mtm: adopted, and restored (not deleted) by destroy".into()
            });
        }
        Ok(c)
    }

    /// The resource with its generated values filled in; while some are not made yet,
    /// as declared, with a note that the plan used placeholders.
    fn filled_or_placeholders<'n>(&self, node: &'n Node) -> Result<Filled<'n>, EngineError> {
        let missing: Vec<&str> = {
            let gens = self.gens.lock().expect("gens lock");
            node.uses
                .iter()
                .filter(|g| !gens.contains_key(*g))
                .map(String::as_str)
                .collect()
        };
        if missing.is_empty() {
            return Ok((self.filled(&node.resource)?, None));
        }
        let note = format!(
            "uses generated value {} made at apply; planned with placeholders",
            missing.join(", ")
        );
        Ok((std::borrow::Cow::Borrowed(&node.resource), Some(note)))
    }
}
