//! Tests of the local testbed (`tests/testbed/`): the two real control planes `east-ag` and
//! `west-ag` with kwok as their kubelet, the standup it installs, and its stand-ins.
//!
//! They drive `kubectl` and `helm` from `PATH` against the `KUBECONFIG` that
//! `eval "$(tests/testbed/testbed env)"` exports, and they fail, never skip, when that
//! environment is missing. Each test works in namespaces of its own, so they run in
//! parallel; only the last one starts a testbed, a disposable second instance with its own
//! directory and ports, and never touches the shared one. They know nothing of the engine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, io::Write, thread};

const CLUSTERS: [&str; 2] = ["east-ag", "west-ag"];
const WAIT: &str = "--timeout=180s";
const HOW_TO_RUN: &str = "run the tests with the README's test command (tests/run), or by hand: \
     tests/testbed/testbed up && eval \"$(tests/testbed/testbed env)\" && cargo test --test it testbed";

/// Checks once per test that the testbed's environment is there, and panics with what to
/// do when it is not.
fn testbed_env() {
    let kubeconfig = env::var("KUBECONFIG").unwrap_or_default();
    assert!(
        !kubeconfig.is_empty() && Path::new(&kubeconfig).is_file(),
        "KUBECONFIG is not set to the testbed's kubeconfig (got {kubeconfig:?}); {HOW_TO_RUN}"
    );
    for var in [
        "MTM_TESTBED_DIR",
        "AG_CHART",
        "AG_CHART_VERSION",
        "AGENTGATEWAY_LICENSE_KEY",
    ] {
        assert!(
            env::var(var).is_ok_and(|v| !v.is_empty()),
            "{var} is not set; {HOW_TO_RUN}"
        );
    }
    for (tool, arg) in [("kubectl", "version"), ("helm", "version")] {
        let found = Command::new(tool).arg(arg).arg("--client").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "{tool} is not on PATH or does not run; {HOW_TO_RUN}"
        );
    }
}

/// A name no other test, and no earlier run, uses: lowercase, short enough for a label.
fn unique(what: &str) -> String {
    crate::support::unique("tb", what)
}

fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command with optional stdin and returns its output, whatever its exit code.
fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HOW_TO_RUN}", describe(cmd)));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for command")
}

/// Runs a command that must succeed and returns its trimmed stdout.
fn ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n{}{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn kubectl_cmd(cluster: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--context").arg(cluster).args(args);
    cmd
}

fn helm_cmd(cluster: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("helm");
    cmd.arg("--kube-context").arg(cluster).args(args);
    cmd
}

/// kubectl on one cluster, which must succeed; its trimmed stdout.
fn kubectl(cluster: &str, args: &[&str]) -> String {
    ok(&mut kubectl_cmd(cluster, args), None)
}

/// kubectl on one cluster with `stdin`, which must succeed; its trimmed stdout.
fn kubectl_stdin(cluster: &str, stdin: &str, args: &[&str]) -> String {
    ok(&mut kubectl_cmd(cluster, args), Some(stdin))
}

/// helm on one cluster, with optional stdin, which must succeed; its trimmed stdout.
fn helm(cluster: &str, stdin: Option<&str>, args: &[&str]) -> String {
    ok(&mut helm_cmd(cluster, args), stdin)
}

/// Polls `check` every half second until it returns true; panics naming `what` after `limit`.
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(500));
    }
}

/// A namespace of one test on one cluster, deleted without waiting when the test ends.
struct Namespace {
    cluster: &'static str,
    name: String,
}

impl Namespace {
    fn new(cluster: &'static str, what: &str) -> Self {
        let ns = Self::named(cluster, what);
        kubectl(cluster, &["create", "namespace", &ns.name]);
        ns
    }

    /// A unique name to be created by someone else (helm --create-namespace).
    fn named(cluster: &'static str, what: &str) -> Self {
        Namespace {
            cluster,
            name: unique(what),
        }
    }

    /// kubectl in this namespace, which must succeed.
    fn kubectl(&self, args: &[&str]) -> String {
        kubectl(self.cluster, &[&["-n", self.name.as_str()], args].concat())
    }

    /// kubectl in this namespace, whatever its outcome.
    fn try_kubectl(&self, args: &[&str]) -> Output {
        run(
            &mut kubectl_cmd(self.cluster, &[&["-n", self.name.as_str()], args].concat()),
            None,
        )
    }

    /// Applies a Deployment of two replicas and waits until it is Available.
    fn deploy(&self, name: &str) {
        let manifest = format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{ name: {name}, namespace: {ns} }}
spec:
  replicas: 2
  selector: {{ matchLabels: {{ app: {name} }} }}
  template:
    metadata: {{ labels: {{ app: {name} }} }}
    spec:
      containers:
      - {{ name: app, image: registry.invalid/testbed-app:1 }}
",
            ns = self.name
        );
        kubectl_stdin(self.cluster, &manifest, &["apply", "-f", "-"]);
        self.kubectl(&[
            "wait",
            "--for=condition=Available",
            &format!("deployment/{name}"),
            WAIT,
        ]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let args = [
            "delete",
            "namespace",
            &self.name,
            "--wait=false",
            "--ignore-not-found",
        ];
        let _ = run(&mut kubectl_cmd(self.cluster, &args), None);
    }
}

#[test]
fn deployment_becomes_available_on_each_cluster() {
    testbed_env();
    for cluster in CLUSTERS {
        let ns = Namespace::new(cluster, "deploy");
        ns.deploy("web");
        let ready = ns.kubectl(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]);
        assert_eq!(
            ready, "2",
            "{cluster}: both replicas of {}/web should be ready",
            ns.name
        );
    }
}

#[test]
fn namespace_deletion_completes() {
    testbed_env();
    for cluster in CLUSTERS {
        let ns = Namespace::new(cluster, "delete");
        ns.deploy("doomed");
        ns.kubectl(&["create", "configmap", "doomed", "--from-literal=a=b"]);
        kubectl(
            cluster,
            &["delete", "namespace", &ns.name, "--wait=true", WAIT],
        );
        let gone = run(
            &mut kubectl_cmd(cluster, &["get", "namespace", &ns.name]),
            None,
        );
        let stderr = String::from_utf8_lossy(&gone.stderr);
        assert!(
            !gone.status.success() && stderr.contains("NotFound"),
            "{cluster}: namespace {} should be gone once its deletion finished: {stderr}",
            ns.name
        );
    }
}

#[test]
fn service_account_token_is_issued() {
    testbed_env();
    for cluster in CLUSTERS {
        let ns = Namespace::new(cluster, "token");
        // The controller-manager creates the default ServiceAccount of a new namespace.
        let what = format!("{cluster}: ServiceAccount {}/default", ns.name);
        eventually(&what, Duration::from_secs(60), || {
            ns.try_kubectl(&["get", "serviceaccount", "default"])
                .status
                .success()
        });
        let token = ns.kubectl(&["create", "token", "default", "--duration=10m"]);
        assert_eq!(
            token.split('.').count(),
            3,
            "{cluster}: not a JWT: {token:?}"
        );
        let review = format!(
            "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec: {{ token: \"{token}\" }}\n"
        );
        let jsonpath = "jsonpath={.status.authenticated} {.status.user.username}";
        let user = kubectl_stdin(cluster, &review, &["create", "-f", "-", "-o", jsonpath]);
        assert_eq!(
            user,
            format!("true system:serviceaccount:{}:default", ns.name),
            "{cluster}: token review"
        );
    }
}

#[test]
fn standup_is_installed() {
    testbed_env();
    for cluster in CLUSTERS {
        for crd in [
            "gateways.gateway.networking.k8s.io",
            "httproutes.gateway.networking.k8s.io",
            "agentgatewaybackends.agentgateway.dev",
            "agentgatewaypolicies.agentgateway.dev",
            "enterpriseagentgatewayparameters.enterpriseagentgateway.solo.io",
            "enterpriseagentgatewaypolicies.enterpriseagentgateway.solo.io",
        ] {
            kubectl(
                cluster,
                &[
                    "wait",
                    "--for=condition=Established",
                    &format!("crd/{crd}"),
                    "--timeout=5s",
                ],
            );
        }
        let classes = kubectl(cluster, &["get", "gatewayclasses", "-o", "name"]);
        for class in [
            "enterprise-agentgateway",
            "enterprise-agentgateway-waypoint",
        ] {
            let name = format!("gatewayclass.gateway.networking.k8s.io/{class}");
            assert!(
                classes.lines().any(|l| l == name),
                "{cluster}: no GatewayClass {class} in {classes}"
            );
        }
    }
    // The standup release exists on east-ag only.
    let release = [
        "-n",
        "agentgateway-system",
        "status",
        "enterprise-agentgateway",
    ];
    let status = helm("east-ag", None, &release);
    assert!(status.contains("STATUS: deployed"), "{status}");
    let west = run(&mut helm_cmd("west-ag", &release), None);
    assert!(
        !west.status.success(),
        "west-ag should not have the standup release"
    );
}

#[test]
fn standin_chart_installs_and_upgrades_with_helm_on_both_clusters() {
    testbed_env();
    let chart = env::var("AG_CHART").unwrap();
    let key = env::var("AGENTGATEWAY_LICENSE_KEY").unwrap();
    let token_exchange = "tokenExchange:
  enabled: true
  issuer: \"enterprise-agentgateway.agentgateway-system.svc.cluster.local:7777\"
  tokenExpiration: 24h
  subjectValidator: { validatorType: remote, remoteConfig: { url: \"http://mock-idp.test/.well-known/jwks.json\" } }
  actorValidator: { validatorType: k8s }
  apiValidator: { validatorType: k8s }
";
    let release = "ag-standin";
    for cluster in CLUSTERS {
        let ns = Namespace::named(cluster, "chart");
        let install = [
            "upgrade",
            "--install",
            release,
            &chart,
            "-n",
            &ns.name,
            "--create-namespace",
            "--wait",
            "--timeout=180s",
        ];

        let refused = run(&mut helm_cmd(cluster, &install), None);
        assert!(
            !refused.status.success(),
            "{cluster}: the stand-in chart must refuse to install without a licence key"
        );

        let license = format!("licensing.licenseKey={key}");
        helm(
            cluster,
            None,
            &[&install[..], &["--set-string", &license]].concat(),
        );
        let has_7777 = || {
            let ports = ns.kubectl(&[
                "get",
                "service",
                release,
                "-o",
                "jsonpath={.spec.ports[*].port}",
            ]);
            ports.split(' ').any(|p| p == "7777")
        };
        assert!(
            !has_7777(),
            "{cluster}: port 7777 open before token exchange is enabled"
        );

        // Lab 6's upgrade: values on stdin, the licence key kept by --reuse-values.
        helm(
            cluster,
            Some(token_exchange),
            &[&install[..], &["--reuse-values", "-f", "-"]].concat(),
        );
        assert!(
            has_7777(),
            "{cluster}: no port 7777 on the Service once token exchange is enabled"
        );
        let settings = ns.kubectl(&[
            "get",
            "configmap",
            &format!("{release}-standin-settings"),
            "-o",
            "yaml",
        ]);
        assert!(
            settings.contains("tokenExchange.enabled: \"true\""),
            "{cluster}: {settings}"
        );
        assert!(
            settings.contains("validatorType: k8s"),
            "{cluster}: {settings}"
        );
        assert!(
            !settings.contains(&key),
            "{cluster}: the licence key leaked into a ConfigMap"
        );
        let values = helm(
            cluster,
            None,
            &["-n", &ns.name, "get", "values", release, "-o", "json"],
        );
        assert!(
            values.contains(&key),
            "{cluster}: --reuse-values lost the licence key: {values}"
        );
        ns.kubectl(&[
            "wait",
            "--for=condition=Available",
            &format!("deployment/{release}"),
            WAIT,
        ]);
        helm(
            cluster,
            None,
            &["-n", &ns.name, "uninstall", release, "--wait"],
        );
    }
}

#[test]
fn waypoint_standin_gives_a_waypoint_gateway_a_ready_pod() {
    testbed_env();
    for cluster in CLUSTERS {
        let ns = Namespace::new(cluster, "waypoint");
        let gateways = format!(
            "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{ name: wp, namespace: {ns}, labels: {{ istio.io/waypoint-for: service }} }}
spec:
  gatewayClassName: enterprise-agentgateway-waypoint
  listeners: [{{ name: mesh, protocol: HTTP, port: 15088 }}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{ name: plain, namespace: {ns} }}
spec:
  gatewayClassName: enterprise-agentgateway
  listeners: [{{ name: http, protocol: HTTP, port: 8080 }}]
",
            ns = ns.name
        );
        kubectl_stdin(cluster, &gateways, &["apply", "-f", "-"]);
        let selector = |gateway: &str| format!("gateway.networking.k8s.io/gateway-name={gateway}");
        let pods =
            |gateway: &str| ns.kubectl(&["get", "pods", "-o", "name", "-l", &selector(gateway)]);
        let limit = Duration::from_secs(120);
        eventually(
            &format!("{cluster}: a pod for waypoint Gateway {}/wp", ns.name),
            limit,
            || !pods("wp").is_empty(),
        );
        ns.kubectl(&[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            &selector("wp"),
            WAIT,
        ]);
        assert_eq!(
            pods("plain"),
            "",
            "{cluster}: a Gateway of the non-waypoint class got a pod"
        );

        ns.kubectl(&["delete", "gateway", "wp"]);
        eventually(
            &format!("{cluster}: the pod of deleted Gateway {}/wp to go", ns.name),
            limit,
            || pods("wp").is_empty(),
        );
    }
}

/// A disposable testbed instance: own directory and ports, brought down when dropped.
pub(crate) struct Instance {
    pub(crate) dir: PathBuf,
    pub(crate) port_base: u16,
    /// Whether `up` installs the standup (CRDs, GatewayClasses, the helm release), as the
    /// shared instance has it: for a second instance a plan is applied to.
    pub(crate) standup: bool,
}

impl Instance {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/testbed")
    }

    /// A new instance (not started yet) at `port_base`, in a fresh temporary directory.
    pub(crate) fn at(port_base: u16) -> Instance {
        Instance {
            dir: env::temp_dir().join(unique("instance")),
            port_base,
            standup: false,
        }
    }

    pub(crate) fn run(&self, verb: &str) -> Output {
        run(
            Command::new(Self::script())
                .arg(verb)
                .env("MTM_TESTBED_DIR", &self.dir)
                .env("MTM_TESTBED_PORT_BASE", self.port_base.to_string())
                // Unless asked, processes and ports are what this instance is for.
                .env("MTM_TESTBED_STANDUP", if self.standup { "1" } else { "0" }),
            None,
        )
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = self.run("down");
        }
    }
}

fn pids_of(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for cluster in CLUSTERS {
        for entry in fs::read_dir(dir.join(cluster))
            .expect("cluster directory")
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "pid") {
                let text = fs::read_to_string(entry.path()).expect("pid file");
                pids.push(text.trim().parse().expect("pid"));
            }
        }
    }
    pids
}

fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// The TCP ports in LISTEN state, each with the socket inode, from /proc/net/tcp{,6}.
fn listening() -> Vec<(u16, String)> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = fs::read_to_string(table).unwrap_or_default();
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" {
                let port = cols[1]
                    .rsplit(':')
                    .next()
                    .and_then(|h| u16::from_str_radix(h, 16).ok());
                if let Some(port) = port {
                    found.push((port, cols[9].to_string()));
                }
            }
        }
    }
    found
}

/// The ports the given processes listen on, found through their sockets' inodes.
fn ports_of(pids: &[u32]) -> BTreeSet<u16> {
    let mut inodes = BTreeSet::new();
    for pid in pids {
        for fd in fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = fs::read_link(fd.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    listening()
        .into_iter()
        .filter(|(_, inode)| inodes.contains(inode))
        .map(|(port, _)| port)
        .collect()
}

#[test]
fn down_leaves_no_process_and_no_port_behind() {
    testbed_env();
    let instance = Instance {
        dir: env::temp_dir().join(unique("instance")),
        // Far from the default instance's 26400-26599.
        port_base: 27400,
        standup: false,
    };
    let up = instance.run("up");
    assert!(
        up.status.success(),
        "disposable testbed did not come up:\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let status = instance.run("status");
    assert!(
        status.status.success(),
        "status after up:\n{}",
        String::from_utf8_lossy(&status.stdout)
    );

    let pids = pids_of(&instance.dir);
    assert_eq!(pids.len(), 12, "six processes per cluster: {pids:?}");
    assert!(
        pids.iter().all(|&p| alive(p)),
        "every process runs after up"
    );
    let ports = ports_of(&pids);
    assert!(
        ports.len() >= 10,
        "etcd (2), apiserver, controller-manager and scheduler listen per cluster: {ports:?}"
    );

    let down = instance.run("down");
    assert!(
        down.status.success(),
        "down failed:\n{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let running: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(
        running.is_empty(),
        "processes still running after down: {running:?}"
    );
    let open: Vec<u16> = listening()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| ports.contains(p))
        .collect();
    assert!(
        open.is_empty(),
        "ports still listening after down: {open:?}"
    );
    assert!(
        !instance.dir.exists(),
        "down should remove {}",
        instance.dir.display()
    );
    let status = instance.run("status");
    assert!(
        !status.status.success(),
        "status should fail once the instance is down"
    );
}
