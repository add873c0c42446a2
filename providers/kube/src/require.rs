//! Requirements: what a plan assumes exists and never creates (a CRD, a GatewayClass, a
//! helm release from the standup), checked and reported as missing with the plan's hint.
//!
//! A helm release is recognised by helm's own release Secrets (`owner=helm`,
//! `name=<release>`, one per revision), read without running helm; the newest revision
//! must be `deployed`.

use crate::KubeProvider;
use crate::cluster::gvk_of;
use crate::condition;
use crate::error::KubeError;
use crate::manifest::to_value;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use mtm_provider::Requirement;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum RequireError {
    #[error("cluster {cluster}: missing {what}: {reason}{}", Hint(hint))]
    Missing {
        cluster: String,
        what: String,
        reason: String,
        hint: Option<String>,
    },
    #[error(transparent)]
    Kube(#[from] KubeError),
}

struct Hint<'a>(&'a Option<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) if !h.is_empty() => write!(f, " ({h})"),
            _ => Ok(()),
        }
    }
}

impl KubeProvider {
    /// Checks that `requirement` is met on `cluster`.
    pub async fn check_requirement(
        &self,
        cluster: &str,
        requirement: &Requirement,
    ) -> Result<(), RequireError> {
        let c = self.cluster(cluster)?;
        match requirement {
            Requirement::Object { id, hint, .. } => {
                let what = match &id.namespace {
                    Some(ns) => format!("{} {ns}/{}", id.kind, id.name),
                    None => format!("{} {}", id.kind, id.name),
                };
                let missing = |reason: String| RequireError::Missing {
                    cluster: cluster.to_string(),
                    what: what.clone(),
                    reason,
                    hint: hint.clone(),
                };
                let Some(kind) = c.resolve(&gvk_of(id)).await? else {
                    return Err(missing(format!(
                        "the API server does not serve {} {}",
                        id.api_version(),
                        id.kind
                    )));
                };
                let api = c.api(&kind, id.namespace.as_deref()).await?;
                let object = id.to_string();
                let Some(live) = c.get(&api, &id.name, &object).await? else {
                    return Err(missing("it does not exist".into()));
                };
                if id.group == "apiextensions.k8s.io" && id.kind == "CustomResourceDefinition" {
                    let v = condition::condition(&to_value(id, &live)?, "Established");
                    if !v.met {
                        return Err(missing(format!("it is not established ({})", v.seen)));
                    }
                }
                Ok(())
            }
            Requirement::Release {
                namespace,
                name,
                hint,
            } => {
                let missing = |reason: String| RequireError::Missing {
                    cluster: cluster.to_string(),
                    what: format!("helm release {namespace}/{name}"),
                    reason,
                    hint: hint.clone(),
                };
                let api: Api<Secret> = Api::namespaced(c.client().await?, namespace);
                let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
                let object = format!("{cluster}/core/Secret/{namespace}/sh.helm.release.v1.{name}");
                let list = c.call(&object, || api.list_metadata(&params)).await?;
                let newest = list
                    .items
                    .iter()
                    .filter_map(|s| {
                        let labels = s.metadata.labels.as_ref()?;
                        let version: u64 = labels.get("version")?.parse().ok()?;
                        Some((version, labels.get("status").cloned().unwrap_or_default()))
                    })
                    .max_by_key(|(v, _)| *v);
                match newest {
                    None => Err(missing(format!(
                        "no release secret sh.helm.release.v1.{name}.v* in namespace {namespace}"
                    ))),
                    Some((_, status)) if status == "deployed" => Ok(()),
                    Some((version, status)) => Err(missing(format!(
                        "its newest revision {version} is {status}, not deployed"
                    ))),
                }
            }
        }
    }
}
