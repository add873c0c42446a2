//! Objects read a group at a time: the first plan of an object of some kind in some
//! namespace LISTs that kind there once, and every later object of the group is found in
//! that answer instead of asking the server again. The run's own applies and deletes are
//! written into the listing, so it stays what the server holds as far as this run knows.
//!
//! A LIST the credentials may not make (403) falls back to a GET of the one object.

use crate::cluster::{Cluster, Kind};
use crate::error::KubeError;
use kube::api::{Api, DynamicObject, ListParams};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// One kind in one namespace, by name.
type Listing = Arc<Mutex<HashMap<String, DynamicObject>>>;

#[derive(Default)]
pub(crate) struct Listings {
    groups: Mutex<HashMap<String, Arc<OnceCell<Listing>>>>,
}

fn group_key(kind: &Kind, namespace: Option<&str>) -> String {
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

impl Listings {
    /// The object `name` of `kind` in `namespace`, from the group's one LIST.
    pub async fn find(
        &self,
        cluster: &Cluster,
        api: &Api<DynamicObject>,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        object: &str,
    ) -> Result<Option<DynamicObject>, KubeError> {
        let cell = {
            let mut groups = self.groups.lock().expect("listings lock");
            groups
                .entry(group_key(kind, namespace))
                .or_default()
                .clone()
        };
        let listed = cell
            .get_or_try_init(|| async {
                let params = ListParams::default();
                let list = cluster.call(object, || api.list(&params)).await?;
                let by_name: HashMap<String, DynamicObject> = list
                    .items
                    .into_iter()
                    .filter_map(|o| Some((o.metadata.name.clone()?, o)))
                    .collect();
                tracing::debug!(group = %group_key(kind, namespace), objects = by_name.len(), "listed");
                Ok::<Listing, KubeError>(Arc::new(Mutex::new(by_name)))
            })
            .await;
        match listed {
            Ok(listing) => Ok(listing.lock().expect("listing lock").get(name).cloned()),
            Err(e) if matches!(e.code(), Some(403 | 404)) => cluster.get(api, name, object).await,
            Err(e) => Err(e),
        }
    }

    /// Writes what the run did to `name` into its group's listing, if the group was
    /// listed: the object as applied, or `None` once it is deleted.
    pub fn note(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        now: Option<DynamicObject>,
    ) {
        let cell = self
            .groups
            .lock()
            .expect("listings lock")
            .get(&group_key(kind, namespace))
            .cloned();
        let Some(listing) = cell.as_ref().and_then(|c| c.get()) else {
            return;
        };
        let mut listing = listing.lock().expect("listing lock");
        match now {
            Some(obj) => listing.insert(name.to_string(), obj),
            None => listing.remove(name),
        };
    }
}
