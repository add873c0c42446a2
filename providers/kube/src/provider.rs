//! `mtm_provider::Provider` for Kubernetes resources: objects, absences, field patches,
//! waits and requirements; and `mtm_provider::Pods` for the checks run in pods. Releases,
//! generated values and checks belong to other providers and are refused here.
//!
//! Observe is a server-side dry run compared with the live object, with the ownership
//! policy's ruling on every field another manager holds. Apply of an object is apply then
//! wait for its kind's readiness; delete removes it (or lets a patch's fields go); restore
//! puts back a snapshot. Errors become `ProviderError`s that name the cluster when the
//! cluster failed and the resource's address otherwise.

use crate::error::KubeError;
use crate::ownership::FieldRule;
use crate::require::RequireError;
use crate::wait::WaitError;
use crate::{KubeProvider, MANAGER, ObjectPlan};
use mtm_provider::{
    Answer, Applied, Cancel, Claim, DriftField, Executed, FieldDiff, Observed, Pods, Provider,
    ProviderError, Resource, Spec, Verdict,
};
use serde_json::Value;

fn from_kube(resource: &Resource, err: KubeError) -> ProviderError {
    match (err.is_cluster_fault(), err.cluster()) {
        (true, Some(cluster)) => {
            // ProviderError::Cluster names the cluster itself.
            let text = err.to_string();
            let message = text
                .strip_prefix(&format!("cluster {cluster}: "))
                .unwrap_or(&text)
                .to_string();
            ProviderError::Cluster {
                cluster: cluster.to_string(),
                message,
            }
        }
        _ => ProviderError::Resource {
            address: resource.address.to_string(),
            message: err.to_string(),
        },
    }
}

fn from_wait(resource: &Resource, err: WaitError) -> ProviderError {
    match err {
        WaitError::Kube(e) => from_kube(resource, e),
        other => ProviderError::Resource {
            address: resource.address.to_string(),
            message: other.to_string(),
        },
    }
}

fn from_require(resource: &Resource, err: RequireError) -> ProviderError {
    match err {
        RequireError::Kube(e) => from_kube(resource, e),
        other => ProviderError::Resource {
            address: resource.address.to_string(),
            message: other.to_string(),
        },
    }
}

fn applied(summary: &str) -> Applied {
    Applied {
        summary: summary.to_string(),
        ..Applied::default()
    }
}

fn not_ours(r: &Resource) -> ProviderError {
    ProviderError::Resource {
        address: r.address.to_string(),
        message: format!("a {} is not a kube resource", r.type_name()),
    }
}

/// The manager and fields a patch record keeps.
fn patch_of(snapshot: &Value) -> (&str, Value) {
    let manager = snapshot
        .get("manager")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let fields = snapshot.get("fields").cloned().unwrap_or(Value::Null);
    (manager, fields)
}

/// What a plan of the recorded manifest shows as drift: the whole object when it is
/// gone, else the changed fields (expected is what was recorded, live what is there).
fn drift_of(plan: ObjectPlan) -> Vec<DriftField> {
    match plan.action {
        Verdict::NoOp | Verdict::Check => Vec::new(),
        Verdict::Create | Verdict::Pending => vec![DriftField {
            path: String::new(),
            expected: Some(Value::String("exists".into())),
            live: None,
        }],
        Verdict::Update | Verdict::Delete => plan
            .diff
            .into_iter()
            .map(|d| DriftField {
                path: d.path,
                expected: d.after,
                live: d.before,
            })
            .collect(),
    }
}

impl KubeProvider {
    /// The policy's ruling on each changed field another manager holds, applying as `ours`.
    pub fn claims(&self, diff: &[FieldDiff], ours: &str) -> Vec<Claim> {
        diff.iter()
            .flat_map(|d| {
                self.ownership()
                    .claims(&d.owners, ours)
                    .into_iter()
                    .map(|rule| match rule {
                        FieldRule::TakeOver { manager } => (manager, true),
                        FieldRule::Conflict { manager } => (manager, false),
                    })
                    .map(|(manager, take_over)| Claim {
                        path: d.path.clone(),
                        manager,
                        take_over,
                    })
            })
            .collect()
    }

    fn observed(&self, plan: ObjectPlan, ours: &str, declared: bool) -> Observed {
        let live_version = plan
            .live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/resourceVersion"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Observed {
            verdict: plan.action,
            claims: self.claims(&plan.diff, ours),
            adoptable: declared && plan.live.is_some(),
            live_version,
            note: plan.unvalidated,
            diff: plan.diff,
        }
    }

    async fn observe_resource(&self, r: &Resource) -> Result<Observed, ProviderError> {
        let kube = |e| from_kube(r, e);
        match &r.spec {
            Spec::Object { id, manifest } => {
                let plan = self
                    .plan_object(id, &manifest.value())
                    .await
                    .map_err(kube)?;
                Ok(self.observed(plan, MANAGER, true))
            }
            Spec::Absent { id } => {
                let plan = self.plan_delete(id).await.map_err(kube)?;
                Ok(self.observed(plan, MANAGER, false))
            }
            Spec::Patch {
                target,
                fields,
                manager,
            } => {
                let plan = self
                    .plan_patch(target, fields, manager)
                    .await
                    .map_err(kube)?;
                Ok(self.observed(plan, manager, false))
            }
            Spec::Require {
                cluster,
                requirement,
            } => {
                self.check_requirement(cluster, requirement)
                    .await
                    .map_err(|e| from_require(r, e))?;
                Ok(Observed::just(Verdict::Check))
            }
            Spec::Wait { .. } => Ok(Observed::just(Verdict::Check)),
            Spec::Release { .. } | Spec::Generated(_) | Spec::Check { .. } => Err(not_ours(r)),
        }
    }

    async fn apply_resource(&self, r: &Resource) -> Result<Applied, ProviderError> {
        match &r.spec {
            Spec::Object { id, manifest } => {
                let done = self
                    .apply_object(id, &manifest.value(), self.force_conflicts)
                    .await
                    .map_err(|e| from_kube(r, e))?;
                self.wait_ready(id).await.map_err(|e| from_wait(r, e))?;
                Ok(done)
            }
            Spec::Absent { id } => {
                self.delete_object(id).await.map_err(|e| from_kube(r, e))?;
                Ok(applied("deleted"))
            }
            Spec::Patch {
                target,
                fields,
                manager,
            } => self
                .apply_patch(target, fields, manager, self.force_conflicts)
                .await
                .map_err(|e| from_kube(r, e)),
            Spec::Wait { cluster, wait } => {
                self.wait(cluster, wait)
                    .await
                    .map_err(|e| from_wait(r, e))?;
                Ok(applied(&format!("{} {}", wait.kind, wait.condition)))
            }
            Spec::Require {
                cluster,
                requirement,
            } => {
                self.check_requirement(cluster, requirement)
                    .await
                    .map_err(|e| from_require(r, e))?;
                Ok(applied("present"))
            }
            Spec::Release { .. } | Spec::Generated(_) | Spec::Check { .. } => Err(not_ours(r)),
        }
    }

    async fn delete_resource(&self, r: &Resource) -> Result<(), ProviderError> {
        match &r.spec {
            Spec::Object { id, .. } | Spec::Absent { id } => {
                self.delete_object(id).await.map_err(|e| from_kube(r, e))
            }
            Spec::Patch {
                target, manager, ..
            } => self
                .release_patch(target, manager)
                .await
                .map_err(|e| from_kube(r, e)),
            // Nothing of these exists to remove: a wait, a requirement.
            Spec::Wait { .. } | Spec::Require { .. } => Ok(()),
            Spec::Release { .. } | Spec::Generated(_) | Spec::Check { .. } => Err(not_ours(r)),
        }
    }

    async fn restore_resource(&self, r: &Resource, snapshot: &Value) -> Result<(), ProviderError> {
        match &r.spec {
            // What existed before is put back as it was, whoever holds its fields now.
            Spec::Object { id, .. } | Spec::Absent { id } => self
                .apply_object(id, snapshot, true)
                .await
                .map(|_| ())
                .map_err(|e| from_kube(r, e)),
            Spec::Patch { target, .. } => {
                let (manager, fields) = patch_of(snapshot);
                self.apply_patch(target, &fields, manager, self.force_conflicts)
                    .await
                    .map(|_| ())
                    .map_err(|e| from_kube(r, e))
            }
            Spec::Wait { .. } | Spec::Require { .. } => Ok(()),
            Spec::Release { .. } | Spec::Generated(_) | Spec::Check { .. } => Err(not_ours(r)),
        }
    }

    async fn drift_resource(
        &self,
        r: &Resource,
        recorded: &Value,
    ) -> Result<Vec<DriftField>, ProviderError> {
        let plan = match &r.spec {
            Spec::Object { id, .. } => self.plan_object(id, recorded).await,
            Spec::Patch {
                target, manager, ..
            } => {
                let (_, fields) = patch_of(recorded);
                self.plan_patch(target, &fields, manager).await
            }
            _ => return Ok(Vec::new()),
        };
        Ok(drift_of(plan.map_err(|e| from_kube(r, e))?))
    }

    async fn live_resource(&self, r: &Resource) -> Result<Option<Value>, ProviderError> {
        match &r.spec {
            Spec::Object { id, .. } | Spec::Absent { id } | Spec::Patch { target: id, .. } => {
                self.get_object(id).await.map_err(|e| from_kube(r, e))
            }
            _ => Ok(None),
        }
    }
}

impl Provider for KubeProvider {
    fn name(&self) -> &str {
        "kube"
    }

    fn reach<'a>(&'a self, cluster: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            KubeProvider::reach(self, cluster)
                .await
                .map_err(|e| ProviderError::Cluster {
                    cluster: cluster.to_string(),
                    message: e.to_string(),
                })
        })
    }

    fn unreachable(&self, cluster: &str) -> Option<String> {
        KubeProvider::unreachable(self, cluster).map(|e| e.to_string())
    }

    fn prefetch<'a>(&'a self, resources: &'a [&'a Resource]) -> Answer<'a, ()> {
        Box::pin(async move {
            let ids: Vec<&mtm_provider::ObjectId> = resources
                .iter()
                .filter(|r| r.manifest().is_some())
                .filter_map(|r| r.object_id())
                .collect();
            KubeProvider::prefetch(self, &ids).await;
            Ok(())
        })
    }

    fn observe<'a>(&'a self, resource: &'a Resource) -> Answer<'a, Observed> {
        Box::pin(self.observe_resource(resource))
    }

    fn live<'a>(&'a self, resource: &'a Resource) -> Answer<'a, Option<Value>> {
        Box::pin(self.live_resource(resource))
    }

    fn apply<'a>(&'a self, resource: &'a Resource, _cancel: Cancel) -> Answer<'a, Applied> {
        Box::pin(self.apply_resource(resource))
    }

    fn delete<'a>(&'a self, resource: &'a Resource, _cancel: Cancel) -> Answer<'a, ()> {
        Box::pin(self.delete_resource(resource))
    }

    fn restore<'a>(
        &'a self,
        resource: &'a Resource,
        snapshot: &'a Value,
        _cancel: Cancel,
    ) -> Answer<'a, ()> {
        Box::pin(self.restore_resource(resource, snapshot))
    }

    fn drift<'a>(
        &'a self,
        resource: &'a Resource,
        recorded: &'a Value,
    ) -> Answer<'a, Vec<DriftField>> {
        Box::pin(self.drift_resource(resource, recorded))
    }
}

/// A pod's error: the kube error names the workload, namespace and cluster itself.
fn pod_error(cluster: &str, err: KubeError) -> ProviderError {
    ProviderError::Resource {
        address: format!("cluster {cluster}"),
        message: err.to_string(),
    }
}

impl Pods for KubeProvider {
    fn exec<'a>(
        &'a self,
        cluster: &'a str,
        namespace: &'a str,
        workload: &'a str,
        container: Option<&'a str>,
        command: Vec<String>,
    ) -> Answer<'a, Executed> {
        Box::pin(async move {
            KubeProvider::exec(self, cluster, namespace, workload, container, command)
                .await
                .map_err(|e| pod_error(cluster, e))
        })
    }

    fn simulated<'a>(&'a self, cluster: &'a str) -> Answer<'a, bool> {
        Box::pin(async move {
            self.only_kwok_nodes(cluster)
                .await
                .map_err(|e| pod_error(cluster, e))
        })
    }
}
