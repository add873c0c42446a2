//! The legacy HTTP+SSE transport from inside a pod, where only `sh` and `curl` are at hand:
//! one `sh -c` script holds the GET stream open in the background (`curl -N`), reads the
//! `endpoint` event from its file, POSTs `initialize`, `notifications/initialized` and the
//! request there, waits for the response on the stream and prints the whole stream. Each
//! request is a session of its own.

use super::{initialize_params, messages_of_json, notification, request, response_for};
use crate::verify::sse::Parser;
use crate::verify::{Exec, ProbeError, curl, http};
use mtm_provider::resource::{ExecFrom, McpCall};
use serde_json::Value;

/// How long the script waits for each event, in tenths of a second.
const WAIT_TENTHS: u32 = 300;

pub(super) struct LegacyExec<'a> {
    exec: &'a dyn Exec,
    from: &'a ExecFrom,
    url: String,
    bearer: Option<String>,
}

impl<'a> LegacyExec<'a> {
    pub fn new(call: &McpCall, exec: &'a dyn Exec, from: &'a ExecFrom) -> Result<Self, ProbeError> {
        reqwest::Url::parse(&call.url)
            .map_err(|e| ProbeError::Spec(format!("{} is not a URL: {e}", call.url)))?;
        Ok(LegacyExec {
            exec,
            from,
            url: call.url.clone(),
            bearer: call.bearer.clone(),
        })
    }

    pub async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, ProbeError> {
        let script = self.script(method, params);
        let line = vec!["sh".to_string(), "-c".to_string(), script];
        let out = http::run(self.exec, self.from, line).await?;
        let messages: Vec<Value> = Parser::parse_all(&out.stdout)
            .iter()
            .filter(|e| e.name == "message")
            .flat_map(|e| messages_of_json(&e.data))
            .collect();
        // An error answering initialize ends the script early: report it as it is.
        if let Some(Err(e)) = response_for(&messages, 1) {
            return Err(e);
        }
        if out.code != 0 {
            return Err(curl::script_failed(&self.url, &out));
        }
        response_for(&messages, 2).unwrap_or_else(|| {
            Err(ProbeError::Protocol(format!(
                "the SSE stream of {} held no response to {method}",
                self.url
            )))
        })
    }

    fn script(&self, method: &str, params: Option<Value>) -> String {
        let q = curl::shell_quote;
        let auth = match &self.bearer {
            Some(b) => format!(" -H {}", q(&format!("Authorization: Bearer {b}"))),
            None => String::new(),
        };
        let (origin, dir) = origin_and_dir(&self.url);
        let init = request(1, "initialize", Some(initialize_params()));
        let note = notification("notifications/initialized");
        let req = request(2, method, params);
        format!(
            r#"f=$(mktemp) || exit 1
curl -sSfN -H 'Accept: text/event-stream'{auth} {url} >"$f" 2>"$f.err" &
p=$!
trap 'kill $p 2>/dev/null; rm -f "$f" "$f.err"' EXIT
wait_for() {{
  i=0
  while ! grep -Eq "$1" "$f"; do
    if [ -s "$f.err" ] || ! kill -0 $p 2>/dev/null; then
      kill $p 2>/dev/null; wait $p; c=$?; cat "$f"; cat "$f.err" >&2; exit $c
    fi
    i=$((i+1)); if [ $i -ge {WAIT_TENTHS} ]; then cat "$f"; echo "no $2 on the stream" >&2; exit 28; fi
    sleep 0.1
  done
}}
wait_for '^event: ?endpoint' 'endpoint event'
ep=$(sed -n '/^event: *endpoint/{{n;s/^data: *//p;q;}}' "$f" | tr -d '\r')
case "$ep" in http://*|https://*) u=$ep ;; /*) u={origin}$ep ;; *) u={dir}$ep ;; esac
post() {{
  s=$(curl -sS -o /dev/null -w '%{{http_code}}' -X POST "$u" -H 'Content-Type: application/json'{auth} -d "$1") || exit $?
  case "$s" in 2??) ;; *) cat "$f"; echo "POST $u answered HTTP $s" >&2; exit 22 ;; esac
}}
post {init}
wait_for '"id": ?1[,}}]' 'response to initialize'
post {note}
post {req}
wait_for '"id": ?2[,}}]' 'response to {method_word}'
cat "$f"
"#,
            url = q(&self.url),
            origin = q(&origin),
            dir = q(&dir),
            init = q(&init),
            note = q(&note),
            req = q(&req),
            method_word = method.replace(['\'', '"', '\\', '$', '`'], ""),
        )
    }
}

/// `http://host:port` and the URL up to its last `/`, to resolve the endpoint against.
fn origin_and_dir(url: &str) -> (String, String) {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let origin = u.origin().ascii_serialization();
            let path = u.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            (origin.clone(), format!("{origin}{dir}"))
        }
        Err(_) => (url.to_string(), url.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_against_origin_and_dir() {
        assert_eq!(
            origin_and_dir("http://catalog-mcp.ai-tools:3001/sse"),
            (
                "http://catalog-mcp.ai-tools:3001".to_string(),
                "http://catalog-mcp.ai-tools:3001/".to_string()
            )
        );
    }
}
