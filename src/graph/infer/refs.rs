//! The objects a manifest names (noted at load, see `plan::names`), found in the index of
//! the plan's nodes: each found one is reported with its reason; a name the plan does not
//! declare is passed over. It keeps no edges itself.

use super::Index;
use mtm_provider::{Named, ObjectId};

/// The nodes the manifest of `id` names, with the reason for each edge.
pub(super) fn object_refs(
    ix: &Index,
    id: &ObjectId,
    names: &[Named],
    found: &mut dyn FnMut(usize, &'static str),
) {
    let cluster = id.cluster.as_str();
    for named in names {
        match named {
            Named::Object {
                why,
                group,
                kind,
                namespace,
                name,
            } => {
                if let Some(j) = ix.object(cluster, group, kind, namespace.as_deref(), name) {
                    found(j, why);
                }
            }
            Named::Host(host) => host_ref(ix, cluster, host, found),
            Named::Serves { .. } => {}
        }
    }
}

/// A Service named by a host: `svc.ns.svc[.cluster.local]` on the same cluster, or
/// `svc.ns.svc.<context>.mesh.internal` on the cluster with that context.
fn host_ref(ix: &Index, cluster: &str, host: &str, found: &mut dyn FnMut(usize, &'static str)) {
    let parts: Vec<&str> = host.split('.').collect();
    let target = match parts.as_slice() {
        [svc, ns, "svc"] | [svc, ns, "svc", "cluster", "local"] => Some((cluster, *svc, *ns)),
        [svc, ns, "svc", ctx @ .., "mesh", "internal"] if !ctx.is_empty() => ix
            .contexts
            .get(&ctx.join("."))
            .map(|c| (c.as_str(), *svc, *ns)),
        _ => None,
    };
    if let Some((c, svc, ns)) = target
        && let Some(j) = ix.object(c, "", "Service", Some(ns), svc)
    {
        found(j, "host");
    }
}
