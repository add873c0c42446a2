//! The exec transport of `mtm verify`: a command in a workload's pod, through the
//! Kubernetes exec API (kube-rs's WebSocket client, as `kubectl exec` drives it), on one of
//! the plan's logical clusters. No kubectl is needed.
//!
//! It knows nothing of checks; `crate::verify` builds the commands and reads the output.

use crate::verify::{Exec, ExecError, ExecOutput};
use futures::future::BoxFuture;
use mtm_provider::Pods;
use mtm_provider::resource::ExecFrom;

/// Runs commands in pods of one logical cluster through the router's pods.
pub struct KubeExec<'a> {
    pub pods: &'a dyn Pods,
    pub cluster: String,
}

impl Exec for KubeExec<'_> {
    fn exec<'a>(
        &'a self,
        from: &'a ExecFrom,
        command: Vec<String>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>> {
        Box::pin(async move {
            let ran = self
                .pods
                .exec(
                    &self.cluster,
                    &from.namespace,
                    &from.workload,
                    from.container.as_deref(),
                    command,
                )
                .await
                .map_err(|e| {
                    ExecError(format!(
                        "cannot exec into {}/{} on cluster {}: {}",
                        from.namespace,
                        from.workload,
                        self.cluster,
                        e.message()
                    ))
                })?;
            Ok(ExecOutput {
                stdout: ran.stdout,
                stderr: ran.stderr,
                code: ran.code,
            })
        })
    }
}
