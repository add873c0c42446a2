//! The workshop's `curl` command lines, run in a pod through [`Exec`](super::Exec), and the
//! reading of what curl printed. The lines are the workshop's, argument for argument, run
//! without the `sh -c ... | tr | grep` around them; where the workshop reads the status by
//! eye from the body, a `-w` suffix prints it on a last line so that it can be compared.

use super::{ExecOutput, ProbeError};
use mtm_provider::resource::HttpCall;

/// The Accept header of the workshop's MCP calls, spelled as there.
pub(crate) const MCP_ACCEPT: &str = "application/json,text/event-stream";
/// Prints the status on a line of its own after the body.
const STATUS_SUFFIX: &str = "\n%{http_code}";

/// What curl saw of an HTTP exchange.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub status: u16,
    /// Lower-case names; only when asked for (`-i`).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn method_args(call: &HttpCall, out: &mut Vec<String>) {
    if let Some(m) = &call.method
        && !m.eq_ignore_ascii_case("GET")
    {
        out.extend(["-X".to_string(), m.to_ascii_uppercase()]);
    }
}

fn header_args<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut Vec<String>) {
    for (name, value) in headers {
        out.extend(["-H".to_string(), format!("{name}: {value}")]);
    }
}

/// `curl -s -o /dev/null -w "%{http_code}\n" [-X M] [-H ...] [-d BODY] URL`: the workshop's
/// status probe (labs 1, 2 and 6), with `bearer` as an extra Authorization header.
pub(crate) fn status_line(call: &HttpCall, bearer: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\n"]
        .map(String::from)
        .to_vec();
    method_args(call, &mut out);
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let headers = call
        .headers
        .iter()
        .filter(|(n, _)| auth.is_none() || !n.eq_ignore_ascii_case("authorization"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(auth.as_deref().map(|a| ("Authorization", a)));
    header_args(headers, &mut out);
    if let Some(body) = &call.body {
        out.extend(["-d".to_string(), body.clone()]);
    }
    out.push(call.url.clone());
    out
}

/// `curl -sS [-X M] URL [-H ...] [-d BODY] -w "\n%{http_code}"`: an HTTP call whose body
/// matters (`expect.contains`).
pub(crate) fn body_line(call: &HttpCall) -> Vec<String> {
    let mut out: Vec<String> = vec!["curl".into(), "-sS".into()];
    method_args(call, &mut out);
    out.push(call.url.clone());
    header_args(
        call.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        &mut out,
    );
    if let Some(body) = &call.body {
        out.extend(["-d".to_string(), body.clone()]);
    }
    out.extend(["-w".to_string(), STATUS_SUFFIX.to_string()]);
    out
}

/// The workshop's MCP call (labs 3-5): `curl -sS -X POST URL [-H Authorization] -H
/// Content-Type -H Accept -d BODY`, plus the session headers after an initialize, `-i` when
/// the answer's headers are needed, and the status suffix.
pub(crate) fn mcp_line(
    url: &str,
    bearer: Option<&str>,
    session: &[(&str, &str)],
    include_headers: bool,
    body: &str,
) -> Vec<String> {
    let mut out: Vec<String> = ["curl", "-sS", "-X", "POST", url]
        .map(String::from)
        .to_vec();
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let headers = auth
        .as_deref()
        .map(|a| ("Authorization", a))
        .into_iter()
        .chain([("Content-Type", "application/json"), ("Accept", MCP_ACCEPT)])
        .chain(session.iter().copied());
    header_args(headers, &mut out);
    if include_headers {
        out.push("-i".to_string());
    }
    out.extend(["-d".to_string(), body.to_string()]);
    out.extend(["-w".to_string(), STATUS_SUFFIX.to_string()]);
    out
}

/// The workshop's token exchange (lab 6): `curl -sS -X POST URL -d grant_type=... -d
/// subject_token=... -d subject_token_type=...`, plus the status suffix.
pub(crate) fn sts_line(url: &str, subject_token: &str, subject_token_type: &str) -> Vec<String> {
    let mut out: Vec<String> = ["curl", "-sS", "-X", "POST", url]
        .map(String::from)
        .to_vec();
    for (k, v) in [
        ("grant_type", super::token::GRANT_TYPE),
        ("subject_token", subject_token),
        ("subject_token_type", subject_token_type),
    ] {
        out.extend(["-d".to_string(), format!("{k}={v}")]);
    }
    out.extend(["-w".to_string(), STATUS_SUFFIX.to_string()]);
    out
}

/// Quotes a word for `sh`.
pub(crate) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A failed `sh -c` script of curl calls: its exit code and what it printed on stderr.
pub(crate) fn script_failed(url: &str, out: &ExecOutput) -> ProbeError {
    failed(url, out)
}

/// curl's exit codes that mean the server was not reached, in words.
fn exit_meaning(code: i32) -> Option<&'static str> {
    Some(match code {
        6 => "could not resolve the host",
        7 => "failed to connect",
        22 => "the server answered an HTTP error",
        28 => "timed out",
        35 => "TLS handshake failed",
        52 => "the server sent nothing",
        56 => "the connection was reset",
        127 => "curl is not in the pod",
        _ => return None,
    })
}

fn failed(url: &str, out: &ExecOutput) -> ProbeError {
    let mut cause = match exit_meaning(out.code) {
        Some(m) => format!("curl exit {} ({m})", out.code),
        None => format!("curl exit {}", out.code),
    };
    let stderr = out.stderr.trim();
    if !stderr.is_empty() {
        cause.push_str(": ");
        cause.push_str(&super::excerpt(stderr));
    }
    ProbeError::Unreachable {
        url: url.to_string(),
        cause,
    }
}

fn parse_status(url: &str, text: &str, out: &ExecOutput) -> Result<u16, ProbeError> {
    match text.trim().parse::<u16>() {
        Ok(0) => Err(failed(url, out)),
        Ok(s) => Ok(s),
        Err(_) => Err(ProbeError::Protocol(format!(
            "curl printed no status code for {url}: {:?}",
            super::excerpt(&out.stdout)
        ))),
    }
}

/// The output of [`status_line`].
pub(crate) fn read_status(url: &str, out: &ExecOutput) -> Result<u16, ProbeError> {
    if out.code != 0 {
        return Err(failed(url, out));
    }
    parse_status(url, &out.stdout, out)
}

/// The output of a line ending in the status suffix, with headers when `-i` was given.
pub(crate) fn read_answer(
    url: &str,
    out: &ExecOutput,
    with_headers: bool,
) -> Result<Answer, ProbeError> {
    if out.code != 0 {
        return Err(failed(url, out));
    }
    let (rest, status) = out.stdout.rsplit_once('\n').unwrap_or(("", &out.stdout));
    let status = parse_status(url, status, out)?;
    let mut answer = Answer {
        status,
        ..Answer::default()
    };
    if !with_headers {
        answer.body = rest.to_string();
        return Ok(answer);
    }
    // Interim answers (100 Continue) come first, each with its own blank line.
    let mut rest = rest;
    loop {
        let (head, body) = rest
            .split_once("\r\n\r\n")
            .or_else(|| rest.split_once("\n\n"))
            .unwrap_or((rest, ""));
        let interim = head.lines().next().is_some_and(|l| l.contains(" 100"));
        if interim && !body.is_empty() {
            rest = body;
            continue;
        }
        answer.headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        answer.body = body.to_string();
        return Ok(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &str, code: i32) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            stderr: String::new(),
            code,
        }
    }

    #[test]
    fn reads_status_and_connection_failures() {
        assert_eq!(read_status("u", &out("403\n", 0)).unwrap(), 403);
        let e = read_status("http://x/", &out("000\n", 7)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot reach http://x/: curl exit 7 (failed to connect)"
        );
    }

    #[test]
    fn reads_headers_and_body() {
        let text = "HTTP/1.1 200 OK\r\nMcp-Session-Id: abc\r\nContent-Type: application/json\r\n\r\n{\"x\":1}\n200";
        let a = read_answer("u", &out(text, 0), true).unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.header("mcp-session-id"), Some("abc"));
        assert_eq!(a.body, "{\"x\":1}");
        let a = read_answer("u", &out("event: message\ndata: {}\n\n\n202", 0), false).unwrap();
        assert_eq!(a.status, 202);
        assert_eq!(a.body, "event: message\ndata: {}\n\n");
    }
}
