//! The bookkeeping of one run, with no async in it: which nodes are ready to start, which
//! are done, and which are skipped when a node fails.
//!
//! [`super::run`] decides when to start and when to stop; this only answers and records.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::{Event, NodeState, Report, Schedule};

pub(super) struct Walk<'s> {
    schedule: &'s Schedule,
    /// How many dependency entries of each node have not succeeded yet.
    waiting: Vec<usize>,
    outcomes: Vec<Option<NodeState>>,
    /// Nodes whose dependencies all succeeded and that have not started, lowest first.
    ready: BinaryHeap<Reverse<usize>>,
    /// Scratch space for skipping; empty between calls.
    to_skip: VecDeque<usize>,
}

impl<'s> Walk<'s> {
    pub(super) fn new(schedule: &'s Schedule) -> Self {
        let waiting = schedule.waits().to_vec();
        let ready: Vec<_> = (0..waiting.len())
            .filter(|&i| waiting[i] == 0)
            .map(Reverse)
            .collect();
        Walk {
            schedule,
            waiting,
            outcomes: vec![None; schedule.len()],
            ready: BinaryHeap::from(ready),
            to_skip: VecDeque::new(),
        }
    }

    /// Whether a node is ready to start.
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Takes the lowest ready node; the caller starts it.
    pub(super) fn take_ready(&mut self) -> Option<usize> {
        self.ready.pop().map(|Reverse(node)| node)
    }

    /// Records a success, reports it, then makes ready the dependents that waited only
    /// for it: so the report comes before any of them can start.
    pub(super) fn succeed<T>(
        &mut self,
        node: usize,
        value: T,
        on_event: &mut impl FnMut(Event<T>),
    ) {
        self.outcomes[node] = Some(NodeState::Succeeded);
        on_event(Event::Succeeded(node, value));
        for &dependent in self.schedule.dependents(node) {
            self.waiting[dependent] -= 1;
            if self.waiting[dependent] == 0 {
                self.ready.push(Reverse(dependent));
            }
        }
    }

    /// Records and reports a failure, then skips every node that waits for it, directly
    /// or through others, nearest first. Each node is skipped once, naming the first
    /// failure to reach it; a skipped node cannot be ready or running, because one of
    /// its dependencies never succeeded.
    pub(super) fn fail<T>(
        &mut self,
        node: usize,
        error: String,
        on_event: &mut impl FnMut(Event<T>),
    ) {
        self.outcomes[node] = Some(NodeState::Failed(error.clone()));
        on_event(Event::Failed { node, error });
        self.to_skip.push_back(node);
        while let Some(skipped) = self.to_skip.pop_front() {
            for &dependent in self.schedule.dependents(skipped) {
                if self.outcomes[dependent].is_none() {
                    self.outcomes[dependent] = Some(NodeState::Skipped {
                        failed_dependency: node,
                    });
                    on_event(Event::Skipped {
                        node: dependent,
                        failed_dependency: node,
                    });
                    self.to_skip.push_back(dependent);
                }
            }
        }
    }

    /// The report: every node without an outcome was never started.
    pub(super) fn finish(self, cancelled: bool) -> Report {
        let outcomes = self.outcomes.into_iter();
        Report {
            outcomes: outcomes
                .map(|o| o.unwrap_or(NodeState::NotStarted))
                .collect(),
            cancelled,
        }
    }
}
