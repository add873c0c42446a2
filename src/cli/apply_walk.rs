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
use crate::engine::walk::LazyRevision;
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
    let cancel = match rt.block_on(async { crate::sched::cancel_channel() }) {
        Ok(c) => c,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    let store: &dyn Store = w.store;
    let plan = &w.loaded.plan;
    let revision = LazyRevision::new(|| {
        store
            .begin_revision(&plan.name, &run::command_line(Some(plan)), w.targets)
            .map_err(|e| format!("cannot write state: {e}"))
    });
    let (nodes, _) = w.engine.schedule(false);
    let bar = renderer.progress_bar(nodes.len() as u64);
    let mut state_error = None;
    let engine = &w.engine;
    let walked = rt.block_on(engine.apply_in_one_walk(
        w.records,
        &revision,
        store,
        cancel,
        |outcome, number| run::write_outcome(store, number, outcome, &mut state_error),
        |p| {
            // The resources of a cluster that is down are said in one line with the plan.
            if !on_down_cluster(engine, &p) {
                show_progress(renderer, bar.as_ref(), &p)
            }
        },
    ));
    if let Some(bar) = &bar {
        bar.finish();
    }
    show(renderer, &walked.planned, w.explain, false);
    if !walked.planned.down.is_empty() {
        renderer.error(
            "a cluster could not be reached: what needs it is not attempted, the rest goes on",
        );
    }
    let Some(number) = revision.begun() else {
        // Nothing was changed: no revision, as for a plan without changes.
        if !walked.report.all_succeeded() || state_error.is_some() {
            renderer.error("the plan has errors: nothing was changed");
            return 1;
        }
        renderer.print("No changes.\n");
        return after(cli, w, 0, renderer);
    };
    let code = run::finish(
        store,
        number,
        &walked.report,
        state_error,
        "applied",
        renderer,
    );
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
    cluster_of(address).is_some_and(|c| engine.kube.unreachable(c).is_some())
}
