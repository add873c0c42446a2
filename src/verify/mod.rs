//! The check runner of `mtm verify`: runs one of the workshop's proofs (a [`CheckSpec`]) and
//! says what was expected, what was seen and, when it failed, why.
//!
//! A check reaches its URL either from this process (reqwest) or, when it is declared `from`
//! a workload, through an [`Exec`] transport the engine provides, by running the workshop's
//! own `curl` command lines in that pod. This module knows nothing of plans, graphs,
//! clusters or rendering: the engine picks the checks, builds the [`CheckContext`] and
//! renders the [`CheckResult`]s. Secrets (bearer and subject tokens, exchanged tokens)
//! never reach a result or an error message: they are masked.

mod command;
mod curl;
mod error;
mod http;
mod mask;
mod mcp;
mod sse;
mod token;
mod tools;

pub(crate) use error::ProbeError;

use futures::future::BoxFuture;
use mtm_provider::resource::{CheckSpec, ExecFrom, Expect};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Passed,
    Failed,
    /// The cluster lacks a capability the check requires; never counted as passed.
    NotApplicable,
}

/// One check's outcome, ready to render as a table row or JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub status: Status,
    pub expected: String,
    pub seen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What a command run in a pod printed, and its exit code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Why an exec could not run at all (the cause, as the transport says it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// Runs a command in a workload's pod (the engine implements it over the Kubernetes exec
/// API, as `kubectl exec -n NAMESPACE WORKLOAD [-c CONTAINER] -- COMMAND...`).
///
/// `Err` is for an exec that could not run at all; a command that ran and failed is an
/// `Ok` with a non-zero `code`.
pub trait Exec: Send + Sync {
    fn exec<'a>(
        &'a self,
        from: &'a ExecFrom,
        command: Vec<String>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>>;
}

/// What the checks may assume of the cluster and how they reach it.
pub struct CheckContext<'a> {
    /// Capabilities the cluster has (e.g. `istio`); a check requiring another is not applicable.
    pub capabilities: BTreeSet<String>,
    /// Run every call from this process, even for a check declared `from` a workload.
    pub local: bool,
    /// How to run a command in a workload's pod; needed by checks with `from` unless `local`.
    pub exec: Option<&'a dyn Exec>,
    /// The longest one check may take, all of its calls included.
    pub timeout: Duration,
    /// Why pods of the check's cluster run no container (its nodes are kwok's), if so: a
    /// check from a pod there is not applicable.
    pub no_containers: Option<String>,
}

impl Default for CheckContext<'_> {
    fn default() -> Self {
        CheckContext {
            capabilities: BTreeSet::new(),
            local: false,
            exec: None,
            timeout: Duration::from_secs(30),
            no_containers: None,
        }
    }
}

/// Where a check's calls start from.
#[derive(Clone, Copy)]
pub(crate) enum Via<'a> {
    Local,
    Exec {
        exec: &'a dyn Exec,
        from: &'a ExecFrom,
    },
}

/// What a probe saw; `mismatch` says how it differs from the expectation (`None`: passed).
#[derive(Debug)]
pub(crate) struct Seen {
    pub text: String,
    pub mismatch: Option<String>,
}

/// Runs one check. Never panics on what the server answers and never fails as a function:
/// every problem becomes a `Failed` result naming its cause.
pub async fn run_check(check: &CheckSpec, ctx: &CheckContext<'_>) -> CheckResult {
    let mut secrets = mask::Secrets::of(check);
    let expected = describe(&check.expect);
    let missing: Vec<&str> = check
        .requires
        .iter()
        .filter(|c| !ctx.capabilities.contains(*c))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return CheckResult {
            name: check.name.clone(),
            status: Status::NotApplicable,
            expected: secrets.mask(&expected),
            seen: "not run".to_string(),
            cause: Some(format!(
                "the cluster lacks {} (the check requires it)",
                missing.join(", ")
            )),
        };
    }
    if let (Some(why), Some(_), false) = (&ctx.no_containers, &check.from, ctx.local) {
        return CheckResult {
            name: check.name.clone(),
            status: Status::NotApplicable,
            expected: secrets.mask(&expected),
            seen: "not run".to_string(),
            cause: Some(why.clone()),
        };
    }
    let outcome = match via(check, ctx) {
        Err(e) => Err(e),
        Ok(via) => {
            let probe = probe(check, via, &mut secrets);
            match tokio::time::timeout(ctx.timeout, probe).await {
                Ok(outcome) => outcome,
                Err(_) => Err(ProbeError::Timeout(ctx.timeout.as_secs_f64())),
            }
        }
    };
    let (status, seen, cause) = match outcome {
        Ok(Seen {
            text,
            mismatch: None,
        }) => (Status::Passed, text, None),
        Ok(Seen {
            text,
            mismatch: Some(m),
        }) => (Status::Failed, text, Some(m)),
        Err(e) => (Status::Failed, e.seen(), Some(e.to_string())),
    };
    CheckResult {
        name: check.name.clone(),
        status,
        expected: secrets.mask(&expected),
        seen: secrets.mask(&seen),
        cause: cause.map(|c| secrets.mask(&c)),
    }
}

fn via<'a>(check: &'a CheckSpec, ctx: &CheckContext<'a>) -> Result<Via<'a>, ProbeError> {
    match (&check.from, ctx.local) {
        (None, _) | (Some(_), true) => Ok(Via::Local),
        (Some(from), false) => match ctx.exec {
            Some(exec) => Ok(Via::Exec { exec, from }),
            None => Err(ProbeError::NoExec {
                workload: from.workload.clone(),
                namespace: from.namespace.clone(),
            }),
        },
    }
}

async fn probe(
    check: &CheckSpec,
    via: Via<'_>,
    secrets: &mut mask::Secrets,
) -> Result<Seen, ProbeError> {
    if check.probe_count() != 1 {
        return Err(ProbeError::Spec(format!(
            "a check needs exactly one of http, mcp, tokenExchange and command, it has {}",
            check.probe_count()
        )));
    }
    if let Some(call) = &check.http {
        http::probe(call, &check.expect, via).await
    } else if let Some(call) = &check.mcp {
        mcp::probe(call, &check.expect, via).await
    } else if let Some(call) = &check.token_exchange {
        token::probe(call, &check.expect, via, secrets).await
    } else if let Some(argv) = &check.command {
        command::probe(argv, &check.expect, via).await
    } else {
        unreachable!("probe_count is 1")
    }
}

/// The expectation in words, for the `expected` column.
pub fn describe(expect: &Expect) -> String {
    let mut parts = Vec::new();
    if let Some(status) = expect.status {
        parts.push(format!("HTTP {status}"));
    }
    if let Some(tools) = &expect.tools {
        let mut tools = tools.clone();
        tools.sort();
        parts.push(format!("exactly the tools [{}]", tools.join(", ")));
    }
    if let Some(n) = expect.tool_count {
        parts.push(format!("{n} tools"));
    }
    if !expect.tool_prefixes.is_empty() {
        let prefixes: Vec<String> = expect
            .tool_prefixes
            .iter()
            .map(|p| format!("{p}*"))
            .collect();
        parts.push(format!(
            "every tool named {}, each prefix used",
            prefixes.join(" or ")
        ));
    }
    if let Some(text) = &expect.contains {
        parts.push(format!("output containing {text:?}"));
    }
    if parts.is_empty() {
        "success".to_string()
    } else {
        parts.join("; ")
    }
}

/// A short excerpt of a body or an output, for `seen` and error messages.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_every_expectation() {
        let expect = Expect {
            status: Some(200),
            tool_count: Some(26),
            tool_prefixes: vec!["catalog_".into(), "orders_".into()],
            tools: Some(vec!["b".into(), "a".into()]),
            contains: Some("agw-waypoint".into()),
        };
        assert_eq!(
            describe(&expect),
            "HTTP 200; exactly the tools [a, b]; 26 tools; every tool named catalog_* or \
             orders_*, each prefix used; output containing \"agw-waypoint\""
        );
        assert_eq!(describe(&Expect::default()), "success");
    }

    #[test]
    fn excerpt_cuts_long_text() {
        assert_eq!(excerpt("  short \n"), "short");
        let long = "x".repeat(400);
        assert_eq!(excerpt(&long).chars().count(), 301);
    }
}
