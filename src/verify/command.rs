//! The `command` probe (e.g. `istioctl ztunnel-config service`): runs the command here, or
//! in the workload's pod when the check is `from` one, and looks for `expect.contains` in
//! its output. Whether the command makes sense on the cluster is the check's `requires`.

use super::{ExecOutput, Seen, Via, excerpt, http};
use crate::verify::ProbeError;
use mtm_provider::resource::Expect;
use std::time::Duration;

pub(super) async fn probe(
    argv: &[String],
    expect: &Expect,
    via: Via<'_>,
) -> Result<Seen, ProbeError> {
    let Some(program) = argv.first() else {
        return Err(ProbeError::Spec("the command is empty".to_string()));
    };
    let out = match via {
        Via::Local => run_local(program, &argv[1..]).await?,
        Via::Exec { exec, from } => http::run(exec, from, argv.to_vec()).await?,
    };
    Ok(judge(&out, expect))
}

/// Runs the command here; it is killed if the check is dropped (its timeout ran out).
async fn run_local(program: &str, args: &[String]) -> Result<ExecOutput, ProbeError> {
    struct KillOnDrop(duct::Handle);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if matches!(self.0.try_wait(), Ok(None)) {
                let _ = self.0.kill();
            }
        }
    }
    let spawn_error = |e: std::io::Error| ProbeError::Spawn {
        program: program.to_string(),
        cause: e.to_string(),
    };
    let handle = duct::cmd(program, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(spawn_error)?;
    let handle = KillOnDrop(handle);
    loop {
        if let Some(out) = handle.0.try_wait().map_err(spawn_error)? {
            return Ok(ExecOutput {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code().unwrap_or(-1),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn judge(out: &ExecOutput, expect: &Expect) -> Seen {
    let text = if out.stdout.trim().is_empty() {
        format!("exit {}, no output", out.code)
    } else {
        format!("exit {}: {}", out.code, excerpt(&out.stdout))
    };
    let stderr = match out.stderr.trim() {
        "" => String::new(),
        e => format!("; stderr: {}", excerpt(e)),
    };
    let mismatch = match &expect.contains {
        Some(want) if !out.stdout.contains(want.as_str()) => Some(format!(
            "the output does not contain {want:?} (exit {}{stderr})",
            out.code
        )),
        Some(_) => None,
        None if out.code != 0 => Some(format!("the command exited {}{stderr}", out.code)),
        None => None,
    };
    Seen { text, mismatch }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_locally_and_looks_for_the_text() {
        let argv: Vec<String> = ["sh", "-c", "echo 'inventory-mcp agw-waypoint 1/1'"]
            .map(String::from)
            .to_vec();
        let expect = Expect {
            contains: Some("agw-waypoint".into()),
            ..Expect::default()
        };
        let seen = probe(&argv, &expect, Via::Local).await.unwrap();
        assert_eq!(seen.mismatch, None);
        let expect = Expect {
            contains: Some("ztunnel".into()),
            ..Expect::default()
        };
        let seen = probe(&argv, &expect, Via::Local).await.unwrap();
        assert_eq!(
            seen.mismatch.as_deref(),
            Some("the output does not contain \"ztunnel\" (exit 0)")
        );
    }

    #[tokio::test]
    async fn a_missing_program_names_itself() {
        let argv = vec!["mtm-no-such-program".to_string()];
        let e = probe(&argv, &Expect::default(), Via::Local)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot run mtm-no-such-program: "),
            "{e}"
        );
    }
}
