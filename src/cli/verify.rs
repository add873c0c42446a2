//! `mtm verify`: runs the checks the plan declares for the selection (the workshop's
//! Test / Verify / Proof steps) and reports each as passed, failed or not applicable;
//! exit 1 when any failed.

use super::Cli;
use super::run::{self, Common};
use crate::engine::exec::KubectlExec;
use crate::generate::substitute_value;
use crate::render::Renderer;
use crate::verify::{CheckContext, CheckResult, Status, run_check};
use mtm_provider::resource::{CheckSpec, Spec};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// A capability the clusters have (e.g. istio); checks requiring others are not applicable
    #[arg(long = "capability", value_name = "NAME")]
    pub capabilities: Vec<String>,
    /// Make every call from this machine instead of exec-ing into the workload's pod
    #[arg(long)]
    pub local: bool,
    /// Seconds one check may take (at least 1)
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

#[derive(Serialize)]
struct Row {
    address: String,
    cluster: String,
    #[serde(flatten)]
    result: CheckResult,
}

/// Runs the selection's checks; prints them; the exit code.
pub fn verify(cli: &Cli, loaded: &run::Loaded, args: &Args, renderer: &mut Renderer) -> u8 {
    let engine = match run::engine_or_exit(cli, loaded, &args.common, renderer) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let gens = engine.gens.lock().expect("gens lock").clone();
    let checks: Vec<(String, String, CheckSpec)> = engine
        .nodes()
        .into_iter()
        .filter_map(|(_, n)| match &n.resource.spec {
            Spec::Check { cluster, check } => Some((
                n.resource.address.to_string(),
                cluster.clone(),
                check.clone(),
            )),
            _ => None,
        })
        .collect();
    if checks.is_empty() {
        renderer.print("No checks in the selection.\n");
        return 0;
    }
    let rt = run::runtime();
    let mut rows = Vec::new();
    for (address, cluster, check) in checks {
        let result = match serde_json::to_value(&check)
            .map_err(|e| e.to_string())
            .and_then(|v| substitute_value(&v, &gens).map_err(|e| e.to_string()))
            .and_then(|v| serde_json::from_value::<CheckSpec>(v).map_err(|e| e.to_string()))
        {
            Err(e) => CheckResult {
                name: check.name.clone(),
                status: Status::Failed,
                expected: String::new(),
                seen: String::new(),
                cause: Some(format!(
                    "{e} (run `mtm apply` first: it makes the generated values)"
                )),
            },
            Ok(check) => {
                let exec = KubectlExec {
                    context: loaded
                        .plan
                        .context(&cluster)
                        .unwrap_or(&cluster)
                        .to_string(),
                };
                let ctx = CheckContext {
                    capabilities: args.capabilities.iter().cloned().collect(),
                    local: args.local,
                    exec: Some(&exec),
                    timeout: Duration::from_secs(args.timeout),
                };
                rt.block_on(run_check(&check, &ctx))
            }
        };
        rows.push(Row {
            address,
            cluster,
            result,
        });
    }
    let failed = rows
        .iter()
        .filter(|r| r.result.status == Status::Failed)
        .count();
    if renderer.json_mode() {
        renderer.json(&rows);
    } else {
        for r in &rows {
            let word = match r.result.status {
                Status::Passed => "passed",
                Status::Failed => "FAILED",
                Status::NotApplicable => "n/a",
            };
            let mut line = format!(
                "{word:>7}  {}  expected {}, saw {}",
                r.address, r.result.expected, r.result.seen
            );
            if let Some(cause) = &r.result.cause {
                line.push_str(&format!(" ({cause})"));
            }
            renderer.print(&format!("{line}\n"));
        }
        let passed = rows
            .iter()
            .filter(|r| r.result.status == Status::Passed)
            .count();
        renderer.print(&format!(
            "Verify: {passed} passed, {failed} failed, {} not applicable.\n",
            rows.len() - passed - failed
        ));
    }
    if failed > 0 { 1 } else { 0 }
}

/// `mtm apply --verify`: the checks of the applied selection, with the defaults.
pub fn after_apply(
    cli: &Cli,
    loaded: &run::Loaded,
    targets: &[String],
    renderer: &mut Renderer,
) -> u8 {
    let args = Args {
        common: Common {
            targets: targets.to_vec(),
            parallelism: 1,
        },
        capabilities: Vec::new(),
        local: false,
        timeout: 30,
    };
    verify(cli, loaded, &args, renderer)
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    match run::load(cli, &args.common.targets, renderer) {
        Ok(loaded) => verify(cli, &loaded, args, renderer),
        Err(d) => {
            renderer.diagnostics(&d);
            1
        }
    }
}
