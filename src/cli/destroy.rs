//! `mtm destroy`: removes what mtm applied for the selection, in reverse dependency
//! order, restoring what existed before mtm instead of deleting it.

use super::Cli;
use super::run::show_progress;
use super::run::{self, Common};
use crate::render::Renderer;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Destroy without asking
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let (loaded, _lock, store, records) = match run::start(cli, &args.common.targets, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let engine = match run::engine_or_exit(cli, &loaded, &args.common, renderer) {
        Ok(e) => e,
        Err(code) => return code,
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
    let (revision, cancel) =
        match run::begin(&store, &loaded.plan, &rt, &args.common.targets, renderer) {
            Ok(v) => v,
            Err(code) => return code,
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
    run::finish(
        &store,
        revision,
        &report,
        state_error,
        "destroyed",
        renderer,
    )
}
