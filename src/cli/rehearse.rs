//! `mtm rehearse`: the workshop as a presenter runs it. For each stage in plan order (up to
//! `--target`), apply that stage, then run its checks; one line per stage; stop at the first
//! failed check, saying what was expected and seen.
//!
//! `--local` first brings up the two local clusters (tests/testbed/testbed) and takes their
//! environment; `--destroy` tears everything down at the end; `--report FILE` writes the
//! table and every check as Markdown. It runs `apply`, the check runner of `verify` and
//! `destroy` as they are; it adds only the order and the summary.

use super::Cli;
use super::run::{self, Common};
use super::verify::{Row, RunOptions, checks_of, run_checks, tally};
use crate::render::Renderer;
use crate::verify::Status;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The last stage to rehearse (default: every stage)
    #[arg(long = "target", value_name = "STAGE",
        add = clap_complete::ArgValueCandidates::new(super::completions::stages))]
    pub target: Option<String>,
    /// First bring up the two local clusters (tests/testbed/testbed up) and use them
    #[arg(long)]
    pub local: bool,
    /// Tear everything down at the end
    #[arg(long)]
    pub destroy: bool,
    /// Write the table and each check's outcome here, as Markdown
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// A capability the clusters have (e.g. istio); checks requiring others are not applicable
    #[arg(long = "capability", value_name = "NAME")]
    pub capabilities: Vec<String>,
    /// Count "not applicable" as failed
    #[arg(long)]
    pub strict: bool,
    /// Seconds one check may take
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// How many resources are worked on at once, across clusters
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    #[command(flatten)]
    pub fleet: super::fleet::Args,
}

/// One stage's rehearsal.
#[derive(Serialize)]
struct StageRow {
    stage: String,
    /// Changes the stage's apply made.
    applied: usize,
    passed: usize,
    failed: usize,
    #[serde(rename = "notApplicable")]
    not_applicable: usize,
    seconds: f64,
    /// ok, apply failed, check failed
    outcome: &'static str,
    checks: Vec<Row>,
}

#[derive(Serialize)]
struct Rehearsal<'a> {
    plan: &'a str,
    stages: &'a [StageRow],
    destroyed: Option<bool>,
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    if args.local
        && let Err(e) = local_clusters(renderer)
    {
        renderer.error(&e);
        return 1;
    }
    let plan = match super::load_plan(cli, renderer) {
        Ok(p) => p,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let names: Vec<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    let last = match &args.target {
        None => names.len(),
        Some(t) => match names.iter().position(|n| n == t) {
            Some(i) => i + 1,
            None => {
                renderer.error(&format!(
                    "--target {t}: plan {} has no stage {t}\n  help: its stages: {}",
                    plan.name,
                    names.join(", ")
                ));
                return 1;
            }
        },
    };
    let mut rows = Vec::new();
    for stage in &names[..last] {
        let row = rehearse_stage(cli, args, stage, renderer);
        print_row(renderer, &row);
        let stop = row.outcome != "ok";
        rows.push(row);
        if stop {
            break;
        }
    }
    let destroyed = args.destroy.then(|| destroy_all(cli, args, renderer));
    finish(renderer, args, &plan.name, &rows, destroyed)
}

/// Applies `stage`, then runs the checks it declares.
fn rehearse_stage(cli: &Cli, args: &Args, stage: &str, renderer: &mut Renderer) -> StageRow {
    let started = Instant::now();
    let before = latest_revision(cli);
    let apply = super::apply::Args {
        file: None,
        common: Common {
            targets: vec![stage.to_string()],
            parallelism: args.parallelism,
        },
        auto_approve: true,
        force_conflicts: false,
        explain: false,
        verify: false,
        refresh_only: false,
        fleet: super::fleet::Args::default(),
    };
    let code = super::apply::run(cli, &apply, &mut renderer.quieted());
    let applied = changes_since(cli, before);
    let mut row = StageRow {
        stage: stage.to_string(),
        applied,
        passed: 0,
        failed: 0,
        not_applicable: 0,
        seconds: 0.0,
        outcome: "ok",
        checks: Vec::new(),
    };
    if code != 0 {
        row.outcome = "apply failed";
    } else {
        row.checks = stage_checks(cli, args, stage, renderer);
        (row.passed, row.failed, row.not_applicable) = tally(&row.checks);
        if row.failed > 0 || (args.strict && row.not_applicable > 0) {
            row.outcome = "check failed";
        }
    }
    row.seconds = started.elapsed().as_secs_f64();
    row
}

/// The checks `stage` declares, run against what is applied now.
fn stage_checks(cli: &Cli, args: &Args, stage: &str, renderer: &mut Renderer) -> Vec<Row> {
    let targets = [stage.to_string()];
    let Ok(loaded) = run::load(cli, &targets, renderer) else {
        return Vec::new();
    };
    let common = Common {
        targets: targets.to_vec(),
        parallelism: 1,
    };
    let Ok(engine) = run::engine_or_exit(cli, &loaded, &common, false, renderer) else {
        return Vec::new();
    };
    let found = checks_of(&engine)
        .into_iter()
        .filter(|f| f.stages.iter().any(|s| s == stage))
        .collect();
    let opts = RunOptions {
        capabilities: &args.capabilities,
        local: false,
        timeout: Duration::from_secs(args.timeout),
    };
    run_checks(&engine, &run::runtime(), found, &opts)
}

/// The revisions state holds (none when it cannot be read: the stage's line then says 0).
fn revisions(cli: &Cli) -> Vec<crate::store::RevisionSummary> {
    super::state::open_read(cli, &run::command_line(None))
        .ok()
        .and_then(|s| s.revisions().ok())
        .unwrap_or_default()
}

/// The number of the newest revision in state (0 when there is none).
fn latest_revision(cli: &Cli) -> u64 {
    revisions(cli).last().map_or(0, |r| r.number)
}

/// How many changes the revisions after `before` recorded.
fn changes_since(cli: &Cli, before: u64) -> usize {
    revisions(cli)
        .iter()
        .filter(|r| r.number > before)
        .map(|r| r.changes)
        .sum()
}

fn destroy_all(cli: &Cli, args: &Args, renderer: &mut Renderer) -> bool {
    let destroy = super::destroy::Args {
        common: Common {
            targets: Vec::new(),
            parallelism: args.parallelism,
        },
        auto_approve: true,
        fleet: super::fleet::Args::default(),
    };
    super::destroy::run(cli, &destroy, &mut renderer.quieted()) == 0
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::NotApplicable => "n/a",
    }
}

fn print_row(renderer: &Renderer, row: &StageRow) {
    if renderer.json_mode() {
        return;
    }
    renderer.print(&format!(
        "{:<10} {:>3} applied  {:>2} passed  {:>2} failed  {:>2} not applicable  {:>6.1}s  {}\n",
        row.stage,
        row.applied,
        row.passed,
        row.failed,
        row.not_applicable,
        row.seconds,
        row.outcome
    ));
    for r in row
        .checks
        .iter()
        .filter(|r| r.result.status == Status::Failed)
    {
        let cause = r.result.cause.as_deref().unwrap_or("");
        renderer.print(&format!(
            "           FAILED {}: expected {}, saw {} {cause}\n",
            r.address, r.result.expected, r.result.seen
        ));
    }
}

/// The summary, the report file, the exit code.
fn finish(
    renderer: &Renderer,
    args: &Args,
    plan: &str,
    rows: &[StageRow],
    destroyed: Option<bool>,
) -> u8 {
    let ok = rows.iter().all(|r| r.outcome == "ok") && destroyed != Some(false);
    let good = rows.iter().filter(|r| r.outcome == "ok").count();
    renderer.found(&format!("{good} of {} stages ok", rows.len()));
    if renderer.json_mode() {
        renderer.json(&crate::render::Versioned::new(Rehearsal {
            plan,
            stages: rows,
            destroyed,
        }));
    } else {
        let ran: usize = rows.iter().map(|r| r.passed + r.failed).sum();
        let na: usize = rows.iter().map(|r| r.not_applicable).sum();
        renderer.print(&format!(
            "Rehearse: {} stages, {ran} checks ran, {na} not applicable{}; {}.\n",
            rows.len(),
            match destroyed {
                Some(true) => ", destroyed",
                Some(false) => ", destroy FAILED",
                None => "",
            },
            if ok { "ok" } else { "FAILED" }
        ));
    }
    if let Some(path) = &args.report
        && let Err(e) = std::fs::write(path, markdown(plan, rows, destroyed))
    {
        renderer.error(&format!("cannot write {}: {e}", path.display()));
        return 1;
    }
    u8::from(!ok)
}

/// The rehearsal as Markdown, for a ticket.
fn markdown(plan: &str, rows: &[StageRow], destroyed: Option<bool>) -> String {
    let mut out = format!(
        "# Rehearsal of plan {plan}\n\n| stage | applied | passed | failed | not applicable | seconds | outcome |\n|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1} | {} |\n",
            r.stage, r.applied, r.passed, r.failed, r.not_applicable, r.seconds, r.outcome
        ));
    }
    out.push_str(
        "\n## Checks\n\n| check | status | expected | seen | why |\n|---|---|---|---|---|\n",
    );
    for c in rows.iter().flat_map(|r| &r.checks) {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            c.address,
            status_word(c.result.status),
            cell(&c.result.expected),
            cell(&c.result.seen),
            cell(c.result.cause.as_deref().unwrap_or(""))
        ));
    }
    if let Some(d) = destroyed {
        out.push_str(&format!(
            "\nDestroyed at the end: {}.\n",
            if d { "yes" } else { "FAILED" }
        ));
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `tests/testbed/testbed up` (its progress on stderr), then its environment taken into
/// this process, so the plan, kube and helm see the local clusters.
#[allow(clippy::disallowed_methods)] // takes the testbed's environment into the process
fn local_clusters(renderer: &Renderer) -> Result<(), String> {
    let script = Path::new("tests/testbed/testbed");
    if !script.is_file() {
        return Err("--local: tests/testbed/testbed not found: run mtm rehearse --local from the mtm repository".into());
    }
    renderer
        .print("Starting the local clusters (the first run builds them; this takes a while)...\n");
    let up = std::process::Command::new(script)
        .arg("up")
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("--local: cannot run {}: {e}", script.display()))?;
    if !up.success() {
        return Err(format!("--local: {} up failed ({up})", script.display()));
    }
    let env = std::process::Command::new("bash")
        .args(["-c", "eval \"$(tests/testbed/testbed env)\" && env -0"])
        .output()
        .map_err(|e| format!("--local: cannot read the testbed's environment: {e}"))?;
    if !env.status.success() {
        return Err("--local: `tests/testbed/testbed env` failed".into());
    }
    for pair in env.stdout.split(|b| *b == 0) {
        let text = String::from_utf8_lossy(pair);
        if let Some((key, value)) = text.split_once('=')
            && std::env::var(key).ok().as_deref() != Some(value)
            && !key.is_empty()
        {
            // SAFETY: this runs before the command starts any thread (the runtime is built
            // later), so nothing reads the environment concurrently.
            unsafe { std::env::set_var(key, value) };
        }
    }
    Ok(())
}
