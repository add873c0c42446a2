//! A fake provider for the scheduler's tests, and the checks every run must pass.
//!
//! The worker takes a configurable number of steps per node (each a `yield_now`, so runs
//! interleave without timers), can fail or panic on chosen nodes, and can hold a node until
//! the test opens its gate. It records when each node started and finished on a logical
//! clock, and the most workers it saw running at once.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, watch};

use crate::sched::{self, Event, NodeState, Report, Schedule};

pub struct Fake {
    steps: Vec<usize>,
    fails: Vec<bool>,
    panics: Vec<bool>,
    gates: Vec<Option<Arc<Notify>>>,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
pub struct Log {
    clock: usize,
    /// The tick at which each node's worker began, if it did.
    pub started: Vec<Option<usize>>,
    pub finished: Vec<Option<usize>>,
    /// How many times each node's worker was called.
    pub calls: Vec<usize>,
    running: usize,
    pub max_running: usize,
}

impl Fake {
    /// `len` nodes that each take one step and succeed.
    pub fn new(len: usize) -> Self {
        Fake {
            steps: vec![1; len],
            fails: vec![false; len],
            panics: vec![false; len],
            gates: vec![None; len],
            log: Mutex::new(Log {
                started: vec![None; len],
                finished: vec![None; len],
                calls: vec![0; len],
                ..Log::default()
            }),
        }
    }

    pub fn steps(mut self, node: usize, steps: usize) -> Self {
        self.steps[node] = steps;
        self
    }

    /// The node's worker returns `Err("node {node} failed")`.
    pub fn fail(mut self, node: usize) -> Self {
        self.fails[node] = true;
        self
    }

    /// The node's worker panics with `"boom {node}"`.
    pub fn panic(mut self, node: usize) -> Self {
        self.panics[node] = true;
        self
    }

    /// The node's worker waits until the returned gate is notified.
    pub fn hold(&mut self, node: usize) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.gates[node] = Some(gate.clone());
        gate
    }

    pub async fn work(&self, node: usize) -> Result<(), String> {
        self.log().begin(node);
        if let Some(gate) = &self.gates[node] {
            gate.notified().await;
        }
        for _ in 0..self.steps[node] {
            tokio::task::yield_now().await;
        }
        self.log().end(node);
        if self.panics[node] {
            panic!("boom {node}");
        }
        match self.fails[node] {
            true => Err(format!("node {node} failed")),
            false => Ok(()),
        }
    }

    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().expect("log lock")
    }
}

impl Log {
    fn begin(&mut self, node: usize) {
        self.clock += 1;
        self.started[node] = Some(self.clock);
        self.calls[node] += 1;
        self.running += 1;
        self.max_running = self.max_running.max(self.running);
    }

    fn end(&mut self, node: usize) {
        self.clock += 1;
        self.finished[node] = Some(self.clock);
        self.running -= 1;
    }

    /// The nodes whose worker began, in the order they began.
    pub fn start_order(&self) -> Vec<usize> {
        let mut nodes: Vec<usize> = (0..self.started.len())
            .filter(|&i| self.started[i].is_some())
            .collect();
        nodes.sort_by_key(|&i| self.started[i]);
        nodes
    }
}

/// Runs `deps` over `fake` without cancelling, checks every invariant, and returns the
/// report and the events.
pub async fn run(deps: &[Vec<usize>], parallelism: usize, fake: &Fake) -> (Report, Vec<Event<()>>) {
    let schedule = Schedule::new(deps.to_vec()).expect("a valid schedule");
    let (_keep_open, cancel) = watch::channel(false);
    let mut events = Vec::new();
    let report = sched::run(
        &schedule,
        parallelism,
        cancel,
        |i| fake.work(i),
        |e| events.push(e),
    )
    .await;
    check(deps, parallelism, fake, &report, &events);
    (report, events)
}

/// What must hold after any run, cancelled or not.
pub fn check(
    deps: &[Vec<usize>],
    parallelism: usize,
    fake: &Fake,
    report: &Report,
    events: &[Event<()>],
) {
    let log = fake.log();
    assert_eq!(report.outcomes.len(), deps.len());
    assert!(
        log.max_running <= parallelism.max(1),
        "{} ran at once",
        log.max_running
    );
    check_events(parallelism, report, events);
    for node in 0..deps.len() {
        check_node(deps, node, &log, report, events);
    }
}

/// The events agree with the cancelled flag, and never show too many workers running.
fn check_events(parallelism: usize, report: &Report, events: &[Event<()>]) {
    let cancelled_at = events
        .iter()
        .position(|e| matches!(e, Event::Cancelled { .. }));
    assert_eq!(
        report.cancelled,
        cancelled_at.is_some(),
        "cancelled flag vs events"
    );
    let mut running = 0;
    for (at, event) in events.iter().enumerate() {
        match event {
            Event::Started(_) => {
                assert!(
                    cancelled_at.is_none_or(|c| at < c),
                    "started after the cancel"
                );
                running += 1;
                assert!(
                    running <= parallelism.max(1),
                    "events show {running} running"
                );
            }
            Event::Succeeded(..) | Event::Failed { .. } => running -= 1,
            Event::Skipped { .. } => {}
            Event::Cancelled { running: seen } => assert_eq!(*seen, running),
        }
    }
}

/// One node: its worker calls, events and outcome agree, and it began after its
/// dependencies.
fn check_node(deps: &[Vec<usize>], node: usize, log: &Log, report: &Report, events: &[Event<()>]) {
    let started = events.iter().position(|e| *e == Event::Started(node));
    let ran = matches!(
        report.outcomes[node],
        NodeState::Succeeded | NodeState::Failed(_)
    );
    assert_eq!(
        log.calls[node],
        usize::from(ran),
        "node {node} worker calls"
    );
    assert_eq!(started.is_some(), ran, "node {node} Started event");
    check_terminal(deps, node, report, events);
    if let Some(started) = started {
        check_dependencies_first(deps, node, started, log, report, events);
    }
    if !ran && !matches!(report.outcomes[node], NodeState::NotStarted) {
        assert!(
            ancestors(deps, node)
                .iter()
                .enumerate()
                .any(|(a, &is)| is && matches!(report.outcomes[a], NodeState::Failed(_)))
        );
    }
}

/// The node's one terminal event matches its outcome; a skip names a failed ancestor.
fn check_terminal(deps: &[Vec<usize>], node: usize, report: &Report, events: &[Event<()>]) {
    let terminal: Vec<&Event<()>> = events.iter().filter(|e| is_terminal_for(e, node)).collect();
    match &report.outcomes[node] {
        NodeState::Succeeded => assert_eq!(terminal, [&Event::Succeeded(node, ())]),
        NodeState::Failed(error) => assert_eq!(
            terminal,
            [&Event::Failed {
                node,
                error: error.clone()
            }]
        ),
        NodeState::Skipped { failed_dependency } => {
            assert_eq!(
                terminal,
                [&Event::Skipped {
                    node,
                    failed_dependency: *failed_dependency
                }]
            );
            assert!(matches!(
                report.outcomes[*failed_dependency],
                NodeState::Failed(_)
            ));
            assert!(
                ancestors(deps, node)[*failed_dependency],
                "node {node} names {failed_dependency}, which it does not wait for"
            );
        }
        NodeState::NotStarted => {
            assert!(report.cancelled, "node {node} not started without a cancel");
            assert!(terminal.is_empty());
        }
    }
}

/// A started node's dependencies all succeeded, were reported and finished before it.
fn check_dependencies_first(
    deps: &[Vec<usize>],
    node: usize,
    started: usize,
    log: &Log,
    report: &Report,
    events: &[Event<()>],
) {
    for &dependency in &deps[node] {
        assert_eq!(report.outcomes[dependency], NodeState::Succeeded);
        let succeeded = events
            .iter()
            .position(|e| *e == Event::Succeeded(dependency, ()))
            .expect("succeeded");
        assert!(
            succeeded < started,
            "node {node} started before {dependency} was reported"
        );
        assert!(
            log.finished[dependency] < log.started[node],
            "node {node} began before {dependency} finished"
        );
    }
}

/// Whether the event ends `node`: its success, failure or skip.
fn is_terminal_for(event: &Event<()>, node: usize) -> bool {
    match *event {
        Event::Succeeded(n, ())
        | Event::Failed { node: n, .. }
        | Event::Skipped { node: n, .. } => n == node,
        Event::Started(_) | Event::Cancelled { .. } => false,
    }
}

/// `result[a]`: node `node` waits for `a`, directly or through others.
pub fn ancestors(deps: &[Vec<usize>], node: usize) -> Vec<bool> {
    let mut seen = vec![false; deps.len()];
    let mut stack = deps[node].clone();
    while let Some(a) = stack.pop() {
        if !seen[a] {
            seen[a] = true;
            stack.extend(&deps[a]);
        }
    }
    seen
}
