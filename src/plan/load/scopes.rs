//! Which kinds are cluster-scoped: the built-in ones known offline, custom ones learnt
//! from the plan (its CRDs, and requirements that say what they `provides`); and an
//! object's identity resolved by that scope, its namespace given or defaulted.
//!
//! It never asks a cluster: a kind the plan does not explain is an error.

use super::at;
use crate::diag::Diagnostics;
use crate::plan::Stage;
use crate::plan::kinds;
use crate::plan::step::{RawDecl, RawKind, Target};
use mtm_provider::ObjectId;
use mtm_provider::resource::{Origin, Scope};
use std::collections::HashMap;

/// Which custom kinds are served on which cluster, learnt from the plan.
#[derive(Default)]
pub(super) struct Scopes {
    custom: HashMap<(String, String, String), Scope>,
}

impl Scopes {
    /// The custom kinds the plan's CRDs and `provides` requirements declare, per cluster.
    pub fn learn(stages: &[(Stage, Vec<RawDecl>)]) -> Scopes {
        let mut scopes = Scopes::default();
        for r in stages.iter().flat_map(|(_, raw)| raw) {
            match &r.kind {
                RawKind::Object {
                    cluster, object, ..
                } if object.kind == "CustomResourceDefinition" => {
                    let body = object.manifest.value();
                    let spec = body.get("spec");
                    let text =
                        |ptr: &str| spec.and_then(|s| s.pointer(ptr)).and_then(|v| v.as_str());
                    if let (Some(group), Some(kind)) = (text("/group"), text("/names/kind")) {
                        let scope = if text("/scope") == Some("Cluster") {
                            Scope::Cluster
                        } else {
                            Scope::Namespaced
                        };
                        scopes
                            .custom
                            .insert((cluster.clone(), group.into(), kind.into()), scope);
                    }
                }
                RawKind::RequireObject {
                    cluster,
                    provides: Some(p),
                    ..
                } => {
                    scopes
                        .custom
                        .insert((cluster.clone(), p.group.clone(), p.kind.clone()), p.scope);
                }
                _ => {}
            }
        }
        scopes
    }

    /// `Ok(true)` cluster-scoped, `Ok(false)` namespaced, `Err` unknown kind.
    fn cluster_scoped(&self, cluster: &str, group: &str, kind: &str) -> Result<bool, ()> {
        if let Some(scoped) = kinds::builtin_cluster_scoped(group, kind) {
            return Ok(scoped);
        }
        self.custom
            .get(&(cluster.to_string(), group.to_string(), kind.to_string()))
            .map(|s| *s == Scope::Cluster)
            .ok_or(())
    }
}

/// The identity of `t` (of this group and version) on `cluster`, with this namespace.
fn object_id(
    cluster: &str,
    t: &Target,
    (group, version): (String, String),
    namespace: Option<String>,
) -> ObjectId {
    ObjectId {
        cluster: cluster.to_string(),
        group,
        version,
        kind: t.kind.clone(),
        namespace,
        name: t.name.clone(),
    }
}

/// Resolves a target's namespace by scope, reporting what is wrong.
pub(super) fn scoped_id(
    cluster: &str,
    t: &Target,
    default_ns: Option<&String>,
    scopes: &Scopes,
    origin: &Origin,
    diags: &mut Diagnostics,
    quiet: bool,
) -> Option<ObjectId> {
    let (group, version) = ObjectId::split_api_version(&t.api_version);
    let what = || format!("{} {}", t.kind, t.name);
    match scopes.cluster_scoped(cluster, &group, &t.kind) {
        Err(()) if quiet => None,
        Err(()) => {
            diags.push(
                at(origin, format!(
                    "{}: no CustomResourceDefinition for kind {} in group {group} on cluster {cluster}",
                    what(),
                    t.kind
                ))
                .help("declare the CRD in the plan, or require it in the standup with `provides`; check apiVersion and kind for typos"),
            );
            None
        }
        Ok(true) => {
            if t.namespace.is_some() {
                diags.push(
                    at(
                        origin,
                        format!(
                            "{}: {} is cluster-scoped but has a namespace",
                            what(),
                            t.kind
                        ),
                    )
                    .help("remove metadata.namespace"),
                );
                return None;
            }
            Some(object_id(cluster, t, (group, version), None))
        }
        Ok(false) => {
            let ns = t.namespace.clone().or_else(|| default_ns.cloned());
            if ns.is_none() {
                diags.push(
                    at(
                        origin,
                        format!("{}: namespaced object without a namespace", what()),
                    )
                    .help("set metadata.namespace, or `namespace:` on the step"),
                );
                return None;
            }
            Some(object_id(cluster, t, (group, version), ns))
        }
    }
}
