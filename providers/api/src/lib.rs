//! The provider API of mtm: what a resource is, how it is addressed, and the `Provider`
//! trait that the kube and helm provider crates implement.
//!
//! This crate knows nothing of plans on disk, of the dependency graph, of state or of
//! output. It is the one thing the engine and the providers share, so that neither
//! depends on the other.

pub mod address;
pub mod manifest;
pub mod provider;
pub mod resource;
pub mod strict;

pub use address::{Address, ObjectId};
pub use manifest::{Manifest, Named};
pub use provider::{
    Answer, Applied, Cancel, Claim, DriftField, Executed, FieldDiff, Observed, Pods, Provider,
    ProviderError, Verdict,
};
pub use resource::{
    CheckSpec, GenSpec, ReleaseSpec, Requirement, Resource, Spec, StepInfo, WaitSpec,
};
