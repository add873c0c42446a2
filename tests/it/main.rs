//! The integration test binary: one binary, one module per area.

mod cli;
mod exec;
mod fold;
mod generate;
mod golden;
mod loader_props;
mod malformed;
mod malformed_loader;
mod one_walk;
mod ownership;
mod rehearse;
mod sched;
mod state_safety;
mod store;
mod support;
mod terminal;
mod testbed;
mod unreachable;
mod usage;
mod verify;
mod workshop;
