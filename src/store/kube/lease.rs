//! The lock of state kept in a cluster: a `coordination.k8s.io/v1` Lease, `<name>-lock`.
//!
//! The holder writes a unique identity into the Lease and its `Holder` (host, pid, masked
//! command, start) into an annotation, renews it every third of its duration from a
//! background task while the run lives, and deletes it when done. Another process takes
//! the Lease only once it expired (no renewal for its duration), and every write of the
//! Lease is conditional on the version it read, so two takers never both win. A holder
//! that finds its Lease taken marks itself lost, and the store then refuses to write.
//! This module knows Leases and time; it does not know what the state holds.

use super::bridge::Bridge;
use crate::store::lock::Holder;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const HOLDER_ANNOTATION: &str = "mtm.dev/holder";
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "held by {holder} (its lease {name} expires {expires} unless renewed)\n  help: wait for that process to finish (or pass --lock-timeout DURATION to wait); if it is gone, its lease expires on its own"
    )]
    Held {
        name: String,
        holder: Box<Holder>,
        expires: String,
    },
    #[error("cannot {action} Lease {name}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Who asks for the Lease, and for how long a renewal keeps it.
#[derive(Clone, Debug)]
struct Claim {
    identity: String,
    holder: Holder,
    seconds: i32,
}

/// The Lease, held; renewed in the background until dropped, then deleted.
#[derive(Debug)]
pub struct LeaseLock {
    bridge: Arc<Bridge>,
    api: Api<Lease>,
    name: String,
    claim: Claim,
    lost: Arc<AtomicBool>,
    renewal: JoinHandle<()>,
}

impl LeaseLock {
    /// Take Lease `name`, waiting up to `wait` for a holder to end or its Lease to expire.
    pub fn acquire(
        bridge: Arc<Bridge>,
        api: Api<Lease>,
        name: &str,
        command: &str,
        duration: Duration,
        wait: Duration,
    ) -> Result<LeaseLock, LeaseError> {
        let holder = Holder::current(command, false);
        let claim = Claim {
            identity: format!("{}/{}/{}", holder.host, holder.pid, Timestamp::now()),
            holder,
            seconds: i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX),
        };
        let (api2, name2, claim2) = (api.clone(), name.to_string(), claim.clone());
        bridge.run(async move { take(&api2, &name2, &claim2, wait).await })?;
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = bridge.spawn(renew(
            api.clone(),
            name.to_string(),
            claim.clone(),
            lost.clone(),
        ));
        Ok(LeaseLock {
            bridge,
            api,
            name: name.to_string(),
            claim,
            lost,
            renewal,
        })
    }

    pub fn holder(&self) -> &Holder {
        &self.claim.holder
    }

    /// The identity this holder wrote into the Lease, unique to this process and take.
    pub fn identity(&self) -> &str {
        &self.claim.identity
    }

    /// Set once another process took the Lease (it expired while this one held it).
    pub fn lost(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        self.renewal.abort();
        let (api, name, claim) = (self.api.clone(), self.name.clone(), self.claim.clone());
        self.bridge
            .run(async move { release(&api, &name, &claim).await });
    }
}

fn api_error(action: &'static str, name: &str) -> impl FnOnce(kube::Error) -> LeaseError {
    let name = name.to_string();
    move |source| LeaseError::Api {
        action,
        name,
        source,
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_conflict() || s.is_already_exists())
}

async fn take(
    api: &Api<Lease>,
    name: &str,
    claim: &Claim,
    wait: Duration,
) -> Result<(), LeaseError> {
    let start = Instant::now();
    loop {
        match try_take(api, name, claim).await {
            Ok(true) => return Ok(()),
            // Someone else wrote the Lease between our read and our write: look again.
            Ok(false) => continue,
            Err(held @ LeaseError::Held { .. }) if start.elapsed() >= wait => return Err(held),
            Err(LeaseError::Held { .. }) => tokio::time::sleep(POLL).await,
            Err(e) => return Err(e),
        }
    }
}

/// `Ok(false)` when the Lease changed under us.
async fn try_take(api: &Api<Lease>, name: &str, claim: &Claim) -> Result<bool, LeaseError> {
    let now = Timestamp::now();
    let Some(existing) = api.get_opt(name).await.map_err(api_error("read", name))? else {
        let lease = lease(name, claim, now, None);
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(api_error("create", name)(e)),
        };
    };
    if let Some(expires) = expiry(&existing)
        && expires > now
        && holder_identity(&existing).is_some_and(|id| id != claim.identity)
    {
        return Err(LeaseError::Held {
            name: name.to_string(),
            holder: Box::new(holder_of(&existing)),
            expires: expires.to_string(),
        });
    }
    let lease = lease(name, claim, now, Some(&existing));
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(api_error("take over", name)(e)),
    }
}

/// The Lease as `claim` holds it from `now`, replacing `existing` (at its version).
fn lease(name: &str, claim: &Claim, now: Timestamp, existing: Option<&Lease>) -> Lease {
    let holder = serde_json::to_string(&claim.holder).expect("a holder always encodes");
    let transitions = existing
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.lease_transitions)
        .unwrap_or(0);
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            resource_version: existing.and_then(|l| l.metadata.resource_version.clone()),
            annotations: Some([(HOLDER_ANNOTATION.to_string(), holder)].into()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "mtm".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(claim.identity.clone()),
            lease_duration_seconds: Some(claim.seconds),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions + i32::from(existing.is_some())),
            ..LeaseSpec::default()
        }),
    }
}

fn holder_identity(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

/// When `lease` expires: its last renewal plus its duration.
fn expiry(lease: &Lease) -> Option<Timestamp> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = spec.lease_duration_seconds?;
    renewed
        .checked_add(SignedDuration::from_secs(i64::from(seconds)))
        .ok()
}

/// The holder the annotation names, or what the Lease itself says.
fn holder_of(lease: &Lease) -> Holder {
    let named = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HOLDER_ANNOTATION))
        .and_then(|text| serde_json::from_str(text).ok());
    named.unwrap_or_else(|| Holder {
        pid: 0,
        host: "an unknown host".to_string(),
        command: format!(
            "a holder that is not mtm ({})",
            holder_identity(lease).unwrap_or("no identity")
        ),
        started_at: String::new(),
        reading: false,
    })
}

/// Renew every third of the duration until aborted; once the Lease names another holder,
/// mark `lost` and stop.
async fn renew(api: Api<Lease>, name: String, claim: Claim, lost: Arc<AtomicBool>) {
    let every = Duration::from_secs(u64::try_from(claim.seconds).unwrap_or(1)) / 3;
    loop {
        tokio::time::sleep(every).await;
        match renew_once(&api, &name, &claim).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the state's lease {name} was taken by another process");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => tracing::warn!("cannot renew the state's lease {name} (trying again): {e}"),
        }
    }
}

/// `Ok(false)` when the Lease is no longer ours.
async fn renew_once(api: &Api<Lease>, name: &str, claim: &Claim) -> Result<bool, kube::Error> {
    let Some(mut lease) = api.get_opt(name).await? else {
        return Ok(false);
    };
    if holder_identity(&lease) != Some(claim.identity.as_str()) {
        return Ok(false);
    }
    if let Some(spec) = lease.spec.as_mut() {
        spec.renew_time = Some(MicroTime(Timestamp::now()));
    }
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        // Changed under us: the next round reads it again.
        Err(e) if is_conflict(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Delete the Lease if it is still ours, at the version we read.
async fn release(api: &Api<Lease>, name: &str, claim: &Claim) {
    let Ok(Some(lease)) = api.get_opt(name).await else {
        return;
    };
    if holder_identity(&lease) != Some(claim.identity.as_str()) {
        return;
    }
    let params = DeleteParams::default().preconditions(Preconditions {
        resource_version: lease.metadata.resource_version.clone(),
        uid: None,
    });
    if let Err(e) = api.delete(name, &params).await {
        tracing::debug!("cannot delete the state's lease {name} (it expires on its own): {e}");
    }
}

/// Who holds Lease `name` now, if anyone does and it has not expired.
pub async fn current(api: &Api<Lease>, name: &str) -> Result<Option<Holder>, LeaseError> {
    let Some(lease) = api.get_opt(name).await.map_err(api_error("read", name))? else {
        return Ok(None);
    };
    let live = expiry(&lease).is_some_and(|at| at > Timestamp::now());
    Ok(live.then(|| holder_of(&lease)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim {
        Claim {
            identity: "host/1/t".to_string(),
            holder: Holder {
                pid: 1,
                host: "host".to_string(),
                command: "mtm apply --var TOKEN=***".to_string(),
                started_at: "2026-12-02T10:00:00Z".to_string(),
                reading: false,
            },
            seconds: 15,
        }
    }

    #[test]
    fn a_lease_names_its_holder_and_expires_after_its_duration() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let lease = lease("mtm-lock", &claim(), now, None);
        assert_eq!(holder_of(&lease), claim().holder);
        assert_eq!(holder_identity(&lease), Some("host/1/t"));
        assert_eq!(expiry(&lease).unwrap().to_string(), "2026-12-02T10:00:15Z");
        let spec = lease.spec.as_ref().unwrap();
        assert_eq!(spec.lease_transitions, Some(0));
        let again = super::lease("mtm-lock", &claim(), now, Some(&lease));
        assert_eq!(again.spec.unwrap().lease_transitions, Some(1));
    }

    #[test]
    fn a_lease_of_another_tool_is_still_named() {
        let mut lease = lease("mtm-lock", &claim(), Timestamp::now(), None);
        lease.metadata.annotations = None;
        let holder = holder_of(&lease);
        assert!(holder.command.contains("host/1/t"), "{}", holder.command);
    }
}
