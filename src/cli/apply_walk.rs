//! `mtm apply --auto-approve` without a saved plan: plans and applies in one walk
//! (`engine/walk.rs`), then shows the plan the walk found and how the revision ended.
//!
//! The lines are those of a plan-then-apply run: each resource's outcome as it happens,
//! then the plan (what was found, with its diffs and errors), then the revision's result.
//! A run that changes nothing begins no revision and says "No changes.".

use super::Cli;
use super::plan::show;
use super::run::{self, Loaded, show_progress};
use crate::engine::Engine;
use crate::engine::apply::Progress;
use crate::engine::planner::cluster_of;
use crate::render::Renderer;
use crate::store::{Record, Store};
use std::collections::BTreeMap;

/// What the one walk works with, as `apply` prepared it.
pub struct Walk<'a> {
    pub loaded: &'a Loaded,
    pub engine: Engine<'a>,
    pub store: &'a dyn Store,
    pub records: &'a BTreeMap<String, Record>,
    pub targets: &'a [String],
    pub explain: bool,
    pub verify: bool,
}

pub fn run(cli: &Cli, w: Walk<'_>, renderer: &mut Renderer) -> u8 {
    let rt = run::runtime();
    let cancel = match run::cancel(&rt, renderer) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ledger = run::ledger(w.store, &w.loaded.plan, w.targets);
    let (nodes, _) = w.engine.schedule(false);
    let bar = renderer.progress_bar(nodes.len() as u64);
    let engine = &w.engine;
    let walked = rt.block_on(engine.apply_in_one_walk(w.records, &ledger, cancel, |p| {
        // The resources of a cluster that is down are said in one line with the plan.
        if !on_down_cluster(engine, &p) {
            show_progress(renderer, bar.as_ref(), &p)
        }
    }));
    if let Some(bar) = &bar {
        bar.finish();
    }
    let walked = match walked {
        Ok(w) => w,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    show(renderer, &walked.planned, w.explain, false);
    renderer.found(&super::plan::changing(&walked.planned, "changes"));
    if !walked.planned.down.is_empty() {
        renderer.error(
            "a cluster could not be reached: what needs it is not attempted, the rest goes on",
        );
    }
    let Some(finished) = walked.finished else {
        // Nothing was changed: no revision, as for a plan without changes.
        if !walked.clean {
            renderer.error("the plan has errors: nothing was changed");
            return 1;
        }
        renderer.print("No changes.\n");
        return after(cli, w, 0, renderer);
    };
    let code = run::report(Ok(finished), "applied", renderer);
    after(cli, w, code, renderer)
}

/// Runs the checks after a successful apply when asked (`--verify`).
fn after(cli: &Cli, w: Walk<'_>, code: u8, renderer: &mut Renderer) -> u8 {
    if code != 0 || !w.verify {
        return code;
    }
    let (loaded, targets) = (w.loaded, w.targets);
    drop(w.engine);
    super::verify::after_apply(cli, loaded, targets, renderer)
}

/// A failure or skip of a resource on a cluster found down.
fn on_down_cluster(engine: &Engine<'_>, p: &Progress) -> bool {
    let address = match p {
        Progress::Failed(e) => &e.address,
        Progress::Skipped { address, .. } => address,
        _ => return false,
    };
    cluster_of(address).is_some_and(|c| engine.router.unreachable(c).is_some())
}
