//! The check runner of `mtm verify` against real servers: `@modelcontextprotocol/server-everything`
//! (pinned in tests/fixtures/mcp, installed by `npm ci --prefix tests/fixtures/mcp`) in its
//! `sse` and `streamableHttp` modes, plain HTTP listeners and a tiny STS started here, and
//! an exec transport that runs the workshop's curl lines on this host and records them.

use super::support::repo;
use futures::future::BoxFuture;
use mtm::verify::{CheckContext, CheckResult, Exec, ExecError, ExecOutput, Status, run_check};
use mtm_provider::resource::{CheckSpec, ExecFrom, Expect, HttpCall, McpCall, TokenExchangeCall};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The pinned server-everything (2026.1.26) lists these tools to a client that initialized
/// without capabilities, in this order.
const EVERYTHING_TOOLS: [&str; 13] = [
    "echo",
    "get-annotated-message",
    "get-env",
    "get-resource-links",
    "get-resource-reference",
    "get-structured-content",
    "get-sum",
    "get-tiny-image",
    "gzip-file-as-resource",
    "toggle-simulated-logging",
    "toggle-subscriber-updates",
    "trigger-long-running-operation",
    "simulate-research-query",
];

// ---------------------------------------------------------------- helpers

/// A server-everything process on a free port, killed on drop.
struct McpServer {
    child: Child,
    port: u16,
}

impl McpServer {
    fn start(mode: &str) -> McpServer {
        let entry: PathBuf = repo().join(
            "tests/fixtures/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
        );
        assert!(
            entry.is_file(),
            "{} is missing: install the pinned MCP server with `npm ci --prefix tests/fixtures/mcp` \
             (tests/run does)",
            entry.display()
        );
        let port = free_port();
        let child = Command::new("node")
            .arg(&entry)
            .arg(mode)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start node ({e}): the verify tests need node and npm on PATH")
            });
        let server = McpServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server-everything ({mode}) did not listen on port {port} within 30s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A request as the tiny servers below see it.
struct Request {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// An HTTP/1.1 server on a free port, one thread, one request per connection.
fn serve(handler: fn(&Request) -> (u16, String)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, handler);
        }
    });
    port
}

fn answer(stream: TcpStream, handler: fn(&Request) -> (u16, String)) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.insert(n.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let request = Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, body) = handler(&request);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// inventory-mcp's stand-in: 200 on /, 403 on /denied.
fn inventory(req: &Request) -> (u16, String) {
    match req.path.as_str() {
        "/" => (200, "ok".into()),
        _ => (403, "RBAC: access denied".into()),
    }
}

const ALICE: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.alice-signature";
const OBO: &str = "obo-token-from-the-sts";

/// The STS and httpbin-up of lab 6 in one: /oauth2/token exchanges alice's token for the
/// OBO token; /headers is 200 with the OBO token and 401 with anything else.
fn sts(req: &Request) -> (u16, String) {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/oauth2/token") => {
            let form: BTreeMap<String, String> = req
                .body
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), percent_decode(v)))
                .collect();
            let ok = form.get("grant_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:grant-type:token-exchange")
                && form.get("subject_token_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:token-type:jwt")
                && form.get("subject_token").map(String::as_str) == Some(ALICE);
            if ok {
                (
                    200,
                    format!(
                        r#"{{"access_token":"{OBO}","issued_token_type":"urn:ietf:params:oauth:token-type:jwt","token_type":"Bearer"}}"#
                    ),
                )
            } else {
                (
                    400,
                    format!(r#"{{"error":"invalid_request","echo":"{}"}}"#, req.body),
                )
            }
        }
        ("GET", "/headers") => {
            if req.headers.get("authorization").map(String::as_str)
                == Some(&format!("Bearer {OBO}"))
            {
                (200, r#"{"headers":{}}"#.into())
            } else {
                (401, r#"{"error":"wrong issuer"}"#.into())
            }
        }
        _ => (404, "{}".into()),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn check(name: &str) -> CheckSpec {
    CheckSpec {
        name: name.into(),
        title: None,
        requires: vec![],
        from: None,
        http: None,
        mcp: None,
        token_exchange: None,
        command: None,
        expect: Expect::default(),
    }
}

fn mcp_check(url: String, method: &str, expect: Expect) -> CheckSpec {
    CheckSpec {
        mcp: Some(McpCall {
            url,
            method: method.into(),
            bearer: None,
        }),
        expect,
        ..check("mcp")
    }
}

fn tools(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

async fn run(check: &CheckSpec) -> CheckResult {
    run_check(check, &CheckContext::default()).await
}

fn assert_status(result: &CheckResult, status: Status) {
    assert_eq!(result.status, status, "{result:#?}");
}

// ---------------------------------------------------------------- MCP

#[tokio::test]
async fn sse_tools_list_counts_exactly_the_pinned_servers_tools() {
    let server = McpServer::start("sse");
    let expect = Expect {
        tools: Some(tools(&EVERYTHING_TOOLS)),
        tool_count: Some(13),
        ..Expect::default()
    };
    let result = run(&mcp_check(server.url("/sse"), "tools/list", expect)).await;
    assert_status(&result, Status::Passed);
    assert_eq!(
        result.seen,
        format!("13 tools: [{}]", EVERYTHING_TOOLS.join(", "))
    );
    assert!(result.seen.contains("echo") && result.seen.contains("get-sum"));
}

#[tokio::test]
async fn streamable_http_tools_list_initializes_a_session_and_counts_the_tools() {
    let server = McpServer::start("streamableHttp");
    let expect = Expect {
        tools: Some(tools(&EVERYTHING_TOOLS)),
        tool_count: Some(13),
        ..Expect::default()
    };
    let result = run(&mcp_check(server.url("/mcp"), "tools/list", expect)).await;
    assert_status(&result, Status::Passed);
    assert!(result.seen.starts_with("13 tools: [echo, "), "{result:#?}");
}

#[tokio::test]
async fn a_tool_count_mismatch_fails_with_expected_and_seen() {
    let server = McpServer::start("sse");
    let expect = Expect {
        tool_count: Some(26),
        tool_prefixes: vec!["catalog_".into(), "orders_".into()],
        ..Expect::default()
    };
    let result = run(&mcp_check(server.url("/sse"), "tools/list", expect)).await;
    assert_status(&result, Status::Failed);
    assert_eq!(
        result.expected,
        "26 tools; every tool named catalog_* or orders_*, each prefix used"
    );
    assert!(result.seen.starts_with("13 tools: [echo, "), "{result:#?}");
    let cause = result.cause.unwrap();
    assert!(
        cause.starts_with("expected 26 tools, saw 13; tools under none of the prefixes: [echo, "),
        "{cause}"
    );
    assert!(
        cause.ends_with("no tool starts with catalog_, orders_"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_json_rpc_error_is_a_failure_naming_the_error() {
    for (mode, path) in [("sse", "/sse"), ("streamableHttp", "/mcp")] {
        let server = McpServer::start(mode);
        let result = run(&mcp_check(
            server.url(path),
            "tools/no-such-method",
            Expect::default(),
        ))
        .await;
        assert_status(&result, Status::Failed);
        assert_eq!(result.seen, "JSON-RPC error -32601", "{mode}: {result:#?}");
        assert_eq!(
            result.cause.as_deref(),
            Some("JSON-RPC error -32601: Method not found"),
            "{mode}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_fails_with_the_cause() {
    let port = free_port(); // bound, then closed: nothing listens there
    for path in ["/sse", "/mcp"] {
        let url = format!("http://127.0.0.1:{port}{path}");
        let result = run(&mcp_check(url.clone(), "tools/list", Expect::default())).await;
        assert_status(&result, Status::Failed);
        assert_eq!(result.seen, "unreachable");
        let cause = result.cause.unwrap();
        assert!(
            cause.starts_with(&format!("cannot reach {url}: ")),
            "{cause}"
        );
        assert!(
            cause.ends_with("tcp connect error: Connection refused (os error 111)"),
            "{cause}"
        );
    }
}

/// A stateless gateway answering plain JSON, in two pages; it refuses `initialize`, so a
/// client that starts a session where none is demanded fails.
fn stateless_gateway(req: &Request) -> (u16, String) {
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
    let id = body["id"].clone();
    match body["method"].as_str() {
        Some("tools/list") if body["params"]["cursor"] == "page2" => (
            200,
            serde_json::json!({"jsonrpc":"2.0","id":id,"result":{"tools":[{"name":"orders_get-sum"}]}})
                .to_string(),
        ),
        Some("tools/list") => (
            200,
            serde_json::json!({"jsonrpc":"2.0","id":id,"result":{"tools":[{"name":"catalog_echo"}],"nextCursor":"page2"}})
                .to_string(),
        ),
        _ => (500, "unexpected".into()),
    }
}

#[tokio::test]
async fn a_stateless_gateway_answering_json_is_asked_without_a_session_and_paged() {
    let port = serve(stateless_gateway);
    let expect = Expect {
        tools: Some(tools(&["orders_get-sum", "catalog_echo"])),
        tool_prefixes: vec!["catalog_".into(), "orders_".into()],
        ..Expect::default()
    };
    let url = format!("http://127.0.0.1:{port}/mcp");
    let result = run(&mcp_check(url, "tools/list", expect)).await;
    assert_status(&result, Status::Passed);
    assert_eq!(result.seen, "2 tools: [catalog_echo, orders_get-sum]");
}

// ---------------------------------------------------------------- HTTP, token exchange, requires

#[tokio::test]
async fn http_status_200_passes_and_403_is_reported() {
    let port = serve(inventory);
    let call = |path: &str| HttpCall {
        url: format!("http://127.0.0.1:{port}{path}"),
        method: None,
        headers: BTreeMap::new(),
        body: None,
    };
    let mut allowed = check("dev-ui-allowed");
    allowed.http = Some(call("/"));
    allowed.expect.status = Some(200);
    let result = run(&allowed).await;
    assert_status(&result, Status::Passed);
    assert_eq!(
        (result.expected.as_str(), result.seen.as_str()),
        ("HTTP 200", "HTTP 200")
    );

    let mut denied = check("rogue-ui-denied");
    denied.http = Some(call("/denied"));
    denied.expect.status = Some(200);
    let result = run(&denied).await;
    assert_status(&result, Status::Failed);
    assert_eq!(result.seen, "HTTP 403");
    assert_eq!(
        result.cause.as_deref(),
        Some("expected HTTP 200, got HTTP 403")
    );
}

#[tokio::test]
async fn where_the_call_starts_from_and_how_long_it_may_take() {
    let port = serve(inventory);
    let mut baseline = check("dev-ui-baseline");
    baseline.from = Some(dev_ui());
    baseline.http = Some(HttpCall {
        url: format!("http://127.0.0.1:{port}/"),
        method: None,
        headers: BTreeMap::new(),
        body: None,
    });
    // From a workload without an exec transport: failed, naming what is missing.
    let result = run(&baseline).await;
    assert_status(&result, Status::Failed);
    assert_eq!(
        result.cause.as_deref(),
        Some(
            "the check runs from deploy/dev-ui in namespace ai-agents, but no exec transport \
             was given (or run it locally)"
        )
    );
    // Local: the same check from this process.
    let local = CheckContext {
        local: true,
        ..CheckContext::default()
    };
    assert_status(&run_check(&baseline, &local).await, Status::Passed);

    // A server that accepts and never answers: the check's timeout ends it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut hung = baseline.clone();
    hung.from = None;
    hung.http.as_mut().unwrap().url = format!("http://{}/", silent.local_addr().unwrap());
    let quick = CheckContext {
        timeout: Duration::from_millis(500),
        ..CheckContext::default()
    };
    let result = run_check(&hung, &quick).await;
    assert_status(&result, Status::Failed);
    assert_eq!(result.seen, "no answer");
    assert_eq!(result.cause.as_deref(), Some("no answer within 0.5s"));

    // Two probes in one check: invalid, never run.
    let mut two = hung.clone();
    two.command = Some(tools(&["true"]));
    let result = run(&two).await;
    assert_status(&result, Status::Failed);
    assert_eq!(result.seen, "not run (invalid check)");
}

fn token_check(port: u16, subject: &str) -> CheckSpec {
    CheckSpec {
        token_exchange: Some(TokenExchangeCall {
            url: format!("http://127.0.0.1:{port}/oauth2/token"),
            subject_token: subject.into(),
            subject_token_type: None,
            then: HttpCall {
                url: format!("http://127.0.0.1:{port}/headers"),
                method: None,
                headers: BTreeMap::new(),
                body: None,
            },
        }),
        expect: Expect {
            status: Some(200),
            ..Expect::default()
        },
        ..check("obo-accepted")
    }
}

#[tokio::test]
async fn token_exchange_then_bearer_call_and_no_token_shown() {
    let port = serve(sts);
    let result = run(&token_check(port, ALICE)).await;
    assert_status(&result, Status::Passed);
    assert_eq!(result.seen, "the STS issued a token; HTTP 200");

    // The user token itself at the upstream: 401.
    let mut direct = check("user-jwt-denied");
    direct.http = Some(HttpCall {
        url: format!("http://127.0.0.1:{port}/headers"),
        method: None,
        headers: [("Authorization".to_string(), format!("Bearer {ALICE}"))].into(),
        body: None,
    });
    direct.expect.status = Some(401);
    assert_status(&run(&direct).await, Status::Passed);
    direct.expect.status = Some(200);
    let result = run(&direct).await;
    assert_status(&result, Status::Failed);
    assert_eq!(
        result.cause.as_deref(),
        Some("expected HTTP 200, got HTTP 401")
    );

    // A token the STS refuses: the failure names the STS answer, with the token masked.
    let result = run(&token_check(port, "bob-not-a-user-token")).await;
    assert_status(&result, Status::Failed);
    assert_eq!(result.seen, "HTTP 400");
    let json = serde_json::to_string(&result).unwrap();
    assert!(!json.contains("bob-not-a-user-token"), "{json}");
    assert!(json.contains("invalid_request"), "{json}");

    // Expecting 401 where the OBO token is accepted: failed, and the OBO token never shown.
    let mut wrong = token_check(port, ALICE);
    wrong.expect.status = Some(401);
    let result = run(&wrong).await;
    assert_status(&result, Status::Failed);
    let json = serde_json::to_string(&result).unwrap();
    assert!(
        !json.contains(OBO) && !json.contains("alice-signature"),
        "{json}"
    );
}

#[tokio::test]
async fn a_check_requiring_istio_is_not_applicable_without_it() {
    let mut ztunnel = check("ztunnel-claims-inventory");
    ztunnel.requires = vec!["istio".into()];
    ztunnel.command = Some(tools(&["sh", "-c", "echo agw-waypoint"]));
    ztunnel.expect.contains = Some("agw-waypoint".into());
    let result = run(&ztunnel).await;
    assert_status(&result, Status::NotApplicable);
    assert_eq!(
        result.cause.as_deref(),
        Some("the cluster lacks istio (the check requires it)")
    );
    let ctx = CheckContext {
        capabilities: ["istio".to_string()].into(),
        ..CheckContext::default()
    };
    assert_status(&run_check(&ztunnel, &ctx).await, Status::Passed);
}

// ---------------------------------------------------------------- exec transport

/// Runs each command on this host (curl talks to the local servers) and records it.
#[derive(Default)]
struct HostExec {
    lines: Mutex<Vec<(String, Vec<String>)>>,
}

impl Exec for HostExec {
    fn exec<'a>(
        &'a self,
        from: &'a ExecFrom,
        command: Vec<String>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>> {
        self.lines.lock().unwrap().push((
            format!("{}/{}", from.namespace, from.workload),
            command.clone(),
        ));
        Box::pin(async move {
            let out = tokio::task::spawn_blocking(move || {
                Command::new(&command[0]).args(&command[1..]).output()
            })
            .await
            .map_err(|e| ExecError(e.to_string()))?
            .map_err(|e| ExecError(format!("cannot run {e}")))?;
            Ok(ExecOutput {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code().unwrap_or(-1),
            })
        })
    }
}

fn dev_ui() -> ExecFrom {
    ExecFrom {
        namespace: "ai-agents".into(),
        workload: "deploy/dev-ui".into(),
        container: None,
    }
}

fn words(line: &[&str]) -> Vec<String> {
    line.iter().map(|w| w.to_string()).collect()
}

#[tokio::test]
async fn exec_runs_the_workshops_curl_lines() {
    let inventory_port = serve(inventory);
    let sts_port = serve(sts);
    let server = McpServer::start("streamableHttp");
    let exec = HostExec::default();
    let ctx = CheckContext {
        exec: Some(&exec),
        ..CheckContext::default()
    };

    // Lab 1: curl -s -o /dev/null -w "%{http_code}\n" http://inventory-mcp.ai-tools/
    let inventory_url = format!("http://127.0.0.1:{inventory_port}/");
    let mut baseline = check("dev-ui-baseline");
    baseline.from = Some(dev_ui());
    baseline.http = Some(HttpCall {
        url: inventory_url.clone(),
        method: None,
        headers: BTreeMap::new(),
        body: None,
    });
    baseline.expect.status = Some(200);
    assert_status(&run_check(&baseline, &ctx).await, Status::Passed);

    // Lab 5: tools/list with alice's bearer (the server wants a session: initialize first).
    let mcp_url = server.url("/mcp");
    let mut alice = mcp_check(
        mcp_url.clone(),
        "tools/list",
        Expect {
            tool_count: Some(13),
            ..Expect::default()
        },
    );
    alice.from = Some(dev_ui());
    alice.mcp.as_mut().unwrap().bearer = Some(ALICE.into());
    let result = run_check(&alice, &ctx).await;
    assert_status(&result, Status::Passed);
    assert!(!serde_json::to_string(&result).unwrap().contains(ALICE));

    // Lab 6: the exchange, then the OBO token at httpbin-up.
    let mut obo = token_check(sts_port, ALICE);
    obo.from = Some(dev_ui());
    assert_status(&run_check(&obo, &ctx).await, Status::Passed);

    // A closed port over exec: curl's exit code names the cause.
    let mut closed = baseline.clone();
    let closed_url = format!("http://127.0.0.1:{}/", free_port());
    closed.http.as_mut().unwrap().url = closed_url.clone();
    let result = run_check(&closed, &ctx).await;
    assert_status(&result, Status::Failed);
    assert_eq!(
        result.cause.as_deref(),
        Some(format!("cannot reach {closed_url}: curl exit 7 (failed to connect)").as_str())
    );

    let lines = exec.lines.lock().unwrap().clone();
    assert!(lines.iter().all(|(w, _)| w == "ai-agents/deploy/dev-ui"));
    let lines: Vec<Vec<String>> = lines.into_iter().map(|(_, l)| l).collect();
    let rpc = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let bearer = format!("Authorization: Bearer {ALICE}");
    let sts_url = format!("http://127.0.0.1:{sts_port}/oauth2/token");
    let subject = format!("subject_token={ALICE}");
    let headers_url = format!("http://127.0.0.1:{sts_port}/headers");
    let obo_header = format!("Authorization: Bearer {OBO}");
    // The workshop's lines, as its `sh -c` runs them (without the pipe to tr/grep and the
    // label of -w); those that read a body end in `-w "\n%{http_code}"` to see the status.
    assert_eq!(
        lines[0],
        words(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
            &inventory_url
        ])
    );
    assert_eq!(
        lines[1],
        words(&[
            "curl",
            "-sS",
            "-X",
            "POST",
            &mcp_url,
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-H",
            "Accept: application/json,text/event-stream",
            "-d",
            rpc,
            "-w",
            "\n%{http_code}",
        ])
    );
    // Then initialize (with -i for the session header), the initialized notification and
    // the retried tools/list, each carrying the session.
    assert!(
        lines[2].contains(&"-i".to_string())
            && lines[2].iter().any(|w| w.contains("\"initialize\""))
    );
    assert!(
        lines[3]
            .iter()
            .any(|w| w.contains("notifications/initialized"))
    );
    assert!(lines[3].iter().any(|w| w.starts_with("Mcp-Session-Id: ")));
    assert!(lines[4].iter().any(|w| w.contains("tools/list")));
    assert!(
        lines[4]
            .iter()
            .any(|w| w.starts_with("MCP-Protocol-Version: "))
    );
    assert_eq!(
        lines[5],
        words(&[
            "curl",
            "-sS",
            "-X",
            "POST",
            &sts_url,
            "-d",
            "grant_type=urn:ietf:params:oauth:grant-type:token-exchange",
            "-d",
            &subject,
            "-d",
            "subject_token_type=urn:ietf:params:oauth:token-type:jwt",
            "-w",
            "\n%{http_code}",
        ])
    );
    assert_eq!(
        lines[6],
        words(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
            "-H",
            &obo_header,
            &headers_url
        ])
    );
    assert_eq!(lines.len(), 8);
}

#[tokio::test]
async fn exec_holds_the_legacy_sse_stream_open_in_a_shell_script() {
    let server = McpServer::start("sse");
    let exec = HostExec::default();
    let ctx = CheckContext {
        exec: Some(&exec),
        ..CheckContext::default()
    };
    let expect = Expect {
        tools: Some(tools(&EVERYTHING_TOOLS)),
        ..Expect::default()
    };
    let mut catalog = mcp_check(server.url("/sse"), "tools/list", expect);
    catalog.from = Some(dev_ui());
    let result = run_check(&catalog, &ctx).await;
    assert_status(&result, Status::Passed);
    assert_eq!(
        result.seen,
        format!("13 tools: [{}]", EVERYTHING_TOOLS.join(", "))
    );
    {
        let lines = exec.lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].1[..2], words(&["sh", "-c"]));
    }

    let mut unknown = mcp_check(
        server.url("/sse"),
        "tools/no-such-method",
        Expect::default(),
    );
    unknown.from = Some(dev_ui());
    let result = run_check(&unknown, &ctx).await;
    assert_eq!(
        result.cause.as_deref(),
        Some("JSON-RPC error -32601: Method not found")
    );

    let closed = format!("http://127.0.0.1:{}/sse", free_port());
    let mut gone = mcp_check(closed.clone(), "tools/list", Expect::default());
    gone.from = Some(dev_ui());
    let result = run_check(&gone, &ctx).await;
    assert_status(&result, Status::Failed);
    let cause = result.cause.unwrap();
    assert!(
        cause.starts_with(&format!(
            "cannot reach {closed}: curl exit 7 (failed to connect): curl: (7) "
        )),
        "{cause}"
    );
}
