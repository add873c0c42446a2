//! The `Provider` trait: the one door through which the engine changes a cluster.
//!
//! A provider is told what to do with one resource at a time and reports what it did; it
//! does not know the graph, the order, state or output. The scheduler decides when.

use crate::resource::Resource;
use futures::future::BoxFuture;

/// What a provider reports after a resource succeeded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// The object's uid, where there is one.
    pub uid: Option<String>,
    /// One line for output, e.g. `created`, `configured`, `unchanged`.
    pub summary: String,
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

pub trait Provider: Send + Sync {
    /// A name for messages, e.g. `kube` or `helm`.
    fn name(&self) -> &str;

    /// Creates or updates the resource so that it matches its declaration.
    fn apply<'a>(&'a self, resource: &'a Resource)
    -> BoxFuture<'a, Result<Applied, ProviderError>>;

    /// Removes the resource (or restores what it replaced).
    fn destroy<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, Result<(), ProviderError>>;
}
