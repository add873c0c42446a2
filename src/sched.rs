//! The scheduler: runs a worker for each node of a dependency graph, each as soon as the
//! nodes it waits for have succeeded, at most `parallelism` at once.
//!
//! It knows nodes only as indices `0..n` with the indices each waits for (a [`Schedule`]),
//! and a worker that does one node's work. It deliberately does not know what a node is:
//! no graph, no providers, no state, no output. The caller learns what happens through
//! [`Event`]s, in order, and gets a [`Report`] at the end.
//!
//! - Among ready nodes the lowest index starts first, so runs are reproducible.
//! - A failure skips every node that waits for it, directly or not; the others carry on.
//! - Once the cancel receiver reads `true`, nothing more starts; running workers are
//!   awaited to their end and recorded as usual; the nodes never started are
//!   [`NodeState::NotStarted`]. A worker that should stop early watches the receiver too.
//! - A worker that panics fails its node with the panic message.
//!
//! Workers run concurrently on the task that awaits [`run`] (not spawned), so they may
//! borrow from the caller; a worker that blocks a thread or needs a core of its own spawns
//! that part itself. Cost: O(edges + nodes log nodes) time, O(nodes + edges)
//! memory, no polling.

mod outcome;
mod schedule;
mod signal;
mod walk;

#[cfg(test)]
mod tests;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;

pub use outcome::{Event, NodeState, Report};
pub use schedule::Schedule;
pub use signal::cancel_channel;
use walk::Walk;

/// Why a schedule is rejected, or why Ctrl-C cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("node {node} waits for node {dependency}, but there are only {len} nodes")]
    UnknownDependency {
        node: usize,
        dependency: usize,
        len: usize,
    },
    /// `cycle[k]` waits for `cycle[k + 1]` and the last for the first; smallest index first.
    #[error("nodes wait for each other in a cycle: {}", render_cycle(.cycle))]
    Cycle { cycle: Vec<usize> },
    #[error("cannot listen for ctrl-c")]
    Signal(#[source] std::io::Error),
}

/// Runs `worker(i)` for every node `i` of `schedule` whose dependencies all succeeded, and
/// returns once nothing is running and nothing more will start.
///
/// `parallelism` bounds how many workers are in flight; 0 is taken as 1. `cancel` stops the
/// run from starting more work once it reads `true` (also if it already does); a dropped
/// sender never cancels. `on_event` is called synchronously, in order, as things happen:
/// a node's `Succeeded` comes before `Started` of anything waiting for it, so it is the
/// place to save progress. A panic in a worker fails its node; a panic in `on_event` is not
/// caught.
pub async fn run<T, W, F>(
    schedule: &Schedule,
    parallelism: usize,
    mut cancel: watch::Receiver<bool>,
    mut worker: W,
    mut on_event: impl FnMut(Event<T>),
) -> Report
where
    W: FnMut(usize) -> F,
    F: Future<Output = Result<T, String>>,
{
    let parallelism = parallelism.max(1);
    let mut walk = Walk::new(schedule);
    let mut running = FuturesUnordered::new();
    let mut cancelled = false;
    let mut sender_alive = true;
    loop {
        while !cancelled && running.len() < parallelism && walk.has_ready() {
            if *cancel.borrow_and_update() {
                cancelled = true;
                on_event(Event::Cancelled {
                    running: running.len(),
                });
            } else if let Some(node) = walk.take_ready() {
                on_event(Event::Started(node));
                let work = catch_unwind(AssertUnwindSafe(|| worker(node)));
                running.push(async move {
                    let result = match work {
                        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                        Err(panic) => Err(panic),
                    };
                    (node, result)
                });
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            changed = cancel.changed(), if sender_alive && !cancelled => {
                sender_alive = changed.is_ok();
                if *cancel.borrow_and_update() {
                    cancelled = true;
                    on_event(Event::Cancelled { running: running.len() });
                }
            }
            Some((node, result)) = running.next() => match result {
                Ok(Ok(value)) => walk.succeed(node, value, &mut on_event),
                Ok(Err(error)) => walk.fail(node, error, &mut on_event),
                Err(panic) => walk.fail(node, panic_message(panic), &mut on_event),
            },
        }
    }
    walk.finish(cancelled)
}

fn panic_message(panic: Box<dyn Any + Send>) -> String {
    let text = match panic.downcast::<String>() {
        Ok(text) => Some(*text),
        Err(panic) => panic.downcast_ref::<&str>().map(|text| text.to_string()),
    };
    match text {
        Some(text) => format!("worker panicked: {text}"),
        None => "worker panicked".to_string(),
    }
}

fn render_cycle(cycle: &[usize]) -> String {
    let mut nodes: Vec<String> = cycle.iter().map(usize::to_string).collect();
    nodes.extend(cycle.first().map(usize::to_string));
    nodes.join(" -> ")
}
