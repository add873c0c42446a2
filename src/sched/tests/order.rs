//! Nodes start only after what they wait for succeeded, as early as that, lowest index
//! first, and never more than `parallelism` at once.

use tokio::sync::watch;

use super::fake::{self, Fake};
use super::{chain, independent};
use crate::sched::{Event, Schedule};

#[tokio::test]
async fn a_chain_runs_one_after_the_other() {
    let fake = Fake::new(5);
    let (report, _) = fake::run(&chain(5), 10, &fake).await;
    assert!(report.all_succeeded());
    assert_eq!(fake.log().start_order(), [0, 1, 2, 3, 4]);
    assert_eq!(fake.log().max_running, 1);
}

#[tokio::test]
async fn a_diamond_joins_only_after_both_sides() {
    // 0 -> {1 slow, 2 fast} -> 3
    let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
    let fake = Fake::new(4).steps(1, 20);
    let (report, events) = fake::run(&deps, 10, &fake).await;
    assert!(report.all_succeeded());
    assert_eq!(
        events,
        [
            Event::Started(0),
            Event::Succeeded(0, ()),
            Event::Started(1),
            Event::Started(2),
            Event::Succeeded(2, ()),
            Event::Succeeded(1, ()),
            Event::Started(3),
            Event::Succeeded(3, ()),
        ]
    );
}

#[tokio::test]
async fn a_wide_fan_out_and_fan_in() {
    // 0 -> 1..=40 -> 41
    let mut deps = vec![vec![]];
    deps.extend((1..=40).map(|_| vec![0]));
    deps.push((1..=40).collect());
    let mut fake = Fake::new(42);
    for i in 1..=40 {
        fake = fake.steps(i, i % 7);
    }
    let (report, _) = fake::run(&deps, 8, &fake).await;
    assert!(report.all_succeeded());
    assert_eq!(fake.log().max_running, 8);
    assert_eq!(fake.log().start_order().last(), Some(&41));
}

#[tokio::test]
async fn two_clusters_with_cross_edges_run_side_by_side() {
    // east: 0 -> 1 -> 2 -> 3; west: 4 -> 5 -> 6 -> 7; 6 waits for east's 1, 3 for west's 5.
    let deps = vec![
        vec![],
        vec![0],
        vec![1],
        vec![2, 5],
        vec![],
        vec![4],
        vec![5, 1],
        vec![6],
    ];
    let fake = Fake::new(8).steps(0, 5).steps(5, 9);
    let (report, _) = fake::run(&deps, 10, &fake).await;
    assert!(report.all_succeeded());
    let log = fake.log();
    assert!(
        log.started[4] < log.finished[0],
        "west starts while east runs"
    );
    assert_eq!(log.max_running, 2);
}

#[tokio::test]
async fn a_node_starts_as_soon_as_its_dependencies_finish() {
    // 0 is slow; 2 waits only for the fast 1 and must not wait for 0.
    let deps = vec![vec![], vec![], vec![1]];
    let fake = Fake::new(3).steps(0, 50);
    fake::run(&deps, 2, &fake).await;
    let log = fake.log();
    assert!(log.started[2] < log.finished[0], "{log:?}");
}

#[tokio::test]
async fn ready_nodes_start_lowest_index_first() {
    // Ready at first: 2 and 3; 0 and 1 become ready after 3.
    let deps = vec![vec![3], vec![3], vec![], vec![]];
    let fake = Fake::new(4);
    fake::run(&deps, 1, &fake).await;
    assert_eq!(fake.log().start_order(), [2, 3, 0, 1]);
}

#[tokio::test]
async fn the_workers_value_reaches_the_succeeded_event() {
    let schedule = Schedule::new(independent(3)).unwrap();
    let (_keep, cancel) = watch::channel(false);
    let mut values = Vec::new();
    let report = crate::sched::run(
        &schedule,
        2,
        cancel,
        |i| async move { Ok(format!("applied {i}")) },
        |e| {
            if let Event::Succeeded(i, value) = e {
                values.push((i, value));
            }
        },
    )
    .await;
    assert!(report.all_succeeded());
    assert_eq!(
        values,
        [
            (0, "applied 0".to_string()),
            (1, "applied 1".into()),
            (2, "applied 2".into())
        ]
    );
}

#[tokio::test]
async fn parallelism_3_runs_exactly_3_of_50_slow_nodes_at_once() {
    let mut fake = Fake::new(50);
    for i in 0..50 {
        fake = fake.steps(i, 10 + i % 5);
    }
    let (report, _) = fake::run(&independent(50), 3, &fake).await;
    assert!(report.all_succeeded());
    assert_eq!(fake.log().max_running, 3);
}

#[tokio::test]
async fn parallelism_10_reaches_10() {
    let mut fake = Fake::new(50);
    for i in 0..50 {
        fake = fake.steps(i, 10 + i % 5);
    }
    let (report, _) = fake::run(&independent(50), 10, &fake).await;
    assert!(report.all_succeeded());
    assert_eq!(fake.log().max_running, 10);
}

#[tokio::test]
async fn parallelism_0_is_taken_as_1() {
    let fake = Fake::new(5).steps(0, 10);
    let (report, _) = fake::run(&independent(5), 0, &fake).await;
    assert!(report.all_succeeded());
    assert_eq!(fake.log().max_running, 1);
}
