//! The errors of the helm provider. Every one names the release (`namespace/name`) and the
//! logical cluster, because that is what a user needs to find the failing step.
//!
//! Nothing here holds a sensitive value: helm's stderr is redacted before it is put into
//! an error, and commands are described by their subcommand words only, never by their
//! arguments.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error(
        "release {release} on cluster {cluster}: helm not found on PATH: install helm 3.19+ \
         or set MTM_HELM to its path (tried `{program}`)"
    )]
    HelmMissing {
        release: String,
        cluster: String,
        program: String,
    },
    #[error(
        "release {release} on cluster {cluster}: kubectl not found on PATH (needed to compare \
         the release's objects with the live ones): install kubectl or set MTM_KUBECTL \
         (tried `{program}`)"
    )]
    KubectlMissing {
        release: String,
        cluster: String,
        program: String,
    },
    #[error("release {release} on cluster {cluster}: `kubectl diff` failed: {stderr}")]
    Kubectl {
        release: String,
        cluster: String,
        stderr: String,
    },
    #[error("release {release} on cluster {cluster}: cannot run `{command}`")]
    Spawn {
        release: String,
        cluster: String,
        command: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "release {release} on cluster {cluster}: no kube context for cluster {cluster} \
         (known clusters: {known})"
    )]
    UnknownCluster {
        release: String,
        cluster: String,
        known: String,
    },
    #[error("release {release} on cluster {cluster}: `helm {command}` failed: {stderr}")]
    Helm {
        release: String,
        cluster: String,
        command: String,
        /// helm's own stderr, sensitive values replaced by `(sensitive)`.
        stderr: String,
    },
    #[error(
        "release {release} on cluster {cluster}: `helm {command}` cancelled (helm was sent \
         SIGTERM{killed}); helm said: {stderr}"
    )]
    Cancelled {
        release: String,
        cluster: String,
        command: String,
        /// `` or `, then SIGKILL after the grace period`.
        killed: &'static str,
        stderr: String,
    },
    #[error(
        "release {release} on cluster {cluster}: unexpected output of `helm {command}`: {message}"
    )]
    Output {
        release: String,
        cluster: String,
        command: String,
        message: String,
    },
    #[error(
        "release {release} on cluster {cluster}: rolled back to revision {revision}, but its \
         values hash to {actual}, not to the recorded {expected}; check `helm get values` and \
         `helm history`"
    )]
    RestoreMismatch {
        release: String,
        cluster: String,
        revision: u64,
        expected: String,
        actual: String,
    },
    #[error(
        "release {release} on cluster {cluster}: cannot restore it: {why}, and the plan gives \
         no cleanupValues; restore it by hand (`helm history`, `helm rollback`)"
    )]
    NoRestore {
        release: String,
        cluster: String,
        why: String,
    },
    #[error(
        "release {release} on cluster {cluster}: cannot read helm's storage (the release's \
         Secrets): {message}"
    )]
    Storage {
        release: String,
        cluster: String,
        message: String,
    },
    #[error("release {release} on cluster {cluster}: sensitive value path `{path}`: {message}")]
    BadPath {
        release: String,
        cluster: String,
        path: String,
        message: String,
    },
}

impl HelmError {
    /// The logical cluster the error is about.
    pub fn cluster(&self) -> &str {
        match self {
            HelmError::HelmMissing { cluster, .. }
            | HelmError::Spawn { cluster, .. }
            | HelmError::KubectlMissing { cluster, .. }
            | HelmError::Kubectl { cluster, .. }
            | HelmError::UnknownCluster { cluster, .. }
            | HelmError::Helm { cluster, .. }
            | HelmError::Cancelled { cluster, .. }
            | HelmError::Output { cluster, .. }
            | HelmError::RestoreMismatch { cluster, .. }
            | HelmError::NoRestore { cluster, .. }
            | HelmError::Storage { cluster, .. }
            | HelmError::BadPath { cluster, .. } => cluster,
        }
    }

    /// Whether the failure is the cluster's or the tool's rather than the release's own.
    pub fn is_environment_fault(&self) -> bool {
        matches!(
            self,
            HelmError::HelmMissing { .. }
                | HelmError::Spawn { .. }
                | HelmError::UnknownCluster { .. }
        )
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, HelmError::Cancelled { .. })
    }
}
