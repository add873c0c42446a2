//! The fold: the desired state of a set of stages.
//!
//! Stages are applied in plan order, each adding its declarations; a declaration whose
//! address already exists replaces it (a later stage re-declaring an object), and a
//! removal turns it into an `Absent` node. The result is what the graph is built from.

use super::{Need, Plan};
use mtm_provider::resource::Resource;
use std::collections::{BTreeSet, HashMap};

/// A resource of the desired state, with what the graph needs to know about it.
#[derive(Clone, Debug)]
pub struct Node {
    pub resource: Resource,
    pub needs: Vec<Need>,
    pub uses: BTreeSet<String>,
}

/// The desired resources of `stages` (names; others are ignored), in first-declared order.
pub fn fold(plan: &Plan, stages: &[String]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for stage in plan.stages.iter().filter(|s| stages.contains(&s.name)) {
        for d in &stage.decls {
            match index.get(d.address.as_str()) {
                Some(&i) => {
                    let node = &mut nodes[i];
                    node.resource.spec = d.spec.clone();
                    node.resource.step = d.step.clone();
                    node.resource.origin = d.origin.clone();
                    if node.resource.stages.last() != Some(&stage.name) {
                        node.resource.stages.push(stage.name.clone());
                    }
                    node.needs = d.needs.clone();
                    node.uses = d.uses.clone();
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
                    });
                }
            }
        }
    }
    nodes
}
