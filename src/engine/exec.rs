//! The exec transport of `mtm verify`: a command in a workload's pod, through the
//! Kubernetes exec API as `kubectl exec` drives it, against the plan's kube context.
//!
//! It knows nothing of checks; `crate::verify` builds the commands and reads the output.

use crate::verify::{Exec, ExecOutput};
use futures::future::BoxFuture;
use mtm_provider::resource::ExecFrom;

/// Runs commands in pods of one cluster (`context`) with kubectl from PATH.
pub struct KubectlExec {
    pub context: String,
}

impl Exec for KubectlExec {
    fn exec<'a>(
        &'a self,
        from: &'a ExecFrom,
        command: Vec<String>,
    ) -> BoxFuture<'a, Result<ExecOutput, String>> {
        Box::pin(async move {
            let mut args = vec![
                "--context".to_string(),
                self.context.clone(),
                "-n".to_string(),
                from.namespace.clone(),
                "exec".to_string(),
                from.workload.clone(),
            ];
            if let Some(c) = &from.container {
                args.extend(["-c".to_string(), c.clone()]);
            }
            args.push("--".to_string());
            args.extend(command);
            let out = tokio::process::Command::new("kubectl")
                .args(&args)
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| format!("cannot run kubectl: {e}"))?;
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let code = out.status.code().unwrap_or(-1);
            // kubectl's own failures (no pod, no exec endpoint) are not the command's.
            if code != 0 && (stderr.starts_with("error:") || stderr.contains("Error from server")) {
                return Err(format!(
                    "cannot exec into {}/{} on {}: {}",
                    from.namespace,
                    from.workload,
                    self.context,
                    stderr.trim()
                ));
            }
            Ok(ExecOutput {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr,
                code,
            })
        })
    }
}
