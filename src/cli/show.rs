//! `mtm show PLANFILE`: a plan saved by `mtm plan --out FILE`, printed as `mtm plan`
//! printed it; and `mtm plan --destroy`: what `mtm destroy` would do, from state alone.

use super::Cli;
use super::plan::{SAVED_SCHEMA, SavedPlan, show};
use super::run;
use crate::engine::planner::Planned;
use crate::render::Renderer;
use std::path::PathBuf;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The saved plan
    #[arg(value_name = "PLANFILE")]
    pub file: PathBuf,
    /// Show each step's What and Why
    #[arg(long)]
    pub explain: bool,
    /// Also list resources without changes
    #[arg(long)]
    pub all: bool,
}

/// Reads a saved plan, naming the file in every problem.
pub fn read_saved(file: &std::path::Path) -> Result<SavedPlan, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a plan saved by `mtm plan --out`: {e}",
            file.display(),
            e.line(),
            e.column()
        )
    })?;
    if saved.schema != SAVED_SCHEMA {
        return Err(format!(
            "{}: saved plan schema {} is not the one this mtm reads ({SAVED_SCHEMA}): plan again",
            file.display(),
            saved.schema
        ));
    }
    Ok(saved)
}

pub fn run(args: &Args, renderer: &mut Renderer) -> u8 {
    let saved = match read_saved(&args.file) {
        Ok(s) => s,
        Err(e) => {
            renderer.error(&e);
            return 1;
        }
    };
    let planned = Planned {
        changes: saved.changes,
        errors: Vec::new(),
        down: Vec::new(),
    };
    show(renderer, &planned, args.explain, args.all);
    0
}

/// `mtm plan --destroy`: the resources of the selection that state records, each with
/// the action destroy takes (delete, or restore what existed before mtm).
pub fn plan_destroy(cli: &Cli, args: &super::plan::Args, renderer: &mut Renderer) -> u8 {
    let (loaded, records) = match run::read_records(cli, &args.common.targets, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let engine = match run::engine_or_exit(cli, &loaded, &args.common, false, renderer) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let planned = Planned {
        changes: engine.destroy_changes(&records),
        errors: Vec::new(),
        down: Vec::new(),
    };
    show(renderer, &planned, args.explain, args.all);
    if args.detailed_exitcode && planned.has_changes() {
        2
    } else {
        0
    }
}
