//! The engine's commands against the fake cluster.

use super::{Harness, data, idle};
use mtm::engine::apply::Progress;
use mtm::engine::change::Action;
use mtm::store::{RevisionResult, Store};
use mtm_provider::ObjectId;
use serde_json::json;

const NS_EAST: &str = "base/east/core/Namespace/_/demo";
const NS_WEST: &str = "base/west/core/Namespace/_/demo";
const CFG: &str = "app/east/core/ConfigMap/demo/cfg";
const DEPLOY: &str = "app/east/apps/Deployment/demo/web";
const SA: &str = "app/east/core/ServiceAccount/demo/web";
const CRD: &str = "crd/west/apiextensions.k8s.io/CustomResourceDefinition/_/widgets.example.com";
const WIDGET: &str = "crd/west/example.com/Widget/demo/w1";
const RELEASE: &str = "chart/east/helm/demo/r";

fn cfg_id() -> ObjectId {
    ObjectId {
        cluster: "east".into(),
        group: String::new(),
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("demo".into()),
        name: "cfg".into(),
    }
}

fn before(h: &Harness, first: &str, then: &str) -> bool {
    h.fake.position(first) < h.fake.position(then)
}

#[tokio::test]
async fn apply_goes_in_dependency_order_and_a_second_plan_changes_nothing() {
    let h = Harness::new();
    let done = h.apply(&[]).await;
    assert_eq!(done.number, 1);
    assert!(before(
        &h,
        &format!("apply {NS_EAST}"),
        &format!("apply {CFG}")
    ));
    assert!(before(
        &h,
        &format!("apply {SA}"),
        &format!("apply {DEPLOY}")
    ));
    assert!(before(
        &h,
        &format!("apply {CRD}"),
        &format!("apply {WIDGET}")
    ));
    assert!(before(
        &h,
        &format!("apply {NS_EAST}"),
        &format!("apply {RELEASE}")
    ));
    let records = h.records();
    for a in [NS_EAST, NS_WEST, CFG, DEPLOY, SA, CRD, WIDGET, RELEASE] {
        assert!(records[a].hash.len() > 10, "{a}: {:?}", records[a]);
    }
    let changes = h.fake.log().len();
    let again = h.plan_actions().await;
    assert!(
        again.values().all(|a| !a.changes()),
        "a second plan changes nothing: {again:?}"
    );
    assert_eq!(h.fake.log().len(), changes, "a plan touches nothing");
    // Nothing to do: no revision is begun.
    let walked = h.walk(&[], idle()).await;
    assert!(walked.finished.is_none() && walked.clean);
    assert_eq!(h.store.revisions().unwrap().len(), 1);
}

#[tokio::test]
async fn a_crd_and_its_resources_are_planned_in_one_run() {
    let h = Harness::new();
    let plan = h.plan_actions().await;
    assert_eq!(plan[CRD], Action::Create);
    assert_eq!(
        plan[WIDGET],
        Action::Pending,
        "not served yet: validated at apply"
    );
    h.apply(&["crd"]).await;
    assert_eq!(
        h.fake.object("west", "Widget", "demo", "w1").unwrap()["spec"],
        json!({ "size": 3 })
    );
}

#[tokio::test]
async fn a_saved_plan_applies_and_destroy_restores_what_existed_before() {
    let h = Harness::new();
    h.fake.preexisting(
        &cfg_id(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "demo"}, "data": data("red")}),
    );
    let sel = h.select(&["app"]);
    let engine = h.engine(&sel);
    let planned = engine.plan_all(&h.records()).await;
    let cfg = planned.changes.iter().find(|c| c.address == CFG).unwrap();
    assert_eq!(cfg.action, Action::Adopt);
    let applied = engine
        .apply(
            &planned,
            &h.records(),
            &h.ledger(&["app"]),
            idle(),
            |_: Progress| {},
        )
        .await
        .unwrap();
    assert_eq!(applied.result, RevisionResult::Succeeded);
    assert_eq!(
        h.fake.object("east", "ConfigMap", "demo", "cfg").unwrap()["data"],
        data("blue")
    );

    let gone = h.destroy(&["app"]).await;
    assert_eq!(gone.result, RevisionResult::Succeeded);
    assert!(h.records().is_empty(), "{:?}", h.records().keys());
    let cfg = h
        .fake
        .object("east", "ConfigMap", "demo", "cfg")
        .expect("restored, not deleted");
    assert_eq!(cfg["data"], data("red"));
    assert!(h.fake.log().contains(&format!("restore {CFG}")));
    assert!(h.fake.object("east", "Namespace", "", "demo").is_none());
    // Namespaces last: after everything that lives in them.
    assert!(before(
        &h,
        &format!("delete {DEPLOY}"),
        &format!("delete {NS_EAST}")
    ));
    assert!(before(
        &h,
        &format!("restore {CFG}"),
        &format!("delete {NS_EAST}")
    ));
}

#[tokio::test]
async fn rollback_follows_the_graph_in_parallel_and_restores_the_old_content() {
    let mut h = Harness::new();
    let first = h.apply(&["app"]).await;
    h.edit("m/app.yaml", "colour: blue", "colour: green");
    h.apply(&[]).await;
    assert_eq!(
        h.fake.object("east", "ConfigMap", "demo", "cfg").unwrap()["data"],
        data("green")
    );

    let back = h.rollback(first.number, idle()).await;
    assert_eq!(back.result, RevisionResult::Succeeded, "{back:?}");
    assert_eq!(
        h.fake.object("east", "ConfigMap", "demo", "cfg").unwrap()["data"],
        data("blue")
    );
    assert!(h.fake.object("west", "Widget", "demo", "w1").is_none());
    assert!(before(
        &h,
        &format!("delete {WIDGET}"),
        &format!("delete {CRD}")
    ));
    assert!(h.fake.most_at_once() > 1, "independent steps overlap");
    let now: Vec<String> = h.records().into_keys().collect();
    let then: Vec<String> = h
        .store
        .revision(first.number)
        .unwrap()
        .unwrap()
        .applied
        .into_keys()
        .collect();
    assert_eq!(now, then);
}

#[tokio::test]
async fn a_cancelled_rollback_records_what_it_did_and_a_rerun_completes() {
    let mut h = Harness::new();
    let first = h.apply(&["base"]).await;
    h.edit("stages/app.yaml", "title: App", "title: App v2");
    h.apply(&[]).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = std::sync::Arc::new(tx);
    let at = tx.clone();
    h.fake.on_change(move |n| {
        if n == 2 {
            at.send_replace(true);
        }
    });
    let stopped = h.rollback(first.number, rx).await;
    assert_eq!(stopped.result, RevisionResult::Interrupted);
    assert!(!stopped.report.not_started().is_empty());
    let left = h.records();
    assert!(left.len() > 2 && left.values().all(|r| r.hash != "pending"));
    h.fake.on_change(|_| {});
    let done = h.rollback(first.number, idle()).await;
    assert_eq!(done.result, RevisionResult::Succeeded);
    let now: Vec<String> = h.records().into_keys().collect();
    assert_eq!(now, [NS_EAST, NS_WEST]);
    drop(tx);
}

#[tokio::test]
async fn drift_names_a_hand_edit_and_an_object_deleted_outside_mtm() {
    let h = Harness::new();
    h.apply(&["app"]).await;
    let sel = h.select(&["app"]);
    let engine = h.engine(&sel);
    assert!(engine.drift(&h.records()).await.drift.is_empty());
    h.fake.hand_edit(
        "east",
        "ConfigMap",
        "demo",
        "cfg",
        &["data", "colour"],
        json!("pink"),
    );
    let report = engine.drift(&h.records()).await;
    assert_eq!(report.drift.len(), 1, "{:?}", report.drift);
    assert_eq!(report.drift[0].address, CFG);
    assert_eq!(report.drift[0].path, "data");
    assert_eq!(report.drift[0].live, Some(data("pink")));
    h.fake
        .delete_by_hand("east", "ServiceAccount", "demo", "web");
    let report = engine.drift(&h.records()).await;
    let gone = report
        .drift
        .iter()
        .find(|d| d.address == SA)
        .expect("the deleted one");
    assert_eq!((gone.path.as_str(), gone.live.as_ref()), ("", None));
    // apply puts it right.
    h.apply(&["app"]).await;
    assert!(engine.drift(&h.records()).await.drift.is_empty());
}

#[tokio::test]
async fn ctrl_c_stops_the_walk_with_state_consistent_and_the_next_run_finishes() {
    let h = Harness::new();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = std::sync::Arc::new(tx);
    let at = tx.clone();
    h.fake.on_change(move |n| {
        if n == 3 {
            at.send_replace(true);
        }
    });
    let walked = h.walk(&[], rx).await;
    let stopped = walked.finished.unwrap();
    assert_eq!(stopped.result, RevisionResult::Interrupted);
    let kept = h.records();
    assert!(kept.values().all(|r| r.hash != "pending"), "{kept:?}");
    let applied = h.fake.log().len();
    assert_eq!(
        kept.len(),
        applied,
        "every change that finished is recorded"
    );
    h.fake.on_change(|_| {});
    let done = h.apply(&[]).await;
    assert_eq!(done.number, 2);
    assert_eq!(h.records().len(), 8);
    drop(tx);
}

#[tokio::test]
async fn a_failure_skips_what_needs_it_and_the_next_run_continues() {
    let h = Harness::new();
    h.fake.fail_at(4);
    let walked = h.walk(&["app"], idle()).await;
    let failed = walked.finished.unwrap();
    assert!(
        matches!(failed.result, RevisionResult::Failed { .. }),
        "{failed:?}"
    );
    assert_eq!(failed.report.failed().len(), 1);
    let done_before = h.records().len();
    assert!(done_before >= 2, "what succeeded is recorded");
    let next = h.apply(&["app"]).await;
    assert_eq!(next.number, 2);
    assert_eq!(h.records().len(), 5);
}

#[tokio::test]
async fn an_intent_left_by_a_run_that_died_is_finished_by_the_next() {
    let h = Harness::new();
    h.apply(&["base"]).await;
    // The configmap's change panics, as if the process died after writing its intent.
    h.fake.on_change(|n| {
        if n == 1 {
            panic!("the process dies here");
        }
    });
    let walked = h.walk(&["app"], idle()).await;
    assert!(!walked.clean);
    let intents: Vec<String> = h
        .records()
        .into_values()
        .filter(|r| r.hash == "pending")
        .map(|r| r.address)
        .collect();
    assert_eq!(intents.len(), 1, "{intents:?}");
    h.fake.on_change(|_| {});
    h.apply(&["app"]).await;
    let settled = &h.records()[&intents[0]];
    assert_ne!(settled.hash, "pending");
    assert_eq!(settled.prior, None, "it did not exist before mtm");
    h.destroy(&["app"]).await;
    assert!(h.fake.log().contains(&format!("delete {}", intents[0])));
}

#[tokio::test]
async fn an_unreachable_cluster_fails_its_resources_at_once_and_the_rest_goes_on() {
    let h = Harness::new();
    h.fake.set_down("west", true);
    let walked = h.walk(&["base", "crd", "app"], idle()).await;
    let down = &walked.planned.down;
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].cluster, "west");
    assert!(walked.planned.errors.iter().all(|e| e.cluster_down));
    assert!(h.fake.log().iter().all(|l| !l.contains("/west/")));
    assert!(h.fake.object("east", "Deployment", "demo", "web").is_some());
    h.fake.set_down("west", false);
    h.apply(&["base", "crd", "app"]).await;
    assert!(h.fake.object("west", "Widget", "demo", "w1").is_some());
}
