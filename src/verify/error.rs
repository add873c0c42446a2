//! Why a probe could not see what it expected: unreachable, an HTTP or JSON-RPC error, an
//! answer that is not the protocol, a timeout. Messages carry their cause in the text (the
//! result shows only text); masking secrets is the caller's job.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProbeError {
    #[error("cannot reach {url}: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("{url} answered HTTP {status}: {body}")]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error("JSON-RPC error {code}: {message}")]
    JsonRpc { code: i64, message: String },
    #[error("{0}")]
    Protocol(String),
    #[error("exec into {workload} in namespace {namespace} failed: {cause}")]
    Exec {
        workload: String,
        namespace: String,
        cause: String,
    },
    #[error(
        "the check runs from {workload} in namespace {namespace}, but no exec transport was \
         given (or run it locally)"
    )]
    NoExec { workload: String, namespace: String },
    #[error("cannot run {program}: {cause}")]
    Spawn { program: String, cause: String },
    #[error("no answer within {0}s")]
    Timeout(f64),
    #[error("{0}")]
    Spec(String),
}

impl ProbeError {
    /// What was seen, in a few words, for the `seen` column (the message is the cause).
    pub fn seen(&self) -> String {
        match self {
            ProbeError::Unreachable { .. } => "unreachable".to_string(),
            ProbeError::HttpStatus { status, .. } => format!("HTTP {status}"),
            ProbeError::JsonRpc { code, .. } => format!("JSON-RPC error {code}"),
            ProbeError::Protocol(_) => "an answer outside the protocol".to_string(),
            ProbeError::Exec { .. } | ProbeError::NoExec { .. } => "not run (exec)".to_string(),
            ProbeError::Spawn { .. } => "not run".to_string(),
            ProbeError::Timeout(_) => "no answer".to_string(),
            ProbeError::Spec(_) => "not run (invalid check)".to_string(),
        }
    }

    /// An error of reqwest with its whole chain of causes, as one line.
    pub(crate) fn reqwest(url: &str, e: &reqwest::Error) -> ProbeError {
        // reqwest's own message repeats the URL and hyper's says "client error (Connect)":
        // the causes below them say what happened.
        let mut causes: Vec<String> = Vec::new();
        let mut source = std::error::Error::source(e);
        while let Some(err) = source {
            let text = err.to_string();
            if !text.starts_with("client error") && !causes.iter().any(|c| c.contains(&text)) {
                causes.push(text);
            }
            source = err.source();
        }
        let cause = if causes.is_empty() {
            e.to_string()
        } else {
            causes.join(": ")
        };
        if e.is_connect() || e.is_timeout() || e.is_request() {
            ProbeError::Unreachable {
                url: url.to_string(),
                cause,
            }
        } else {
            ProbeError::Protocol(format!("reading the answer of {url}: {cause}"))
        }
    }
}
