//! What `plan`, `apply` and `destroy` share: loading the plan and state, the runtime,
//! the engine, confirmation, and turning outcomes into state writes.

use super::{Cli, load_plan};
use crate::diag::Diagnostics;
use crate::engine::change::Action;
use crate::engine::revision::{Finished, Ledger};
use crate::engine::{Engine, Wiring};
use crate::graph::{self, Selection};
use crate::plan::Plan;
use crate::render::Renderer;
use crate::store::{Backend, Record, StateLock, Store};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};

/// Options every cluster command takes.
#[derive(Clone, Debug, clap::Args)]
pub struct Common {
    /// Stages or resource addresses (globs allowed): these and what they depend on
    #[arg(long = "target", value_name = "STAGE|ADDRESS",
        add = clap_complete::ArgValueCandidates::new(super::completions::targets))]
    pub targets: Vec<String>,
    /// How many resources are worked on at once, across clusters
    #[arg(long, default_value_t = 10, value_parser = super::args::at_least_one)]
    pub parallelism: usize,
}

pub struct Loaded {
    pub plan: Plan,
    pub sel: Selection,
}

pub fn load(cli: &Cli, targets: &[String], renderer: &mut Renderer) -> Result<Loaded, Diagnostics> {
    let plan = load_plan(cli, renderer)?;
    let sel = graph::select(&plan, targets)?;
    Ok(Loaded { plan, sel })
}

/// This process's command line as mtm keeps it: `--var` values masked unless `plan`
/// declares the variable as not sensitive (`cmdline.rs`).
pub fn command_line(plan: Option<&Plan>) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let masking = match plan {
        Some(plan) => crate::cmdline::Masking {
            declared: plan
                .variables
                .vars
                .iter()
                .map(|(name, v)| (name.clone(), v.sensitive))
                .collect(),
            secrets: plan.secrets(),
        },
        None => crate::cmdline::Masking::default(),
    };
    crate::cmdline::masked(&args, &masking)
}

/// The state, locked for this command (waiting up to `--lock-timeout` for a holder).
pub fn open_state(
    cli: &Cli,
    plan: &Plan,
    renderer: &Renderer,
) -> Option<(StateLock, Backend, BTreeMap<String, Record>)> {
    let (lock, store) = match super::state::open_locked(cli, &command_line(Some(plan))) {
        Ok(v) => v,
        Err(e) => {
            renderer.error(&e);
            return None;
        }
    };
    match store.records() {
        Ok(records) => Some((
            lock,
            store,
            records
                .into_iter()
                .map(|r| (r.address.clone(), r))
                .collect(),
        )),
        Err(e) => {
            renderer.error(&super::state::chain(&e));
            None
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The engine for a loaded plan, with generated values from earlier runs.
pub fn engine<'a>(
    cli: &Cli,
    loaded: &'a Loaded,
    common: &Common,
    force_conflicts: bool,
    renderer: &mut Renderer,
) -> Result<Engine<'a>, String> {
    let wiring = Wiring {
        kubeconfig: cli.kubeconfig.clone(),
        request_timeout: Some(cli.request_timeout),
        force_conflicts,
        ..Wiring::default()
    };
    let dir = super::state::engine_dir(cli)?;
    let mut engine = Engine::new(&loaded.plan, &loaded.sel, dir, wiring);
    engine.parallelism = common.parallelism.max(1);
    let known = crate::engine::values::existing(&engine.state_dir, &loaded.plan)
        .map_err(|e| e.to_string())?;
    renderer.add_secrets(crate::engine::values::secrets(&known));
    *engine.gens.lock().expect("gens lock") = known;
    Ok(engine)
}

/// What the revision of this command is called in `store`.
pub fn ledger<'s>(store: &'s dyn Store, plan: &Plan, targets: &[String]) -> Ledger<'s> {
    Ledger {
        store,
        plan: plan.name.clone(),
        command: command_line(Some(plan)),
        targets: targets.to_vec(),
    }
}

/// Asks on the terminal; without one, refuses unless `auto_approve`.
pub fn confirm(question: &str, auto_approve: bool, renderer: &Renderer) -> bool {
    if auto_approve {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        renderer.error("no terminal to confirm on: pass --auto-approve to apply without asking");
        return false;
    }
    // The renderer flushes what it prints.
    renderer.print(&format!("{question} Only 'yes' is accepted: "));
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        true
    } else {
        renderer.error("cancelled: nothing was changed");
        false
    }
}

pub fn counts(actions: impl Iterator<Item = Action>) -> String {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for a in actions {
        *by.entry(a.word()).or_default() += 1;
    }
    by.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One progress event: a line (above the bar on a terminal), and the bar moved on.
pub fn show_progress(
    renderer: &Renderer,
    bar: Option<&crate::render::ProgressBar>,
    p: &crate::engine::apply::Progress,
) {
    use crate::engine::apply::Progress as P;
    let line = crate::render::progress_line(p);
    match bar {
        None => {
            if let Some(line) = line {
                renderer.print(&line);
            }
        }
        Some(bar) => {
            match p {
                P::Started { address } => bar.working_on(renderer, address),
                P::Done { action, .. } if action.changes() => bar.step(),
                P::Failed(_) | P::Skipped { .. } => bar.step(),
                _ => {}
            }
            if let Some(line) = line {
                bar.line(renderer, &line);
            }
        }
    }
}

/// Loads the plan and the targets' selection, then the locked state; on failure the
/// problem is printed and the exit code returned.
pub fn start(
    cli: &Cli,
    targets: &[String],
    renderer: &mut Renderer,
) -> Result<(Loaded, StateLock, Backend, BTreeMap<String, Record>), u8> {
    let loaded = load(cli, targets, renderer).map_err(|d| {
        renderer.diagnostics(&d);
        1u8
    })?;
    let (lock, store, records) = open_state(cli, &loaded.plan, renderer).ok_or(1u8)?;
    Ok((loaded, lock, store, records))
}

/// As `start`, for commands that only read state (`plan`, `drift`): never blocked by a
/// writer; while one runs, what it last committed (`store/read.rs`).
pub fn start_reading(
    cli: &Cli,
    targets: &[String],
    renderer: &mut Renderer,
) -> Result<(Loaded, crate::store::ReadState), u8> {
    let loaded = load(cli, targets, renderer).map_err(|d| {
        renderer.diagnostics(&d);
        1u8
    })?;
    match super::state::open_read(cli, &command_line(Some(&loaded.plan))) {
        Ok(state) => Ok((loaded, state)),
        Err(e) => {
            renderer.error(&e);
            Err(1)
        }
    }
}

/// `start_reading`, then every record; the state is let go before the clusters are asked.
pub fn read_records(
    cli: &Cli,
    targets: &[String],
    renderer: &mut Renderer,
) -> Result<(Loaded, BTreeMap<String, Record>), u8> {
    let (loaded, state) = start_reading(cli, targets, renderer)?;
    let records = records_of(&state, renderer)?;
    Ok((loaded, records))
}

/// Every record of a read state, by address; the problem printed if it cannot be read.
pub fn records_of(
    state: &crate::store::ReadState,
    renderer: &Renderer,
) -> Result<BTreeMap<String, Record>, u8> {
    match state.records() {
        Ok(records) => Ok(records
            .into_iter()
            .map(|r| (r.address.clone(), r))
            .collect()),
        Err(e) => {
            renderer.error(&super::state::chain(&e));
            Err(1)
        }
    }
}

/// `engine`, printing why it cannot be made.
pub fn engine_or_exit<'a>(
    cli: &Cli,
    loaded: &'a Loaded,
    common: &Common,
    force_conflicts: bool,
    renderer: &mut Renderer,
) -> Result<Engine<'a>, u8> {
    engine(cli, loaded, common, force_conflicts, renderer).map_err(|e| {
        renderer.error(&e);
        1u8
    })
}

/// Starts listening for Ctrl-C, SIGTERM and SIGHUP.
pub fn cancel(
    rt: &tokio::runtime::Runtime,
    renderer: &Renderer,
) -> Result<tokio::sync::watch::Receiver<bool>, u8> {
    rt.block_on(async { crate::sched::cancel_channel() })
        .map_err(|e| {
            renderer.error(&e.to_string());
            1u8
        })
}

/// Says how a revision ended; the exit code. A state write that failed is an error too.
pub fn report(
    finished: Result<Finished, crate::engine::EngineError>,
    verb: &str,
    renderer: &Renderer,
) -> u8 {
    use crate::store::RevisionResult;
    let Finished {
        number: revision,
        result,
        report,
    } = match finished {
        Ok(f) => f,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    match result {
        RevisionResult::Succeeded => {
            renderer.heading(verb, &format!("revision {revision}"));
            0
        }
        RevisionResult::Interrupted => {
            renderer.error(&format!(
                "interrupted: {} done, {} failed, {} not started; revision {revision} records what was done; run the command again to continue",
                report.succeeded().len(),
                report.failed().len(),
                report.not_started().len() + report.skipped().len()
            ));
            1
        }
        RevisionResult::Failed { message } => {
            renderer.error(&format!("revision {revision}: {message}; what succeeded is recorded, run the command again to continue"));
            1
        }
        RevisionResult::Running => 1,
    }
}

/// Refuses state that holds no applied revision of `plan`: a drift check or a rollback
/// against nothing must never pass. An applied revision is a finished one that succeeded
/// or recorded changes; revisions from before mtm kept the plan's name count as this
/// plan's.
pub fn require_applied(
    dir: &std::path::Path,
    plan: &str,
    revisions: &[crate::store::RevisionSummary],
) -> Result<(), String> {
    use crate::store::RevisionResult;
    let applied = |r: &&crate::store::RevisionSummary| {
        r.result != RevisionResult::Running
            && (r.result == RevisionResult::Succeeded || r.changes > 0)
    };
    if revisions
        .iter()
        .filter(applied)
        .any(|r| r.plan.as_deref().is_none_or(|p| p == plan))
    {
        return Ok(());
    }
    let dir = dir.display();
    match revisions
        .iter()
        .filter(applied)
        .find_map(|r| r.plan.as_deref())
    {
        Some(other) => Err(format!(
            "state in {dir} holds no applied revision of plan {plan} (it belongs to plan {other}): nothing to compare\n  help: pass the --state directory of plan {plan}"
        )),
        None => Err(format!(
            "state in {dir} holds no applied revision of plan {plan}: nothing to compare\n  help: run `mtm apply` first, or pass the --state directory that holds it"
        )),
    }
}
