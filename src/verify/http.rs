//! The `http` probe: one call, its status compared (and its body, for `expect.contains`).
//! Also the local HTTP client every probe of this process shares.

use super::{Seen, Via, curl, excerpt};
use crate::verify::ProbeError;
use mtm_provider::resource::{Expect, HttpCall};

/// A client for calls made from this process: plain HTTP, no proxy from the environment.
pub(crate) fn client() -> Result<reqwest::Client, ProbeError> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ProbeError::Protocol(format!("cannot build an HTTP client: {e}")))
}

/// Status and body of one call; the body only when `want_body`.
pub(crate) async fn call(
    call: &HttpCall,
    bearer: Option<&str>,
    want_body: bool,
    via: Via<'_>,
) -> Result<(u16, String), ProbeError> {
    match via {
        Via::Local => {
            let method = call.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| ProbeError::Spec(format!("{method:?} is not an HTTP method")))?;
            let mut req = client()?.request(method, &call.url);
            for (name, value) in &call.headers {
                if bearer.is_none() || !name.eq_ignore_ascii_case("authorization") {
                    req = req.header(name, value);
                }
            }
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            if let Some(body) = &call.body {
                req = req.body(body.clone());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| ProbeError::reqwest(&call.url, &e))?;
            let status = resp.status().as_u16();
            let body = if want_body {
                resp.text()
                    .await
                    .map_err(|e| ProbeError::reqwest(&call.url, &e))?
            } else {
                String::new()
            };
            Ok((status, body))
        }
        Via::Exec { exec, from } => {
            let line = if want_body {
                let mut with_bearer = call.clone();
                if let Some(b) = bearer {
                    with_bearer
                        .headers
                        .retain(|n, _| !n.eq_ignore_ascii_case("authorization"));
                    with_bearer
                        .headers
                        .insert("Authorization".into(), format!("Bearer {b}"));
                }
                curl::body_line(&with_bearer)
            } else {
                curl::status_line(call, bearer)
            };
            let out = run(exec, from, line).await?;
            if want_body {
                let answer = curl::read_answer(&call.url, &out, false)?;
                Ok((answer.status, answer.body))
            } else {
                Ok((curl::read_status(&call.url, &out)?, String::new()))
            }
        }
    }
}

/// Runs a command line through the exec transport.
pub(crate) async fn run(
    exec: &dyn super::Exec,
    from: &mtm_provider::resource::ExecFrom,
    line: Vec<String>,
) -> Result<super::ExecOutput, ProbeError> {
    exec.exec(from, line)
        .await
        .map_err(|cause| ProbeError::Exec {
            workload: from.workload.clone(),
            namespace: from.namespace.clone(),
            cause: cause.0,
        })
}

/// Compares a status (and body) with the expectation.
pub(crate) fn judge(status: u16, body: &str, expect: &Expect) -> Seen {
    let mut text = format!("HTTP {status}");
    let mut mismatch = match expect.status {
        Some(want) if want != status => Some(format!("expected HTTP {want}, got HTTP {status}")),
        None if !(200..300).contains(&status) => {
            Some(format!("expected a 2xx answer, got HTTP {status}"))
        }
        _ => None,
    };
    if let Some(want) = &expect.contains {
        text = format!("{text}: {}", excerpt(body));
        if mismatch.is_none() && !body.contains(want.as_str()) {
            mismatch = Some(format!("the body does not contain {want:?}"));
        }
    }
    Seen { text, mismatch }
}

pub(super) async fn probe(
    call: &HttpCall,
    expect: &Expect,
    via: Via<'_>,
) -> Result<Seen, ProbeError> {
    let (status, body) = self::call(call, None, expect.contains.is_some(), via).await?;
    Ok(judge(status, &body, expect))
}
