//! `mtm destroy`: removes what mtm applied for the selection, in reverse dependency
//! order, restoring what existed before mtm instead of deleting it.

use super::Cli;
use super::run::show_progress;
use super::run::{self, Common};
use crate::render::Renderer;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub fleet: super::fleet::Args,
    /// Destroy without asking
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let (loaded, _lock, store, records) = match run::start(cli, &args.common.targets, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let engine = match run::engine_or_exit(cli, &loaded, &args.common, false, renderer) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let doomed = engine.destroy_plan(&records);
    renderer.found(&format!("{} to destroy", doomed.len()));
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
    let cancel = match run::cancel(&rt, renderer) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ledger = run::ledger(&store, &loaded.plan, &args.common.targets);
    let bar = renderer.progress_bar(doomed.len() as u64);
    let finished = rt.block_on(engine.destroy(&records, &ledger, cancel, |p| {
        show_progress(renderer, bar.as_ref(), &p)
    }));
    if let Some(bar) = &bar {
        bar.finish();
    }
    run::report(finished, "destroyed", renderer)
}
