//! The `tokenExchange` probe (lab 6): an RFC 8693 form POST of the subject token to the STS
//! URL, the `access_token` it issues, then the `then` call with that token as bearer, its
//! status compared. The issued token joins the secrets at once: it is never shown.

use super::mask::Secrets;
use super::{Seen, Via, curl, excerpt, http};
use crate::verify::ProbeError;
use mtm_provider::resource::{Expect, TokenExchangeCall};

pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

pub(super) async fn probe(
    call: &TokenExchangeCall,
    expect: &Expect,
    via: Via<'_>,
    secrets: &mut Secrets,
) -> Result<Seen, ProbeError> {
    let token_type = call.subject_token_type.as_deref().unwrap_or(JWT_TOKEN_TYPE);
    let (status, body) = match via {
        Via::Local => {
            let form = [
                ("grant_type", GRANT_TYPE),
                ("subject_token", call.subject_token.as_str()),
                ("subject_token_type", token_type),
            ];
            let resp = http::client()?
                .post(&call.url)
                .form(&form)
                .send()
                .await
                .map_err(|e| ProbeError::reqwest(&call.url, &e))?;
            let status = resp.status().as_u16();
            let body = resp
                .text()
                .await
                .map_err(|e| ProbeError::reqwest(&call.url, &e))?;
            (status, body)
        }
        Via::Exec { exec, from } => {
            let line = curl::sts_line(&call.url, &call.subject_token, token_type);
            let out = http::run(exec, from, line).await?;
            let answer = curl::read_answer(&call.url, &out, false)?;
            (answer.status, answer.body)
        }
    };
    let token = access_token(&body);
    if let Some(t) = &token {
        secrets.add(t);
    }
    if !(200..300).contains(&status) {
        return Err(ProbeError::HttpStatus {
            url: call.url.clone(),
            status,
            body: secrets.mask(&excerpt(&body)),
        });
    }
    let Some(token) = token else {
        return Err(ProbeError::Protocol(format!(
            "the STS at {} issued no access_token: {}",
            call.url,
            secrets.mask(&excerpt(&body))
        )));
    };
    let (status, body) =
        http::call(&call.then, Some(&token), expect.contains.is_some(), via).await?;
    let mut seen = http::judge(status, &body, expect);
    seen.text = format!("the STS issued a token; {}", seen.text);
    Ok(seen)
}

/// The `access_token` of an STS answer.
fn access_token(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    v.get("access_token")?
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}
