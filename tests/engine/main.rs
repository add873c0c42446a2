//! Engine tests without clusters: the engine's commands (plan, apply in one walk and from
//! a plan, destroy, rollback, drift) run through the `Provider` trait against an
//! in-memory fake cluster (`fake.rs`), with cancellation, crash recovery, partial
//! failure and an unreachable cluster. The live tests (tests/it) remain the proof that
//! the features work on real clusters; these show the engine's own behaviour, in seconds.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests

mod fake;

use fake::FakeCluster;
use mtm::engine::apply::Progress;
use mtm::engine::change::Action;
use mtm::engine::revision::{Finished, Ledger};
use mtm::engine::values::{GenValues, ValueProvider};
use mtm::engine::walk::Walked;
use mtm::engine::{Engine, Router, rollback};
use mtm::graph::Selection;
use mtm::plan::Plan;
use mtm::store::{MemoryStore, Record, RevisionResult, Store};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

mod tests;

const PLAN: &str = "plan: fake\nclusters:\n  east: { context: east-ctx }\n  west: { context: west-ctx }\nstages: [base, app, crd, chart]\n";
const BASE: &str = "title: Base\nsteps:\n  - name: ns-east\n    title: East\n    cluster: east\n    manifests: [m/ns.yaml]\n  - name: ns-west\n    title: West\n    cluster: west\n    manifests: [m/ns.yaml]\n";
const APP: &str = "title: App\nneeds: [base]\nsteps:\n  - name: app\n    title: App\n    cluster: east\n    namespace: demo\n    manifests: [m/app.yaml]\n";
const CRD: &str = "title: Widgets\nneeds: [base]\nsteps:\n  - name: widgets\n    title: Widgets\n    cluster: west\n    manifests: [m/crd.yaml, m/widget.yaml]\n";
const CHART: &str = "title: Chart\nneeds: [app]\nsteps:\n  - name: chart\n    title: Chart\n    cluster: east\n    releases:\n      - { name: r, namespace: demo, chart: oci://charts.invalid/r, version: 1.0.0, values: { size: 1 } }\n";
const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n";
const APP_MANIFESTS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cfg }\ndata: { colour: blue }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: web }\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec: { serviceAccountName: web, containers: [{ name: c, image: nginx }] }\n";
const CRD_MANIFEST: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: { name: widgets.example.com }\nspec:\n  group: example.com\n  scope: Namespaced\n  names: { kind: Widget, plural: widgets, singular: widget, listKind: WidgetList }\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }\n";
const WIDGET: &str = "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w1, namespace: demo }\nspec: { size: 3 }\n";

/// A plan directory, a state directory, the fake cluster and an in-memory store.
pub struct Harness {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
    pub plan: Plan,
    pub fake: Arc<FakeCluster>,
    pub store: MemoryStore,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("plan.yaml", PLAN),
            ("stages/base.yaml", BASE),
            ("stages/app.yaml", APP),
            ("stages/crd.yaml", CRD),
            ("stages/chart.yaml", CHART),
            ("m/ns.yaml", NS),
            ("m/app.yaml", APP_MANIFESTS),
            ("m/crd.yaml", CRD_MANIFEST),
            ("m/widget.yaml", WIDGET),
        ] {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let plan = load(dir.path());
        Harness {
            dir,
            state: tempfile::tempdir().unwrap(),
            plan,
            fake: Arc::new(FakeCluster::new()),
            store: MemoryStore::new(),
        }
    }

    /// Edits a plan file (`from` must be in it) and loads the plan again.
    pub fn edit(&mut self, path: &str, from: &str, to: &str) {
        let full = self.dir.path().join(path);
        let text = std::fs::read_to_string(&full).unwrap();
        assert!(text.contains(from), "{path} lacks {from}");
        std::fs::write(&full, text.replacen(from, to, 1)).unwrap();
        self.plan = load(self.dir.path());
    }

    pub fn select(&self, targets: &[&str]) -> Selection {
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        mtm::graph::select(&self.plan, &targets).expect("a valid selection")
    }

    pub fn engine<'a>(&'a self, sel: &'a Selection) -> Engine<'a> {
        let gens = Arc::new(Mutex::new(GenValues::new()));
        let router = Router::new(
            self.fake.clone(),
            self.fake.clone(),
            Arc::new(ValueProvider::new(self.state.path(), gens.clone())),
            self.fake.clone(),
        );
        Engine::with_router(
            &self.plan,
            sel,
            self.state.path().to_path_buf(),
            router,
            gens,
        )
    }

    pub fn ledger(&self, targets: &[&str]) -> Ledger<'_> {
        Ledger {
            store: &self.store,
            plan: self.plan.name.clone(),
            command: "mtm test".into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    pub fn records(&self) -> BTreeMap<String, Record> {
        self.store
            .records()
            .unwrap()
            .into_iter()
            .map(|r| (r.address.clone(), r))
            .collect()
    }

    /// `mtm apply --auto-approve --target ...`: plan and apply in one walk.
    pub async fn walk(&self, targets: &[&str], cancel: watch::Receiver<bool>) -> Walked {
        let sel = self.select(targets);
        let engine = self.engine(&sel);
        let records = self.records();
        engine
            .apply_in_one_walk(&records, &self.ledger(targets), cancel, |_: Progress| {})
            .await
            .expect("the revision can be written")
    }

    /// A walk of `targets` that must succeed.
    pub async fn apply(&self, targets: &[&str]) -> Finished {
        let walked = self.walk(targets, idle()).await;
        let finished = walked.finished.expect("something changed");
        assert_eq!(finished.result, RevisionResult::Succeeded, "{finished:?}");
        finished
    }

    /// `mtm destroy --auto-approve`.
    pub async fn destroy(&self, targets: &[&str]) -> Finished {
        let sel = self.select(targets);
        let engine = self.engine(&sel);
        let records = self.records();
        engine
            .destroy(&records, &self.ledger(targets), idle(), |_: Progress| {})
            .await
            .expect("the revision can be written")
    }

    /// `mtm rollback --to REV --auto-approve`.
    pub async fn rollback(&self, to: u64, cancel: watch::Receiver<bool>) -> Finished {
        let sel = self.select(&[]);
        let engine = self.engine(&sel);
        let target = self
            .store
            .revision(to)
            .unwrap()
            .expect("the revision")
            .applied;
        let steps = rollback::steps(&self.records(), &target);
        engine
            .rollback(&steps, &self.ledger(&[]), cancel, |_: Progress| {})
            .await
            .expect("the revision can be written")
    }

    /// What a plan of everything says, by address.
    pub async fn plan_actions(&self) -> BTreeMap<String, Action> {
        let sel = self.select(&[]);
        let engine = self.engine(&sel);
        let planned = engine.plan_all(&self.records()).await;
        assert!(planned.errors.is_empty(), "{:?}", planned.errors);
        planned
            .changes
            .into_iter()
            .map(|c| (c.address, c.action))
            .collect()
    }
}

fn load(dir: &std::path::Path) -> Plan {
    let opts = mtm::plan::LoadOptions {
        cli_vars: Vec::new(),
        env: &|_| None,
    };
    mtm::plan::load(dir, &opts).unwrap_or_else(|d| panic!("the plan loads: {d:?}"))
}

/// A cancel signal that never fires.
pub fn idle() -> watch::Receiver<bool> {
    watch::channel(false).1
}

/// `json!` of an object's data, for comparisons.
pub fn data(colour: &str) -> serde_json::Value {
    json!({ "colour": colour })
}
