//! Waiting for readiness: the workshop's `kubectl wait` (a [`WaitSpec`]) and the readiness
//! an apply waits for on kinds that have one (Deployment Available, Pod Ready, Namespace
//! Active, CRD Established, Job Complete).
//!
//! Waits poll with backoff (up to two seconds between looks) until the condition holds or
//! the timeout passes; a timeout names the resource and the condition last seen. What to
//! wait for, and when, comes from the plan; this module only looks.

use crate::KubeProvider;
use crate::cluster::{Cluster, Kind, gvk_of};
use crate::condition::{self, Verdict};
use crate::error::KubeError;
use crate::manifest::to_value;
use kube::api::ListParams;
use kube::core::GroupVersionKind;
use mtm_provider::{ObjectId, WaitSpec};
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, Instant};

/// The timeout of a wait that gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(
        "{what}: timed out after {} waiting for {condition}; last seen: {last_seen}",
        crate::error::Secs(after)
    )]
    Timeout {
        what: String,
        condition: String,
        after: Duration,
        last_seen: String,
    },
    #[error("{what}: {condition} can no longer be reached: {last_seen}")]
    Failed {
        what: String,
        condition: String,
        last_seen: String,
    },
    #[error("{what}: invalid timeout {value:?} (use e.g. 90s, 5m, 1h30m)")]
    BadTimeout { what: String, value: String },
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// A duration as plans write it: `300s`, `5m`, `1h30m`, `250ms`, or bare seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return None,
        };
        total += unit * u32::try_from(n).ok()?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// The usual apiVersion of the kinds the workshop waits for without giving one.
fn usual_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" | "Namespace" | "Service" | "PersistentVolumeClaim" => "v1",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps/v1",
        "Job" => "batch/v1",
        "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
        "Gateway" | "GatewayClass" | "HTTPRoute" => "gateway.networking.k8s.io/v1",
        _ => return None,
    })
}

/// The first pause between two looks, how it grows, and its most.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const PAUSE_GROWTH: f64 = 1.25;
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Polls `observe` until it is met, failed, or `timeout` has passed. The pause grows
/// slowly: what becomes ready is seen within a quarter of the time waited so far.
async fn poll<F, Fut>(
    what: &str,
    wanted: &str,
    timeout: Duration,
    mut observe: F,
) -> Result<(), WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Verdict, WaitError>>,
{
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        let verdict = observe().await?;
        if verdict.met {
            return Ok(());
        }
        if verdict.failed {
            return Err(WaitError::Failed {
                what: what.into(),
                condition: wanted.into(),
                last_seen: verdict.seen,
            });
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(WaitError::Timeout {
                what: what.into(),
                condition: wanted.into(),
                after: timeout,
                last_seen: verdict.seen,
            });
        }
        tokio::time::sleep(pause.min(timeout - elapsed)).await;
        pause = pause.mul_f64(PAUSE_GROWTH).min(LONGEST_PAUSE);
    }
}

impl KubeProvider {
    /// Waits for a plan's `waits` entry on `cluster`: the named object, or every object the
    /// selector matches (at least one), to satisfy the condition.
    pub async fn wait(&self, cluster: &str, spec: &WaitSpec) -> Result<(), WaitError> {
        let c = self.cluster(cluster)?;
        let what = describe_wait(cluster, spec);
        let timeout = match &spec.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) => parse_duration(t).ok_or_else(|| WaitError::BadTimeout {
                what: what.clone(),
                value: t.clone(),
            })?,
        };
        let api_version = spec
            .api_version
            .as_deref()
            .or_else(|| usual_api_version(&spec.kind));
        poll(&what, &spec.condition, timeout, || async {
            let kind = match api_version {
                Some(av) => {
                    let (g, v) = ObjectId::split_api_version(av);
                    c.resolve(&GroupVersionKind::gvk(&g, &v, &spec.kind))
                        .await?
                }
                None => c.resolve_kind_name(&spec.kind).await?,
            };
            let Some(kind) = kind else {
                return Ok(Verdict {
                    met: false,
                    failed: false,
                    seen: format!("kind {} is not served", spec.kind),
                });
            };
            Ok(observe_spec(c, &kind, spec, &what).await?)
        })
        .await?;
        if spec.kind == "CustomResourceDefinition" && spec.condition == "Established" {
            c.invalidate_discovery().await;
        }
        Ok(())
    }

    /// Waits until `id` is ready, if its kind has a readiness (see
    /// [`condition::readiness_of`]); other kinds return at once.
    pub async fn wait_ready(&self, id: &ObjectId) -> Result<(), WaitError> {
        let Some(wanted) = condition::readiness_of(&id.group, &id.kind) else {
            return Ok(());
        };
        let c = self.cluster(&id.cluster)?;
        let what = id.to_string();
        poll(&what, wanted, self.ready_timeout, || async {
            let Some(kind) = c.resolve(&gvk_of(id)).await? else {
                return Err(crate::manifest::unknown_kind(c, id).into());
            };
            let api = c.api(&kind, id.namespace.as_deref()).await?;
            let Some(live) = c.get(&api, &id.name, &what).await? else {
                return Ok(Verdict {
                    met: false,
                    failed: false,
                    seen: "the object does not exist".into(),
                });
            };
            Ok(condition::ready(
                &to_value(id, &live)?,
                &id.group,
                &id.kind,
                wanted,
            ))
        })
        .await?;
        if wanted == "Established" {
            c.invalidate_discovery().await;
        }
        Ok(())
    }
}

fn describe_wait(cluster: &str, spec: &WaitSpec) -> String {
    let mut text = format!("{cluster}: wait {}: {}", spec.name, spec.kind);
    if let Some(ns) = &spec.namespace {
        text.push_str(&format!(" in {ns}"));
    }
    match (&spec.object, &spec.selector) {
        (Some(o), _) => text.push_str(&format!(" {o}")),
        (None, Some(s)) => text.push_str(&format!(" matching {s}")),
        (None, None) => text.push_str(" (all)"),
    }
    text
}

async fn observe_spec(
    c: &Cluster,
    kind: &Kind,
    spec: &WaitSpec,
    what: &str,
) -> Result<Verdict, KubeError> {
    let api = c.api(kind, spec.namespace.as_deref()).await?;
    let group = kind.resource.group.as_str();
    let check = |obj: &Value| condition::ready(obj, group, &spec.kind, &spec.condition);
    let as_value = |o: &kube::api::DynamicObject| {
        serde_json::to_value(o).map_err(|e| KubeError::Client {
            object: what.to_string(),
            message: format!("cannot read the object: {e}"),
        })
    };
    if let Some(name) = &spec.object {
        return Ok(match c.get(&api, name, what).await? {
            Some(obj) => check(&as_value(&obj)?),
            None => Verdict {
                met: false,
                failed: false,
                seen: format!("{} {name} does not exist yet", spec.kind),
            },
        });
    }
    let mut params = ListParams::default();
    if let Some(s) = &spec.selector {
        params = params.labels(s);
    }
    let mut list = c.call(what, || api.list(&params)).await?;
    // Objects being deleted are on their way out, not part of what is waited for.
    list.items
        .retain(|o| o.metadata.deletion_timestamp.is_none());
    if list.items.is_empty() {
        return Ok(Verdict {
            met: false,
            failed: false,
            seen: format!("no {} matches yet", spec.kind),
        });
    }
    let total = list.items.len();
    let mut pending = Vec::new();
    for obj in &list.items {
        let v = check(&as_value(obj)?);
        if !v.met {
            let name = obj.metadata.name.clone().unwrap_or_default();
            pending.push((name, v));
        }
    }
    let Some((name, first)) = pending.first() else {
        return Ok(Verdict {
            met: true,
            failed: false,
            seen: format!("{total} of {total} ready"),
        });
    };
    Ok(Verdict {
        met: false,
        failed: first.failed,
        seen: format!(
            "{} of {total} not {}; {} {name}: {}",
            pending.len(),
            spec.condition,
            spec.kind,
            first.seen
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300s"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("42"), Some(Duration::from_secs(42)));
        assert_eq!(parse_duration("5 minutes"), None);
        assert_eq!(parse_duration("m5"), None);
        assert_eq!(parse_duration(""), None);
    }
}
