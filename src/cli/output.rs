//! `mtm output [NAME]`: the plan's variables and the generated values kept in
//! `state/secrets/`, as text or JSON. A listing masks sensitive values; one asked for by
//! NAME is printed alone and in full (`export ALICE_JWT=$(mtm output
//! gen.lab-jwt.token.alice)`), as is every value with `--show-sensitive`. Reads only: no
//! cluster, no state lock (the secrets files are replaced whole, never written in place).

use super::Cli;
use crate::engine::outputs::{self, Output};
use crate::engine::values;
use crate::plan::LoadOptions;
use crate::render::{REDACTED, Renderer};

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// One output, e.g. gen.lab-jwt.token.alice or var.CLUSTER1: its value alone
    pub name: Option<String>,
    /// Show sensitive values in the listing too
    #[arg(long)]
    pub show_sensitive: bool,
}

fn line(o: &Output) -> String {
    match &o.value {
        Some(v) => format!("{} = {v}\n", o.name),
        None => format!("{} (not generated yet)\n", o.name),
    }
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let dir = match super::plan_dir(cli) {
        Ok(d) => d,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let plan = match crate::plan::load(&dir, &LoadOptions::from_process(cli.vars.clone())) {
        Ok(p) => p,
        Err(d) => {
            renderer.diagnostics(&d);
            return 1;
        }
    };
    let gens = match super::state::engine_dir(cli)
        .and_then(|dir| values::existing(&dir, &plan).map_err(|e| e.to_string()))
    {
        Ok(g) => g,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    let all = outputs::all(&plan, &gens);
    if let Some(name) = &args.name {
        // Asked for by name: shown in full, so the renderer is not told to mask it.
        return match outputs::one(&all, name) {
            Ok(value) if renderer.json_mode() => {
                renderer.json(&crate::render::Versioned::new(serde_json::json!({
                    "name": name,
                    "value": value,
                })));
                0
            }
            Ok(value) => {
                renderer.print(&format!("{value}\n"));
                0
            }
            Err(e) => {
                renderer.error(&e.to_string());
                1
            }
        };
    }
    if !args.show_sensitive {
        renderer.add_secrets(values::secrets(&gens));
        renderer.add_secrets(plan.secrets());
    }
    let shown = outputs::masked(&all, args.show_sensitive, REDACTED);
    if renderer.json_mode() {
        renderer.json(&crate::render::Versioned::new(
            serde_json::json!({ "outputs": shown }),
        ));
    } else {
        let text: String = shown.iter().map(line).collect();
        renderer.print(&text);
    }
    0
}
