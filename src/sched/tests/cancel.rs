//! Once cancelled nothing more starts, running work ends normally and is recorded, and
//! the rest is not started.

use tokio::sync::{mpsc, watch};

use super::fake::{self, Fake};
use super::{chain, independent, skipped_by};
use crate::sched::{Event, NodeState, Schedule};

#[tokio::test]
async fn cancel_lets_running_nodes_finish_and_starts_nothing_more() {
    // 0, 1, 2 run and are held; 3 waits for 0; 4 and 5 are ready but wait for a slot.
    let deps = vec![vec![], vec![], vec![], vec![0], vec![], vec![]];
    let mut fake = Fake::new(6);
    let gates: Vec<_> = (0..3).map(|i| fake.hold(i)).collect();
    let (cancel_tx, cancel) = watch::channel(false);
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let mut events = Vec::new();
    let schedule = Schedule::new(deps.clone()).unwrap();
    let run = crate::sched::run(
        &schedule,
        3,
        cancel,
        |i| fake.work(i),
        |e| {
            if let Event::Started(i) = e {
                started_tx.send(i).unwrap();
            }
            events.push(e);
        },
    );
    let control = async {
        for expected in 0..3 {
            assert_eq!(started.recv().await, Some(expected));
        }
        cancel_tx.send(true).unwrap();
        gates.iter().for_each(|gate| gate.notify_one());
    };
    let (report, ()) = tokio::join!(run, control);
    fake::check(&deps, 3, &fake, &report, &events);
    assert!(report.cancelled);
    assert_eq!(report.succeeded(), [0, 1, 2]);
    assert_eq!(report.not_started(), [3, 4, 5]);
    assert_eq!(events[3], Event::Cancelled { running: 3 });
    assert_eq!(fake.log().start_order(), [0, 1, 2]);
}

#[tokio::test]
async fn cancel_seen_while_starting_stops_the_rest_of_the_batch() {
    let deps = independent(5);
    let fake = Fake::new(5);
    let (cancel_tx, cancel) = watch::channel(false);
    let mut events = Vec::new();
    let schedule = Schedule::new(deps.clone()).unwrap();
    let report = crate::sched::run(
        &schedule,
        3,
        cancel,
        |i| fake.work(i),
        |e| {
            if e == Event::Started(0) {
                cancel_tx.send(true).unwrap();
            }
            events.push(e);
        },
    )
    .await;
    fake::check(&deps, 3, &fake, &report, &events);
    assert_eq!(
        events,
        [
            Event::Started(0),
            Event::Cancelled { running: 1 },
            Event::Succeeded(0, ())
        ]
    );
    assert_eq!(report.not_started(), [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_failure_after_the_cancel_still_skips_its_dependents() {
    // 0 is held and fails; 1 waits for it; 2 is independent.
    let deps = vec![vec![], vec![0], vec![]];
    let mut fake = Fake::new(3).fail(0);
    let gate = fake.hold(0);
    let (cancel_tx, cancel) = watch::channel(false);
    let mut events = Vec::new();
    let schedule = Schedule::new(deps.clone()).unwrap();
    let report = crate::sched::run(
        &schedule,
        1,
        cancel,
        |i| fake.work(i),
        |e| {
            if e == Event::Started(0) {
                cancel_tx.send(true).unwrap();
                gate.notify_one();
            }
            events.push(e);
        },
    )
    .await;
    fake::check(&deps, 1, &fake, &report, &events);
    assert_eq!(
        report.outcomes,
        [
            NodeState::Failed("node 0 failed".into()),
            skipped_by(0),
            NodeState::NotStarted
        ]
    );
}

#[tokio::test]
async fn a_run_cancelled_before_it_begins_starts_nothing() {
    let deps = chain(3);
    let fake = Fake::new(3);
    let (_cancel_tx, cancel) = watch::channel(true);
    let mut events = Vec::new();
    let schedule = Schedule::new(deps.clone()).unwrap();
    let report =
        crate::sched::run(&schedule, 3, cancel, |i| fake.work(i), |e| events.push(e)).await;
    fake::check(&deps, 3, &fake, &report, &events);
    assert_eq!(events, [Event::Cancelled { running: 0 }]);
    assert_eq!(report.not_started(), [0, 1, 2]);
}

#[tokio::test]
async fn a_dropped_cancel_sender_never_cancels() {
    let deps = chain(4);
    let fake = Fake::new(4).steps(0, 5);
    let (cancel_tx, cancel) = watch::channel(false);
    drop(cancel_tx);
    let mut events = Vec::new();
    let schedule = Schedule::new(deps.clone()).unwrap();
    let report =
        crate::sched::run(&schedule, 2, cancel, |i| fake.work(i), |e| events.push(e)).await;
    fake::check(&deps, 2, &fake, &report, &events);
    assert!(report.all_succeeded() && !report.cancelled);
}
