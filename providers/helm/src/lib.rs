//! The helm provider of mtm: helm releases planned, installed, upgraded, restored and
//! uninstalled through the real helm binary (run with duct).
//!
//! The engine reaches it through the `Provider` trait (`provider.rs`), which wraps
//! [`HelmProvider::plan_release`], [`HelmProvider::apply_release`],
//! [`HelmProvider::restore_release`], [`HelmProvider::uninstall_release`] and
//! [`HelmProvider::drift_release`].
//!
//! # What the engine stores, and how destroy gets the prior
//! - After an apply, store [`AppliedRelease::record`] (a [`ReleaseRecord`]: revision,
//!   chart, values hash, redacted values) in the revision's history: with it a later
//!   rollback can run `helm rollback NAME REVISION` and check the values hash.
//! - Store [`AppliedRelease::prior`] the **first** time mtm applies the release, and keep
//!   it across later applies (a later apply reports the newest revision not made by mtm,
//!   which may be a change made outside mtm). `None` means mtm installed the release.
//! - On destroy, pass the stored prior to [`HelmProvider::destroy_release`] (or to
//!   `Provider::restore`; `Provider::delete` uninstalls). Without one, a
//!   release of the plan's `existing: true` falls back to its history (every revision
//!   mtm's: uninstall) or to the plan's `cleanupValues`.
//!
//! # What this crate does not do
//! It does not schedule, print, or write state; it never stores a value; it does not
//! hold a Kubernetes client itself: it reads releases from helm's storage Secrets with the
//! client the engine lends it ([`ReleaseSecrets`]), or by running helm when none is lent;
//! drift of a release's objects is `kubectl diff` of its manifest
//! ([`HelmProvider::drift_release`]). Nothing sensitive leaves it in clear:
//! values reach helm on stdin only, and every text it returns is redacted.

mod apply;
mod chart;
mod desired;
mod drift;
mod error;
mod manifest;
mod plan;
mod provider;
mod query;
mod redact;
mod release;
mod restore;
mod run;
mod storage;
mod values;

pub use apply::DEFAULT_TIMEOUT;
pub use drift::{KUBECTL_ENV, ReleaseDrift};
pub use error::HelmError;
pub use query::MTM_DESCRIPTION;
pub use redact::MASK;
pub use release::{
    AppliedRelease, LiveRelease, PriorRelease, RECORD_SCHEMA, ReleaseAction, ReleasePlan,
    ReleaseRecord, Restored,
};
pub use storage::{ReleaseSecrets, StoredRevision};
pub use values::{ValueChange, values_sha256};

use mtm_provider::ReleaseSpec;
use run::{Helm, Target};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable naming the helm binary (default: `helm` on PATH).
pub const HELM_ENV: &str = "MTM_HELM";

/// How long helm gets to stop after SIGTERM before it is killed.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

/// Runs helm for the releases of a plan. Cheap to share: every call is independent.
#[derive(Debug)]
pub struct HelmProvider {
    /// Logical cluster -> kube context.
    contexts: BTreeMap<String, String>,
    helm: Helm,
    kubectl: OsString,
    /// `--kubeconfig` for helm and kubectl; `None` leaves it to `KUBECONFIG`.
    kubeconfig: Option<PathBuf>,
    /// Reads releases from helm's storage Secrets instead of running helm to read them.
    secrets: Option<Arc<dyn ReleaseSecrets>>,
    /// `HELM_DRIVER` names the Secret driver (helm's default): releases live in Secrets.
    secret_driver: bool,
}

impl HelmProvider {
    /// A provider for the given logical clusters (e.g. `east` -> `east-ag`). helm is
    /// `$MTM_HELM` or `helm` on PATH; KUBECONFIG comes from the environment.
    // The provider's edge: which binaries it runs comes from the environment.
    #[allow(clippy::disallowed_methods)]
    pub fn new(contexts: BTreeMap<String, String>) -> Self {
        let program = std::env::var_os(HELM_ENV)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| OsString::from("helm"));
        HelmProvider {
            contexts,
            helm: Helm {
                program,
                grace: DEFAULT_GRACE,
            },
            kubectl: std::env::var_os(KUBECTL_ENV)
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| OsString::from("kubectl")),
            kubeconfig: None,
            secrets: None,
            secret_driver: std::env::var("HELM_DRIVER")
                .map_or(true, |d| matches!(d.as_str(), "" | "secret" | "secrets")),
        }
    }

    /// Reads releases (status, history) from helm's storage Secrets through `secrets`,
    /// instead of running `helm status`, `helm get` and `helm history`. Ignored when
    /// `HELM_DRIVER` names another storage driver.
    pub fn with_release_secrets(mut self, secrets: Arc<dyn ReleaseSecrets>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Where releases are read from, when not from helm.
    pub(crate) fn storage(&self) -> Option<&dyn ReleaseSecrets> {
        self.secrets.as_deref().filter(|_| self.secret_driver)
    }

    /// Uses this helm binary instead.
    pub fn with_helm(mut self, program: impl Into<OsString>) -> Self {
        self.helm.program = program.into();
        self
    }

    /// Passes `--kubeconfig PATH` to every helm and kubectl call instead of leaving the
    /// kubeconfig to `KUBECONFIG`.
    pub fn with_kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Uses this kubectl binary (for drift) instead.
    pub fn with_kubectl(mut self, program: impl Into<OsString>) -> Self {
        self.kubectl = program.into();
        self
    }

    /// The grace period between SIGTERM and SIGKILL on cancel.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.helm.grace = grace;
        self
    }

    pub(crate) fn target(&self, cluster: &str, spec: &ReleaseSpec) -> Result<Target, HelmError> {
        self.target_named(cluster, &spec.name, &spec.namespace)
    }

    pub(crate) fn target_named(
        &self,
        cluster: &str,
        name: &str,
        namespace: &str,
    ) -> Result<Target, HelmError> {
        let context = self
            .contexts
            .get(cluster)
            .ok_or_else(|| HelmError::UnknownCluster {
                release: format!("{namespace}/{name}"),
                cluster: cluster.to_string(),
                known: self.contexts.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        Ok(Target {
            cluster: cluster.to_string(),
            context: context.clone(),
            name: name.to_string(),
            namespace: namespace.to_string(),
            kubeconfig: self.kubeconfig.clone(),
        })
    }
}
