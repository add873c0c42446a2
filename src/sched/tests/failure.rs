//! A failure skips everything that waits for it, naming it, while the rest finishes; a
//! panic is a failure.

use tokio::sync::watch;

use super::fake::{self, Fake};
use super::{independent, skipped_by};
use crate::sched::{Event, NodeState, Schedule};

#[tokio::test]
async fn a_failure_skips_its_transitive_dependents_and_the_rest_finishes() {
    // 0 -> 1 (fails) -> 2 -> 3, 1 -> 4; independent: 5 -> 6
    let deps = vec![vec![], vec![0], vec![1], vec![2], vec![1], vec![], vec![5]];
    let fake = Fake::new(7).fail(1).steps(5, 10).steps(6, 10);
    let (report, events) = fake::run(&deps, 2, &fake).await;
    assert_eq!(
        report.outcomes,
        [
            NodeState::Succeeded,
            NodeState::Failed("node 1 failed".into()),
            skipped_by(1),
            skipped_by(1),
            skipped_by(1),
            NodeState::Succeeded,
            NodeState::Succeeded,
        ]
    );
    assert_eq!(
        (report.succeeded(), report.failed()),
        (vec![0, 5, 6], vec![1])
    );
    assert_eq!(report.skipped(), [2, 3, 4]);
    assert!(!report.cancelled && !report.all_succeeded());
    let after_failure: Vec<_> = events
        .iter()
        .skip_while(|e| !matches!(e, Event::Failed { .. }))
        .take(4)
        .cloned()
        .collect();
    assert_eq!(
        after_failure,
        [
            Event::Failed {
                node: 1,
                error: "node 1 failed".into()
            },
            Event::Skipped {
                node: 2,
                failed_dependency: 1
            },
            Event::Skipped {
                node: 4,
                failed_dependency: 1
            },
            Event::Skipped {
                node: 3,
                failed_dependency: 1
            },
        ],
        "nearest first"
    );
}

#[tokio::test]
async fn a_node_waiting_for_two_branches_is_skipped_when_one_fails() {
    // 0 -> 1 (fails), 0 -> 2 (slow, succeeds), {1, 2} -> 3
    let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
    let fake = Fake::new(4).fail(1).steps(2, 20);
    let (report, _) = fake::run(&deps, 10, &fake).await;
    assert_eq!(report.outcomes[2], NodeState::Succeeded);
    assert_eq!(report.outcomes[3], skipped_by(1));
}

#[tokio::test]
async fn a_panicking_worker_fails_its_node_with_the_message() {
    let deps = vec![vec![], vec![0], vec![]];
    let fake = Fake::new(3).panic(0);
    let (report, _) = fake::run(&deps, 2, &fake).await;
    assert_eq!(
        report.outcomes,
        [
            NodeState::Failed("worker panicked: boom 0".into()),
            skipped_by(0),
            NodeState::Succeeded
        ]
    );
}

#[tokio::test]
async fn a_worker_that_panics_before_returning_a_future_fails_its_node() {
    let schedule = Schedule::new(independent(2)).unwrap();
    let (_keep, cancel) = watch::channel(false);
    let worker = |i: usize| {
        assert!(i != 1, "no future for node {i}");
        async { Ok(()) }
    };
    let report = crate::sched::run(&schedule, 1, cancel, worker, |_| {}).await;
    assert_eq!(
        report.outcomes,
        [
            NodeState::Succeeded,
            NodeState::Failed("worker panicked: no future for node 1".into())
        ]
    );
}
