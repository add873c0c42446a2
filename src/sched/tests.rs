//! Tests of the scheduler over a fake provider, one file per rule: order and the
//! parallelism bound, failures, cancellation, and validation and scale. Every run through
//! `fake::run` or `fake::check` also passes the checks that hold for any run.

mod cancel;
mod failure;
mod fake;
mod limits;
mod order;

use super::NodeState;

pub fn chain(len: usize) -> Vec<Vec<usize>> {
    (0..len)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect()
}

pub fn independent(len: usize) -> Vec<Vec<usize>> {
    vec![vec![]; len]
}

pub fn skipped_by(failed_dependency: usize) -> NodeState {
    NodeState::Skipped { failed_dependency }
}
