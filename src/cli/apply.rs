//! `mtm apply [FILE]`: shows the plan, asks (or `--auto-approve`), then applies it with the
//! scheduler across both clusters, writing each resource's state record as it succeeds.
//! With a saved plan FILE it applies exactly that, and refuses if the clusters moved.
//! With `--auto-approve` (no FILE) it plans and applies in one walk (`apply_walk.rs`).

use super::Cli;
use super::plan::{SAVED_SCHEMA, SavedPlan, show};
use super::run::show_progress;
use super::run::{self, Common};
use crate::engine::apply::Progress;
use crate::engine::change::Change;
use crate::engine::planner::{Planned, cluster_of};
use crate::render::Renderer;
use std::path::PathBuf;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// A plan saved by `mtm plan --out FILE` (it holds its own selection: no --target)
    #[arg(conflicts_with = "targets")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub fleet: super::fleet::Args,
    /// Apply without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Take over fields other field managers own
    #[arg(long)]
    pub force_conflicts: bool,
    /// Show each step's What and Why
    #[arg(long)]
    pub explain: bool,
    /// Run the selection's checks after a successful apply (as `mtm verify`)
    #[arg(long)]
    pub verify: bool,
    /// Accept the live values of drifted objects into state instead of changing them
    #[arg(long, conflicts_with_all = ["file", "force_conflicts", "verify"])]
    pub refresh_only: bool,
}

/// What moved between a saved plan and now, one line each.
fn moved(saved: &[Change], now: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    for s in saved {
        match now.iter().find(|c| c.address == s.address) {
            None => out.push(format!("{}: no longer in the plan", s.address)),
            Some(c) if c.action != s.action => out.push(format!(
                "{}: was {}, now {}",
                s.address,
                s.action.word(),
                c.action.word()
            )),
            Some(c) if c.live_version != s.live_version => out.push(format!(
                "{}: changed on the cluster since the plan (resourceVersion {} -> {})",
                s.address,
                s.live_version.as_deref().unwrap_or("none"),
                c.live_version.as_deref().unwrap_or("none")
            )),
            Some(_) => {}
        }
    }
    for c in now.iter().filter(|c| c.action.changes()) {
        if !saved.iter().any(|s| s.address == c.address) {
            out.push(format!(
                "{}: {} not in the saved plan",
                c.address,
                c.action.word()
            ));
        }
    }
    out
}

/// A failure or skip of a resource on a cluster found down while planning.
fn on_down_cluster(planned: &Planned, p: &Progress) -> bool {
    let address = match p {
        Progress::Failed(e) => &e.address,
        Progress::Skipped { address, .. } => address,
        _ => return false,
    };
    cluster_of(address).is_some_and(|c| planned.down.iter().any(|d| d.cluster == c))
}

/// Reads a plan saved by `mtm plan --out FILE`, refusing another schema.
fn read_saved(path: &std::path::Path, renderer: &Renderer) -> Result<SavedPlan, u8> {
    let read = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<SavedPlan>(&t).map_err(|e| e.to_string()));
    match read {
        Ok(s) if s.schema == SAVED_SCHEMA => Ok(s),
        Ok(s) => {
            renderer.error(&format!(
                "{}: saved plan schema {} is not {SAVED_SCHEMA}: plan again with this mtm",
                path.display(),
                s.schema
            ));
            Err(1)
        }
        Err(e) => {
            renderer.error(&format!("{}: not a saved plan: {e}", path.display()));
            Err(1)
        }
    }
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let saved = match args.file.as_deref().map(|p| read_saved(p, renderer)) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(code)) => return code,
    };
    let targets = saved
        .as_ref()
        .map_or(args.common.targets.clone(), |s| s.targets.clone());
    let (loaded, _lock, store, records) = match run::start(cli, &targets, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let engine =
        match run::engine_or_exit(cli, &loaded, &args.common, args.force_conflicts, renderer) {
            Ok(e) => e,
            Err(code) => return code,
        };
    if args.refresh_only {
        let auto = args.auto_approve;
        return super::refresh::run(&engine, &store, &records, &targets, auto, renderer);
    }
    let walk = super::apply_walk::Walk {
        loaded: &loaded,
        engine,
        store: &store,
        records: &records,
        targets: &targets,
        explain: args.explain,
        verify: args.verify,
    };
    if saved.is_none() && args.auto_approve {
        // Nothing to show before acting: plan and apply in one walk.
        return super::apply_walk::run(cli, walk, renderer);
    }
    match plan_then_apply(&walk, saved.as_ref(), args.auto_approve, renderer) {
        Some(code) if code != 0 => code,
        _ if !args.verify => 0,
        _ => {
            drop(walk);
            super::verify::after_apply(cli, &loaded, &targets, renderer)
        }
    }
}

/// Whether the plan can be applied as shown: no errors, and (for a saved plan) nothing
/// moved since it was saved.
fn applicable(planned: &Planned, saved: Option<&SavedPlan>, renderer: &Renderer) -> bool {
    if planned.blocking_errors().next().is_some() {
        renderer.error("the plan has errors: nothing was changed");
        return false;
    }
    if !planned.down.is_empty() {
        renderer.error(
            "a cluster could not be reached: what needs it is not attempted, the rest goes on",
        );
    }
    let moved = saved.map_or(Vec::new(), |s| moved(&s.changes, &planned.changes));
    if !moved.is_empty() {
        renderer.error(&format!(
            "the clusters or the plan moved since the plan was saved; nothing was changed:\n  {}\n  help: run `mtm plan --out FILE` again",
            moved.join("\n  ")
        ));
        return false;
    }
    true
}

/// Plans, shows, asks (not for a saved plan), then applies: the exit code, or `None`
/// when there was nothing to change (the checks may still run).
fn plan_then_apply(
    w: &super::apply_walk::Walk<'_>,
    saved: Option<&SavedPlan>,
    auto_approve: bool,
    renderer: &mut Renderer,
) -> Option<u8> {
    let rt = run::runtime();
    let planned = rt.block_on(w.engine.plan_all(w.records));
    show(renderer, &planned, w.explain, false);
    renderer.found(&super::plan::changing(&planned, "changes"));
    if !applicable(&planned, saved, renderer) {
        return Some(1);
    }
    if !planned.has_changes() && planned.errors.is_empty() {
        renderer.print("No changes.\n");
        return None;
    }
    if saved.is_none() && !run::confirm("Apply these changes?", auto_approve, renderer) {
        return Some(1);
    }
    let cancel = match run::cancel(&rt, renderer) {
        Ok(c) => c,
        Err(code) => return Some(code),
    };
    let ledger = run::ledger(w.store, &w.loaded.plan, w.targets);
    let changing = planned.changes.iter().filter(|c| c.action.changes());
    let bar = renderer.progress_bar(changing.count() as u64);
    let finished = rt.block_on(w.engine.apply(&planned, w.records, &ledger, cancel, |p| {
        // The resources of a cluster that is down were said in one line already.
        if !on_down_cluster(&planned, &p) {
            show_progress(renderer, bar.as_ref(), &p)
        }
    }));
    if let Some(bar) = &bar {
        bar.finish();
    }
    Some(run::report(finished, "applied", renderer))
}
