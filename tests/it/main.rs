//! The integration test binary: one binary, one module per area.

mod cli;
mod exec;
mod generate;
mod golden;
mod habits;
mod malformed;
mod ownership;
mod rehearse;
mod sched;
mod state_safety;
mod store;
mod support;
mod testbed;
mod verify;
mod workshop;
