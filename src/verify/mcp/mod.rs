//! The `mcp` probe: one JSON-RPC method (`tools/list` above all) over either MCP transport
//! the workshop meets. A URL whose path ends in `/sse` is the legacy SSE transport (GET the
//! stream, POST to the `endpoint` it names, read the answers on the stream: the servers
//! behind the gateway; from a pod, one `sh` script of curl calls); any other is Streamable HTTP (POST, answered in JSON or SSE: the
//! gateway itself). `tools/list` pages are followed and the names judged by `tools`.

mod legacy;
mod legacy_exec;
mod streamable;

use super::{Seen, Via, excerpt, tools};
use crate::verify::ProbeError;
use mtm_provider::resource::{Expect, McpCall};
use serde_json::{Value, json};

/// The protocol version mtm offers in `initialize`.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// At most this many `tools/list` pages, so that a looping cursor ends.
const MAX_PAGES: usize = 100;

pub(super) async fn probe(
    call: &McpCall,
    expect: &Expect,
    via: Via<'_>,
) -> Result<Seen, ProbeError> {
    let mut session = if is_legacy_sse(&call.url) {
        match via {
            Via::Local => Session::Legacy(legacy::Legacy::open(call).await?),
            Via::Exec { exec, from } => {
                Session::LegacyExec(legacy_exec::LegacyExec::new(call, exec, from)?)
            }
        }
    } else {
        Session::Streamable(streamable::Streamable::new(call, via)?)
    };
    let outcome = run(&mut session, call, expect).await;
    session.close().await;
    outcome
}

async fn run(
    session: &mut Session<'_>,
    call: &McpCall,
    expect: &Expect,
) -> Result<Seen, ProbeError> {
    if call.method != "tools/list" {
        let result = session.request(&call.method, None).await?;
        let text = excerpt(&result.to_string());
        let mismatch = match &expect.contains {
            Some(want) if !text.contains(want.as_str()) => {
                Some(format!("the result does not contain {want:?}"))
            }
            _ => None,
        };
        return Ok(Seen { text, mismatch });
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor.take().map(|c| json!({ "cursor": c }));
        let result = session.request("tools/list", params).await?;
        let Some(list) = result.get("tools").and_then(Value::as_array) else {
            return Err(ProbeError::Protocol(format!(
                "the tools/list result has no tools array: {}",
                excerpt(&result.to_string())
            )));
        };
        for tool in list {
            match tool.get("name").and_then(Value::as_str) {
                Some(name) => names.push(name.to_string()),
                None => {
                    return Err(ProbeError::Protocol(format!(
                        "a tool without a name: {}",
                        excerpt(&tool.to_string())
                    )));
                }
            }
        }
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if cursor.is_none() {
            return Ok(tools::judge(&names, expect));
        }
    }
    Err(ProbeError::Protocol(format!(
        "tools/list still had a next page after {MAX_PAGES} pages"
    )))
}

enum Session<'a> {
    Streamable(streamable::Streamable<'a>),
    Legacy(legacy::Legacy),
    LegacyExec(legacy_exec::LegacyExec<'a>),
}

impl Session<'_> {
    async fn request(&mut self, method: &str, params: Option<Value>) -> Result<Value, ProbeError> {
        match self {
            Session::Streamable(s) => s.request(method, params).await,
            Session::Legacy(s) => s.request(method, params).await,
            Session::LegacyExec(s) => s.request(method, params).await,
        }
    }

    async fn close(self) {
        if let Session::Streamable(s) = self {
            s.close().await;
        }
    }
}

/// Whether a URL names a legacy SSE endpoint.
pub(crate) fn is_legacy_sse(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.trim_end_matches('/').ends_with("/sse")
}

/// A JSON-RPC request, spelled as the workshop spells it
/// (`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`).
fn request(id: u64, method: &str, params: Option<Value>) -> String {
    let method = Value::from(method);
    match params {
        Some(p) => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":{method},"params":{p}}}"#),
        None => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":{method}}}"#),
    }
}

/// A JSON-RPC notification without parameters.
fn notification(method: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":{}}}"#, Value::from(method))
}

fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": "mtm", "version": env!("CARGO_PKG_VERSION") },
    })
}

/// The messages of a JSON body: one object or a batch.
fn messages_of_json(body: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(body.trim()) {
        Ok(Value::Array(items)) => items,
        Ok(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// The answer to request `id` among `messages` (an error without id counts: the server
/// could not tell which request it answers).
fn response_for(messages: &[Value], id: u64) -> Option<Result<Value, ProbeError>> {
    let is_answer = |m: &&Value| m.get("result").is_some() || m.get("error").is_some();
    let ours = messages
        .iter()
        .filter(is_answer)
        .find(|m| m.get("id").and_then(Value::as_u64) == Some(id))
        .or_else(|| {
            messages
                .iter()
                .filter(is_answer)
                .find(|m| m.get("id").is_none_or(Value::is_null) && m.get("error").is_some())
        })?;
    Some(match ours.get("error") {
        Some(error) => Err(rpc_error(error)),
        None => Ok(ours.get("result").cloned().unwrap_or(Value::Null)),
    })
}

fn rpc_error(error: &Value) -> ProbeError {
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let mut message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("(no message)")
        .to_string();
    if let Some(data) = error.get("data").filter(|d| !d.is_null()) {
        message = format!("{message} ({})", excerpt(&data.to_string()));
    }
    ProbeError::JsonRpc { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spelled_as_in_the_workshop() {
        assert_eq!(
            request(1, "tools/list", None),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        );
        let with_cursor = request(2, "tools/list", Some(json!({"cursor": "c"})));
        assert_eq!(
            serde_json::from_str::<Value>(&with_cursor).unwrap(),
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"c"}})
        );
        assert_eq!(
            notification("notifications/initialized"),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
        );
    }

    #[test]
    fn legacy_urls() {
        assert!(is_legacy_sse("http://catalog-mcp.ai-tools:3001/sse"));
        assert!(is_legacy_sse("http://x/sse/?a=b"));
        assert!(!is_legacy_sse("http://mcp-gateway.ai-tools/mcp"));
    }

    #[test]
    fn finds_the_answer_or_the_error() {
        let msgs = vec![
            json!({"jsonrpc":"2.0","method":"notifications/message","params":{}}),
            json!({"jsonrpc":"2.0","id":2,"result":{"tools":[]}}),
        ];
        assert_eq!(
            response_for(&msgs, 2).unwrap().unwrap(),
            json!({"tools":[]})
        );
        assert!(response_for(&msgs, 3).is_none());
        let msgs = vec![
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: Server not initialized"}}),
        ];
        let e = response_for(&msgs, 1).unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "JSON-RPC error -32000: Bad Request: Server not initialized"
        );
    }
}
