//! What a run tells its caller: an [`Event`] as each thing happens, and a [`Report`] with
//! one [`NodeState`] per node at the end.
//!
//! Plain values; how they are shown or stored is the caller's business.

/// What happened to one node by the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Its worker returned `Ok`.
    Succeeded,
    /// Its worker returned this error, or panicked with this message.
    Failed(String),
    /// It was never started because `failed_dependency`, a node it waits for directly or
    /// through others, failed.
    Skipped { failed_dependency: usize },
    /// It was never started because the run was cancelled first.
    NotStarted,
}

/// Something that just happened during a run, reported in the order it happened.
///
/// `Succeeded` of a node is always reported before `Started` of any node waiting for it,
/// and every node gets at most one of `Succeeded`, `Failed` and `Skipped`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<T> {
    /// The node's worker was called.
    Started(usize),
    /// The node's worker returned `Ok` with this value.
    Succeeded(usize, T),
    /// The node's worker returned this error or panicked.
    Failed { node: usize, error: String },
    /// The node will never start because `failed_dependency` failed.
    Skipped {
        node: usize,
        failed_dependency: usize,
    },
    /// Cancellation was seen: nothing more will start; `running` workers are still being
    /// awaited. Reported at most once.
    Cancelled { running: usize },
}

/// The end of a run: `outcomes[i]` is node `i`'s outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub outcomes: Vec<NodeState>,
    /// Cancellation was seen while there was still work to do; [`Report::not_started`]
    /// lists what was left out.
    pub cancelled: bool,
}

impl Report {
    /// The nodes that succeeded, ascending.
    pub fn succeeded(&self) -> Vec<usize> {
        self.nodes(|o| matches!(o, NodeState::Succeeded))
    }

    /// The nodes whose worker failed, ascending.
    pub fn failed(&self) -> Vec<usize> {
        self.nodes(|o| matches!(o, NodeState::Failed(_)))
    }

    /// The nodes skipped because a dependency failed, ascending.
    pub fn skipped(&self) -> Vec<usize> {
        self.nodes(|o| matches!(o, NodeState::Skipped { .. }))
    }

    /// The nodes left out because the run was cancelled, ascending.
    pub fn not_started(&self) -> Vec<usize> {
        self.nodes(|o| matches!(o, NodeState::NotStarted))
    }

    /// Every node succeeded (true for an empty schedule).
    pub fn all_succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| matches!(o, NodeState::Succeeded))
    }

    fn nodes(&self, keep: impl Fn(&NodeState) -> bool) -> Vec<usize> {
        (0..self.outcomes.len())
            .filter(|&i| keep(&self.outcomes[i]))
            .collect()
    }
}
