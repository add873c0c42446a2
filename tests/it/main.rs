//! The integration test binary: one binary, one module per area.

mod cli;
mod exec;
mod generate;
mod golden;
mod malformed;
mod ownership;
mod sched;
mod store;
mod support;
mod testbed;
mod verify;
mod workshop;
