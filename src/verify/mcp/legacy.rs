//! MCP's legacy HTTP+SSE transport, as a client (server-everything's `sse` mode, the servers
//! behind the gateway): GET the stream, wait for its `endpoint` event, POST every message
//! there, and read each response on the stream. Always initializes first, as every client
//! of this transport does. Local calls only.

use super::{initialize_params, messages_of_json, notification, request, response_for};
use crate::verify::sse::{Event, Parser};
use crate::verify::{ProbeError, excerpt, http};
use mtm_provider::resource::McpCall;
use serde_json::Value;
use std::collections::VecDeque;

pub(super) struct Legacy {
    client: reqwest::Client,
    url: String,
    bearer: Option<String>,
    stream: reqwest::Response,
    parser: Parser,
    pending: VecDeque<Event>,
    endpoint: String,
    next_id: u64,
}

impl Legacy {
    pub async fn open(call: &McpCall) -> Result<Legacy, ProbeError> {
        let client = http::client()?;
        let mut req = client
            .get(&call.url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(b) = &call.bearer {
            req = req.bearer_auth(b);
        }
        let stream = req
            .send()
            .await
            .map_err(|e| ProbeError::reqwest(&call.url, &e))?;
        let status = stream.status().as_u16();
        if !(200..300).contains(&status) {
            let body = stream.text().await.unwrap_or_default();
            return Err(ProbeError::HttpStatus {
                url: call.url.clone(),
                status,
                body: excerpt(&body),
            });
        }
        let mut session = Legacy {
            client,
            url: call.url.clone(),
            bearer: call.bearer.clone(),
            stream,
            parser: Parser::default(),
            pending: VecDeque::new(),
            endpoint: String::new(),
            next_id: 1,
        };
        let endpoint = loop {
            let event = session.next_event("the endpoint event").await?;
            if event.name == "endpoint" {
                break event.data;
            }
        };
        let base = reqwest::Url::parse(&call.url)
            .map_err(|e| ProbeError::Spec(format!("{} is not a URL: {e}", call.url)))?;
        session.endpoint = base
            .join(endpoint.trim())
            .map_err(|e| {
                ProbeError::Protocol(format!(
                    "the endpoint event names no URL ({endpoint:?}): {e}"
                ))
            })?
            .to_string();
        session
            .request("initialize", Some(initialize_params()))
            .await?;
        session
            .post(&notification("notifications/initialized"))
            .await?;
        Ok(session)
    }

    async fn next_event(&mut self, waiting_for: &str) -> Result<Event, ProbeError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            let chunk = self
                .stream
                .chunk()
                .await
                .map_err(|e| ProbeError::reqwest(&self.url, &e))?;
            let Some(chunk) = chunk else {
                return Err(ProbeError::Protocol(format!(
                    "the SSE stream of {} ended before {waiting_for}",
                    self.url
                )));
            };
            self.pending.extend(self.parser.push(&chunk));
        }
    }

    async fn post(&self, msg: &str) -> Result<(), ProbeError> {
        let mut req = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        let resp = req
            .body(msg.to_string())
            .send()
            .await
            .map_err(|e| ProbeError::reqwest(&self.endpoint, &e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = resp.text().await.unwrap_or_default();
            // The server may have put a JSON-RPC error in the POST's own answer.
            if let Some(Err(e)) = messages_of_json(&body)
                .first()
                .and_then(|m| response_for(std::slice::from_ref(m), 0))
            {
                return Err(e);
            }
            return Err(ProbeError::HttpStatus {
                url: self.endpoint.clone(),
                status,
                body: excerpt(&body),
            });
        }
        Ok(())
    }

    pub async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, ProbeError> {
        let id = self.next_id;
        self.next_id += 1;
        self.post(&request(id, method, params)).await?;
        let waiting_for = format!("the response to {method}");
        loop {
            let event = self.next_event(&waiting_for).await?;
            if event.name != "message" {
                continue;
            }
            if let Some(outcome) = response_for(&messages_of_json(&event.data), id) {
                return outcome;
            }
        }
    }
}
