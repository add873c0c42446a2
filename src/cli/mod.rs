//! The command line: clap definitions and dispatch, one small module per command.
//!
//! Each command parses its arguments, calls the engine, and hands the result to the
//! renderer. Exit codes are the same everywhere: 0 success (no changes), 1 any error
//! (usage errors included), 2 only "changes present" (`plan --detailed-exitcode`) and
//! "drift found" (`drift`).

mod apply;
mod apply_walk;
mod args;
mod completions;
mod destroy;
mod drift;
mod fleet;
mod graph;
mod output;
mod plan;
mod refresh;
mod rehearse;
mod rollback;
mod run;
mod show;
mod state;
mod validate;
mod verify;

use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{LoadOptions, Plan};
use crate::render::{OutputFormat, Renderer};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The heading global options are listed under in every help page.
const GLOBAL: &str = "Global options";

#[derive(Clone, Debug, Parser)]
#[command(
    name = "mtm",
    version,
    about = "Master the Mesh: plan, apply, verify and tear down multi-cluster Kubernetes workshops",
    after_help = "Example: mtm plan --target lab2 --explain"
)]
pub struct Cli {
    /// The plan directory (default: the only plan under ./plans)
    #[arg(long, global = true, value_name = "DIR", env = "MTM_PLAN", help_heading = GLOBAL)]
    pub plan: Option<PathBuf>,
    /// The state directory, or kube://CONTEXT/NAMESPACE[/NAME] for state in a cluster
    #[arg(long, global = true, value_name = "DIR", default_value = "state", env = "MTM_STATE", help_heading = GLOBAL)]
    pub state: PathBuf,
    /// The kubeconfig to read the clusters' contexts from (default: KUBECONFIG, else
    /// ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub kubeconfig: Option<PathBuf>,
    /// Set a plan variable (repeatable); overrides --var-file, the environment and the
    /// default
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", help_heading = GLOBAL,
        add = clap_complete::ArgValueCandidates::new(completions::var_names))]
    pub vars: Vec<String>,
    /// Read plan variables from a YAML or JSON file of NAME: VALUE (repeatable, later
    /// files win); overrides the environment (MTM_VAR_NAME, then NAME)
    #[arg(long = "var-file", global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub var_files: Vec<PathBuf>,
    /// Output format where the output is data
    #[arg(long, global = true, value_enum, default_value = "text", help_heading = GLOBAL)]
    pub output: OutputFormat,
    /// No colour (also when NO_COLOR is set)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_color: bool,
    /// Wait this long for another mtm that holds the state (e.g. 30s, 5m); default: refuse
    #[arg(long, global = true, value_name = "DURATION", default_value = "0s", value_parser = args::wait, help_heading = GLOBAL)]
    pub lock_timeout: std::time::Duration,
    /// More log lines on stderr: -v adds the libraries' (info), -vv debug
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// How long one request to a cluster may wait for an answer (as kubectl's)
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = args::duration, help_heading = GLOBAL)]
    pub request_timeout: std::time::Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Load the plan offline: files, variables, graph; report every problem
    #[command(after_help = "Example: mtm validate --var-file lab.yaml")]
    Validate,
    /// Print the dependency graph
    #[command(after_help = "Example: mtm graph --format dot | dot -Tsvg > graph.svg")]
    Graph(graph::Args),
    /// What apply would change, from a server-side dry run (nothing is changed)
    #[command(after_help = "Example: mtm plan --target lab2 --out lab2.plan")]
    Plan(plan::Args),
    /// Print a plan saved by `mtm plan --out FILE`
    #[command(after_help = "Example: mtm show lab2.plan --output json")]
    Show(show::Args),
    /// Apply the plan (or a saved plan FILE) in dependency order, in parallel
    #[command(after_help = "Example: mtm apply --target lab3 --auto-approve")]
    Apply(apply::Args),
    /// Remove what mtm applied, in reverse order; restore what existed before
    #[command(
        after_help = "Example: mtm plan --destroy --target lab6, then mtm destroy --target lab6"
    )]
    Destroy(destroy::Args),
    /// Compare the clusters with the last apply: exit 0 clean, 2 drift, 1 error
    #[command(after_help = "Example: mtm drift --target lab3 --output json")]
    Drift(drift::Args),
    /// Go back to an earlier revision, from what state stored
    #[command(after_help = "Example: mtm rollback --to 3")]
    Rollback(rollback::Args),
    /// Run the workshop's proofs the plan declares as checks
    #[command(after_help = "Example: mtm verify --target lab4")]
    Verify(verify::Args),
    /// Each stage in order: apply it, run its checks; one line per stage
    #[command(after_help = "Example: mtm rehearse --target lab6 --destroy")]
    Rehearse(rehearse::Args),
    /// The plan's variables and generated values; sensitive ones only by name or with
    /// --show-sensitive
    #[command(after_help = "Example: mtm output --output json")]
    Output(output::Args),
    /// What state holds: resources and revisions
    #[command(subcommand, after_help = "Example: mtm state history")]
    State(state::StateCommand),
    /// Break a stale state lock, after checking that its holder is gone
    #[command(after_help = "Example: mtm unlock")]
    Unlock,
    /// Print shell completions
    #[command(after_help = "Example: mtm completions bash > /etc/bash_completion.d/mtm")]
    Completions(completions::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    completions::answer_if_asked();
    let mut cli = match Cli::try_parse().and_then(|cli| args::check(&cli).map(|()| cli)) {
        Ok(cli) => cli,
        Err(e) => return crate::render::usage(&e),
    };
    let raw: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    cli.vars = args::every(&raw, "var");
    cli.var_files = args::every(&raw, "var-file")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if args::every(&raw, "state").is_empty() {
        state::default_from_plan(&mut cli);
    }
    let mut renderer = Renderer::new(cli.output, cli.no_color);
    // Log lines go through the renderer: redacted, around the progress bar, coloured only
    // where its errors are; the libraries' only from -v on.
    let filter = tracing_subscriber::EnvFilter::try_from_env("MTM_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(crate::render::log_filter(cli.verbose))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::render::Logs)
        .with_ansi(renderer.color_err())
        .without_time()
        .try_init();
    let code = match fleet::requested(&cli.command) {
        Some(args) => fleet::run(&cli, args, &mut renderer),
        None => dispatch(&cli, &mut renderer),
    };
    state::forget_generated(&cli);
    ExitCode::from(code)
}

/// Runs the command `cli` names; its exit code.
fn dispatch(cli: &Cli, renderer: &mut Renderer) -> u8 {
    match &cli.command {
        Command::Validate => validate::run(cli, renderer),
        Command::Graph(args) => graph::run(cli, args, renderer),
        Command::Plan(args) => plan::run(cli, args, renderer),
        Command::Show(args) => show::run(args, renderer),
        Command::Apply(args) => apply::run(cli, args, renderer),
        Command::Destroy(args) => destroy::run(cli, args, renderer),
        Command::Drift(args) => drift::run(cli, args, renderer),
        Command::Rollback(args) => rollback::run(cli, args, renderer),
        Command::Verify(args) => verify::run(cli, args, renderer),
        Command::Rehearse(args) => rehearse::run(cli, args, renderer),
        Command::Output(args) => output::run(cli, args, renderer),
        Command::State(cmd) => state::run(cli, cmd, renderer),
        Command::Unlock => state::unlock(cli, renderer),
        Command::Completions(args) => completions::run(args),
    }
}

/// Finds the plan directory: `--plan`, else the only plan under ./plans.
pub fn plan_dir(cli: &Cli) -> Result<PathBuf, Diagnostics> {
    find_plan_dir(cli.plan.as_ref())
}

/// The plan directory given, else the only plan under ./plans.
pub fn find_plan_dir(explicit: Option<&PathBuf>) -> Result<PathBuf, Diagnostics> {
    if let Some(dir) = explicit {
        return Ok(dir.clone());
    }
    let root = Path::new("plans");
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("plan.yaml").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Diagnostics(vec![
            Diagnostic::unplaced("--plan", "no plan found under ./plans")
                .help("run mtm from the project directory, or pass --plan DIR"),
        ])),
        _ => Err(Diagnostics(vec![
            Diagnostic::unplaced(
                "--plan",
                format!(
                    "several plans under ./plans: {}",
                    found
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .help("choose one with --plan DIR"),
        ])),
    }
}

/// Loads the plan the command line names; secrets go to the renderer.
pub fn load_plan(cli: &Cli, renderer: &mut Renderer) -> Result<Plan, Diagnostics> {
    let dir = plan_dir(cli)?;
    let opts = LoadOptions::from_process(cli.vars.clone());
    let plan = crate::plan::load_with_var_files(&dir, &opts, &cli.var_files)?;
    renderer.add_secrets(plan.secrets());
    Ok(plan)
}
