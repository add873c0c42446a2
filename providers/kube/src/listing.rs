//! Objects read a group at a time, for one pass of plans: before a plan of many objects,
//! the engine asks the provider to prefetch them, and every kind in every namespace among
//! them is LISTed once. Each object's plan then takes its entry from that answer instead
//! of a GET. An entry is taken once: a later plan of the same object (or one the run has
//! written since) asks the server again, so a long-lived provider never plans from an old
//! answer. A field patch of an object peeks at the entry without taking it: it plans
//! from the same answer as the object's own plan in that pass.
//!
//! A LIST that fails (forbidden, not served) leaves its objects to their own GET.

use crate::KubeProvider;
use crate::cluster::{Cluster, Kind, gvk_of};
use futures::StreamExt;
use kube::api::{DynamicObject, ListParams};
use mtm_provider::ObjectId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// The group of an object: its kind (group, version, plural) and namespace.
pub(crate) fn group_key(kind: &Kind, namespace: Option<&str>) -> String {
    let r = &kind.resource;
    let ns = if kind.namespaced { namespace } else { None };
    format!(
        "{}/{}/{}/{}",
        r.group,
        r.version,
        r.plural,
        ns.unwrap_or("")
    )
}

#[derive(Default)]
struct Group {
    objects: HashMap<String, DynamicObject>,
    /// Names whose entry was taken since the LIST.
    taken: HashSet<String>,
    /// Names the run wrote since the LIST: their entry is no answer any more.
    written: HashSet<String>,
}

#[derive(Default)]
pub(crate) struct Listings {
    groups: Mutex<HashMap<String, Group>>,
}

impl Listings {
    /// Whether `group` was listed in this pass.
    pub fn has(&self, group: &str) -> bool {
        self.groups
            .lock()
            .expect("listings lock")
            .contains_key(group)
    }

    /// Keeps a LIST's answer for `group`.
    pub fn keep(&self, group: String, items: Vec<DynamicObject>) {
        let objects = items
            .into_iter()
            .filter_map(|o| Some((o.metadata.name.clone()?, o)))
            .collect();
        let mut groups = self.groups.lock().expect("listings lock");
        groups.insert(
            group,
            Group {
                objects,
                ..Group::default()
            },
        );
    }

    /// The object `name` as listed: `Some(None)` when the LIST did not have it; `None`
    /// when its group was not listed or its entry was taken already (ask the server).
    pub fn take(&self, group: &str, name: &str) -> Option<Option<DynamicObject>> {
        let mut groups = self.groups.lock().expect("listings lock");
        let g = groups.get_mut(group)?;
        if g.written.contains(name) || !g.taken.insert(name.to_string()) {
            return None;
        }
        Some(g.objects.get(name).cloned())
    }

    /// As [`Listings::take`], without taking the entry.
    pub fn peek(&self, group: &str, name: &str) -> Option<Option<DynamicObject>> {
        let groups = self.groups.lock().expect("listings lock");
        let g = groups.get(group)?;
        if g.written.contains(name) {
            return None;
        }
        Some(g.objects.get(name).cloned())
    }

    /// The run wrote `name`: its listed entry no longer says what the server holds.
    pub fn written(&self, group: &str, name: &str) {
        if let Some(g) = self.groups.lock().expect("listings lock").get_mut(group) {
            g.objects.remove(name);
            g.written.insert(name.to_string());
        }
    }
}

/// How many LISTs run at once.
const LISTS_AT_ONCE: usize = 8;

impl KubeProvider {
    /// Lists, once each, the groups (kind and namespace) that hold two or more of `ids`,
    /// for the plans that follow. A group that cannot be listed is left to GETs.
    pub async fn prefetch(&self, ids: &[&ObjectId]) {
        let mut groups: BTreeMap<String, (&Cluster, Kind, Option<String>, usize)> = BTreeMap::new();
        for id in ids {
            let Ok(cluster) = self.cluster(&id.cluster) else {
                continue;
            };
            let Ok(Some(kind)) = cluster.resolve(&gvk_of(id)).await else {
                continue;
            };
            let key = format!(
                "{}/{}",
                id.cluster,
                group_key(&kind, id.namespace.as_deref())
            );
            let ns = id.namespace.clone().filter(|_| kind.namespaced);
            groups
                .entry(key)
                .or_insert_with(|| (cluster, kind, ns, 0))
                .3 += 1;
        }
        let mut wanted = Vec::new();
        for (cluster, kind, ns, count) in groups.into_values() {
            if count >= 2 && !cluster.listings.has(&group_key(&kind, ns.as_deref())) {
                wanted.push((cluster, kind, ns));
            }
        }
        let mut running = futures::stream::FuturesUnordered::new();
        for (cluster, kind, ns) in wanted {
            if running.len() >= LISTS_AT_ONCE {
                running.next().await;
            }
            running.push(list(cluster, kind, ns));
        }
        while running.next().await.is_some() {}
    }
}

/// One LIST of a group, kept in its cluster's listings; a failure is only logged.
async fn list(cluster: &Cluster, kind: Kind, namespace: Option<String>) {
    let (kind, namespace) = (&kind, namespace.as_deref());
    let group = group_key(kind, namespace);
    let object = format!("cluster {}: list {group}", cluster.name);
    let listed = async {
        let api = cluster.api(kind, namespace).await?;
        let params = ListParams::default();
        cluster.call(&object, || api.list(&params)).await
    }
    .await;
    match listed {
        Ok(list) => {
            tracing::debug!(%group, objects = list.items.len(), "listed");
            cluster.listings.keep(group, list.items);
        }
        Err(e) => tracing::debug!(%group, error = %e, "not listed: planned by GET"),
    }
}
