//! `mtm state list|show|history` and `mtm unlock`: what state holds, and breaking a
//! stale lock after checking that its holder is gone.

use super::Cli;
use crate::render::{Renderer, Versioned};
use crate::store::{Lock, open_read};
use std::error::Error;

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Every resource state records
    #[command(after_help = "Example: mtm state list --output json")]
    List,
    /// One resource's record, or a revision with --revision
    #[command(after_help = "Example: mtm state show lab1/east/core/Namespace/_/ai-tools")]
    Show {
        /// The resource address
        address: Option<String>,
        /// Show this revision instead
        #[arg(long)]
        revision: Option<u64>,
    },
    /// The revisions, oldest first
    #[command(after_help = "Example: mtm state history --output json")]
    History,
}

/// An error with its causes, one per line.
pub fn chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

pub fn run(cli: &Cli, cmd: &StateCommand, renderer: &Renderer) -> u8 {
    if !cli.state.exists() {
        if renderer.json_mode() {
            let key = match cmd {
                StateCommand::History => "revisions",
                _ => "resources",
            };
            renderer.json(&Versioned::new(serde_json::json!({ key: [] })));
        } else {
            renderer.print(&format!("no state yet in {}\n", cli.state.display()));
        }
        return if matches!(cmd, StateCommand::Show { .. }) {
            1
        } else {
            0
        };
    }
    let store = match open_read(&cli.state, &super::run::command_line(None)) {
        Ok(v) => v,
        Err(e) => {
            renderer.error(&chain(&e));
            return 1;
        }
    };
    let result = match cmd {
        StateCommand::List => store.records().map(|records| {
            if renderer.json_mode() {
                renderer.json(&Versioned::new(serde_json::json!({ "resources": records })));
            } else if records.is_empty() {
                renderer.print("no resources in state\n");
            } else {
                for r in &records {
                    renderer.print(&format!(
                        "{}  rev {}  {}  {}\n",
                        r.address, r.revision, r.kind, r.applied_at
                    ));
                }
            }
            0
        }),
        StateCommand::Show {
            address: _,
            revision: Some(n),
        } => store.revision(*n).map(|rev| match rev {
            Some(rev) => {
                renderer.json(&Versioned::new(&rev));
                0
            }
            None => {
                renderer.error(&format!("no revision {n} in {}", cli.state.display()));
                1
            }
        }),
        StateCommand::Show {
            address: Some(address),
            revision: None,
        } => store.record(address).map(|r| match r {
            Some(r) => {
                renderer.json(&Versioned::new(&r));
                0
            }
            None => {
                renderer.error(&format!(
                    "{address} is not in state\n  help: `mtm state list` shows what is"
                ));
                1
            }
        }),
        StateCommand::Show {
            address: None,
            revision: None,
        } => {
            renderer.error("state show needs an address or --revision N");
            return 1;
        }
        StateCommand::History => store.revisions().map(|revs| {
            if renderer.json_mode() {
                renderer.json(&Versioned::new(serde_json::json!({ "revisions": revs })));
            } else if revs.is_empty() {
                renderer.print("no revisions yet\n");
            } else {
                for r in &revs {
                    let result = serde_json::to_value(&r.result)
                        .ok()
                        .and_then(|v| v["state"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    renderer.print(&format!(
                        "{:>4}  {}  {:<11}  {} changes  {}\n",
                        r.number, r.started_at, result, r.changes, r.command
                    ));
                }
            }
            0
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            renderer.error(&chain(&e));
            1
        }
    }
}

pub fn unlock(cli: &Cli, renderer: &Renderer) -> u8 {
    match Lock::break_stale(&cli.state) {
        Ok(Some(broken)) => {
            renderer.heading(
                "unlocked",
                &format!(
                    "{}: the lock of {} ({})",
                    cli.state.display(),
                    broken.holder,
                    broken.reason
                ),
            );
            0
        }
        Ok(None) => {
            renderer.print(&format!(
                "{} is not locked (a holder that ended released it)\n",
                cli.state.display()
            ));
            0
        }
        Err(e) => {
            renderer.error(&chain(&e));
            1
        }
    }
}
