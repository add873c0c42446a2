//! The exec transport of `mtm verify`: a command in a workload's pod, through the
//! Kubernetes exec API (kube-rs's WebSocket client, as `kubectl exec` drives it), on one of
//! the plan's logical clusters. No kubectl is needed.
//!
//! It knows nothing of checks; `crate::verify` builds the commands and reads the output.

use crate::verify::{Exec, ExecOutput};
use futures::future::BoxFuture;
use mtm_kube::KubeProvider;
use mtm_provider::resource::ExecFrom;

/// Runs commands in pods of one logical cluster through the engine's kube provider.
pub struct KubeExec<'a> {
    pub kube: &'a KubeProvider,
    pub cluster: String,
}

impl Exec for KubeExec<'_> {
    fn exec<'a>(
        &'a self,
        from: &'a ExecFrom,
        command: Vec<String>,
    ) -> BoxFuture<'a, Result<ExecOutput, String>> {
        Box::pin(async move {
            let ran = self
                .kube
                .exec(
                    &self.cluster,
                    &from.namespace,
                    &from.workload,
                    from.container.as_deref(),
                    command,
                )
                .await
                .map_err(|e| {
                    format!(
                        "cannot exec into {}/{} on cluster {}: {e}",
                        from.namespace, from.workload, self.cluster
                    )
                })?;
            Ok(ExecOutput {
                stdout: ran.stdout,
                stderr: ran.stderr,
                code: ran.code,
            })
        })
    }
}
