//! The error of every call the provider makes on a cluster.
//!
//! Each variant names the cluster (and its kube context where the fault is the connection)
//! or the object, so a message read alone says where it happened. The causes are turned
//! into text here once: kube-client's own errors print their cause twice, ours do not.

use kube::core::Status;
use std::fmt;
use std::time::Duration;

/// One field another field manager holds, from a 409 apply conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    /// The field path as the API server names it, e.g. `.spec.replicas`.
    pub field: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cluster {cluster}: no kube context is bound to it (bound: {known})")]
    UnknownCluster { cluster: String, known: String },

    #[error("cluster {cluster}: cannot load kube context {context}: {message}")]
    Context {
        cluster: String,
        context: String,
        message: String,
    },

    #[error("cluster {cluster} (context {context}, server {server}) unreachable: {message}")]
    Unavailable {
        cluster: String,
        context: String,
        server: String,
        message: String,
    },

    #[error("{object}: {}", describe_status(status))]
    Api { object: String, status: Box<Status> },

    #[error("{object}: {message}")]
    Client { object: String, message: String },

    #[error(
        "{object}: {}; re-apply with --force-conflicts to take them over",
        ConflictList(conflicts)
    )]
    Conflict {
        object: String,
        conflicts: Vec<Conflict>,
    },

    #[error("cluster {cluster}: the API server does not serve {api_version} {kind}")]
    UnknownKind {
        cluster: String,
        api_version: String,
        kind: String,
    },

    #[error("{object}: not found")]
    NotFound { object: String },

    #[error("{object}: invalid manifest: {message}")]
    Manifest { object: String, message: String },

    #[error(
        "{object}: still present {} after its deletion: {last_seen}",
        Secs(after)
    )]
    DeleteTimeout {
        object: String,
        after: Duration,
        last_seen: String,
    },
}

impl KubeError {
    /// The HTTP status code of an API error, if it is one.
    pub fn code(&self) -> Option<u16> {
        match self {
            KubeError::Api { status, .. } => Some(status.code),
            _ => None,
        }
    }

    /// True when the cluster itself failed (context, connection), not the resource.
    pub fn is_cluster_fault(&self) -> bool {
        matches!(
            self,
            KubeError::UnknownCluster { .. }
                | KubeError::Context { .. }
                | KubeError::Unavailable { .. }
        )
    }

    /// The cluster named by a cluster fault.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            KubeError::UnknownCluster { cluster, .. }
            | KubeError::Context { cluster, .. }
            | KubeError::Unavailable { cluster, .. }
            | KubeError::UnknownKind { cluster, .. } => Some(cluster),
            _ => None,
        }
    }
}

/// The message of an API status, with its reason when the message does not say it.
pub(crate) fn describe_status(status: &Status) -> String {
    let mut text = if status.message.is_empty() {
        format!("HTTP {}", status.code)
    } else {
        status.message.clone()
    };
    if !status.reason.is_empty() && !text.contains(&status.reason) {
        text = format!("{text} ({})", status.reason);
    }
    text
}

/// Text of a kube-client error that is not an API status: the chain of causes, once.
pub(crate) fn describe(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        return describe_status(status);
    }
    let mut parts: Vec<String> = Vec::new();
    // kube's transport wrappers ("ServiceError: ...") only repeat their source.
    let mut cur: Option<&dyn std::error::Error> = match err {
        kube::Error::Service(_) | kube::Error::HyperError(_) => {
            std::error::Error::source(err).or(Some(err))
        }
        _ => Some(err),
    };
    while let Some(e) = cur {
        let text = e.to_string();
        // Keep only what the previous level did not already print.
        let text = match parts.last() {
            Some(prev) if prev.contains(&text) => {
                cur = e.source();
                continue;
            }
            _ => text,
        };
        if let Some(prev) = parts.last_mut()
            && let Some(stripped) = prev.strip_suffix(&format!(": {text}"))
        {
            *prev = stripped.to_string();
        }
        parts.push(text);
        cur = e.source();
    }
    parts.join(": ")
}

/// The conflicts of a 409 apply: one `conflict with "manager"` cause per field.
pub(crate) fn conflicts_of(status: &Status) -> Vec<Conflict> {
    let Some(details) = &status.details else {
        return Vec::new();
    };
    details
        .causes
        .iter()
        .filter(|c| c.reason == "FieldManagerConflict" || c.message.starts_with("conflict with"))
        .map(|c| Conflict {
            manager: c
                .message
                .split('"')
                .nth(1)
                .unwrap_or(c.message.as_str())
                .to_string(),
            field: c.field.clone(),
        })
        .collect()
}

/// A duration as people read it in a message: `3s`, `1.7s`, `2m 5s`.
pub struct Secs<'a>(pub &'a Duration);

impl fmt::Display for Secs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms >= 60_000 {
            let s = ms / 1000;
            write!(f, "{}m {}s", s / 60, s % 60)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        }
    }
}

struct ConflictList<'a>(&'a [Conflict]);

impl fmt::Display for ConflictList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Grouped by manager, in the order the server gave them.
        let mut managers: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in self.0 {
            match managers.iter_mut().find(|(m, _)| *m == c.manager) {
                Some((_, fields)) => fields.push(&c.field),
                None => managers.push((&c.manager, vec![&c.field])),
            }
        }
        let parts: Vec<String> = managers
            .iter()
            .map(|(m, fields)| format!("field manager {m:?} owns {}", fields.join(", ")))
            .collect();
        write!(f, "apply conflict: {}", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    #[test]
    fn conflict_message_names_manager_and_fields() {
        let status = Status::failure("Apply failed with 2 conflicts", "Conflict")
            .with_code(409)
            .with_details(StatusDetails {
                name: "web".into(),
                group: "apps".into(),
                kind: "deployments".into(),
                uid: String::new(),
                causes: vec![
                    StatusCause {
                        reason: "FieldManagerConflict".into(),
                        message: "conflict with \"kubectl-scale\" using apps/v1".into(),
                        field: ".spec.replicas".into(),
                    },
                    StatusCause {
                        reason: "FieldManagerConflict".into(),
                        message: "conflict with \"kubectl-scale\" using apps/v1".into(),
                        field: ".metadata.labels.tier".into(),
                    },
                ],
                retry_after_seconds: 0,
            });
        let err = KubeError::Conflict {
            object: "east/apps/Deployment/demo/web".into(),
            conflicts: conflicts_of(&status),
        };
        assert_eq!(
            err.to_string(),
            "east/apps/Deployment/demo/web: apply conflict: field manager \"kubectl-scale\" owns \
             .spec.replicas, .metadata.labels.tier; re-apply with --force-conflicts to take them over"
        );
    }
}
