//! `mtm rollback` of the whole workshop back to its lab 3 revision on the local clusters:
//! the steps run through the scheduler (the log shows independent resources worked on at
//! once), Ctrl-C stops it with state consistent, and running it again completes it.

use crate::support::{bin, need_testbed, repo};
use crate::workshop::{WORKSHOP, clean_workshop, workshop};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The addresses of the log's `working on` and `done` lines, in order.
fn steps(log: &str) -> Vec<(bool, String)> {
    log.lines()
        .filter_map(|l| {
            let started = l.contains("working on");
            if !started && !l.contains(" done") {
                return None;
            }
            let address = l.split("address=").nth(1)?.split_whitespace().next()?;
            Some((started, address.to_string()))
        })
        .collect()
}

/// Runs `mtm -v rollback --to 1` and sends it SIGINT once its first step is done; its
/// exit code and stderr.
fn interrupted_rollback(state: &std::path::Path) -> (i32, String) {
    let mut child = Command::new(bin())
        .args([
            "--state",
            state.to_str().unwrap(),
            "-v",
            "rollback",
            "--to",
            "1",
        ])
        .arg("--auto-approve")
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtm");
    let mut log = String::new();
    let mut sent = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if !sent && line.contains(" done") && line.contains("address=") {
            let pid = child.id().to_string();
            assert!(
                Command::new("kill")
                    .args(["-INT", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            sent = true;
        }
        log.push_str(&line);
        log.push('\n');
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    assert!(sent, "no step finished:\n{log}");
    (code, log)
}

#[test]
fn rollback_of_the_workshop_to_lab3_is_parallel_cancellable_and_resumable() {
    need_testbed();
    let _one = WORKSHOP.lock().unwrap_or_else(|e| e.into_inner());
    clean_workshop();
    let state = tempfile::tempdir().unwrap();
    workshop(
        state.path(),
        &["apply", "--target", "lab3", "--auto-approve"],
    )
    .ok();
    workshop(state.path(), &["apply", "--auto-approve"]).ok();

    let (code, log) = interrupted_rollback(state.path());
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("interrupted:"), "{log}");
    let history = workshop(state.path(), &["--output", "json", "state", "history"]);
    let history: serde_json::Value = serde_json::from_str(&history.ok().stdout).unwrap();
    let last = history["revisions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["result"]["state"], "interrupted", "{last}");
    let listed = workshop(state.path(), &["--output", "json", "state", "list"]);
    assert!(
        !listed.ok().stdout.contains("\"pending\""),
        "no intent is left"
    );

    let again = workshop(
        state.path(),
        &["-v", "rollback", "--to", "1", "--auto-approve"],
    );
    again.ok().stdout_has("rolled back");
    let seen = steps(&again.stderr);
    let first_done = seen
        .iter()
        .position(|(started, _)| !started)
        .expect("a step");
    assert!(
        first_done >= 2,
        "independent steps overlap: {first_done} started before the first was done\n{}",
        again.stderr
    );
    let plan = workshop(
        state.path(),
        &["plan", "--target", "lab3", "--detailed-exitcode"],
    );
    assert_eq!(
        plan.code, 0,
        "the clusters match labs 1-3:\n{}",
        plan.stdout
    );
    workshop(state.path(), &["destroy", "--auto-approve"]).ok();
}
