//! `mtm plan`: what apply would change, from a server-side dry run per resource, on every
//! cluster of the selection; nothing is changed. `--out FILE` saves it for `mtm apply FILE`.

use super::Cli;
use super::run::{self, Common};
use crate::engine::change::{Change, Summary};
use crate::engine::planner::cluster_of;
use crate::engine::{NodeError, planner::Planned, record::redact_value};
use crate::render::{Renderer, show_changes};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub fleet: super::fleet::Args,
    /// Exit 2 when there are changes (0 none, 1 error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan here, for `mtm apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Show each step's What and Why
    #[arg(long)]
    pub explain: bool,
    /// Also list resources without changes
    #[arg(long)]
    pub all: bool,
    /// Show what `mtm destroy` would remove or restore, from state (nothing is changed)
    #[arg(long, conflicts_with = "out")]
    pub destroy: bool,
}

/// A saved plan: what `mtm apply FILE` executes, if the clusters have not moved.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    /// The saved plan's format version (written `"version"`, read also as `"schema"`).
    #[serde(rename = "version", alias = "schema")]
    pub schema: u32,
    pub plan: String,
    pub targets: Vec<String>,
    pub changes: Vec<Change>,
}

pub const SAVED_SCHEMA: u32 = 1;

#[derive(Serialize)]
struct JsonPlan<'a> {
    changes: &'a [Change],
    errors: &'a [NodeError],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unreachable: &'a [crate::engine::planner::Down],
    summary: Summary,
}

/// Prints a plan the way `mtm plan` does (also used by apply).
pub fn show(renderer: &Renderer, planned: &Planned, explain: bool, all: bool) {
    if renderer.json_mode() {
        renderer.json(&crate::render::Versioned::new(JsonPlan {
            changes: &planned.changes,
            errors: &planned.errors,
            unreachable: &planned.down,
            summary: Summary::of(&planned.changes),
        }));
        return;
    }
    // A cluster that could not be used: its cause once, its resources in one line.
    let down = |e: &&NodeError| {
        cluster_of(&e.address).is_some_and(|c| planned.down.iter().any(|d| d.cluster == c))
    };
    for d in &planned.down {
        renderer.error(&d.message);
    }
    let errors: Vec<NodeError> = planned
        .errors
        .iter()
        .filter(|e| !down(e))
        .cloned()
        .collect();
    let not_attempted: Vec<String> = planned.down.iter().map(|d| d.not_attempted()).collect();
    renderer.print(&show_changes(
        renderer,
        &planned.changes,
        &errors,
        &not_attempted,
        explain,
        all,
    ));
}

/// How many resources the plan changes (`to change`, or for apply `changes`), for a
/// fleet's summary.
pub fn changing(planned: &Planned, word: &str) -> String {
    let n = planned
        .changes
        .iter()
        .filter(|c| c.action.changes())
        .count();
    format!("{n} {word}")
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    if args.destroy {
        return super::show::plan_destroy(cli, args, renderer);
    }
    let (loaded, records) = match run::read_records(cli, &args.common.targets, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let engine = match run::engine_or_exit(cli, &loaded, &args.common, false, renderer) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let planned = run::runtime().block_on(engine.plan_all(&records));
    show(renderer, &planned, args.explain, args.all);
    renderer.found(&changing(&planned, "to change"));
    if !planned.errors.is_empty() {
        return 1;
    }
    if let Some(out) = &args.out {
        let saved = SavedPlan {
            schema: SAVED_SCHEMA,
            plan: loaded.plan.name.clone(),
            targets: args.common.targets.clone(),
            changes: planned.changes.clone(),
        };
        let value = redact_value(
            &serde_json::to_value(&saved).expect("plan serializes"),
            &engine.secrets(),
        );
        let text = serde_json::to_string_pretty(&value).expect("plan serializes");
        if let Err(e) = std::fs::write(out, text) {
            renderer.error(&format!("cannot write {}: {e}", out.display()));
            return 1;
        }
        if !renderer.json_mode() {
            renderer.print(&format!(
                "saved to {}: run `mtm apply {}` to apply exactly this\n",
                out.display(),
                out.display()
            ));
        }
    }
    if args.detailed_exitcode && planned.has_changes() {
        2
    } else {
        0
    }
}
