//! `mtm destroy`: removes what mtm applied for the selection, in reverse dependency
//! order, restoring what existed before mtm instead of deleting it.

use super::Cli;
use super::run::show_progress;
use super::run::{self, Common};
use crate::render::Renderer;
use crate::sched;
use crate::store::{RevisionResult, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Destroy without asking
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let loaded = match run::load(cli, &args.common.targets, renderer) {
        Ok(l) => l,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let Some((_lock, store, records)) = run::open_state(cli, renderer) else {
        return 1;
    };
    let engine = match run::engine(cli, &loaded, &args.common, renderer) {
        Ok(e) => e,
        Err(e) => {
            renderer.error(&e);
            return 1;
        }
    };
    let doomed = engine.destroy_plan(&records);
    if doomed.is_empty() {
        renderer.print("Nothing to destroy: state records nothing of the selection.\n");
        return 0;
    }
    for (record, action) in &doomed {
        renderer.print(&format!(
            "{} {} ({})\n",
            action.sign(),
            record.address,
            action.word()
        ));
    }
    renderer.print(&format!(
        "Destroy: {}.\n",
        run::counts(doomed.iter().map(|(_, a)| *a))
    ));
    if !run::confirm("Destroy these resources?", args.auto_approve, renderer) {
        return 1;
    }
    let rt = run::runtime();
    let revision = match store.begin_revision(&run::command_line(), &args.common.targets) {
        Ok(r) => r,
        Err(e) => {
            renderer.error(&format!("cannot write state: {e}"));
            return 1;
        }
    };
    let cancel = match rt.block_on(async { sched::ctrl_c_channel() }) {
        Ok(c) => c,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    let bar = renderer.progress_bar(doomed.len() as u64);
    let mut state_error = None;
    let report = rt.block_on(engine.destroy(
        &records,
        cancel,
        |outcome| run::write_outcome(&store, revision, outcome, &mut state_error),
        |p| show_progress(renderer, bar.as_ref(), &p),
    ));
    if let Some(bar) = &bar {
        bar.finish();
    }
    let result = if let Some(e) = &state_error {
        RevisionResult::Failed { message: e.clone() }
    } else if report.cancelled {
        RevisionResult::Interrupted
    } else if report.all_succeeded() {
        RevisionResult::Succeeded
    } else {
        RevisionResult::Failed {
            message: format!(
                "{} failed, {} skipped",
                report.failed().len(),
                report.skipped().len()
            ),
        }
    };
    let ok = result == RevisionResult::Succeeded;
    if let Err(e) = store.finish_revision(revision, result.clone()) {
        renderer.error(&format!("cannot write state: {e}"));
        return 1;
    }
    match result {
        RevisionResult::Succeeded => renderer.heading("destroyed", &format!("revision {revision}")),
        RevisionResult::Failed { message } => renderer.error(&format!(
            "revision {revision}: {message}; run destroy again to continue"
        )),
        _ => renderer.error(&format!(
            "interrupted: revision {revision} records what was done"
        )),
    }
    if ok { 0 } else { 1 }
}
