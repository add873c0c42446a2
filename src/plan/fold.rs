//! The fold: the desired state of a set of stages.
//!
//! Stages are applied in plan order, each adding its declarations; a declaration whose
//! address already exists replaces it (a later stage re-declaring an object), and a
//! removal turns it into an `Absent` node; a retired check (`removes: [{ check: NAME }]`)
//! leaves the fold until a later stage declares it again. The result is what the graph is
//! built from.
//!
//! Replacing keeps the dependencies: a re-declared resource remembers every step that
//! declared it, so the waits and checks of an earlier step still depend on it, and the
//! explicit `needs` of every declaring step still hold.

use super::{Need, Plan};
use foldhash::{HashMap, HashMapExt};
use mtm_provider::resource::{Resource, StepInfo};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A resource of the desired state, with what the graph needs to know about it.
#[derive(Clone, Debug)]
pub struct Node {
    pub resource: Resource,
    /// Explicit `needs` of every step that declared it.
    pub needs: Vec<Need>,
    /// Generated values its current declaration refers to.
    pub uses: BTreeSet<String>,
    /// Every step that declared it, in plan order (the last is `resource.step`).
    pub steps: Vec<Arc<StepInfo>>,
}

/// The desired resources of `stages` (names; others are ignored), in first-declared order.
pub fn fold(plan: &Plan, stages: &[String]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // Checks a later stage retired (until one declares them again).
    let mut retired: BTreeSet<usize> = BTreeSet::new();
    for stage in plan.stages.iter().filter(|s| stages.contains(&s.name)) {
        for d in &stage.decls {
            let found = index.get(d.address.as_str()).copied();
            if d.retires {
                retired.extend(found);
                continue;
            }
            match found {
                Some(i) => {
                    retired.remove(&i);
                    let node = &mut nodes[i];
                    node.resource.spec = d.spec.clone();
                    node.resource.step = d.step.clone();
                    node.resource.origin = d.origin.clone();
                    if node.resource.stages.last() != Some(&stage.name) {
                        node.resource.stages.push(stage.name.clone());
                    }
                    for need in &d.needs {
                        if !node.needs.iter().any(|n| n.pattern == need.pattern) {
                            node.needs.push(need.clone());
                        }
                    }
                    node.uses = d.uses.clone();
                    if !node.steps.iter().any(|s| Arc::ptr_eq(s, &d.step)) {
                        node.steps.push(d.step.clone());
                    }
                }
                None => {
                    index.insert(d.address.0.clone(), nodes.len());
                    nodes.push(Node {
                        resource: Resource {
                            address: d.address.clone(),
                            spec: d.spec.clone(),
                            step: d.step.clone(),
                            stages: vec![stage.name.clone()],
                            origin: d.origin.clone(),
                        },
                        needs: d.needs.clone(),
                        uses: d.uses.clone(),
                        steps: vec![d.step.clone()],
                    });
                }
            }
        }
    }
    nodes
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !retired.contains(i))
        .map(|(_, n)| n)
        .collect()
}
