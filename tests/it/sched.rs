//! End-to-end scenarios of `mtm::sched`: a two-cluster workshop applied over a fake
//! provider on a multi-threaded runtime, with the run spawned as the engine would, saving
//! "state" from the events. The unit tests in `src/sched/tests.rs` cover the rules one by
//! one; these check that they hold together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtm::sched::{self, Event, NodeState, Report, Schedule};
use tokio::sync::watch;

/// Two clusters: east holds the root CA; west's gateway needs east's CA too.
const WORKSHOP: &[(&str, &[&str])] = &[
    ("east/namespace/istio-system", &[]),
    ("east/secret/cacerts", &["east/namespace/istio-system"]),
    ("east/crds/gateway-api", &[]),
    (
        "east/helm/istiod",
        &["east/secret/cacerts", "east/crds/gateway-api"],
    ),
    ("east/gateway/eastwest", &["east/helm/istiod"]),
    ("west/namespace/istio-system", &[]),
    ("west/crds/gateway-api", &[]),
    (
        "west/helm/istiod",
        &["west/namespace/istio-system", "west/crds/gateway-api"],
    ),
    (
        "west/gateway/eastwest",
        &["west/helm/istiod", "east/secret/cacerts"],
    ),
    (
        "west/app/bookinfo",
        &["west/gateway/eastwest", "east/gateway/eastwest"],
    ),
];

fn index(name: &str) -> usize {
    WORKSHOP.iter().position(|(n, _)| *n == name).expect(name)
}

fn name(node: usize) -> &'static str {
    WORKSHOP[node].0
}

fn workshop() -> Schedule {
    let deps = WORKSHOP
        .iter()
        .map(|(_, deps)| deps.iter().map(|d| index(d)).collect())
        .collect();
    Schedule::new(deps).expect("the workshop has no cycle")
}

/// A fake provider: each resource takes a few milliseconds; chosen ones fail.
#[derive(Default)]
struct FakeProvider {
    failing: Vec<usize>,
    running: Mutex<(usize, usize)>,
}

impl FakeProvider {
    async fn apply(&self, node: usize) -> Result<String, String> {
        {
            let mut running = self.running.lock().unwrap();
            running.0 += 1;
            running.1 = running.1.max(running.0);
        }
        tokio::time::sleep(Duration::from_millis(1 + (node as u64 * 7) % 5)).await;
        self.running.lock().unwrap().0 -= 1;
        if self.failing.contains(&node) {
            return Err(format!("{}: release failed", name(node)));
        }
        Ok("created".to_string())
    }

    fn max_running(&self) -> usize {
        self.running.lock().unwrap().1
    }
}

/// What the engine would keep: saved records and the events, as they arrived.
#[derive(Default)]
struct Recorder {
    saved: Vec<&'static str>,
    events: Vec<Event<String>>,
}

/// Spawns the run on the runtime, as the engine does, and waits for it. `on_event` sees
/// each event after the recorder saved it.
async fn apply(
    provider: FakeProvider,
    parallelism: usize,
    cancel: watch::Receiver<bool>,
    mut on_event: impl FnMut(&Event<String>) + Send + 'static,
) -> (Report, Recorder, Arc<FakeProvider>) {
    let provider = Arc::new(provider);
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    let run = tokio::spawn({
        let provider = provider.clone();
        let recorder = recorder.clone();
        async move {
            let schedule = workshop();
            let worker = |node| {
                let provider = provider.clone();
                async move { provider.apply(node).await }
            };
            let record = |event: Event<String>| {
                let mut recorder = recorder.lock().unwrap();
                if let Event::Succeeded(node, _) = &event {
                    recorder.saved.push(name(*node));
                }
                on_event(&event);
                recorder.events.push(event);
            };
            sched::run(&schedule, parallelism, cancel, worker, record).await
        }
    });
    let report = run.await.expect("the run did not panic");
    let recorder = Arc::into_inner(recorder).unwrap().into_inner().unwrap();
    (report, recorder, provider)
}

/// A node's record was saved before anything waiting for it started.
fn assert_saved_before_dependents_started(recorder: &Recorder) {
    let mut saved_at = HashMap::new();
    for (at, event) in recorder.events.iter().enumerate() {
        match event {
            Event::Succeeded(node, _) => {
                saved_at.insert(*node, at);
            }
            Event::Started(node) => {
                for dep in WORKSHOP[*node].1 {
                    assert!(
                        saved_at.contains_key(&index(dep)),
                        "{} started before {dep}",
                        name(*node)
                    );
                }
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clusters_apply_in_order_and_every_success_is_saved() {
    let (_keep, cancel) = watch::channel(false);
    let (report, recorder, provider) = apply(FakeProvider::default(), 3, cancel, |_| {}).await;
    assert!(report.all_succeeded(), "{report:?}");
    assert_eq!(recorder.saved.len(), WORKSHOP.len());
    assert_eq!(recorder.saved.last(), Some(&"west/app/bookinfo"));
    assert_saved_before_dependents_started(&recorder);
    assert_eq!(provider.max_running(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_release_skips_what_needs_it_while_the_other_cluster_finishes() {
    let east_istiod = index("east/helm/istiod");
    let provider = FakeProvider {
        failing: vec![east_istiod],
        ..FakeProvider::default()
    };
    let (_keep, cancel) = watch::channel(false);
    let (report, recorder, _) = apply(provider, 10, cancel, |_| {}).await;
    assert_eq!(
        report.outcomes[east_istiod],
        NodeState::Failed("east/helm/istiod: release failed".into())
    );
    let skipped: Vec<_> = report.skipped().into_iter().map(name).collect();
    assert_eq!(skipped, ["east/gateway/eastwest", "west/app/bookinfo"]);
    for node in report.skipped() {
        assert_eq!(
            report.outcomes[node],
            NodeState::Skipped {
                failed_dependency: east_istiod
            }
        );
    }
    let mut saved = recorder.saved.clone();
    saved.sort();
    let mut succeeded: Vec<_> = report.succeeded().into_iter().map(name).collect();
    succeeded.sort();
    assert_eq!(saved, succeeded);
    assert!(succeeded.contains(&"west/gateway/eastwest"));
    assert_saved_before_dependents_started(&recorder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_apply_lets_running_work_finish_saves_it_and_starts_nothing_more() {
    let east_istiod = index("east/helm/istiod");
    let (cancel_tx, cancel) = watch::channel(false);
    let stop_line = Arc::new(Mutex::new(None));
    let line = stop_line.clone();
    let on_event = move |event: &Event<String>| match event {
        // The user presses Ctrl-C the moment east's istiod starts.
        Event::Started(node) if *node == east_istiod => cancel_tx.send(true).unwrap(),
        // What the engine prints when it sees the cancel.
        Event::Cancelled { running } => {
            *line.lock().unwrap() = Some(format!("stopping: waiting for {running} running"));
        }
        _ => {}
    };
    let (report, recorder, _) = apply(FakeProvider::default(), 2, cancel, on_event).await;

    assert!(report.cancelled);
    let cancelled_at = recorder
        .events
        .iter()
        .position(|e| matches!(e, Event::Cancelled { .. }))
        .expect("a Cancelled event");
    let started_before: Vec<usize> = recorder.events[..cancelled_at]
        .iter()
        .filter_map(|e| match e {
            Event::Started(node) => Some(*node),
            _ => None,
        })
        .collect();
    let finished_before = recorder.events[..cancelled_at]
        .iter()
        .filter(|e| matches!(e, Event::Succeeded(..)))
        .count();
    assert!(
        !recorder.events[cancelled_at..]
            .iter()
            .any(|e| matches!(e, Event::Started(_))),
        "nothing starts after ctrl-c"
    );
    let running = started_before.len() - finished_before;
    assert_eq!(
        stop_line.lock().unwrap().as_deref(),
        Some(format!("stopping: waiting for {running} running").as_str())
    );
    // Everything that started finished and was saved; the rest never began.
    assert_eq!(report.succeeded(), {
        let mut started = started_before.clone();
        started.sort();
        started
    });
    assert_eq!(recorder.saved.len(), started_before.len());
    assert_eq!(report.outcomes[east_istiod], NodeState::Succeeded);
    assert_eq!(
        report.outcomes[index("east/gateway/eastwest")],
        NodeState::NotStarted
    );
    assert_eq!(
        report.not_started().len(),
        WORKSHOP.len() - started_before.len()
    );
}
