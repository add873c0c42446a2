//! `--fleet FILE`: one plan for many instances in one process. Offline: a bad fleet file
//! (a bad key, a missing name, a variable the plan lacks) is refused at its line, an
//! unknown `--instances` name lists the known ones, `--shard 3/2` is refused, and shards
//! 1/2 and 2/2 of a fleet name every instance exactly once.
//! On the local clusters: the workshop applied to two testbed instances (the shared one
//! and a second started here, four clusters in all), drift clean, a `kubectl scale` on
//! the second found and named, and destroy leaving nothing. The per-instance licence key
//! never shows in the output or the state.

use crate::support::{Fixture, Run, mtm, mtm_live, need_testbed, repo};
use crate::testbed::Instance;
use crate::workshop::{WORKSHOP, clean_workshop, wait_gone};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fleet of `names` over the mini plan, each with a state directory of its own.
fn mini_fleet(names: &[&str]) -> Fixture {
    let mut text = String::from("vars: { CLUSTER2: west-ag }\ninstances:\n");
    for n in names {
        text.push_str(&format!(
            "  - name: {n}\n    vars: {{ CLUSTER1: {n}-east }}\n"
        ));
    }
    Fixture::mini().file("fleet.yaml", &text)
}

/// The instance names of a summary table, in the order printed.
fn table_names(run: &Run) -> Vec<String> {
    let table = run
        .stdout
        .split("INSTANCE ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary table:\n{}", run.stdout));
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("Fleet "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_bad_key_or_a_missing_name_is_refused_at_its_line() {
    let f = Fixture::mini()
        .file(
            "bad-key.yaml",
            "instances:\n  - name: alice\n    kubeconfg: alice.yaml\n",
        )
        .file(
            "no-name.yaml",
            "instances:\n  - name: alice\n  - vars: { CLUSTER1: x }\n",
        );
    f.run(&["drift", "--fleet", "bad-key.yaml"])
        .fails("bad-key.yaml:3:5: invalid YAML: unknown field `kubeconfg`");
    f.run(&["plan", "--fleet", "no-name.yaml"])
        .fails("no-name.yaml:3:5: invalid YAML: missing field `name`");
    f.run(&["drift", "--fleet", "absent.yaml"])
        .fails("cannot read the fleet file absent.yaml");
    // A variable the plan does not declare: at the fleet file's line, not as a `--var`.
    let f = f.file(
        "typo.yaml",
        "instances:\n  - name: alice\n    vars: { CLUSTR1: x }\n",
    );
    f.run(&["drift", "--fleet", "typo.yaml"]).fails(
        "typo.yaml:3:22: the plan has no variable `CLUSTR1`\n  help: variables of the plan: CLUSTER1, CLUSTER2, TOKEN",
    );
}

#[test]
fn an_unknown_instance_is_an_error_listing_the_known_ones() {
    let f = mini_fleet(&["alice", "bob"]);
    let run = f.run(&["drift", "--fleet", "fleet.yaml", "--instances", "bob,zed"]);
    run.fails("--instances: fleet.yaml has no instance zed\n  help: its instances: alice, bob");
    assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
}

#[test]
fn shard_3_of_2_and_fleet_options_without_a_fleet_are_refused() {
    let f = mini_fleet(&["alice"]);
    f.run(&["drift", "--fleet", "fleet.yaml", "--shard", "3/2"])
        .fails("`3/2`: there is no shard 3 of 2");
    f.run(&["drift", "--fleet", "fleet.yaml", "--shard", "half"])
        .fails("`half` is not K/N");
    f.run(&["drift", "--shard", "1/2"]).fails("--fleet <FILE>");
    f.run(&["apply", "--fleet", "fleet.yaml"])
        .fails("--fleet applies without asking each instance: pass --auto-approve");
}

#[test]
fn shards_1_and_2_of_2_run_every_instance_exactly_once() {
    let names = ["erin", "alice", "dave", "bob", "carol"];
    let f = mini_fleet(&names);
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        // No state yet: each instance's drift is an error of its own ("nothing to
        // compare"), found without a cluster; the table names the instances run.
        let run = f.run(&["drift", "--fleet", "fleet.yaml", "--shard", shard]);
        assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout
                .contains("holds no applied revision of plan mini"),
            "each instance's own error is shown:\n{}",
            run.stdout
        );
        seen.extend(table_names(&run));
    }
    assert_eq!(seen.len(), names.len(), "{seen:?}");
    let once: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
    assert_eq!(once, names.into_iter().collect(), "{seen:?}");
    // Sorted alice bob carol dave erin: the first shard takes alice, carol and erin.
    let first = f.run(&["drift", "--fleet", "fleet.yaml", "--shard", "1/2"]);
    assert_eq!(table_names(&first), ["erin", "alice", "carol"]);
    // More shards than instances: an empty share is nothing to do, not an error.
    let none = f.run(&[
        "drift",
        "--fleet",
        "fleet.yaml",
        "--instances",
        "bob",
        "--shard",
        "2/2",
    ]);
    none.ok()
        .stdout_has("no instance of fleet.yaml in this share");
}

/// The second testbed instance of this test: its own directory and ports (far from the
/// shared instance's 26400 and the disposable ones' 27400/27800), with the standup.
fn second_instance() -> Instance {
    let home = std::env::var("HOME").expect("HOME");
    let instance = Instance {
        dir: Path::new(&home).join(".local/state/mtm-testbed-fleet-it"),
        port_base: 29400,
        standup: true,
    };
    // One left running by a run that was killed may hold its objects: start afresh.
    let _ = instance.run("down");
    let up = instance.run("up");
    assert!(
        up.status.success(),
        "the second testbed instance did not come up:\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    instance
}

fn kubectl_at(kubeconfig: &Path, context: &str, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--context")
        .arg(context)
        .args(args)
        .output()
        .expect("kubectl on PATH: run the tests with tests/run")
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn fleet_run(fleet: &Path, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--fleet", fleet.to_str().unwrap()]);
    mtm_live(&repo(), &all)
}

#[test]
fn the_workshop_on_two_testbed_instances_applied_drifted_and_destroyed_by_one_fleet() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let second = second_instance();
    let second_kubeconfig = second.dir.join("kubeconfig");
    let first_kubeconfig = PathBuf::from(std::env::var("KUBECONFIG").unwrap());
    let licence = std::env::var("AGENTGATEWAY_LICENSE_KEY").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.yaml");
    // Both instances name their contexts east-ag and west-ag: the kubeconfig tells them
    // apart. The second's licence key is its own variable, sensitive in the plan.
    std::fs::write(
        &fleet,
        format!(
            "instances:\n  - name: first\n    kubeconfig: {}\n  - name: second\n    kubeconfig: {}\n    vars: {{ AGENTGATEWAY_LICENSE_KEY: \"{licence}\" }}\n",
            first_kubeconfig.display(),
            second_kubeconfig.display()
        ),
    )
    .unwrap();

    let apply = fleet_run(&fleet, &["apply", "--auto-approve"]);
    apply
        .ok()
        .stdout_has("Fleet apply: 2 instances: 2 ok; exit 0.");
    assert_eq!(table_names(&apply), ["first", "second"]);

    fleet_run(&fleet, &["drift"])
        .ok()
        .stdout_has("Fleet drift: 2 instances: 2 ok; exit 0.");

    let scaled = kubectl_at(
        &second_kubeconfig,
        "east-ag",
        &[
            "-n",
            "ai-tools",
            "scale",
            "deployment/inventory-mcp",
            "--replicas=3",
        ],
    );
    assert!(
        scaled.status.success(),
        "{}",
        String::from_utf8_lossy(&scaled.stderr)
    );
    let drift = fleet_run(&fleet, &["drift"]);
    assert_eq!(drift.code, 2, "{}\n{}", drift.stdout, drift.stderr);
    let row = |name: &str| {
        drift
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", drift.stdout))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(row("first"), "ok", "{}", drift.stdout);
    assert_eq!(row("second"), "drift", "{}", drift.stdout);
    drift.stdout_has("--- second (drift): what it printed ---\n~ lab1/east/apps/Deployment/ai-tools/inventory-mcp spec.replicas: expected 1, live 3");
    assert!(!drift.stdout.contains("--- first"), "{}", drift.stdout);

    let json = fleet_run(&fleet, &["drift", "--output", "json"]);
    assert_eq!(json.code, 2, "{}", json.stderr);
    let v = crate::schemas::conforms("fleet.schema.json", &json.stdout);
    assert_eq!(v["instances"][1]["result"], "drift", "{}", json.stdout);
    assert_eq!(v["instances"][1]["found"], "1 drifted", "{}", json.stdout);

    let destroy = fleet_run(&fleet, &["destroy", "--auto-approve"]);
    destroy
        .ok()
        .stdout_has("Fleet destroy: 2 instances: 2 ok; exit 0.");
    for kubeconfig in [&first_kubeconfig, &second_kubeconfig] {
        for (context, namespace) in [
            ("east-ag", "ai-tools"),
            ("east-ag", "ai-agents"),
            ("east-ag", "tokenexchange-test"),
            ("west-ag", "ai-tools"),
        ] {
            gone(kubeconfig, context, namespace);
        }
    }
    for name in ["first", "second"] {
        let state = dir.path().join("state").join(name);
        let list = mtm(
            &repo(),
            &[
                "--state",
                state.to_str().unwrap(),
                "--output",
                "json",
                "state",
                "list",
            ],
        );
        let records: serde_json::Value = serde_json::from_str(&list.ok().stdout).unwrap();
        assert_eq!(
            records["resources"],
            serde_json::json!([]),
            "{name}: {}",
            list.stdout
        );
    }

    for run in [&apply, &drift, &json, &destroy] {
        assert!(
            !run.stdout.contains(&licence) && !run.stderr.contains(&licence),
            "the licence key was printed by mtm {}",
            run.args
        );
    }
    for file in files(&dir.path().join("state")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes
                .windows(licence.len())
                .any(|w| w == licence.as_bytes()),
            "the licence key is in {}",
            file.display()
        );
    }
    drop(second);
    clean_workshop();
}

/// Waits until `namespace` is gone on the instance `kubeconfig` names.
fn gone(kubeconfig: &Path, context: &str, namespace: &str) {
    if kubeconfig == Path::new(&std::env::var("KUBECONFIG").unwrap()) {
        return wait_gone(context, namespace);
    }
    for _ in 0..120 {
        let out = kubectl_at(kubeconfig, context, &["get", "namespace", namespace]);
        if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("namespace {namespace} on the second instance's {context} is still there after 60s");
}
