//! Objects read a group at a time, and answers reused while they are fresh.
//!
//! Before a pass of plans (`mtm plan`, `drift`, or the one walk of `apply`), the engine
//! names the objects it will plan. Every kind in every namespace that holds two or more of
//! them is *wanted*: the first plan of one of its objects LISTs the group (one LIST, the
//! others of the group wait for it), and each plan then takes its entry from that answer
//! instead of a GET. A LIST made when the group is first needed, not up front, sees what
//! the run made before it (a namespace, the objects of an earlier step).
//!
//! An answer stands for the server's for [`FRESH`] only: an older listing is LISTed again
//! when next needed, and an object's entry is taken once (a later plan of the same object
//! asks again). Whatever the run writes is dropped from the answers at once. Within
//! [`FRESH`], the object a plan saw is also what the apply that follows starts from (the
//! state kept before it is touched, and whether it was created), so applying a planned
//! object costs its apply request only.
//!
//! A LIST that fails (forbidden, not served) leaves its objects to their own GET.

use crate::KubeProvider;
use crate::cluster::{Cluster, Kind, gvk_of};
use kube::api::{DynamicObject, ListParams, TypeMeta};
use mtm_provider::ObjectId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a read answer stands for what the server holds.
pub(crate) const FRESH: Duration = Duration::from_secs(2);

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

struct Group {
    objects: HashMap<String, DynamicObject>,
    at: Instant,
    /// Names whose entry was taken since the LIST.
    taken: HashSet<String>,
    /// Names the run wrote since the LIST: their entry is no answer any more.
    written: HashSet<String>,
}

impl Group {
    fn answer(&self, name: &str) -> Option<Option<DynamicObject>> {
        if self.at.elapsed() > FRESH || self.written.contains(name) {
            return None;
        }
        Some(self.objects.get(name).cloned())
    }
}

/// What a GET found of an object (`None`: it did not exist), and when.
type Seen = (Instant, Option<DynamicObject>);

/// A group the coming plans want listed, and what its LIST needs.
struct Wanted {
    kind: Kind,
    namespace: Option<String>,
    /// Held by the plan that LISTs it: the others of the group wait for its answer.
    listing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
pub(crate) struct Listings {
    groups: Mutex<HashMap<String, Group>>,
    wanted: Mutex<HashMap<String, Arc<Wanted>>>,
    /// Objects single GETs found, by group and name, and when.
    seen: Mutex<HashMap<(String, String), Seen>>,
}

impl Listings {
    /// Marks `group` to be listed when one of its objects is first planned.
    fn want(&self, group: String, kind: Kind, namespace: Option<String>) {
        let wanted = Wanted {
            kind,
            namespace,
            listing: tokio::sync::Mutex::new(()),
        };
        let mut all = self.wanted.lock().expect("listings lock");
        all.entry(group).or_insert_with(|| Arc::new(wanted));
    }

    /// Keeps a LIST's answer for `group`; its items get the type they were listed as.
    fn keep(&self, group: String, kind: &Kind, items: Vec<DynamicObject>) {
        let types = TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        };
        let objects = items
            .into_iter()
            .filter_map(|mut o| {
                o.types.get_or_insert_with(|| types.clone());
                Some((o.metadata.name.clone()?, o))
            })
            .collect();
        let listed = Group {
            objects,
            at: Instant::now(),
            taken: HashSet::new(),
            written: HashSet::new(),
        };
        self.groups
            .lock()
            .expect("listings lock")
            .insert(group, listed);
    }

    fn fresh(&self, group: &str) -> bool {
        let groups = self.groups.lock().expect("listings lock");
        groups.get(group).is_some_and(|g| g.at.elapsed() <= FRESH)
    }

    /// The object `name` as listed, for its plan: `Some(None)` when the LIST did not have
    /// it; `None` when its group was not listed lately or its entry was taken already
    /// (ask the server).
    pub fn take(&self, group: &str, name: &str) -> Option<Option<DynamicObject>> {
        let mut groups = self.groups.lock().expect("listings lock");
        let g = groups.get_mut(group)?;
        let answer = g.answer(name)?;
        g.taken.insert(name.to_string()).then_some(answer)
    }

    /// As [`Listings::take`], without taking the entry.
    pub fn peek(&self, group: &str, name: &str) -> Option<Option<DynamicObject>> {
        self.groups
            .lock()
            .expect("listings lock")
            .get(group)?
            .answer(name)
    }

    /// Keeps what a GET of `name` found, for the apply that may follow.
    pub fn saw(&self, group: &str, name: &str, object: Option<&DynamicObject>) {
        let key = (group.to_string(), name.to_string());
        let entry = (Instant::now(), object.cloned());
        self.seen.lock().expect("listings lock").insert(key, entry);
    }

    /// What the server held of `name` a moment ago (listed or read), if the run has not
    /// written it since: `Some(None)` when it did not exist.
    pub fn recent(&self, group: &str, name: &str) -> Option<Option<DynamicObject>> {
        let key = (group.to_string(), name.to_string());
        let seen = self.seen.lock().expect("listings lock");
        if let Some((at, object)) = seen.get(&key)
            && at.elapsed() <= FRESH
        {
            return Some(object.clone());
        }
        drop(seen);
        self.peek(group, name)
    }

    /// The run wrote `name`: no answer read before says what the server holds now.
    pub fn written(&self, group: &str, name: &str) {
        if let Some(g) = self.groups.lock().expect("listings lock").get_mut(group) {
            g.objects.remove(name);
            g.written.insert(name.to_string());
        }
        let key = (group.to_string(), name.to_string());
        self.seen.lock().expect("listings lock").remove(&key);
    }
}

impl Cluster {
    /// LISTs `group` if the coming plans want it and no fresh answer is kept; a plan
    /// that finds another one listing it waits for that answer.
    pub(crate) async fn list_if_wanted(&self, group: &str) {
        let wanted = {
            let all = self.listings.wanted.lock().expect("listings lock");
            all.get(group).cloned()
        };
        let Some(w) = wanted else {
            return;
        };
        let _listing = w.listing.lock().await;
        if !self.listings.fresh(group) {
            list(self, &w.kind, w.namespace.as_deref()).await;
        }
    }

    /// Whether namespace `ns` exists, from one LIST of namespaces shared by the plans of
    /// a moment (`None` when namespaces cannot be listed).
    pub(crate) async fn namespace_exists(&self, ns: &str) -> Option<bool> {
        let gvk = kube::api::GroupVersionKind::gvk("", "v1", "Namespace");
        let kind = self.resolve(&gvk).await.ok()??;
        let group = group_key(&kind, None);
        self.listings.want(group.clone(), kind, None);
        self.list_if_wanted(&group).await;
        self.listings.peek(&group, ns).map(|n| n.is_some())
    }
}

impl KubeProvider {
    /// Marks for listing the groups (kind and namespace) that hold two or more of `ids`:
    /// each is LISTed once, when the first of its objects is planned.
    pub async fn prefetch(&self, ids: &[&ObjectId]) {
        // By cluster and group: where to LIST it, and how many of `ids` it holds.
        type Count<'c> = (&'c Cluster, Kind, Option<String>, usize);
        let mut counts: HashMap<(String, String), Count<'_>> = HashMap::new();
        for id in ids {
            let Ok(cluster) = self.cluster(&id.cluster) else {
                continue;
            };
            let Ok(Some(kind)) = cluster.resolve(&gvk_of(id)).await else {
                continue;
            };
            let group = group_key(&kind, id.namespace.as_deref());
            let ns = id.namespace.clone().filter(|_| kind.namespaced);
            counts
                .entry((id.cluster.clone(), group))
                .or_insert_with(|| (cluster, kind, ns, 0))
                .3 += 1;
        }
        for ((_, group), (cluster, kind, ns, count)) in counts {
            if count >= 2 {
                cluster.listings.want(group, kind, ns);
            }
        }
    }
}

/// One LIST of a group, kept in its cluster's listings; a failure is only logged.
async fn list(cluster: &Cluster, kind: &Kind, namespace: Option<&str>) {
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
            cluster.listings.keep(group, kind, list.items);
        }
        Err(e) => tracing::debug!(%group, error = %e, "not listed: planned by GET"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ApiResource;

    fn kind() -> Kind {
        let gvk = kube::api::GroupVersionKind::gvk("", "v1", "ConfigMap");
        Kind {
            resource: ApiResource::from_gvk_with_plural(&gvk, "configmaps"),
            namespaced: true,
        }
    }

    fn object(name: &str) -> DynamicObject {
        DynamicObject::new(name, &kind().resource)
    }

    #[test]
    fn a_listed_entry_is_taken_once_and_dropped_when_written() {
        let l = Listings::default();
        let group = group_key(&kind(), Some("demo"));
        l.keep(group.clone(), &kind(), vec![object("a")]);
        assert!(matches!(l.take(&group, "a"), Some(Some(_))));
        assert!(l.take(&group, "a").is_none(), "taken twice");
        assert!(
            matches!(l.take(&group, "b"), Some(None)),
            "not listed: absent"
        );
        assert!(
            matches!(l.recent(&group, "a"), Some(Some(_))),
            "taken, still recent"
        );
        l.written(&group, "a");
        assert!(l.recent(&group, "a").is_none(), "written: no answer");
        assert!(l.peek(&group, "a").is_none());
    }

    #[test]
    fn listed_items_carry_their_type() {
        let l = Listings::default();
        let group = group_key(&kind(), Some("demo"));
        let mut bare = object("a");
        bare.types = None;
        l.keep(group.clone(), &kind(), vec![bare]);
        let got = l.peek(&group, "a").flatten().expect("listed");
        let types = got.types.expect("typed");
        assert_eq!(
            (types.api_version.as_str(), types.kind.as_str()),
            ("v1", "ConfigMap")
        );
    }

    #[test]
    fn a_read_answer_is_recent_until_written() {
        let l = Listings::default();
        let group = group_key(&kind(), Some("demo"));
        assert!(l.recent(&group, "a").is_none(), "never read");
        l.saw(&group, "a", None);
        assert!(
            matches!(l.recent(&group, "a"), Some(None)),
            "read as absent"
        );
        l.written(&group, "a");
        assert!(l.recent(&group, "a").is_none());
    }
}
