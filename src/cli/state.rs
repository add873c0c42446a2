//! `mtm state list|show|history` and `mtm unlock` (being written).

use super::Cli;
use crate::render::Renderer;

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Every resource state records
    List,
    /// One resource's record
    Show {
        /// The resource address
        address: Option<String>,
        /// Show a revision instead
        #[arg(long)]
        revision: Option<u64>,
    },
    /// The revisions, newest last
    History,
}

pub fn run(_cli: &Cli, _cmd: &StateCommand, renderer: &Renderer) -> u8 {
    renderer.error("state commands are not wired yet");
    1
}

pub fn unlock(_cli: &Cli, renderer: &Renderer) -> u8 {
    renderer.error("unlock is not wired yet");
    1
}
