//! The Secrets helm's default storage driver keeps a release's revisions in, listed for
//! the helm provider: it reads a release from them instead of running helm to read it.

use crate::KubeProvider;
use crate::error::KubeError;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;

impl KubeProvider {
    /// The `(version, release data)` of every Secret helm keeps release `name` of
    /// `namespace` in, on the logical `cluster` (labels `owner=helm`, `name=NAME`).
    pub async fn helm_revisions(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<(u64, Vec<u8>)>, KubeError> {
        let cluster = self.cluster(cluster)?;
        let api: Api<Secret> = Api::namespaced(cluster.client().await?, namespace);
        let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
        let object = format!("helm release {namespace}/{name} (its storage Secrets)");
        let list = cluster.call(&object, || api.list(&params)).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|s| {
                let version = s.metadata.labels.as_ref()?.get("version")?.parse().ok()?;
                let release = s.data?.remove("release")?.0;
                Some((version, release))
            })
            .collect())
    }
}
