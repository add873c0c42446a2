//! What can go wrong with one resource in the engine, with its cause kept: a provider's
//! error, a state write, a generated value, or state that does not say enough.
//!
//! The renderer sees these as [`super::NodeError`]s (address and message); the cause is
//! kept here so callers can tell an unreachable cluster from a bad resource.

use crate::generate::SubstError;
use crate::store::StoreError;
use mtm_provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("cannot write state: {0}")]
    State(#[from] StoreError),
    #[error(transparent)]
    Substitute(#[from] SubstError),
    #[error("state holds an unreadable {what}: {source}")]
    Unreadable {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("state has no identity for it")]
    NoIdentity,
    #[error("release {0} is not in the plan any more")]
    NotInPlan(String),
    #[error(
        "state holds only the hash of a sensitive value in this manifest: apply the plan instead"
    )]
    OnlyHash,
    #[error("no provider handles a {0}")]
    NoProvider(&'static str),
}

impl EngineError {
    /// The message for one resource's line (a provider's error without the address it
    /// repeats).
    pub fn message(&self) -> String {
        match self {
            EngineError::Provider(p) => p.message(),
            other => other.to_string(),
        }
    }

    /// The cluster could not be used: not a problem of the resource.
    pub fn is_cluster_fault(&self) -> bool {
        matches!(self, EngineError::Provider(p) if p.is_cluster_fault())
    }
}
