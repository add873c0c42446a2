//! Exec into pods of the local clusters, which the testbed's kwok maps to commands on this
//! host (a stand-in for a container: tests/testbed/README.md): `kubectl exec` into a
//! Deployment on both clusters, a failing command's exit code, and `mtm verify` running a
//! check's curl line through mtm's exec transport (`src/engine/exec.rs`: kube-rs's exec
//! client, with no kubectl on PATH).
//!
//! They need the environment `tests/testbed/testbed env` prints (kubectl on PATH, the
//! testbed's KUBECONFIG) and fail without it. Each test works in namespaces of its own.

use crate::support::{Fixture, mtm_live, need_testbed};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const CLUSTERS: [&str; 2] = ["east-ag", "west-ag"];

/// A lowercase name no other test or earlier run uses.
fn unique(what: &str) -> String {
    crate::support::unique("ex", what)
}

/// kubectl on `cluster` with optional stdin; its output, whatever the exit code.
fn kubectl(cluster: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("kubectl")
        .arg("--context")
        .arg(cluster)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl on PATH: run the tests with tests/run");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(text.as_bytes())
            .expect("write kubectl stdin");
    }
    child.wait_with_output().expect("wait for kubectl")
}

/// kubectl that must succeed; its stdout.
fn kubectl_ok(cluster: &str, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(cluster, args, stdin);
    assert!(
        out.status.success(),
        "kubectl --context {cluster} {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The testbed's environment, and a kubelet endpoint on each cluster's Node (kwok serves
/// it since the testbed maps exec to local commands; an instance started before has none).
fn need_exec() {
    need_testbed();
    for cluster in CLUSTERS {
        let ports = kubectl_ok(
            cluster,
            &[
                "get",
                "nodes",
                "-o",
                "jsonpath={.items[*].status.daemonEndpoints.kubeletEndpoint.Port}",
            ],
            None,
        );
        assert!(
            !ports.trim().is_empty() && ports.split_whitespace().all(|p| p != "0"),
            "{cluster}: a Node without a kubelet endpoint ({ports:?}): the testbed was started \
             before kwok served exec; run tests/testbed/testbed down, then up"
        );
    }
}

/// Deletes its namespaces on drop, without waiting, so a failed test leaves nothing behind
/// that the next run would trip over.
struct Namespaces(Vec<(String, String)>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for (cluster, ns) in &self.0 {
            let _ = kubectl(
                cluster,
                &[
                    "delete",
                    "namespace",
                    ns,
                    "--ignore-not-found",
                    "--wait=false",
                ],
                None,
            );
        }
    }
}

/// A namespace and a one-replica Deployment `name` in it.
fn deployment(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: {name}, namespace: {ns} }}\n\
         spec:\n  replicas: 1\n  selector: {{ matchLabels: {{ app: {name} }} }}\n  template:\n    \
         metadata: {{ labels: {{ app: {name} }} }}\n    spec:\n      \
         containers: [{{ name: main, image: registry.example/standin:1 }}]\n"
    )
}

#[test]
fn kubectl_exec_into_a_deployment_runs_the_command_and_returns_its_exit_code() {
    need_exec();
    let ns = unique("kx");
    let name = "shell";
    let _cleanup = Namespaces(
        CLUSTERS
            .iter()
            .map(|c| (c.to_string(), ns.clone()))
            .collect(),
    );
    for cluster in CLUSTERS {
        kubectl_ok(cluster, &["apply", "-f", "-"], Some(&deployment(&ns, name)));
    }
    for cluster in CLUSTERS {
        kubectl_ok(
            cluster,
            &[
                "-n",
                &ns,
                "wait",
                "--for=condition=Available",
                &format!("deployment/{name}"),
                "--timeout=180s",
            ],
            None,
        );
    }
    let target = format!("deploy/{name}");
    for cluster in CLUSTERS {
        // The command's output comes back, and the exec went through this cluster's kwok.
        let out = kubectl_ok(
            cluster,
            &["-n", &ns, "exec", &target, "--", "echo", "hello"],
            None,
        );
        assert_eq!(out, "hello\n", "exec on {cluster}");
        let out = kubectl_ok(
            cluster,
            &[
                "-n",
                &ns,
                "exec",
                &target,
                "-c",
                "main",
                "--",
                "sh",
                "-c",
                "echo $MTM_TESTBED_CLUSTER",
            ],
            None,
        );
        assert_eq!(out.trim(), cluster, "the kwok that ran the command");

        // stdin (`exec -i`) reaches the command and ends: a script read by `sh -s`.
        let out = kubectl(
            cluster,
            &["-n", &ns, "exec", "-i", &target, "--", "sh", "-s"],
            Some("echo scripted on $MTM_TESTBED_CLUSTER\nexit 4\n"),
        );
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
            (Some(4), format!("scripted on {cluster}").as_str()),
            "sh -s on {cluster}: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        // A failing command: its exit code, as from a kubelet, and its stderr.
        let out = kubectl(
            cluster,
            &[
                "-n",
                &ns,
                "exec",
                &target,
                "--",
                "sh",
                "-c",
                "echo failing >&2; exit 3",
            ],
            None,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "exit 3 on {cluster}: {stderr}");
        assert!(
            stderr.contains("failing") && stderr.contains("command terminated with exit code 3"),
            "stderr of the failing command on {cluster}: {stderr}"
        );
    }
}

/// An HTTP listener on 127.0.0.1 that answers every request with `status` and records the
/// User-Agent of each, to tell curl run through exec from mtm's own client.
struct Listener {
    port: u16,
    agents: Arc<Mutex<Vec<String>>>,
}

fn listen(status: u16) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local addr").port();
    let agents = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&agents);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(agent) = answer(stream, status) {
                seen.lock().expect("agents lock").push(agent);
            }
        }
    });
    Listener { port, agents }
}

/// Reads one request's head and answers it; the User-Agent it named, if any.
fn answer(stream: TcpStream, status: u16) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut agent = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("user-agent")
        {
            agent = value.trim().to_string();
        }
    }
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    Some(agent)
}

/// A plan with one stage: on each cluster, a namespace and a Deployment `app`, a wait for
/// its pod, and a check from that Deployment calling `url` and expecting `expect`.
fn plan_fixture(ns: &str, url: &str, expect: u16) -> Fixture {
    let mut stage = String::from("title: Exec\nsteps:\n");
    for (key, cluster) in [("east", CLUSTERS[0]), ("west", CLUSTERS[1])] {
        stage.push_str(&format!(
            "  - name: app-{key}\n    title: App on {cluster}\n    cluster: {key}\n    \
             manifests: [manifests/app.yaml]\n    \
             waits:\n      - {{ name: ready, kind: Pod, namespace: {ns}, selector: app=app, \
             condition: Ready, timeout: 180s }}\n    \
             checks:\n      - name: reach-{key}\n        \
             from: {{ namespace: {ns}, workload: deploy/app }}\n        \
             http: {{ url: \"{url}\" }}\n        expect: {{ status: {expect} }}\n"
        ));
    }
    Fixture::empty()
        .file(
            "plan.yaml",
            "plan: exec\nclusters:\n  east: { context: east-ag }\n  west: { context: west-ag }\nstages: [exec]\n",
        )
        .file("stages/exec.yaml", &stage)
        .file("manifests/app.yaml", &deployment(ns, "app"))
}

/// `mtm verify ARGS` with no kubectl (nor anything else) on PATH: exec goes through
/// kube-rs's own client.
fn verify_without_kubectl(f: &Fixture, args: &[&str]) -> crate::support::Run {
    let empty = tempfile::tempdir().expect("temp dir");
    let mut all = vec!["--plan", ".", "verify"];
    all.extend_from_slice(args);
    let path = empty.path().to_str().expect("utf-8 temp dir").to_string();
    crate::support::mtm_live_env(f.path(), &all, &[("PATH", &path)])
}

#[test]
fn mtm_verify_runs_a_checks_curl_through_exec_into_the_workload() {
    need_exec();
    let ns = unique("mv");
    let _cleanup = Namespaces(
        CLUSTERS
            .iter()
            .map(|c| (c.to_string(), ns.clone()))
            .collect(),
    );
    let ok = listen(200);
    let url = format!("http://127.0.0.1:{}/", ok.port);
    let f = plan_fixture(&ns, &url, 200);

    let run = mtm_live(f.path(), &["--plan", ".", "apply", "--auto-approve"]);
    run.ok();
    let run = verify_without_kubectl(&f, &["--capability", "exec"]);
    run.ok()
        .stdout_has("2 of 2 checks ran: 2 passed, 0 failed; 0 not applicable");
    // Both calls came from curl run through the exec API, not from mtm's own client.
    let agents = ok.agents.lock().expect("agents lock").clone();
    assert_eq!(agents.len(), 2, "requests seen: {agents:?}\n{}", run.stdout);
    assert!(
        agents.iter().all(|a| a.starts_with("curl/")),
        "not curl in the pod: {agents:?}"
    );

    // The same checks expecting 403 from the listener that answers 200: exit 1, each
    // naming what it expected and what it saw.
    let f = f
        .edit("stages/exec.yaml", "status: 200", "status: 403")
        .edit("stages/exec.yaml", "status: 200", "status: 403");
    let run = verify_without_kubectl(&f, &["--capability", "exec"]);
    assert_eq!(
        run.code, 1,
        "verify should fail:\n{}\n{}",
        run.stdout, run.stderr
    );
    for key in ["east", "west"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!("reach-{key}")))
            .unwrap_or_else(|| panic!("no line for reach-{key}:\n{}", run.stdout));
        assert!(
            line.contains("FAILED") && line.contains("expected HTTP 403, saw HTTP 200"),
            "reach-{key} should fail naming 403 expected and 200 seen: {line}"
        );
    }
    run.stdout_has("0 passed, 2 failed");

    // Without saying that pods run commands here, kwok's pods make the checks not
    // applicable: never passed, never failed.
    let run = verify_without_kubectl(&f, &[]);
    run.ok()
        .stdout_has("pods on cluster east (kwok) run no containers")
        .stdout_has("0 of 2 checks ran: 0 passed, 0 failed; 2 not applicable");
    let strict = verify_without_kubectl(&f, &["--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);

    // curl in the pod failing (nothing listens on the port): its exit code comes back
    // through exec and is reported as the cause.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        l.local_addr().expect("local addr").port()
    };
    let f = f.edit(
        "stages/exec.yaml",
        &url,
        &format!("http://127.0.0.1:{closed}/"),
    );
    let run = verify_without_kubectl(&f, &["--capability", "exec"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("reach-east"))
        .unwrap_or_else(|| panic!("no line for reach-east:\n{}", run.stdout));
    assert!(
        line.contains("FAILED") && line.contains("curl exit 7"),
        "reach-east should fail with curl's exit code: {line}"
    );

    let run = mtm_live(f.path(), &["--plan", ".", "destroy", "--auto-approve"]);
    run.ok();
}
