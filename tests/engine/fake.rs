//! An in-memory cluster for engine tests: objects with a resourceVersion and the field
//! manager that wrote them, custom kinds served only once their CRD exists, helm-like
//! releases with revisions, clusters that can be made unreachable, a failure injected at
//! the Nth change, and a hook at the Nth change (to cancel a run there). It records every
//! change in order and how many ran at once.

use mtm_helm::ReleaseRecord;
use mtm_provider::{
    Answer, Applied, Cancel, DriftField, Executed, FieldDiff, ObjectId, Observed, Pods, Provider,
    ProviderError, Resource, Spec, Verdict,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// An object's key: cluster, group, kind, namespace, name.
type Key = (String, String, String, String, String);

fn key(id: &ObjectId) -> Key {
    (
        id.cluster.clone(),
        id.group.clone(),
        id.kind.clone(),
        id.namespace.clone().unwrap_or_default(),
        id.name.clone(),
    )
}

#[derive(Default)]
struct Inner {
    objects: BTreeMap<Key, Value>,
    releases: BTreeMap<(String, String, String), (u64, Value)>,
    down: BTreeSet<String>,
    version: u64,
    changes: usize,
    fail_at: Option<usize>,
    log: Vec<String>,
}

/// Called with the absolute number of the change that starts (1-based).
type Hook = Box<dyn Fn(usize) + Send + Sync>;

#[derive(Default)]
pub struct FakeCluster {
    inner: Mutex<Inner>,
    hook: Mutex<Option<Hook>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    /// How long each change takes (so that parallel ones overlap).
    pub delay: Duration,
}

impl FakeCluster {
    pub fn new() -> FakeCluster {
        FakeCluster {
            delay: Duration::from_millis(15),
            ..FakeCluster::default()
        }
    }

    /// Every change so far, in order: `apply ADDRESS`, `delete ADDRESS`, `restore ADDRESS`.
    pub fn log(&self) -> Vec<String> {
        self.inner.lock().unwrap().log.clone()
    }

    /// Where `entry` is in the log (panics if absent).
    pub fn position(&self, entry: &str) -> usize {
        let log = self.log();
        log.iter()
            .position(|l| l == entry)
            .unwrap_or_else(|| panic!("{entry} not in {log:#?}"))
    }

    pub fn most_at_once(&self) -> usize {
        self.most_at_once.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, cluster: &str, down: bool) {
        let mut inner = self.inner.lock().unwrap();
        if down {
            inner.down.insert(cluster.to_string());
        } else {
            inner.down.remove(cluster);
        }
    }

    /// The `n`th change from now fails (once).
    pub fn fail_at(&self, n: usize) {
        let mut inner = self.inner.lock().unwrap();
        inner.fail_at = Some(inner.changes + n);
    }

    /// Runs `hook` with each change's number, counted from now (1 is the next), as it
    /// starts.
    pub fn on_change(&self, hook: impl Fn(usize) + Send + Sync + 'static) {
        let from = self.inner.lock().unwrap().changes;
        *self
            .hook
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Box::new(move |n| hook(n - from)));
    }

    /// The object `kind`/`namespace`/`name` on `cluster`, if it exists.
    pub fn object(&self, cluster: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .objects
            .iter()
            .find(|((c, _, k, ns, n), _)| c == cluster && k == kind && ns == namespace && n == name)
            .map(|(_, v)| v.clone())
    }

    /// Changes an object as a hand edit would (`kubectl edit`): `path` set to `value`.
    pub fn hand_edit(
        &self,
        cluster: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        path: &[&str],
        value: Value,
    ) {
        let mut inner = self.inner.lock().unwrap();
        inner.version += 1;
        let version = inner.version;
        let (_, obj) = inner
            .objects
            .iter_mut()
            .find(|((c, _, k, ns, n), _)| c == cluster && k == kind && ns == namespace && n == name)
            .expect("the object exists");
        obj_meta(obj)["resourceVersion"] = json!(version.to_string());
        obj_meta(obj)["managedFields"] = json!([{ "manager": "kubectl-edit" }]);
        let mut at = obj;
        for step in &path[..path.len() - 1] {
            at = at
                .as_object_mut()
                .unwrap()
                .entry(step.to_string())
                .or_insert(json!({}));
        }
        at[path[path.len() - 1]] = value;
    }

    /// Deletes an object as `kubectl delete` would, behind mtm's back.
    pub fn delete_by_hand(&self, cluster: &str, kind: &str, namespace: &str, name: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.objects.retain(|(c, _, k, ns, n), _| {
            !(c == cluster && k == kind && ns == namespace && n == name)
        });
    }

    /// Puts an object on the cluster as if made before mtm (by hand).
    pub fn preexisting(&self, id: &ObjectId, manifest: Value) {
        let mut inner = self.inner.lock().unwrap();
        inner.version += 1;
        let mut obj = manifest;
        obj_meta(&mut obj)["resourceVersion"] = json!(inner.version.to_string());
        obj_meta(&mut obj)["managedFields"] = json!([{ "manager": "kubectl-client-side-apply" }]);
        inner.objects.insert(key(id), obj);
    }

    fn run_hook(&self, n: usize) {
        // A hook may panic (a process dying there): the next change still runs.
        let hook = self
            .hook
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hook) = &*hook {
            hook(n);
        }
    }

    fn check_up(&self, cluster: &str) -> Result<(), ProviderError> {
        if self.inner.lock().unwrap().down.contains(cluster) {
            return Err(ProviderError::Cluster {
                cluster: cluster.to_string(),
                message: format!("cannot reach the API server of context {cluster}-ctx"),
            });
        }
        Ok(())
    }

    /// Counts a change, runs the hook, waits a little, and fails it if told to.
    async fn change(&self, r: &Resource, what: &str) -> Result<(), ProviderError> {
        if let Some(cluster) = r.cluster() {
            self.check_up(cluster)?;
        }
        let n = {
            let mut inner = self.inner.lock().unwrap();
            inner.changes += 1;
            inner.changes
        };
        self.run_hook(n);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let mut inner = self.inner.lock().unwrap();
        if inner.fail_at == Some(n) {
            inner.fail_at = None;
            return Err(ProviderError::Resource {
                address: r.address.to_string(),
                message: format!("injected failure at change {n}"),
            });
        }
        inner.log.push(format!("{what} {}", r.address));
        Ok(())
    }

    /// Whether `id`'s kind is served: built-in groups always, others once a CRD for them
    /// exists on the cluster.
    fn served(&self, id: &ObjectId) -> bool {
        if id.group.is_empty() || id.group == "apps" || id.group.ends_with(".k8s.io") {
            return true;
        }
        let inner = self.inner.lock().unwrap();
        inner.objects.iter().any(|((c, _, k, _, _), crd)| {
            c == &id.cluster
                && k == "CustomResourceDefinition"
                && crd.pointer("/spec/group") == Some(&json!(id.group))
                && crd.pointer("/spec/names/kind") == Some(&json!(id.kind))
        })
    }

    fn observe_object(&self, id: &ObjectId, manifest: &Value) -> Result<Observed, ProviderError> {
        self.check_up(&id.cluster)?;
        if !self.served(id) {
            let mut o = Observed::just(Verdict::Pending);
            o.note = Some(format!("{} is not served yet", id.kind));
            return Ok(o);
        }
        let live = self.inner.lock().unwrap().objects.get(&key(id)).cloned();
        let Some(live) = live else {
            let mut o = Observed::just(Verdict::Create);
            o.diff = vec![whole(None, Some(manifest.clone()))];
            return Ok(o);
        };
        let diff = differences(manifest, &live);
        let mut o = Observed::just(if diff.is_empty() {
            Verdict::NoOp
        } else {
            Verdict::Update
        });
        o.diff = diff;
        o.adoptable = true;
        o.live_version = live
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(o)
    }

    fn put(
        &self,
        id: &ObjectId,
        manifest: &Value,
        manager: &str,
    ) -> Result<Applied, ProviderError> {
        if !self.served(id) {
            return Err(ProviderError::Resource {
                address: id.to_string(),
                message: format!("no kind {} is served in group {}", id.kind, id.group),
            });
        }
        let mut inner = self.inner.lock().unwrap();
        inner.version += 1;
        let mut obj = manifest.clone();
        obj_meta(&mut obj)["resourceVersion"] = json!(inner.version.to_string());
        obj_meta(&mut obj)["uid"] = json!(format!("uid-{}", inner.version));
        obj_meta(&mut obj)["managedFields"] = json!([{ "manager": manager }]);
        inner.objects.insert(key(id), obj);
        Ok(Applied {
            uid: Some(format!("uid-{}", inner.version)),
            summary: "applied".into(),
            ..Applied::default()
        })
    }

    fn release_record(
        &self,
        cluster: &str,
        spec: &mtm_provider::ReleaseSpec,
        revision: u64,
    ) -> Value {
        let record = ReleaseRecord {
            schema: mtm_helm::RECORD_SCHEMA,
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            chart: spec.chart.clone(),
            chart_name: spec.chart.clone(),
            version: spec.version.clone().unwrap_or_default(),
            app_version: String::new(),
            revision,
            values_sha256: format!("{cluster}-{}", spec.values),
            sensitive_paths: Vec::new(),
            values_redacted: spec.values.clone(),
        };
        serde_json::to_value(record).unwrap()
    }
}

fn obj_meta(obj: &mut Value) -> &mut Value {
    obj.as_object_mut()
        .unwrap()
        .entry("metadata")
        .or_insert(json!({}))
}

fn whole(before: Option<Value>, after: Option<Value>) -> FieldDiff {
    FieldDiff {
        path: String::new(),
        before,
        after,
        owners: Vec::new(),
    }
}

/// The declared top-level fields (and labels) whose live value differs.
fn differences(declared: &Value, live: &Value) -> Vec<FieldDiff> {
    let owners: Vec<String> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str().map(str::to_string))
        .filter(|m| m != "mtm")
        .collect();
    let mut out = Vec::new();
    for (field, want) in declared.as_object().into_iter().flatten() {
        if field == "metadata" {
            continue;
        }
        if live.get(field) != Some(want) {
            out.push(FieldDiff {
                path: field.clone(),
                before: live.get(field).cloned(),
                after: Some(want.clone()),
                owners: owners.clone(),
            });
        }
    }
    out
}

fn not_here(r: &Resource) -> ProviderError {
    ProviderError::Resource {
        address: r.address.to_string(),
        message: format!("the fake has no {}", r.type_name()),
    }
}

impl Provider for FakeCluster {
    fn name(&self) -> &str {
        "fake"
    }

    fn reach<'a>(&'a self, cluster: &'a str) -> Answer<'a, ()> {
        Box::pin(async move { self.check_up(cluster) })
    }

    fn unreachable(&self, cluster: &str) -> Option<String> {
        self.check_up(cluster).err().map(|e| e.to_string())
    }

    fn observe<'a>(&'a self, r: &'a Resource) -> Answer<'a, Observed> {
        Box::pin(async move {
            match &r.spec {
                Spec::Object { id, manifest } => self.observe_object(id, &manifest.value()),
                Spec::Absent { id } => {
                    let exists = self.inner.lock().unwrap().objects.contains_key(&key(id));
                    Ok(Observed::just(if exists {
                        Verdict::Delete
                    } else {
                        Verdict::NoOp
                    }))
                }
                Spec::Release { cluster, release } => {
                    self.check_up(cluster)?;
                    let inner = self.inner.lock().unwrap();
                    let k = (
                        cluster.clone(),
                        release.namespace.clone(),
                        release.name.clone(),
                    );
                    Ok(Observed::just(match inner.releases.get(&k) {
                        None => Verdict::Create,
                        Some((_, values)) if values == &release.values => Verdict::NoOp,
                        Some(_) => Verdict::Update,
                    }))
                }
                Spec::Wait { .. } | Spec::Require { .. } => Ok(Observed::just(Verdict::Check)),
                _ => Err(not_here(r)),
            }
        })
    }

    fn live<'a>(&'a self, r: &'a Resource) -> Answer<'a, Option<Value>> {
        Box::pin(async move {
            let Some(id) = r.object_id() else {
                return Ok(None);
            };
            self.check_up(&id.cluster)?;
            Ok(self.inner.lock().unwrap().objects.get(&key(id)).cloned())
        })
    }

    fn apply<'a>(&'a self, r: &'a Resource, _cancel: Cancel) -> Answer<'a, Applied> {
        Box::pin(async move {
            self.change(r, "apply").await?;
            match &r.spec {
                Spec::Object { id, manifest } => self.put(id, &manifest.value(), "mtm"),
                Spec::Absent { id } => {
                    self.inner.lock().unwrap().objects.remove(&key(id));
                    Ok(Applied::default())
                }
                Spec::Release { cluster, release } => {
                    let mut inner = self.inner.lock().unwrap();
                    let k = (
                        cluster.clone(),
                        release.namespace.clone(),
                        release.name.clone(),
                    );
                    let revision = inner.releases.get(&k).map_or(1, |(r, _)| r + 1);
                    inner.releases.insert(k, (revision, release.values.clone()));
                    drop(inner);
                    Ok(Applied {
                        summary: format!("revision {revision}"),
                        record: Some(self.release_record(cluster, release, revision)),
                        ..Applied::default()
                    })
                }
                Spec::Wait { .. } | Spec::Require { .. } => Ok(Applied::default()),
                _ => Err(not_here(r)),
            }
        })
    }

    fn delete<'a>(&'a self, r: &'a Resource, _cancel: Cancel) -> Answer<'a, ()> {
        Box::pin(async move {
            self.change(r, "delete").await?;
            let mut inner = self.inner.lock().unwrap();
            match &r.spec {
                Spec::Object { id, .. } | Spec::Absent { id } => {
                    inner.objects.remove(&key(id));
                }
                Spec::Release { cluster, release } => {
                    let k = (
                        cluster.clone(),
                        release.namespace.clone(),
                        release.name.clone(),
                    );
                    inner.releases.remove(&k);
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn restore<'a>(
        &'a self,
        r: &'a Resource,
        snapshot: &'a Value,
        _cancel: Cancel,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            self.change(r, "restore").await?;
            match &r.spec {
                Spec::Object { id, .. } | Spec::Absent { id } => {
                    self.put(id, snapshot, "mtm").map(|_| ())
                }
                Spec::Release { cluster, release } => {
                    let mut inner = self.inner.lock().unwrap();
                    let k = (
                        cluster.clone(),
                        release.namespace.clone(),
                        release.name.clone(),
                    );
                    let values = snapshot["valuesRedacted"].clone();
                    let revision = inner.releases.get(&k).map_or(1, |(r, _)| r + 1);
                    inner.releases.insert(k, (revision, values));
                    Ok(())
                }
                _ => Err(not_here(r)),
            }
        })
    }

    fn drift<'a>(&'a self, r: &'a Resource, recorded: &'a Value) -> Answer<'a, Vec<DriftField>> {
        Box::pin(async move {
            let Spec::Object { id, .. } = &r.spec else {
                return Ok(Vec::new());
            };
            self.check_up(&id.cluster)?;
            let live = self.inner.lock().unwrap().objects.get(&key(id)).cloned();
            let Some(live) = live else {
                return Ok(vec![DriftField {
                    path: String::new(),
                    expected: Some(json!("exists")),
                    live: None,
                }]);
            };
            Ok(differences(recorded, &live)
                .into_iter()
                .map(|d| DriftField {
                    path: d.path,
                    expected: d.after,
                    live: d.before,
                })
                .collect())
        })
    }
}

impl Pods for FakeCluster {
    fn exec<'a>(
        &'a self,
        _cluster: &'a str,
        _namespace: &'a str,
        _workload: &'a str,
        _container: Option<&'a str>,
        _command: Vec<String>,
    ) -> Answer<'a, Executed> {
        Box::pin(async { Ok(Executed::default()) })
    }

    fn simulated<'a>(&'a self, _cluster: &'a str) -> Answer<'a, bool> {
        Box::pin(async { Ok(true) })
    }
}
