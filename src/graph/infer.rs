//! Edges the engine infers from what resources say about each other.
//!
//! - a namespace before everything in it;
//! - a CRD (declared, or required by the standup with `provides`) before its custom
//!   resources; a GatewayClass before the Gateways of that class;
//! - ServiceAccounts, ConfigMaps and Secrets before the workloads that reference them;
//! - what `parentRefs`, `backendRefs`, `targetRefs` and `parametersRef` name before the
//!   routes and policies that point at it;
//! - a Service before the backends whose `host` is its cluster-local or
//!   `<svc>.<ns>.svc.<context>.mesh.internal` name: this is how an edge crosses clusters;
//! - the object a patch changes before the patch; the required release before the
//!   upgrade of an existing one; a generated value before its users;
//! - every object, patch and release of a step before the step's waits, and all of a
//!   stage's resources before its checks (a resource a later stage re-declares still
//!   counts for every step and stage that declared it);
//! - explicit `needs`.
//!
//! A reference to something the plan does not declare adds no edge: it may exist already.

mod refs;

use super::Pattern;
use crate::plan::Node;
use foldhash::{HashMap, HashMapExt};
use mtm_provider::resource::{Requirement, Spec};
use mtm_provider::{Named, ObjectId};
use refs::object_refs;

/// An object identity borrowed from the nodes: (cluster, group, kind, namespace, name).
type Key<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str);

fn key<'a>(id: &'a ObjectId) -> Key<'a> {
    (
        &id.cluster,
        &id.group,
        &id.kind,
        id.namespace.as_deref(),
        &id.name,
    )
}

struct Index<'a> {
    objects: HashMap<Key<'a>, usize>,
    crds: HashMap<(&'a str, &'a str, &'a str), usize>,
    releases: HashMap<(&'a str, &'a str, &'a str), usize>,
    gens: HashMap<&'a str, usize>,
    contexts: &'a std::collections::HashMap<String, String>,
    /// No key was claimed by two nodes: each lookup has one possible answer.
    unique: bool,
}

impl<'a> Index<'a> {
    fn new(
        nodes: &'a [Node],
        contexts: &'a std::collections::HashMap<String, String>,
    ) -> Index<'a> {
        let mut ix = Index {
            objects: HashMap::with_capacity(nodes.len()),
            crds: HashMap::new(),
            releases: HashMap::new(),
            gens: HashMap::new(),
            contexts,
            unique: true,
        };
        for (i, n) in nodes.iter().enumerate() {
            let mut taken = false;
            match &n.resource.spec {
                Spec::Object { id, manifest } => {
                    taken |= ix.objects.insert(key(id), i).is_some();
                    for named in manifest.names() {
                        if let Named::Serves { group, kind } = named {
                            taken |= ix.crds.insert((&id.cluster, group, kind), i).is_some();
                        }
                    }
                }
                Spec::Require {
                    cluster,
                    requirement,
                } => match requirement {
                    Requirement::Object { id, provides, .. } => {
                        taken |= *ix.objects.entry(key(id)).or_insert(i) != i;
                        if let Some(p) = provides {
                            taken |= ix.crds.insert((cluster, &p.group, &p.kind), i).is_some();
                        }
                    }
                    Requirement::Release {
                        namespace, name, ..
                    } => {
                        taken |= ix.releases.insert((cluster, namespace, name), i).is_some();
                    }
                },
                Spec::Generated(g) => {
                    taken |= ix.gens.insert(g.name.as_str(), i).is_some();
                }
                _ => {}
            }
            ix.unique &= !taken;
        }
        ix
    }

    fn object(
        &self,
        cluster: &str,
        group: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<usize> {
        self.objects.get(&(cluster, group, kind, ns, name)).copied()
    }
}

/// The edges found so far: one per (dependency, dependent) pair, its first reason kept.
#[derive(Default)]
struct Edges {
    out: Vec<(usize, usize, &'static str)>,
    seen_pairs: foldhash::HashSet<(usize, usize)>,
}

impl Edges {
    /// Adds `from -> to`, unless there is no `from`, it is `to`, or the pair has an edge.
    fn add(&mut self, from: Option<usize>, to: usize, why: &'static str) {
        if let Some(from) = from
            && from != to
            && self.seen_pairs.insert((from, to))
        {
            self.out.push((from, to, why));
        }
    }
}

/// What a step's waits and a stage's checks wait for: the members of each step and stage.
struct Members<'a> {
    /// (stage, step) to its objects, patches and releases.
    by_step: HashMap<(&'a str, &'a str), Vec<usize>>,
    /// Stage to everything of it but its checks.
    by_stage: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Members<'a> {
    /// The members of every step and stage of `nodes`.
    fn new(nodes: &'a [Node]) -> Members<'a> {
        let mut by_step: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        let mut by_stage: HashMap<&str, Vec<usize>> = HashMap::new();
        // A resource belongs to every step that declared it (a later stage re-declaring an
        // object does not take it away from the earlier step's waits and checks).
        for (i, n) in nodes.iter().enumerate() {
            // A removal belongs to the stage that removes it only: an earlier step's checks
            // do not wait for a later stage to delete what they check.
            let steps = match n.resource.spec {
                Spec::Absent { .. } => std::slice::from_ref(&n.resource.step),
                _ => n.steps.as_slice(),
            };
            for step in steps {
                if matches!(
                    n.resource.spec,
                    Spec::Object { .. } | Spec::Patch { .. } | Spec::Release { .. }
                ) {
                    let members = by_step.entry((&step.stage, &step.step)).or_default();
                    if members.last() != Some(&i) {
                        members.push(i);
                    }
                }
                if !matches!(n.resource.spec, Spec::Check { .. }) {
                    let members = by_stage.entry(&step.stage).or_default();
                    if members.last() != Some(&i) {
                        members.push(i);
                    }
                }
            }
        }
        Members { by_step, by_stage }
    }
}

/// The edges of a set of nodes.
pub struct Inferred {
    /// Every inferred and explicit edge `(dependency, dependent, why)`, without
    /// duplicates, sorted.
    pub edges: Vec<(usize, usize, &'static str)>,
    /// No two nodes claimed one identity, CRD kind, release or generated value: the edges
    /// of any subset of the nodes are those of the whole between members of the subset.
    pub unique: bool,
}

/// Every inferred and explicit edge of `nodes`.
pub fn edges(nodes: &[Node], contexts: &std::collections::HashMap<String, String>) -> Inferred {
    let ix = Index::new(nodes, contexts);
    let members = Members::new(nodes);
    let mut edges = Edges::default();
    for (i, n) in nodes.iter().enumerate() {
        spec_edges(&ix, &members, i, n, &mut edges);
        for name in &n.uses {
            edges.add(ix.gens.get(name.as_str()).copied(), i, "uses");
        }
        for need in &n.needs {
            if let Ok(p) = Pattern::new(&need.pattern) {
                for (j, m) in nodes.iter().enumerate() {
                    if p.matches(m.resource.address.as_str()) {
                        edges.add(Some(j), i, "needs");
                    }
                }
            }
        }
    }
    let mut out = edges.out;
    out.sort_unstable();
    Inferred {
        edges: out,
        unique: ix.unique,
    }
}

/// The edges into node `i` that its spec implies: namespace, CRD, references, patched
/// object, required release, and the members a wait or a check waits for.
fn spec_edges(ix: &Index, members: &Members, i: usize, n: &Node, edges: &mut Edges) {
    let cluster = n.resource.cluster().unwrap_or("");
    let namespace =
        |ns: Option<&str>| ns.and_then(|ns| ix.object(cluster, "", "Namespace", None, ns));
    match &n.resource.spec {
        Spec::Object { id, manifest } => {
            edges.add(namespace(id.namespace.as_deref()), i, "namespace");
            edges.add(
                ix.crds
                    .get(&(cluster, id.group.as_str(), id.kind.as_str()))
                    .copied(),
                i,
                "crd",
            );
            object_refs(ix, id, manifest.names(), &mut |from, why| {
                edges.add(Some(from), i, why)
            });
        }
        Spec::Patch { target, .. } => {
            edges.add(namespace(target.namespace.as_deref()), i, "namespace");
            edges.add(
                ix.crds
                    .get(&(cluster, target.group.as_str(), target.kind.as_str()))
                    .copied(),
                i,
                "crd",
            );
            edges.add(ix.objects.get(&key(target)).copied(), i, "patches");
        }
        Spec::Release { release, .. } => {
            edges.add(namespace(Some(&release.namespace)), i, "namespace");
            if release.existing {
                let k = (cluster, release.namespace.as_str(), release.name.as_str());
                edges.add(ix.releases.get(&k).copied(), i, "requires");
            }
        }
        Spec::Wait { wait, .. } => {
            edges.add(namespace(wait.namespace.as_deref()), i, "namespace");
            let step = &n.resource.step;
            for &m in members
                .by_step
                .get(&(step.stage.as_str(), step.step.as_str()))
                .into_iter()
                .flatten()
            {
                edges.add(Some(m), i, "waits-for");
            }
        }
        Spec::Check { check, .. } => {
            edges.add(
                namespace(check.from.as_ref().map(|f| f.namespace.as_str())),
                i,
                "namespace",
            );
            for &m in members
                .by_stage
                .get(n.resource.step.stage.as_str())
                .into_iter()
                .flatten()
            {
                edges.add(Some(m), i, "checks");
            }
        }
        Spec::Absent { .. } | Spec::Generated(_) | Spec::Require { .. } => {}
    }
}
