//! `mtm verify`: runs the checks the plan declares (the workshop's Test / Verify / Proof
//! steps) and reports each as passed, failed or not applicable; exit 1 when any failed.
//!
//! Without `--target` it runs the checks of the stages that state says were applied (what
//! is on the clusters) and lists the others as "not applied". A check run from a pod on a
//! cluster whose nodes are all kwok's is not applicable: those pods run no container.

use super::Cli;
use super::run::{self, Common};
use crate::engine::Engine;
use crate::engine::exec::KubeExec;
use crate::generate::substitute_value;
use crate::render::Renderer;
use crate::verify::{CheckContext, CheckResult, Status, run_check};
use mtm_provider::resource::{CheckSpec, Spec};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub fleet: super::fleet::Args,
    /// A capability the clusters have (e.g. istio; exec: pods run commands even on kwok
    /// nodes, as the testbed's exec stand-in does); checks requiring others are not applicable
    #[arg(long = "capability", value_name = "NAME")]
    pub capabilities: Vec<String>,
    /// Make every call from this machine instead of exec-ing into the workload's pod
    #[arg(long)]
    pub local: bool,
    /// Seconds one check may take (at least 1)
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Count "not applicable" as failed
    #[arg(long)]
    pub strict: bool,
}

/// One check of the selection.
pub struct Found {
    pub address: String,
    pub cluster: String,
    /// Every stage that declared it.
    pub stages: Vec<String>,
    pub check: CheckSpec,
}

#[derive(Serialize)]
pub struct Row {
    pub address: String,
    pub cluster: String,
    #[serde(flatten)]
    pub result: CheckResult,
}

/// How checks are run: the options `verify` and `rehearse` share.
pub struct RunOptions<'a> {
    pub capabilities: &'a [String],
    pub local: bool,
    pub timeout: Duration,
}

/// The checks of the engine's selection, in graph order.
pub fn checks_of(engine: &Engine) -> Vec<Found> {
    engine
        .nodes()
        .into_iter()
        .filter_map(|(_, n)| match &n.resource.spec {
            Spec::Check { cluster, check } => Some(Found {
                address: n.resource.address.to_string(),
                cluster: cluster.clone(),
                stages: n.resource.stages.clone(),
                check: CheckSpec::clone(check),
            }),
            _ => None,
        })
        .collect()
}

/// Why pods of each cluster cannot run a check (all its nodes are kwok's), asked once per
/// cluster that a check runs from; a cluster that cannot be asked is taken as real.
fn containerless(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    found: &[Found],
) -> BTreeMap<String, String> {
    let clusters: BTreeSet<&str> = found
        .iter()
        .filter(|f| f.check.from.is_some())
        .map(|f| f.cluster.as_str())
        .collect();
    clusters
        .into_iter()
        .filter(|c| {
            rt.block_on(engine.router.pods().simulated(c))
                .unwrap_or(false)
        })
        .map(|c| {
            let why = format!("pods on cluster {c} (kwok) run no containers");
            (c.to_string(), why)
        })
        .collect()
}

/// Runs `found` one after another; a check whose generated values are unknown fails
/// saying so.
pub fn run_checks(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    found: Vec<Found>,
    opts: &RunOptions,
) -> Vec<Row> {
    let gens = engine.gens.lock().expect("gens lock").clone();
    // `--capability exec`: pods run commands even on kwok's nodes (the testbed's exec
    // stand-in runs them on its host).
    let kwok = if opts.local || opts.capabilities.iter().any(|c| c == "exec") {
        BTreeMap::new()
    } else {
        containerless(engine, rt, &found)
    };
    let mut rows = Vec::new();
    for f in found {
        let substituted = serde_json::to_value(&f.check)
            .map_err(|e| e.to_string())
            .and_then(|v| substitute_value(&v, &gens).map_err(|e| e.to_string()))
            .and_then(|v| serde_json::from_value::<CheckSpec>(v).map_err(|e| e.to_string()));
        let result = match substituted {
            Err(e) => CheckResult {
                name: f.check.name.clone(),
                status: Status::Failed,
                expected: String::new(),
                seen: String::new(),
                cause: Some(format!(
                    "{e} (run `mtm apply` first: it makes the generated values)"
                )),
            },
            Ok(check) => {
                let exec = KubeExec {
                    pods: engine.router.pods(),
                    cluster: f.cluster.clone(),
                };
                let ctx = CheckContext {
                    capabilities: opts.capabilities.iter().cloned().collect(),
                    local: opts.local,
                    exec: Some(&exec),
                    timeout: opts.timeout,
                    no_containers: kwok.get(&f.cluster).cloned(),
                };
                rt.block_on(run_check(&check, &ctx))
            }
        };
        rows.push(Row {
            address: f.address,
            cluster: f.cluster,
            result,
        });
    }
    rows
}

/// How many checks passed, failed, were not applicable.
pub fn tally(rows: &[Row]) -> (usize, usize, usize) {
    let count = |s: Status| rows.iter().filter(|r| r.result.status == s).count();
    (
        count(Status::Passed),
        count(Status::Failed),
        count(Status::NotApplicable),
    )
}

/// Checks of the plan that were not run, and why.
#[derive(Default, Serialize)]
pub struct LeftOut {
    /// Their stage is not applied.
    #[serde(rename = "notApplied")]
    pub not_applied: Vec<String>,
    /// A later applied stage retired them (`removes: [{ check: NAME }]`).
    pub retired: Vec<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    checks: &'a [Row],
    #[serde(flatten)]
    left_out: &'a LeftOut,
}

/// Prints the rows (and the checks left out as not applied); the exit code.
fn show(renderer: &Renderer, rows: &[Row], left_out: &LeftOut, strict: bool) -> u8 {
    let not_applied = &left_out.not_applied;
    let (passed, failed, not_applicable) = tally(rows);
    renderer.found(&format!(
        "{passed} passed, {failed} failed, {not_applicable} n/a"
    ));
    if renderer.json_mode() {
        renderer.json(&crate::render::Versioned::new(Report {
            checks: rows,
            left_out,
        }));
    } else {
        for r in rows {
            let word = match r.result.status {
                Status::Passed => "passed",
                Status::Failed => "FAILED",
                Status::NotApplicable => "n/a",
            };
            let mut line = format!(
                "{word:>11}  {}  expected {}, saw {}",
                r.address, r.result.expected, r.result.seen
            );
            if let Some(cause) = &r.result.cause {
                line.push_str(&format!(" ({cause})"));
            }
            renderer.print(&format!("{line}\n"));
        }
        for address in not_applied {
            renderer.print(&format!(
                "not applied  {address}  (its stage is not applied: not run)\n"
            ));
        }
        for address in &left_out.retired {
            renderer.print(&format!(
                "    retired  {address}  (a later applied stage retired it: not run)\n"
            ));
        }
        renderer.print(&format!(
            "Verify: {} of {} checks ran: {passed} passed, {failed} failed; {not_applicable} not applicable, {} not applied, {} retired.\n",
            passed + failed,
            rows.len() + not_applied.len() + left_out.retired.len(),
            not_applied.len(),
            left_out.retired.len()
        ));
    }
    let failing = failed + if strict { not_applicable } else { 0 };
    u8::from(failing > 0)
}

/// Runs the selection's checks; prints them; the exit code.
pub fn verify(
    cli: &Cli,
    loaded: &run::Loaded,
    args: &Args,
    left_out: &LeftOut,
    renderer: &mut Renderer,
) -> u8 {
    let engine = match run::engine_or_exit(cli, loaded, &args.common, false, renderer) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let found = checks_of(&engine);
    if found.is_empty() && left_out.not_applied.is_empty() {
        renderer.print("No checks in the selection.\n");
        return 0;
    }
    let opts = RunOptions {
        capabilities: &args.capabilities,
        local: args.local,
        timeout: Duration::from_secs(args.timeout),
    };
    let rows = run_checks(&engine, &run::runtime(), found, &opts);
    show(renderer, &rows, left_out, args.strict)
}

/// `mtm apply --verify`: the checks of the applied selection, with the defaults.
pub fn after_apply(
    cli: &Cli,
    loaded: &run::Loaded,
    targets: &[String],
    renderer: &mut Renderer,
) -> u8 {
    let args = Args {
        common: Common {
            targets: targets.to_vec(),
            parallelism: 1,
        },
        capabilities: Vec::new(),
        local: false,
        timeout: 30,
        fleet: super::fleet::Args::default(),
        strict: false,
    };
    verify(cli, loaded, &args, &LeftOut::default(), renderer)
}

/// The stages state says were applied: those with a record, and what they need.
fn applied_stages(cli: &Cli, renderer: &Renderer) -> Result<Vec<String>, u8> {
    let state = super::state::open_read(cli, &run::command_line(None)).map_err(|e| {
        renderer.error(&e);
        1u8
    })?;
    let records = run::records_of(&state, renderer)?;
    let stages: BTreeSet<String> = records
        .keys()
        .filter_map(|a| a.split('/').next())
        .map(str::to_string)
        .collect();
    Ok(stages.into_iter().collect())
}

/// Every check of the plan that the selection leaves out: retired when the stage that
/// declared it first is in the selection (so a later stage retired it), else not applied.
fn left_out(plan: &crate::plan::Plan, sel: &crate::graph::Selection) -> LeftOut {
    let chosen: BTreeSet<String> = sel
        .selected_nodes()
        .map(|i| sel.graph.graph[i].resource.address.to_string())
        .collect();
    let out: BTreeSet<String> = plan
        .stages
        .iter()
        .flat_map(|s| &s.decls)
        .filter(|d| matches!(d.spec, Spec::Check { .. }))
        .map(|d| d.address.to_string())
        .filter(|a| !chosen.contains(a))
        .collect();
    let (retired, not_applied) = out.into_iter().partition(|a| {
        a.split('/')
            .next()
            .is_some_and(|stage| sel.stages.iter().any(|s| s == stage))
    });
    LeftOut {
        not_applied,
        retired,
    }
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    if !args.common.targets.is_empty() {
        return match run::load(cli, &args.common.targets, renderer) {
            Ok(loaded) => verify(cli, &loaded, args, &LeftOut::default(), renderer),
            Err(d) => {
                renderer.diagnostics(&d);
                1
            }
        };
    }
    let plan = match super::load_plan(cli, renderer) {
        Ok(p) => p,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let stages = match applied_stages(cli, renderer) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if stages.is_empty() {
        renderer.error(&format!(
            "state in {} holds nothing applied of plan {}: no check can hold\n  help: run `mtm apply` first, or name stages with --target",
            cli.state.display(),
            plan.name
        ));
        return 1;
    }
    let sel = match crate::graph::select(&plan, &stages) {
        Ok(s) => s,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let skipped = left_out(&plan, &sel);
    let loaded = run::Loaded { plan, sel };
    verify(cli, &loaded, args, &skipped, renderer)
}
