//! `mtm state list|show|history|migrate` and `mtm unlock`: what state holds, copying it
//! to another location, and breaking a stale lock after checking that its holder is gone.
//! Also where `--state` becomes a location and is opened, for every command.

use super::Cli;
use crate::render::{Renderer, Versioned};
use crate::store::kube::Access;
use crate::store::{Backend, Location, Lock, ReadState, StateLock};
use std::error::Error;
use std::path::PathBuf;

#[derive(Clone, Debug, clap::Subcommand)]
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
    /// Copy the state (records, revisions, generated values) to an empty location
    #[command(
        after_help = "Example: mtm --state state state migrate --to kube://east-ag/mtm-state"
    )]
    Migrate {
        /// Where to: a directory or kube://CONTEXT/NAMESPACE[/NAME]
        #[arg(long, value_name = "LOCATION")]
        to: PathBuf,
    },
}

/// Where `--state` points, or the message saying why it is malformed.
pub fn location(cli: &Cli) -> Result<Location, String> {
    Location::parse(&cli.state).map_err(|e| e.to_string())
}

/// Takes the state location from plan.yaml's `state:` when neither `--state` nor
/// `MTM_STATE` gave one (a directory there is relative to the plan directory). A plan.yaml that
/// does not load leaves the default: the command reports the plan's problems itself.
// The CLI's edge: whether MTM_STATE is set comes from the environment.
#[allow(clippy::disallowed_methods)]
pub fn default_from_plan(cli: &mut Cli) {
    if std::env::var_os("MTM_STATE").is_some() {
        return;
    }
    let Ok(dir) = super::plan_dir(cli) else {
        return;
    };
    let opts = crate::plan::LoadOptions::from_process(cli.vars.clone());
    if let Some(state) = crate::plan::declared_state(&dir, &opts, &cli.var_files) {
        cli.state = match state.starts_with("kube://") {
            true => PathBuf::from(state),
            false => dir.join(state),
        };
    }
}

/// How a cluster that holds state is reached.
pub fn access(cli: &Cli) -> Access {
    Access {
        kubeconfig: cli.kubeconfig.clone(),
        request_timeout: Some(cli.request_timeout),
    }
}

/// The state, locked for `command` (waiting up to `--lock-timeout`), in a directory or a
/// cluster; the message when it cannot be.
pub fn open_locked(cli: &Cli, command: &str) -> Result<(StateLock, Backend), String> {
    let location = location(cli)?;
    crate::store::open_locked_at(&location, &access(cli), command, cli.lock_timeout)
        .map_err(|e| chain(&e))
}

/// The state for reading, in a directory or a cluster; the message when it cannot be.
pub fn open_read(cli: &Cli, command: &str) -> Result<ReadState, String> {
    let location = location(cli)?;
    crate::store::open_read_at(&location, &access(cli), command).map_err(|e| chain(&e))
}

/// The directory the engine keeps generated values in: the state directory, or for state
/// in a cluster this process's private copy of its Secret (written back when a revision
/// finishes, removed by `forget_generated` when the command ends).
pub fn engine_dir(cli: &Cli) -> Result<PathBuf, String> {
    match location(cli)? {
        Location::Dir(dir) => Ok(dir),
        Location::Kube(kube) => crate::store::kube::open_read(&kube, &access(cli))
            .map_err(|e| chain(&e))
            .and_then(|store| store.materialize().map_err(|e| chain(&e))),
    }
}

/// Remove the private copy `engine_dir` made, if it made one.
pub fn forget_generated(cli: &Cli) {
    if let Ok(Location::Kube(kube)) = location(cli) {
        crate::store::kube::KubeStore::forget_workdir(&kube);
    }
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
    if let StateCommand::Migrate { to } = cmd {
        return migrate(cli, to, renderer);
    }
    if let Some(code) = no_state_yet(cli, cmd, renderer) {
        return code;
    }
    let store = match open_read(cli, &super::run::command_line(None)) {
        Ok(v) => v,
        Err(e) => {
            renderer.error(&e);
            return 1;
        }
    };
    let result = match cmd {
        StateCommand::List if renderer.json_mode() => store.records().map(|records| {
            renderer.json(&Versioned::new(serde_json::json!({ "resources": records })));
            0
        }),
        StateCommand::List => store
            .record_summaries()
            .map(|records| list(&records, renderer)),
        StateCommand::Show {
            address: _,
            revision: Some(n),
        } => store.revision(*n).map(|rev| match rev {
            Some(rev) => shown(&rev, renderer),
            None => {
                renderer.error(&format!("no revision {n} in {}", cli.state.display()));
                1
            }
        }),
        StateCommand::Show {
            address: Some(address),
            revision: None,
        } => store.record(address).map(|r| match r {
            Some(r) => shown(&r, renderer),
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
        StateCommand::Migrate { .. } => unreachable!("migrate returned above"),
        StateCommand::History => store.revisions().map(|revs| history(&revs, renderer)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            renderer.error(&chain(&e));
            1
        }
    }
}

/// A state directory that does not exist yet: nothing to list (show has nothing to show).
fn no_state_yet(cli: &Cli, cmd: &StateCommand, renderer: &Renderer) -> Option<u8> {
    let is_dir = matches!(location(cli), Ok(Location::Dir(_)));
    if !is_dir || cli.state.exists() {
        return None;
    }
    if renderer.json_mode() {
        let key = match cmd {
            StateCommand::History => "revisions",
            _ => "resources",
        };
        renderer.json(&Versioned::new(serde_json::json!({ key: [] })));
    } else {
        renderer.print(&format!("no state yet in {}\n", cli.state.display()));
    }
    Some(u8::from(matches!(cmd, StateCommand::Show { .. })))
}

fn shown(value: &impl serde::Serialize, renderer: &Renderer) -> u8 {
    renderer.json(&Versioned::new(value));
    0
}

/// `mtm state list` as text: read without the stored manifests.
fn list(records: &[crate::store::RecordSummary], renderer: &Renderer) -> u8 {
    if records.is_empty() {
        renderer.print("no resources in state\n");
    } else {
        for r in records {
            renderer.print(&format!(
                "{}  rev {}  {}  {}\n",
                r.address, r.revision, r.kind, r.applied_at
            ));
        }
    }
    0
}

/// `mtm state history`.
fn history(revs: &[crate::store::RevisionSummary], renderer: &Renderer) -> u8 {
    if renderer.json_mode() {
        renderer.json(&Versioned::new(serde_json::json!({ "revisions": revs })));
    } else if revs.is_empty() {
        renderer.print("no revisions yet\n");
    } else {
        for r in revs {
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
}

/// `mtm state migrate --to LOCATION`: both ends locked, the copy checked by reading it
/// back; the source is left as it was.
fn migrate(cli: &Cli, to: &std::path::Path, renderer: &Renderer) -> u8 {
    let target = match Location::parse(to) {
        Ok(target) => target,
        Err(e) => {
            renderer.error(&e.to_string());
            return 1;
        }
    };
    let source = match location(cli) {
        Ok(Location::Dir(dir)) if !dir.join("db").exists() => {
            renderer.error(&format!(
                "no state in {} to migrate\n  help: pass --state with the state to copy",
                dir.display()
            ));
            return 1;
        }
        Ok(source) => source,
        Err(e) => {
            renderer.error(&e);
            return 1;
        }
    };
    if source == target {
        renderer.error(&format!(
            "{source} is both the source and the target of the migration"
        ));
        return 1;
    }
    let command = super::run::command_line(None);
    let opened = open_locked(cli, &command).and_then(|from| {
        crate::store::open_locked_at(&target, &access(cli), &command, cli.lock_timeout)
            .map(|to| (from, to))
            .map_err(|e| chain(&e))
    });
    let ((_from_lock, from), (_to_lock, to)) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            renderer.error(&e);
            return 1;
        }
    };
    match crate::store::migrate::migrate(&from, &to) {
        Ok(copied) => {
            renderer.heading(
                "migrated",
                &format!(
                    "{} revisions, {} records and {} generated values from {source} to {target}",
                    copied.revisions, copied.records, copied.generated
                ),
            );
            0
        }
        Err(e) => {
            renderer.error(&chain(&e));
            1
        }
    }
}

pub fn unlock(cli: &Cli, renderer: &Renderer) -> u8 {
    if let Ok(Location::Kube(kube)) = location(cli) {
        let holder = match crate::store::kube::holder(&kube, &access(cli)) {
            Ok(Some(holder)) => format!("its Lease names {holder}"),
            Ok(None) => {
                renderer.print(&format!("{kube} is not locked (no live Lease)\n"));
                return 0;
            }
            Err(e) => chain(&e),
        };
        renderer.error(&format!(
            "state in {kube} is locked by a Lease, never broken by hand: {holder}\n  help: a holder that is gone stops renewing it, and it expires on its own"
        ));
        return 1;
    }
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
