//! The one place where transient API failures are retried.
//!
//! A call is retried with exponential backoff while it fails with 429 or a 5xx (for
//! `budget`), or with a connection-level error: refused, reset, DNS, timed out (for the
//! shorter `connect_budget`: a server that cannot be reached is reported fast). What is
//! left is turned into a [`KubeError`] naming the cluster or the object. Nothing else
//! retries: kube-client's own retry layer is turned off (see `cluster`), and callers that
//! loop (waits, deletes) do so on a condition, not on errors.

use crate::error::{KubeError, describe};
use std::future::Future;
use std::time::{Duration, Instant};

/// Backoff bounds: the first pause, the longest pause, the whole budget for a busy
/// server, and the budget for a server that cannot be reached.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
    pub budget: Duration,
    pub connect_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_millis(200),
            max: Duration::from_secs(5),
            budget: Duration::from_secs(30),
            connect_budget: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// The pause after `attempt` failures (0-based), doubling up to `max`.
    pub fn pause(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// Whether a failure may go away by itself.
pub(crate) fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            status.code == 429 || (500..600).contains(&status.code) && status.code != 501
        }
        // Connection-level failures, except a certificate the client refuses: that one
        // does not go away by waiting.
        kube::Error::HyperError(_) | kube::Error::Service(_) => !mentions_certificate(err),
        _ => false,
    }
}

/// Whether a failure is about reaching the server at all (not about a request).
fn is_connection(err: &kube::Error) -> bool {
    matches!(
        err,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::Auth(_)
    )
}

fn mentions_certificate(err: &kube::Error) -> bool {
    let mut cur: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = cur {
        if e.to_string().to_lowercase().contains("certificate") {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Where a call goes, for messages.
pub(crate) struct Target<'a> {
    pub cluster: &'a str,
    pub context: &'a str,
    pub server: &'a str,
    /// The object (or collection) the call is about.
    pub object: &'a str,
}

/// Runs `op` until it succeeds, fails for good, or the budget is spent.
pub(crate) async fn call<T, F, Fut>(
    policy: &RetryPolicy,
    target: &Target<'_>,
    mut op: F,
) -> Result<T, KubeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        let err = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !is_transient(&err) {
            return Err(permanent(target, err));
        }
        let elapsed = start.elapsed();
        let mut pause = policy.pause(attempt);
        if let kube::Error::Api(status) = &err
            && let Some(d) = &status.details
            && d.retry_after_seconds > 0
        {
            pause = pause.max(Duration::from_secs(d.retry_after_seconds.into()));
        }
        let budget = if is_connection(&err) {
            policy.connect_budget
        } else {
            policy.budget
        };
        if elapsed + pause > budget {
            return Err(permanent(target, err));
        }
        tracing::debug!(
            cluster = target.cluster,
            object = target.object,
            attempt,
            ?pause,
            error = %describe(&err),
            "transient failure, retrying"
        );
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

/// Why a server could not be reached, in a few words where the cause is a common one
/// (the transport's own chain otherwise).
fn connection_cause(err: &kube::Error) -> String {
    let detail = describe(err);
    let lower = detail.to_lowercase();
    let summary = if lower.contains("connection refused") {
        "connection refused"
    } else if lower.contains("deadline has elapsed") || lower.contains("timed out") {
        "no answer within the timeout (connect timeout, or --request-timeout)"
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        "the server's host name does not resolve (DNS)"
    } else if lower.contains("certificate") {
        let why = detail
            .strip_prefix("client error (Connect): ")
            .unwrap_or(&detail);
        return format!("TLS: the server's certificate is not accepted ({why})");
    } else {
        return detail;
    };
    summary.to_string()
}

fn permanent(target: &Target<'_>, err: kube::Error) -> KubeError {
    let unreachable = |message: String| KubeError::Unavailable {
        cluster: target.cluster.to_string(),
        context: target.context.to_string(),
        server: target.server.to_string(),
        message,
    };
    match err {
        // The credentials are refused: nothing on this cluster will work.
        kube::Error::Api(status) if status.code == 401 => unreachable(format!(
            "the server refused the credentials ({})",
            crate::error::describe_status(&status)
        )),
        kube::Error::Api(status) => KubeError::Api {
            object: target.object.to_string(),
            status,
        },
        other if is_connection(&other) => unreachable(connection_cause(&other)),
        other => KubeError::Client {
            object: target.object.to_string(),
            message: describe(&other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
            budget: Duration::from_millis(200),
            connect_budget: Duration::from_millis(50),
        }
    }

    const TARGET: Target<'static> = Target {
        cluster: "east",
        context: "east-ag",
        server: "https://127.0.0.1:6443",
        object: "east/core/ConfigMap/demo/x",
    };

    #[test]
    fn pause_doubles_up_to_max() {
        let p = RetryPolicy::default();
        assert_eq!(p.pause(0), Duration::from_millis(200));
        assert_eq!(p.pause(2), Duration::from_millis(800));
        assert_eq!(p.pause(10), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn retries_503_then_succeeds() {
        let n = AtomicU32::new(0);
        let got = call(&fast(), &TARGET, || async {
            if n.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(kube::Error::Api(
                    Status::failure("busy", "ServiceUnavailable")
                        .with_code(503)
                        .boxed(),
                ))
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 7);
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn does_not_retry_404() {
        let n = AtomicU32::new(0);
        let err = call(&fast(), &TARGET, || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(kube::Error::Api(
                Status::failure("configmaps \"x\" not found", "NotFound")
                    .with_code(404)
                    .boxed(),
            ))
        })
        .await
        .unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(
            err.to_string(),
            "east/core/ConfigMap/demo/x: configmaps \"x\" not found (NotFound)"
        );
    }

    #[tokio::test]
    async fn gives_up_when_the_budget_is_spent() {
        let n = AtomicU32::new(0);
        let err = call(&fast(), &TARGET, || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(kube::Error::Api(
                Status::failure("slow down", "TooManyRequests")
                    .with_code(429)
                    .boxed(),
            ))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some(429));
        // Retried, and given up: the pauses (1, 2, 4, 4... ms) outgrow a 200 ms budget.
        let tries = n.load(Ordering::SeqCst);
        assert!(tries > 1 && tries < 200, "{tries}");
    }

    #[tokio::test]
    async fn refused_credentials_are_a_cluster_fault_at_once() {
        let n = AtomicU32::new(0);
        let err = call(&fast(), &TARGET, || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(kube::Error::Api(
                Status::failure("Unauthorized", "Unauthorized")
                    .with_code(401)
                    .boxed(),
            ))
        })
        .await
        .unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert!(err.is_cluster_fault());
        assert_eq!(
            err.to_string(),
            "cluster east (context east-ag, server https://127.0.0.1:6443) unreachable: \
             the server refused the credentials (Unauthorized)"
        );
    }
}
