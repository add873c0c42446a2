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

use super::Pattern;
use crate::plan::{Node, runs_pods};
use mtm_provider::ObjectId;
use mtm_provider::resource::{Requirement, Spec};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

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
    contexts: &'a HashMap<String, String>,
}

impl<'a> Index<'a> {
    fn new(nodes: &'a [Node], contexts: &'a HashMap<String, String>) -> Index<'a> {
        let mut ix = Index {
            objects: HashMap::new(),
            crds: HashMap::new(),
            releases: HashMap::new(),
            gens: HashMap::new(),
            contexts,
        };
        for (i, n) in nodes.iter().enumerate() {
            match &n.resource.spec {
                Spec::Object { id, manifest } => {
                    ix.objects.insert(key(id), i);
                    if id.kind == "CustomResourceDefinition" {
                        let text = |p: &str| manifest.pointer(p).and_then(Value::as_str);
                        if let (Some(g), Some(k)) = (text("/spec/group"), text("/spec/names/kind"))
                        {
                            ix.crds.insert((&id.cluster, g, k), i);
                        }
                    }
                }
                Spec::Require {
                    cluster,
                    requirement,
                } => match requirement {
                    Requirement::Object { id, provides, .. } => {
                        ix.objects.entry(key(id)).or_insert(i);
                        if let Some(p) = provides {
                            ix.crds.insert((cluster, &p.group, &p.kind), i);
                        }
                    }
                    Requirement::Release {
                        namespace, name, ..
                    } => {
                        ix.releases.insert((cluster, namespace, name), i);
                    }
                },
                Spec::Generated(g) => {
                    ix.gens.insert(g.name.as_str(), i);
                }
                _ => {}
            }
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

/// Every inferred and explicit edge `(dependency, dependent, why)`, without duplicates.
pub fn edges(
    nodes: &[Node],
    contexts: &HashMap<String, String>,
) -> Vec<(usize, usize, &'static str)> {
    let ix = Index::new(nodes, contexts);
    let mut out: BTreeSet<(usize, usize, &'static str)> = BTreeSet::new();
    let mut seen_pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut add = |from: Option<usize>, to: usize, why: &'static str| {
        if let Some(from) = from
            && from != to
            && seen_pairs.insert((from, to))
        {
            out.insert((from, to, why));
        }
    };

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

    for (i, n) in nodes.iter().enumerate() {
        let cluster = n.resource.cluster().unwrap_or("");
        let namespace =
            |ns: Option<&str>| ns.and_then(|ns| ix.object(cluster, "", "Namespace", None, ns));
        match &n.resource.spec {
            Spec::Object { id, manifest } => {
                add(namespace(id.namespace.as_deref()), i, "namespace");
                add(
                    ix.crds
                        .get(&(cluster, id.group.as_str(), id.kind.as_str()))
                        .copied(),
                    i,
                    "crd",
                );
                object_refs(&ix, id, manifest, &mut |from, why| add(Some(from), i, why));
            }
            Spec::Patch { target, .. } => {
                add(namespace(target.namespace.as_deref()), i, "namespace");
                add(
                    ix.crds
                        .get(&(cluster, target.group.as_str(), target.kind.as_str()))
                        .copied(),
                    i,
                    "crd",
                );
                add(ix.objects.get(&key(target)).copied(), i, "patches");
            }
            Spec::Release { release, .. } => {
                add(namespace(Some(&release.namespace)), i, "namespace");
                if release.existing {
                    let k = (cluster, release.namespace.as_str(), release.name.as_str());
                    add(ix.releases.get(&k).copied(), i, "requires");
                }
            }
            Spec::Wait { wait, .. } => {
                add(namespace(wait.namespace.as_deref()), i, "namespace");
                let step = &n.resource.step;
                for &m in by_step
                    .get(&(step.stage.as_str(), step.step.as_str()))
                    .into_iter()
                    .flatten()
                {
                    add(Some(m), i, "waits-for");
                }
            }
            Spec::Check { check, .. } => {
                add(
                    namespace(check.from.as_ref().map(|f| f.namespace.as_str())),
                    i,
                    "namespace",
                );
                for &m in by_stage
                    .get(n.resource.step.stage.as_str())
                    .into_iter()
                    .flatten()
                {
                    add(Some(m), i, "checks");
                }
            }
            Spec::Absent { .. } | Spec::Generated(_) | Spec::Require { .. } => {}
        }
        for name in &n.uses {
            add(ix.gens.get(name.as_str()).copied(), i, "uses");
        }
        for need in &n.needs {
            if let Ok(p) = Pattern::new(&need.pattern) {
                for (j, m) in nodes.iter().enumerate() {
                    if p.matches(m.resource.address.as_str()) {
                        add(Some(j), i, "needs");
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}

/// References from an object's manifest to other objects.
fn object_refs(
    ix: &Index,
    id: &ObjectId,
    manifest: &Value,
    found: &mut dyn FnMut(usize, &'static str),
) {
    let cluster = id.cluster.as_str();
    let ns = id.namespace.as_deref();
    let local = |group: &str, kind: &str, name: &str| {
        let scoped = if kind == "GatewayClass" { None } else { ns };
        ix.object(cluster, group, kind, scoped, name)
    };
    if runs_pods(&id.group, &id.kind) {
        let spec = match id.kind.as_str() {
            "Pod" => manifest.pointer("/spec"),
            "CronJob" => manifest.pointer("/spec/jobTemplate/spec/template/spec"),
            _ => manifest.pointer("/spec/template/spec"),
        };
        if let Some(spec) = spec {
            pod_refs(spec, &mut |kind, name| {
                if let Some(j) = local("", kind, name) {
                    found(j, "references");
                }
            });
        }
    }
    if id.group == "gateway.networking.k8s.io"
        && id.kind == "Gateway"
        && let Some(class) = manifest
            .pointer("/spec/gatewayClassName")
            .and_then(Value::as_str)
        && let Some(j) = local("gateway.networking.k8s.io", "GatewayClass", class)
    {
        found(j, "class");
    }
    walk(manifest, &mut |k, v| {
        let (default_group, default_kind, why) = match k {
            "parentRefs" => ("gateway.networking.k8s.io", "Gateway", "parentRefs"),
            "backendRefs" => ("", "Service", "backendRefs"),
            "targetRefs" => ("", "", "targetRefs"),
            "parametersRef" => ("", "", "parametersRef"),
            "host" => {
                if let Some(host) = v.as_str() {
                    host_ref(ix, cluster, host, found);
                }
                return;
            }
            _ => return,
        };
        let refs: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for r in refs {
            let text = |f: &str| r.get(f).and_then(Value::as_str);
            let Some(name) = text("name") else { continue };
            let group = text("group").unwrap_or(default_group);
            let kind = text("kind").unwrap_or(default_kind);
            let ref_ns = text("namespace").or(ns);
            if let Some(j) = ix.object(cluster, group, kind, ref_ns, name) {
                found(j, why);
            }
        }
    });
}

/// ServiceAccount, ConfigMap and Secret names a pod spec uses.
fn pod_refs(spec: &Value, found: &mut dyn FnMut(&'static str, &str)) {
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    if let Some(sa) = text(spec, "/serviceAccountName").or_else(|| text(spec, "/serviceAccount")) {
        found("ServiceAccount", &sa);
    }
    let list = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for s in list(spec, "/imagePullSecrets") {
        if let Some(n) = text(&s, "/name") {
            found("Secret", &n);
        }
    }
    for vol in list(spec, "/volumes") {
        if let Some(n) = text(&vol, "/configMap/name") {
            found("ConfigMap", &n);
        }
        if let Some(n) = text(&vol, "/secret/secretName") {
            found("Secret", &n);
        }
        for src in list(&vol, "/projected/sources") {
            if let Some(n) = text(&src, "/configMap/name") {
                found("ConfigMap", &n);
            }
            if let Some(n) = text(&src, "/secret/name") {
                found("Secret", &n);
            }
        }
    }
    for c in list(spec, "/containers")
        .into_iter()
        .chain(list(spec, "/initContainers"))
    {
        for e in list(&c, "/envFrom") {
            if let Some(n) = text(&e, "/configMapRef/name") {
                found("ConfigMap", &n);
            }
            if let Some(n) = text(&e, "/secretRef/name") {
                found("Secret", &n);
            }
        }
        for e in list(&c, "/env") {
            if let Some(n) = text(&e, "/valueFrom/configMapKeyRef/name") {
                found("ConfigMap", &n);
            }
            if let Some(n) = text(&e, "/valueFrom/secretKeyRef/name") {
                found("Secret", &n);
            }
        }
    }
}

/// A Service named by a host: `svc.ns.svc[.cluster.local]` on the same cluster, or
/// `svc.ns.svc.<context>.mesh.internal` on the cluster with that context.
fn host_ref(ix: &Index, cluster: &str, host: &str, found: &mut dyn FnMut(usize, &'static str)) {
    let parts: Vec<&str> = host.split('.').collect();
    let target = match parts.as_slice() {
        [svc, ns, "svc"] | [svc, ns, "svc", "cluster", "local"] => {
            Some((cluster.to_string(), *svc, *ns))
        }
        [svc, ns, "svc", ctx @ .., "mesh", "internal"] if !ctx.is_empty() => ix
            .contexts
            .get(&ctx.join("."))
            .map(|c| (c.clone(), *svc, *ns)),
        _ => None,
    };
    if let Some((c, svc, ns)) = target
        && let Some(j) = ix.object(&c, "", "Service", Some(ns), svc)
    {
        found(j, "host");
    }
}

/// Calls `f(key, value)` for every key of every mapping in a JSON value.
fn walk(v: &Value, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                f(k, val);
                walk(val, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, f)),
        _ => {}
    }
}
