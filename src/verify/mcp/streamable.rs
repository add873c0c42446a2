//! MCP's Streamable HTTP transport, as a client: each message is a POST to the one URL,
//! answered with JSON or with an SSE stream that carries the response. The request is sent
//! bare first, as the workshop's curl does; when the server demands a session (HTTP 400, or
//! an error about the session or initialization), `initialize` and
//! `notifications/initialized` come first and the session id rides on every later call.

use super::{initialize_params, messages_of_json, notification, request, response_for};
use crate::verify::sse::Parser;
use crate::verify::{ProbeError, Via, curl, excerpt, http};
use mtm_provider::resource::McpCall;
use serde_json::Value;

const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";

pub(super) struct Streamable<'a> {
    via: Via<'a>,
    client: Option<reqwest::Client>,
    url: String,
    bearer: Option<String>,
    session: Option<String>,
    protocol: Option<String>,
    next_id: u64,
    initialized: bool,
}

/// One POST's answer.
struct Answer {
    status: u16,
    session: Option<String>,
    body: String,
    messages: Vec<Value>,
}

impl<'a> Streamable<'a> {
    pub fn new(call: &McpCall, via: Via<'a>) -> Result<Self, ProbeError> {
        let client = match via {
            Via::Local => Some(http::client()?),
            Via::Exec { .. } => None,
        };
        Ok(Streamable {
            via,
            client,
            url: call.url.clone(),
            bearer: call.bearer.clone(),
            session: None,
            protocol: None,
            next_id: 1,
            initialized: false,
        })
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, ProbeError> {
        let id = self.id();
        let answer = self
            .post(&request(id, method, params.clone()), Some(id), false)
            .await?;
        if !self.initialized && demands_session(&answer) {
            self.initialize().await?;
            let id = self.id();
            let answer = self
                .post(&request(id, method, params), Some(id), false)
                .await?;
            return self.interpret(&answer, id);
        }
        self.interpret(&answer, id)
    }

    async fn initialize(&mut self) -> Result<(), ProbeError> {
        let id = self.id();
        let answer = self
            .post(
                &request(id, "initialize", Some(initialize_params())),
                Some(id),
                true,
            )
            .await?;
        let result = self.interpret(&answer, id)?;
        self.session = answer.session;
        self.protocol = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        let note = notification("notifications/initialized");
        let answer = self.post(&note, None, false).await?;
        if !(200..300).contains(&answer.status) {
            return Err(ProbeError::HttpStatus {
                url: self.url.clone(),
                status: answer.status,
                body: excerpt(&answer.body),
            });
        }
        self.initialized = true;
        Ok(())
    }

    fn interpret(&self, answer: &Answer, id: u64) -> Result<Value, ProbeError> {
        match response_for(&answer.messages, id) {
            Some(outcome) => outcome,
            None if !(200..300).contains(&answer.status) => Err(ProbeError::HttpStatus {
                url: self.url.clone(),
                status: answer.status,
                body: excerpt(&answer.body),
            }),
            None => Err(ProbeError::Protocol(format!(
                "{} answered HTTP {} without a JSON-RPC response to request {id}: {:?}",
                self.url,
                answer.status,
                excerpt(&answer.body)
            ))),
        }
    }

    /// The session headers for calls after `initialize`.
    fn session_headers(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(s) = &self.session {
            out.push((SESSION_HEADER, s.as_str()));
        }
        if let Some(v) = &self.protocol {
            out.push((VERSION_HEADER, v.as_str()));
        }
        out
    }

    async fn post(
        &self,
        body: &str,
        want_id: Option<u64>,
        want_headers: bool,
    ) -> Result<Answer, ProbeError> {
        let body = body.to_string();
        match (self.via, &self.client) {
            (Via::Exec { exec, from }, _) => {
                let line = curl::mcp_line(
                    &self.url,
                    self.bearer.as_deref(),
                    &self.session_headers(),
                    want_headers,
                    &body,
                );
                let out = http::run(exec, from, line).await?;
                let answer = curl::read_answer(&self.url, &out, want_headers)?;
                let trimmed = answer.body.trim_start();
                let messages = if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    messages_of_json(trimmed)
                } else {
                    Parser::parse_all(&answer.body)
                        .iter()
                        .flat_map(|e| messages_of_json(&e.data))
                        .collect()
                };
                Ok(Answer {
                    status: answer.status,
                    session: answer.header(SESSION_HEADER).map(str::to_string),
                    body: answer.body,
                    messages,
                })
            }
            (Via::Local, Some(client)) => self.post_local(client, body, want_id).await,
            (Via::Local, None) => unreachable!("a local session has a client"),
        }
    }

    async fn post_local(
        &self,
        client: &reqwest::Client,
        body: String,
        want_id: Option<u64>,
    ) -> Result<Answer, ProbeError> {
        let mut req = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            );
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        for (name, value) in self.session_headers() {
            req = req.header(name, value);
        }
        let mut resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| ProbeError::reqwest(&self.url, &e))?;
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let is_sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        if !is_sse {
            let body = resp
                .text()
                .await
                .map_err(|e| ProbeError::reqwest(&self.url, &e))?;
            let messages = messages_of_json(&body);
            return Ok(Answer {
                status,
                session,
                body,
                messages,
            });
        }
        // An SSE answer: read events until the response arrives (the stream may stay open).
        let mut parser = Parser::default();
        let mut body = String::new();
        let mut messages = Vec::new();
        if let Some(id) = want_id {
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| ProbeError::reqwest(&self.url, &e))?
            {
                for event in parser.push(&chunk) {
                    body.push_str(&event.data);
                    body.push('\n');
                    messages.extend(messages_of_json(&event.data));
                }
                if response_for(&messages, id).is_some() {
                    break;
                }
            }
        }
        Ok(Answer {
            status,
            session,
            body,
            messages,
        })
    }

    /// Ends the session on a server that gave one (best effort, local calls only).
    pub async fn close(self) {
        if let (Some(client), Some(session)) = (&self.client, &self.session) {
            let mut req = client.delete(&self.url).header(SESSION_HEADER, session);
            if let Some(b) = &self.bearer {
                req = req.bearer_auth(b);
            }
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), req.send()).await;
        }
    }
}

/// Whether an answer says the server wants `initialize` first.
fn demands_session(answer: &Answer) -> bool {
    if answer.status == 400 {
        return true;
    }
    answer.messages.iter().any(|m| {
        m.get("error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .is_some_and(|text| {
                let text = text.to_ascii_lowercase();
                text.contains("session") || text.contains("not initialized")
            })
    })
}
