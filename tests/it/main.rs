//! The integration test binary: one binary, one module per area.

mod sched;
mod store;
mod testbed;
