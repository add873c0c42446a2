//! `mtm rollback [--to REV]`: back to what an earlier successful revision recorded
//! (default: the one before the latest successful revision), planned from state alone,
//! shown, confirmed, then applied by the engine in dependency order and in parallel
//! (cancellable with Ctrl-C like apply); it writes a revision of its own.

use super::Cli;
use super::run::show_progress;
use super::run::{self, Common};
use crate::engine::rollback;
use crate::render::Renderer;
use crate::store::{Record, RevisionResult, Store};
use std::collections::BTreeMap;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The revision to go back (or forward) to
    #[arg(long, value_name = "REV")]
    pub to: Option<u64>,
    /// Roll back without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Take over fields controllers own (hand edits are taken over without it)
    #[arg(long)]
    pub force_conflicts: bool,
    /// How many resources are worked on at once, across clusters
    #[arg(long, default_value_t = 10, value_parser = super::args::at_least_one)]
    pub parallelism: usize,
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let loaded = match run::load(cli, &[], renderer) {
        Ok(l) => l,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let Some((_lock, store, records)) = run::open_state(cli, &loaded.plan, renderer) else {
        return 1;
    };
    let common = Common {
        targets: Vec::new(),
        parallelism: args.parallelism,
    };
    let engine = match run::engine(cli, &loaded, &common, args.force_conflicts, renderer) {
        Ok(e) => e,
        Err(e) => {
            renderer.error(&e);
            return 1;
        }
    };
    let (to, target) = match target(cli, &loaded.plan.name, &store, args.to, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let steps = rollback::steps(&records, &target);
    if steps.is_empty() {
        renderer.print(&format!("Already as revision {to} left it.\n"));
        return 0;
    }
    for s in &steps {
        renderer.print(&format!(
            "{} {} ({})\n",
            s.action.sign(),
            s.address,
            s.action.word()
        ));
    }
    renderer.print(&format!(
        "Rollback to revision {to}: {}.\n",
        run::counts(steps.iter().map(|s| s.action))
    ));
    if !run::confirm("Roll back?", args.auto_approve, renderer) {
        return 1;
    }
    let rt = run::runtime();
    let cancel = match run::cancel(&rt, renderer) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ledger = run::ledger(&store, &loaded.plan, &[format!("--to {to}")]);
    let bar = renderer.progress_bar(steps.len() as u64);
    let finished = rt.block_on(engine.rollback(&steps, &ledger, cancel, |p| {
        show_progress(renderer, bar.as_ref(), &p)
    }));
    if let Some(bar) = &bar {
        bar.finish();
    }
    match finished {
        Ok(f) if f.result == RevisionResult::Succeeded => {
            renderer.heading(
                "rolled back",
                &format!("to revision {to} as revision {}", f.number),
            );
            0
        }
        other => run::report(other, "rolled back", renderer),
    }
}

/// The revision to go back to (`--to`, or the one before the latest successful one) and
/// its snapshot of records.
fn target(
    cli: &Cli,
    plan: &str,
    store: &dyn Store,
    to: Option<u64>,
    renderer: &Renderer,
) -> Result<(u64, BTreeMap<String, Record>), u8> {
    let revisions = match store.revisions() {
        Ok(r) => r,
        Err(e) => {
            renderer.error(&format!("cannot read state: {e}"));
            return Err(1);
        }
    };
    if let Err(message) = run::require_applied(&cli.state, plan, &revisions) {
        renderer.error(&message);
        return Err(1);
    }
    let succeeded: Vec<u64> = revisions
        .iter()
        .filter(|r| r.result == RevisionResult::Succeeded)
        .map(|r| r.number)
        .collect();
    let to = match to {
        Some(n) if succeeded.contains(&n) => n,
        Some(n) => {
            renderer.error(&format!(
                "revision {n} is not a successful revision of this state\n  help: `mtm state history` lists them (successful: {})",
                succeeded.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            ));
            return Err(1);
        }
        None => match succeeded.len() {
            0 | 1 => {
                renderer.error("no earlier successful revision to roll back to\n  help: `mtm state history` lists the revisions");
                return Err(1);
            }
            n => succeeded[n - 2],
        },
    };
    match store.revision(to) {
        Ok(Some(r)) => Ok((to, r.applied)),
        Ok(None) => {
            renderer.error(&format!("revision {to} is gone from state"));
            Err(1)
        }
        Err(e) => {
            renderer.error(&format!("cannot read state: {e}"));
            Err(1)
        }
    }
}
