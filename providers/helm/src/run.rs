//! Running the helm binary with duct: arguments, values on stdin, captured output, and
//! cancellation that lets helm finish its bookkeeping.
//!
//! Values never go on the command line: a call carries them as stdin bytes (`-f -`), so
//! no process list shows them. Cancellation sends SIGTERM (helm then marks the release
//! failed instead of leaving it pending), waits a grace period, and only then SIGKILLs.
//! This module knows nothing of releases beyond the names it puts into errors.

use crate::error::HelmError;
use crate::redact::Redactor;
use std::ffi::OsString;
use std::io;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a call is about, for errors: the release and the cluster, and the kube context.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub cluster: String,
    pub context: String,
    pub name: String,
    pub namespace: String,
    /// `--kubeconfig`, when one was given.
    pub kubeconfig: Option<std::path::PathBuf>,
}

impl Target {
    pub fn release(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// `[--kubeconfig PATH] --kube-context C --namespace NS`.
    pub fn scope_args(&self) -> Vec<String> {
        let mut args = self.kubeconfig_args();
        args.extend([
            "--kube-context".into(),
            self.context.clone(),
            "--namespace".into(),
            self.namespace.clone(),
        ]);
        args
    }

    /// `--kubeconfig PATH` when one was given (helm and kubectl spell it alike).
    pub fn kubeconfig_args(&self) -> Vec<String> {
        self.kubeconfig
            .iter()
            .flat_map(|p| ["--kubeconfig".to_string(), p.display().to_string()])
            .collect()
    }
}

/// One helm invocation.
pub(crate) struct Call<'a> {
    pub target: &'a Target,
    /// Subcommand words for messages, e.g. `upgrade --install`.
    pub command: &'a str,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub redactor: &'a Redactor,
}

#[derive(Clone, Debug)]
pub(crate) struct Helm {
    pub program: OsString,
    pub grace: Duration,
}

/// How often helm's exit is looked for: a waitpid that does not block is cheap, and a plan
/// waits on several short helm calls.
const POLL: Duration = Duration::from_millis(5);

/// Sends SIGTERM to every process of the handle.
fn terminate(handle: &duct::Handle) {
    for pid in handle.pids() {
        // SAFETY: kill(2) has no memory-safety preconditions; a pid that already exited
        // makes it fail with ESRCH, which is fine.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
}

/// How a helm process ended: whether it was cancelled, and SIGKILLed after the grace.
struct Ending {
    cancelled: bool,
    killed: bool,
}

impl Call<'_> {
    /// The cancellation error of this call, with helm's (redacted) stderr.
    fn cancelled(&self, killed: &'static str, stderr: String) -> HelmError {
        HelmError::Cancelled {
            release: self.target.release(),
            cluster: self.target.cluster.clone(),
            command: self.command.to_string(),
            killed,
            stderr,
        }
    }
}

impl Helm {
    /// Runs helm to completion and returns its stdout; a non-zero exit is an error that
    /// carries helm's redacted stderr. `cancel` flipping to true terminates helm.
    pub async fn run(
        &self,
        call: Call<'_>,
        cancel: Option<&mut watch::Receiver<bool>>,
    ) -> Result<String, HelmError> {
        let t = call.target;
        if cancel.as_ref().is_some_and(|c| *c.borrow()) {
            return Err(call.cancelled("", "(not started)".into()));
        }
        tracing::debug!(
            release = %t.release(),
            cluster = %t.cluster,
            command = call.command,
            args = ?call.args,
            "running helm"
        );
        let handle = self.start(&call)?;
        let ending = self.wait(&call, &handle, cancel).await?;
        let output = handle
            .into_output()
            .map_err(|e| self.spawn_error(&call, e))?;
        self.outcome(&call, output, ending)
    }

    /// Starts helm with the call's arguments, its stdin bytes (or none), output captured.
    fn start(&self, call: &Call<'_>) -> Result<duct::Handle, HelmError> {
        let mut expr = duct::cmd(&self.program, &call.args)
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        expr = match &call.stdin {
            Some(bytes) => expr.stdin_bytes(bytes.clone()),
            None => expr.stdin_null(),
        };
        expr.start().map_err(|e| self.spawn_error(call, e))
    }

    /// Polls helm until it exits: SIGTERM at the cancel, SIGKILL once the grace is over.
    async fn wait(
        &self,
        call: &Call<'_>,
        handle: &duct::Handle,
        mut cancel: Option<&mut watch::Receiver<bool>>,
    ) -> Result<Ending, HelmError> {
        let t = call.target;
        let mut cancelled_at: Option<Instant> = None;
        let mut killed = false;
        loop {
            if handle
                .try_wait()
                .map_err(|e| self.spawn_error(call, e))?
                .is_some()
            {
                break;
            }
            if let Some(at) = cancelled_at {
                if !killed && at.elapsed() >= self.grace {
                    tracing::warn!(release = %t.release(), cluster = %t.cluster,
                        "helm did not stop within the grace period; killing it");
                    let _ = handle.kill();
                    killed = true;
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
            match cancel.as_deref_mut() {
                Some(rx) => {
                    tokio::select! {
                        _ = tokio::time::sleep(POLL) => {}
                        changed = rx.changed() => {
                            match changed {
                                Ok(()) if *rx.borrow() => {
                                    tracing::info!(release = %t.release(), cluster = %t.cluster,
                                        "cancelled: sending SIGTERM to helm");
                                    terminate(handle);
                                    cancelled_at = Some(Instant::now());
                                }
                                Ok(()) => {}
                                // The sender is gone: nobody can cancel any more.
                                Err(_) => cancel = None,
                            }
                        }
                    }
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
        Ok(Ending {
            cancelled: cancelled_at.is_some(),
            killed,
        })
    }

    /// Helm's stdout, or the error its ending and exit status make (stderr redacted).
    fn outcome(
        &self,
        call: &Call<'_>,
        output: std::process::Output,
        ending: Ending,
    ) -> Result<String, HelmError> {
        let t = call.target;
        let stderr = call
            .redactor
            .apply(String::from_utf8_lossy(&output.stderr).trim());
        if ending.cancelled {
            let killed = if ending.killed {
                ", then SIGKILL after the grace period"
            } else {
                ""
            };
            return Err(call.cancelled(killed, stderr));
        }
        if !output.status.success() {
            return Err(HelmError::Helm {
                release: t.release(),
                cluster: t.cluster.clone(),
                command: call.command.to_string(),
                stderr: if stderr.is_empty() {
                    format!("(no stderr; {})", output.status)
                } else {
                    stderr
                },
            });
        }
        String::from_utf8(output.stdout).map_err(|_| HelmError::Output {
            release: t.release(),
            cluster: t.cluster.clone(),
            command: call.command.to_string(),
            message: "stdout is not UTF-8".into(),
        })
    }

    /// That helm can be run for `t`, without running it: the error it would give when
    /// it is missing (for a plan that needs no helm process, but whose apply does).
    // The provider's edge: where programs are found comes from the environment.
    #[allow(clippy::disallowed_methods)]
    pub fn require(&self, t: &Target) -> Result<(), HelmError> {
        let program = std::path::Path::new(&self.program);
        let found = if program.components().count() > 1 {
            program.is_file()
        } else {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
        };
        match found {
            true => Ok(()),
            false => Err(HelmError::HelmMissing {
                release: t.release(),
                cluster: t.cluster.clone(),
                program: self.program.to_string_lossy().into_owned(),
            }),
        }
    }

    /// The error of helm not starting (or not being waited on): missing, or another I/O error.
    fn spawn_error(&self, call: &Call<'_>, e: io::Error) -> HelmError {
        let t = call.target;
        if e.kind() == io::ErrorKind::NotFound {
            HelmError::HelmMissing {
                release: t.release(),
                cluster: t.cluster.clone(),
                program: self.program.to_string_lossy().into_owned(),
            }
        } else {
            HelmError::Spawn {
                release: t.release(),
                cluster: t.cluster.clone(),
                command: format!("helm {}", call.command),
                source: e,
            }
        }
    }
}

/// Whether helm's error says the release does not exist.
pub(crate) fn is_not_found(err: &HelmError) -> bool {
    matches!(err, HelmError::Helm { stderr, .. } if stderr.contains("release: not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in helm: a shell script with this body, in a temporary directory.
    fn script(body: &str) -> (tempfile::TempDir, Helm) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("helm");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let helm = Helm {
            program: path.into_os_string(),
            grace: Duration::from_millis(200),
        };
        (dir, helm)
    }

    fn target() -> Target {
        Target {
            cluster: "east".into(),
            context: "ctx".into(),
            name: "agw".into(),
            namespace: "ns".into(),
            kubeconfig: None,
        }
    }

    #[test]
    fn require_finds_a_path_or_a_name_on_path_and_names_what_is_missing() {
        let (_dir, helm) = script("exit 0");
        assert!(helm.require(&target()).is_ok(), "a path to a file");
        let named = |program: &str| Helm {
            program: program.into(),
            grace: Duration::from_millis(200),
        };
        assert!(named("sh").require(&target()).is_ok(), "sh on PATH");
        let missing = named("/nonexistent/helm").require(&target());
        assert!(
            matches!(&missing, Err(HelmError::HelmMissing { program, cluster, .. })
                if program == "/nonexistent/helm" && cluster == "east"),
            "{missing:?}"
        );
        let missing = named("no-such-helm-here").require(&target());
        assert!(
            matches!(missing, Err(HelmError::HelmMissing { .. })),
            "{missing:?}"
        );
    }

    fn call<'a>(target: &'a Target, redactor: &'a Redactor) -> Call<'a> {
        Call {
            target,
            command: "upgrade --install",
            args: vec!["upgrade".into()],
            stdin: Some(b"key: s3cret\n".to_vec()),
            redactor,
        }
    }

    #[tokio::test]
    async fn stdout_on_success_and_redacted_stderr_on_failure() {
        let (t, mut redactor) = (target(), Redactor::new());
        redactor.add("s3cret");
        let (_dir, helm) = script("cat");
        let out = helm.run(call(&t, &redactor), None).await.expect("runs");
        assert_eq!(out, "key: s3cret\n");
        let (_dir, helm) = script("cat >&2; exit 3");
        let err = helm
            .run(call(&t, &redactor), None)
            .await
            .expect_err("fails");
        assert!(
            matches!(&err, HelmError::Helm { stderr, .. } if stderr == "key: (sensitive)"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_cancel_ignored_is_a_sigkill_after_the_grace() {
        let (t, redactor) = (target(), Redactor::new());
        let (_dir, helm) = script("trap '' TERM; exec sleep 30");
        let (tx, mut rx) = watch::channel(false);
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(true).expect("cancel");
        };
        let (result, ()) = tokio::join!(helm.run(call(&t, &redactor), Some(&mut rx)), cancel);
        let err = result.expect_err("cancelled");
        assert!(
            matches!(
                &err,
                HelmError::Cancelled { killed, .. } if killed.contains("SIGKILL")
            ),
            "{err:?}"
        );
        let err = helm.run(call(&t, &redactor), Some(&mut rx)).await;
        assert!(
            matches!(&err, Err(HelmError::Cancelled { stderr, .. }) if stderr == "(not started)"),
            "{err:?}"
        );
    }
}
