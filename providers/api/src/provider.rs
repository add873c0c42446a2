//! The `Provider` trait: the one door through which the engine observes and changes a
//! cluster (or, for generated values, the files kept beside state).
//!
//! A provider is told what to do with one resource at a time and reports what it found or
//! did; it does not know the graph, the order, state or output. The engine decides when,
//! and what to keep of the answer. Every method works on a [`Resource`] whose templates
//! the engine has already filled in.

use crate::resource::Resource;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::watch;

/// Turned to `true` when the run is cancelled (Ctrl-C): a long action stops early.
pub type Cancel = watch::Receiver<bool>;

/// What applying a resource as declared would do, as its provider sees the cluster now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Create,
    Update,
    NoOp,
    /// Its kind is not served yet (its CRD comes in the same run): validated when applied.
    Pending,
    /// It exists and the declaration removes it.
    Delete,
    /// Nothing to change, only something to check (a requirement, a wait, a value that
    /// exists already).
    Check,
}

/// One changed field. `None` means absent on that side; a path of `""` is the whole
/// resource.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDiff {
    /// e.g. `spec.template.spec.containers[name=app].image`, `values.replicas`.
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Other field managers that own the field now.
    pub owners: Vec<String>,
}

/// A field another manager holds that applying would change: taken over (a hand edit) or
/// a conflict that needs forcing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub path: String,
    pub manager: String,
    pub take_over: bool,
}

/// One resource observed against its declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub verdict: Verdict,
    pub diff: Vec<FieldDiff>,
    pub claims: Vec<Claim>,
    /// It exists already although the declaration would make it (an object made by
    /// hand): mtm adopts it when state does not know it.
    pub adoptable: bool,
    /// The live object's resourceVersion, so a saved plan can tell it moved.
    pub live_version: Option<String>,
    /// Why the plan is less certain than usual (e.g. not validated by the server).
    pub note: Option<String>,
}

impl Observed {
    /// A verdict with nothing else known.
    pub fn just(verdict: Verdict) -> Observed {
        Observed {
            verdict,
            diff: Vec::new(),
            claims: Vec::new(),
            adoptable: false,
            live_version: None,
            note: None,
        }
    }
}

/// What a provider reports after a resource was applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// The object's uid, where there is one.
    pub uid: Option<String>,
    /// One line for output, e.g. `created`, `configured`, `unchanged`.
    pub summary: String,
    /// What state should keep for it, when that is not the declaration itself (a
    /// release's revision and values hash, a generated value's fingerprint).
    pub record: Option<Value>,
    /// What existed before, when the provider found it while applying (a release mtm
    /// did not install first).
    pub prior: Option<Value>,
}

/// One field that differs from what was recorded; an empty path is the whole resource.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftField {
    pub path: String,
    pub expected: Option<Value>,
    pub live: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cluster {cluster}: {message}")]
    Cluster { cluster: String, message: String },
    #[error("{address}: {message}")]
    Resource { address: String, message: String },
    #[error("cancelled")]
    Cancelled,
}

impl ProviderError {
    /// The resource's cluster could not be used: not a problem of the resource itself.
    pub fn is_cluster_fault(&self) -> bool {
        matches!(self, ProviderError::Cluster { .. })
    }

    /// The message without the address a `Resource` error starts with.
    pub fn message(&self) -> String {
        match self {
            ProviderError::Resource { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A provider's answer.
pub type Answer<'a, T> = BoxFuture<'a, Result<T, ProviderError>>;

pub trait Provider: Send + Sync {
    /// A name for messages, e.g. `kube` or `helm`.
    fn name(&self) -> &str;

    /// Whether `cluster` can be used; asked once per run and remembered, so every
    /// resource on a broken cluster fails at once with the same error.
    fn reach<'a>(&'a self, _cluster: &'a str) -> Answer<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// The error `reach` found for `cluster`, if it found one.
    fn unreachable(&self, _cluster: &str) -> Option<String> {
        None
    }

    /// Names the resources the `observe` calls that follow are about (a pass of plans, or
    /// the one walk of `apply`), so the provider can read them in as few requests as it
    /// can, when they are first needed. Changes nothing; optional.
    fn prefetch<'a>(&'a self, _resources: &'a [&'a Resource]) -> Answer<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// What applying `resource` would do now. Changes nothing.
    fn observe<'a>(&'a self, resource: &'a Resource) -> Answer<'a, Observed>;

    /// The live object as the cluster holds it, if there is one and it is an object.
    fn live<'a>(&'a self, _resource: &'a Resource) -> Answer<'a, Option<Value>> {
        Box::pin(async { Ok(None) })
    }

    /// Creates or updates the resource so that it matches its declaration (and waits
    /// until it is ready, where its kind has a readiness).
    fn apply<'a>(&'a self, resource: &'a Resource, cancel: Cancel) -> Answer<'a, Applied>;

    /// Removes what mtm made of the resource (a field patch: its fields let go).
    fn delete<'a>(&'a self, resource: &'a Resource, cancel: Cancel) -> Answer<'a, ()>;

    /// Puts back `snapshot`: what existed before mtm (kept as `Applied::prior` or read
    /// with `live`), or what an earlier revision recorded.
    fn restore<'a>(
        &'a self,
        resource: &'a Resource,
        snapshot: &'a Value,
        cancel: Cancel,
    ) -> Answer<'a, ()>;

    /// How the live resource differs from `recorded` (what the last apply kept).
    fn drift<'a>(
        &'a self,
        resource: &'a Resource,
        recorded: &'a Value,
    ) -> Answer<'a, Vec<DriftField>>;
}

/// What a command run in a pod printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Executed {
    pub stdout: String,
    pub stderr: String,
    /// The exit code (non-zero when the API reported a failure without one).
    pub code: i32,
}

/// The pods of a cluster, for checks run inside them (`mtm verify`).
pub trait Pods: Send + Sync {
    /// Runs `command` in a pod of `workload` (`deploy/NAME`, `pod/NAME`, ...).
    fn exec<'a>(
        &'a self,
        cluster: &'a str,
        namespace: &'a str,
        workload: &'a str,
        container: Option<&'a str>,
        command: Vec<String>,
    ) -> Answer<'a, Executed>;

    /// Whether every node of `cluster` is simulated (kwok): its pods never run.
    fn simulated<'a>(&'a self, cluster: &'a str) -> Answer<'a, bool>;
}
