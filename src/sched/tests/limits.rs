//! Edges of the input: empty schedules, cycles, bad indices, duplicates, 100,000 nodes
//! and random graphs.

use std::sync::Mutex;

use tokio::sync::watch;

use super::fake::{self, Fake};
use crate::sched::{Error, Event, NodeState, Report, Schedule};

#[tokio::test]
async fn an_empty_schedule_returns_at_once() {
    let schedule = Schedule::new(vec![]).unwrap();
    assert!(schedule.is_empty());
    let (_keep, cancel) = watch::channel(false);
    let worker = |_| async { Err::<(), _>("never called".to_string()) };
    let report = crate::sched::run(&schedule, 4, cancel, worker, |_| panic!("no events")).await;
    assert_eq!(
        report,
        Report {
            outcomes: vec![],
            cancelled: false
        }
    );
    assert!(report.all_succeeded());
}

#[test]
fn a_cycle_is_an_error_naming_it() {
    // 0 waits for 1, 1 for 3, 3 for 2, 2 for 1; 4 waits for 0.
    let error = Schedule::new(vec![vec![1], vec![3], vec![1], vec![2], vec![0]]).unwrap_err();
    assert!(
        matches!(&error, Error::Cycle { cycle } if *cycle == [1, 3, 2]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "nodes wait for each other in a cycle: 1 -> 3 -> 2 -> 1"
    );
}

#[test]
fn a_node_waiting_for_itself_is_a_cycle() {
    let error = Schedule::new(vec![vec![], vec![1, 0]]).unwrap_err();
    assert!(
        matches!(&error, Error::Cycle { cycle } if *cycle == [1]),
        "{error:?}"
    );
}

#[test]
fn a_dependency_out_of_range_is_an_error() {
    let error = Schedule::new(vec![vec![], vec![0, 2]]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "node 1 waits for node 2, but there are only 2 nodes"
    );
}

#[tokio::test]
async fn a_dependency_listed_twice_counts_once() {
    let deps = vec![vec![], vec![0, 0], vec![1, 1]];
    let fake = Fake::new(3);
    let (report, _) = fake::run(&deps, 2, &fake).await;
    assert!(report.all_succeeded());
    let fake = Fake::new(3).fail(0);
    let (report, _) = fake::run(&deps, 2, &fake).await;
    assert_eq!(report.skipped(), [1, 2]);
}

/// 100,000 nodes, each waiting for the one before and for the one at half its index.
fn big(len: usize) -> Vec<Vec<usize>> {
    (0..len)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1, i / 2] })
        .collect()
}

#[tokio::test]
async fn a_hundred_thousand_nodes_run_in_order() {
    let deps = big(100_000);
    let schedule = Schedule::new(deps.clone()).unwrap();
    let (_keep, cancel) = watch::channel(false);
    let done = Mutex::new(vec![false; deps.len()]);
    let report = crate::sched::run(
        &schedule,
        10,
        cancel,
        |i| {
            assert!(deps[i].iter().all(|&d| done.lock().unwrap()[d]));
            async { Ok(()) }
        },
        |e| {
            if let Event::Succeeded(i, ()) = e {
                done.lock().unwrap()[i] = true;
            }
        },
    )
    .await;
    assert!(report.all_succeeded());

    let (_keep, cancel) = watch::channel(false);
    let mut skipped = 0;
    let report = crate::sched::run(
        &schedule,
        10,
        cancel,
        |_| async { Err::<(), _>("down".to_string()) },
        |e| {
            skipped += usize::from(matches!(
                e,
                Event::Skipped {
                    failed_dependency: 0,
                    ..
                }
            ))
        },
    )
    .await;
    assert_eq!((report.failed(), skipped), (vec![0], 99_999));
}

#[test]
fn a_cycle_through_a_hundred_thousand_nodes_is_found() {
    let len = 100_000;
    let deps: Vec<Vec<usize>> = (0..len).map(|i| vec![(i + 1) % len]).collect();
    let Err(Error::Cycle { cycle }) = Schedule::new(deps) else {
        panic!("expected a cycle");
    };
    assert_eq!(cycle, (0..len).collect::<Vec<_>>());
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % bound.max(1)
    }
}

#[tokio::test]
async fn random_graphs_with_failures_keep_every_rule() {
    for seed in 0..40 {
        let mut rng = Lcg(seed);
        let len = 20 + rng.below(150);
        // Edges go to lower indices, then the labels are shuffled.
        let mut label: Vec<usize> = (0..len).collect();
        for i in (1..len).rev() {
            label.swap(i, rng.below(i + 1));
        }
        let mut deps = vec![Vec::new(); len];
        let mut fake = Fake::new(len);
        let mut broken = vec![false; len];
        for i in 0..len {
            let node = label[i];
            if i > 0 {
                deps[node] = (0..rng.below(4)).map(|_| label[rng.below(i)]).collect();
            }
            fake = fake.steps(node, rng.below(6));
            match rng.below(25) {
                0 => fake = fake.fail(node),
                1 => fake = fake.panic(node),
                _ => continue,
            }
            broken[node] = true;
        }
        let parallelism = rng.below(9);
        let (report, _) = fake::run(&deps, parallelism, &fake).await;
        for node in 0..len {
            let upstream_broken = fake::ancestors(&deps, node)
                .iter()
                .enumerate()
                .any(|(a, &is)| is && broken[a]);
            let ran = matches!(
                report.outcomes[node],
                NodeState::Succeeded | NodeState::Failed(_)
            );
            assert_eq!(ran, !upstream_broken, "seed {seed} node {node}");
            assert_eq!(
                matches!(report.outcomes[node], NodeState::Failed(_)),
                ran && broken[node],
                "seed {seed} node {node}"
            );
        }
    }
}
