//! `--fleet FILE` on `plan`, `apply`, `drift`, `verify`, `destroy` and `rehearse`: the
//! command run for every instance of a fleet file at once, in this process, then one
//! summary table; the exit code is the worst instance's.
//!
//! Each instance runs the command's own code with a command line of its own (its state,
//! kubeconfig and variables) and a renderer that captures what it prints, so nothing
//! interleaves; an instance that did not succeed has that text shown after the table.
//! Each takes its own state lock, builds its own runtime and fails alone. The fleet file,
//! the selection and the summary are `crate::fleet`'s; this module only runs them.

use super::{Cli, Command};
use crate::fleet::{FleetError, Instance, InstanceResult, Shard, Summary};
use crate::render::{Capture, Renderer, Versioned};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The fleet options of the commands that take them.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Fleet options")]
#[group(id = "fleet-options")]
pub struct Args {
    /// Run the command for every instance of this fleet file, concurrently (see README,
    /// "A fleet")
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// Only these instances of the fleet (names, comma-separated)
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        requires = "fleet"
    )]
    pub instances: Vec<String>,
    /// How many instances run at once
    #[arg(long, value_name = "N", default_value_t = 4,
        value_parser = super::args::at_least_one, requires = "fleet")]
    pub fleet_parallelism: usize,
    /// Only the K-th of N shares of the instances (by sorted name): for a CI matrix
    #[arg(long, value_name = "K/N", requires = "fleet")]
    pub shard: Option<Shard>,
}

/// The fleet options of `command`, when it takes them and `--fleet` was given.
pub fn requested(command: &Command) -> Option<&Args> {
    let args = match command {
        Command::Plan(a) => &a.fleet,
        Command::Apply(a) => &a.fleet,
        Command::Destroy(a) => &a.fleet,
        Command::Drift(a) => &a.fleet,
        Command::Verify(a) => &a.fleet,
        Command::Rehearse(a) => &a.fleet,
        _ => return None,
    };
    args.fleet.is_some().then_some(args)
}

/// What `--fleet` cannot be combined with: a question on the terminal (each instance
/// would ask), and one file written by every instance.
pub fn conflict(command: &Command) -> Option<&'static str> {
    requested(command)?;
    match command {
        Command::Apply(a) if !a.auto_approve => {
            Some("--fleet applies without asking each instance: pass --auto-approve")
        }
        Command::Destroy(a) if !a.auto_approve => {
            Some("--fleet destroys without asking each instance: pass --auto-approve")
        }
        Command::Apply(a) if a.file.is_some() => {
            Some("a saved plan is one instance's: apply it without --fleet")
        }
        Command::Plan(a) if a.out.is_some() => {
            Some("--out saves one instance's plan: plan it without --fleet")
        }
        Command::Rehearse(a) if a.local => {
            Some("--local starts the one local testbed: rehearse it without --fleet")
        }
        Command::Rehearse(a) if a.report.is_some() => {
            Some("--report writes one instance's rehearsal: drop it with --fleet")
        }
        _ => None,
    }
}

/// The command's name, for the summary.
fn verb(command: &Command) -> &'static str {
    match command {
        Command::Plan(_) => "plan",
        Command::Apply(_) => "apply",
        Command::Destroy(_) => "destroy",
        Command::Drift(_) => "drift",
        Command::Verify(_) => "verify",
        _ => "rehearse",
    }
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let Some(path) = &args.fleet else {
        return 1;
    };
    let fleet = match crate::fleet::load(path) {
        Ok(f) => f,
        Err(FleetError::Invalid(d)) => {
            renderer.diagnostics(&d);
            return 1;
        }
        Err(e) => {
            renderer.error(&super::state::chain(&e));
            return 1;
        }
    };
    if let Some(declared) = super::plan_dir(cli)
        .ok()
        .and_then(|dir| crate::plan::declared_variables(&dir))
    {
        let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
        let undeclared = fleet.undeclared(&declared);
        if !undeclared.is_empty() {
            renderer.diagnostics(&undeclared);
            return 1;
        }
    }
    let chosen = match crate::fleet::pick(&fleet, &args.instances, args.shard) {
        Ok(c) => c,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    let verb = verb(&cli.command);
    if chosen.is_empty() && !renderer.json_mode() {
        // A CI matrix may have more runners than instances: theirs is an empty share
        // (as data: a summary of no instance).
        renderer.print(&format!(
            "Fleet {verb}: no instance of {} in this share; nothing to do.\n",
            fleet.file
        ));
        return 0;
    }
    let results = run_all(cli, &chosen, args.fleet_parallelism, renderer);
    let summary = Summary::new(verb, results);
    show(&summary, renderer);
    summary.exit_code
}

/// Prints the summary: the table and what each instance that failed or drifted printed,
/// or the JSON document.
fn show(summary: &Summary, renderer: &Renderer) {
    if renderer.json_mode() {
        renderer.json(&Versioned::new(summary));
        return;
    }
    renderer.print(&summary.table());
    // A plan's changes are the whole plan: the table's count says enough.
    let shown = |i: &&InstanceResult| i.code == 1 || (i.code == 2 && summary.command == "drift");
    for i in summary.instances.iter().filter(shown) {
        renderer.print(&format!(
            "\n--- {} ({}): what it printed ---\n{}",
            i.instance, i.result, i.detail
        ));
    }
}

/// Runs the command for every chosen instance, `parallelism` at a time; their results
/// in the order given. After Ctrl-C (or SIGTERM, SIGHUP) no instance starts: those left
/// are "not started"; those running stop as the command does alone.
fn run_all(
    cli: &Cli,
    chosen: &[Instance],
    parallelism: usize,
    renderer: &Renderer,
) -> Vec<InstanceResult> {
    let watcher = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cancel = super::run::cancel(&watcher, renderer).ok();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<InstanceResult>>> = Mutex::new(vec![None; chosen.len()]);
    std::thread::scope(|scope| {
        for _ in 0..parallelism.min(chosen.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(instance) = chosen.get(i) else {
                        break;
                    };
                    let stopped = cancel.as_ref().is_none_or(|c| *c.borrow());
                    let result = if stopped {
                        not_started(instance)
                    } else {
                        run_one(cli, instance, renderer)
                    };
                    if !renderer.json_mode() {
                        renderer.print(&format!(
                            "{}: {} ({:.1}s)\n",
                            result.instance, result.result, result.seconds
                        ));
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .zip(chosen)
        .map(|(r, i)| r.unwrap_or_else(|| not_started(i)))
        .collect()
}

fn not_started(instance: &Instance) -> InstanceResult {
    InstanceResult {
        instance: instance.name.clone(),
        code: 1,
        result: "not started".into(),
        found: None,
        seconds: 0.0,
        detail: "interrupted before this instance started\n".into(),
    }
}

/// The command line of one instance: its state, kubeconfig (else the fleet's) and
/// variables (after `--var`, so they win).
fn instance_cli(cli: &Cli, instance: &Instance) -> Cli {
    let mut vars = cli.vars.clone();
    vars.extend(instance.vars.iter().cloned());
    Cli {
        state: instance.state.clone(),
        kubeconfig: instance
            .kubeconfig
            .clone()
            .or_else(|| cli.kubeconfig.clone()),
        vars,
        no_color: true,
        ..cli.clone()
    }
}

/// Runs the command for one instance, its text captured; a panic is its error alone.
fn run_one(cli: &Cli, instance: &Instance, renderer: &Renderer) -> InstanceResult {
    let started = Instant::now();
    let icli = instance_cli(cli, instance);
    let capture = Arc::new(Capture::default());
    let mut quiet = renderer.captured(capture.clone());
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| super::dispatch(&icli, &mut quiet)));
    let code = ran.unwrap_or_else(|_| {
        quiet.error("mtm failed unexpectedly for this instance (a panic; see stderr)");
        1
    });
    super::state::forget_generated(&icli);
    let result = match code {
        0 => "ok",
        2 if matches!(cli.command, Command::Drift(_)) => "drift",
        2 => "changes",
        _ => "error",
    };
    InstanceResult {
        instance: instance.name.clone(),
        code,
        result: result.into(),
        found: capture.found(),
        seconds: started.elapsed().as_secs_f64(),
        detail: if code == 0 {
            String::new()
        } else {
            capture.text()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn instance(kubeconfig: Option<&str>) -> Instance {
        Instance {
            name: "alice".into(),
            vars: vec!["CLUSTER1=alice-east".into()],
            kubeconfig: kubeconfig.map(PathBuf::from),
            state: PathBuf::from("kube://alice-east/mtm-state"),
            line: 2,
            var_at: Default::default(),
        }
    }

    #[test]
    fn an_instance_has_its_state_and_kubeconfig_and_its_vars_win() {
        let cli = Cli::try_parse_from([
            "mtm",
            "--var",
            "CLUSTER1=everyone",
            "--kubeconfig",
            "all.yaml",
            "drift",
            "--fleet",
            "fleet.yaml",
        ])
        .unwrap();
        assert!(requested(&cli.command).is_some());
        let own = instance_cli(&cli, &instance(Some("alice.yaml")));
        assert_eq!(own.state, PathBuf::from("kube://alice-east/mtm-state"));
        assert_eq!(own.kubeconfig, Some(PathBuf::from("alice.yaml")));
        // A later --var wins: the instance's value comes after the command line's.
        assert_eq!(own.vars, ["CLUSTER1=everyone", "CLUSTER1=alice-east"]);
        let shared = instance_cli(&cli, &instance(None));
        assert_eq!(shared.kubeconfig, Some(PathBuf::from("all.yaml")));
    }

    #[test]
    fn questions_and_one_file_for_all_are_refused_with_a_fleet() {
        let conflict_of = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            conflict(&cli.command)
        };
        assert!(conflict_of(&["mtm", "apply", "--fleet", "f.yaml"]).is_some());
        assert!(conflict_of(&["mtm", "destroy", "--fleet", "f.yaml"]).is_some());
        assert!(conflict_of(&["mtm", "plan", "--fleet", "f.yaml", "--out", "p"]).is_some());
        assert!(conflict_of(&["mtm", "rehearse", "--fleet", "f.yaml", "--local"]).is_some());
        assert!(conflict_of(&["mtm", "apply", "--fleet", "f.yaml", "--auto-approve"]).is_none());
        assert!(conflict_of(&["mtm", "apply"]).is_none());
    }
}
