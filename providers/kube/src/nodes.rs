//! What a cluster's nodes can do: whether pods scheduled there run containers at all.
//!
//! kwok's nodes (annotation `kwok.x-k8s.io/node`) accept pods and report them running, but
//! start no container: a check that runs a command in such a pod proves nothing. This
//! module only looks at nodes; what to conclude for a check is the caller's decision.

use crate::KubeProvider;
use crate::error::{KubeError, describe};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

/// The annotation kwok puts on every node it manages.
const KWOK_NODE: &str = "kwok.x-k8s.io/node";

impl KubeProvider {
    /// Whether `cluster` has nodes and every one of them is kwok's.
    pub async fn only_kwok_nodes(&self, cluster: &str) -> Result<bool, KubeError> {
        let client = self.cluster(cluster)?.client().await?;
        let nodes = Api::<Node>::all(client)
            .list_metadata(&ListParams::default())
            .await
            .map_err(|e| KubeError::Client {
                object: format!("cluster {cluster}: nodes"),
                message: describe(&e),
            })?;
        Ok(!nodes.items.is_empty()
            && nodes.items.iter().all(|n| {
                n.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(KWOK_NODE))
            }))
    }
}
