//! `mtm drift`: for CI. Compares live objects and releases with the last applied
//! revision; exit 0 clean, 2 drift, 1 error. `--output json` lists address, cluster, field
//! path, expected and live value (sensitive values masked).

use super::Cli;
use super::run::{self, Common};
use crate::render::Renderer;
use serde_json::Value;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub fleet: super::fleet::Args,
}

fn short(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let (loaded, state) = match run::start_reading(cli, &args.common.targets, renderer) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let applied = state
        .revisions()
        .map_err(|e| super::state::chain(&e))
        .and_then(|revisions| run::require_applied(&cli.state, &loaded.plan.name, &revisions));
    if let Err(message) = applied {
        renderer.error(&message);
        return 1;
    }
    let records = match run::records_of(&state, renderer) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Read; the state is not held while the clusters are asked.
    drop(state);
    let engine = match run::engine_or_exit(cli, &loaded, &args.common, false, renderer) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let report = run::runtime().block_on(engine.drift(&records));
    renderer.found(&format!("{} drifted", report.drift.len()));
    if renderer.json_mode() {
        renderer.json(&crate::render::Versioned::new(&report));
    } else {
        for d in &report.drift {
            let path = if d.path.is_empty() {
                "(whole resource)"
            } else {
                &d.path
            };
            renderer.print(&format!(
                "~ {} {path}: expected {}, live {}\n",
                d.address,
                short(&d.expected),
                short(&d.live)
            ));
        }
        for e in &report.errors {
            renderer.error(&format!("{}: {}", e.address, e.message));
        }
        renderer.print(&format!(
            "Drift: {} fields drifted in {} resources checked.\n",
            report.drift.len(),
            report.checked
        ));
    }
    if !report.errors.is_empty() {
        1
    } else if report.drift.is_empty() {
        0
    } else {
        2
    }
}
