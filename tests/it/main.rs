//! The integration test binary: one binary, one module per area.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests and benches print and read their environment

mod cli;
mod code_map;
mod exec;
mod fleet;
mod fold;
mod generate;
mod golden;
mod habits;
mod json_schema;
mod kube_state;
mod loader_props;
mod malformed;
mod malformed_loader;
mod one_walk;
mod ownership;
mod picture;
mod rehearse;
mod rollback;
mod sched;
mod schemas;
mod state_safety;
mod store;
mod support;
mod terminal;
mod testbed;
mod unreachable;
mod usage;
mod verify;
mod workshop;
