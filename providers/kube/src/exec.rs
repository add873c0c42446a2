//! A command in a workload's pod over the Kubernetes exec API (kube-rs's WebSocket client),
//! as `kubectl exec -n NS WORKLOAD [-c CONTAINER] -- COMMAND` runs it, without kubectl.
//!
//! A workload is `pod/NAME`, a bare pod name, or `deploy/NAME` (also `deployment/`,
//! `statefulset/`, `sts/`, `daemonset/`, `ds/`): the first running pod its selector matches,
//! oldest first, as kubectl picks. It knows nothing of checks: it returns what the command
//! printed and its exit code.

use crate::KubeProvider;
use crate::error::{KubeError, describe};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Client;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::AsyncReadExt;

pub use mtm_provider::Executed;

impl KubeProvider {
    /// Runs `command` in the pod `workload` names in `namespace` on `cluster`. `Err` when
    /// the exec could not run at all; a command that ran and failed is `Ok` with its code.
    pub async fn exec(
        &self,
        cluster: &str,
        namespace: &str,
        workload: &str,
        container: Option<&str>,
        command: Vec<String>,
    ) -> Result<Executed, KubeError> {
        let client = self.cluster(cluster)?.client().await?;
        let object = format!("{workload} in {namespace} on cluster {cluster}");
        let pod = pod_of(client.clone(), namespace, workload, &object).await?;
        let mut params = AttachParams::default()
            .stdin(false)
            .stdout(true)
            .stderr(true);
        if let Some(c) = container {
            params = params.container(c);
        }
        let pods: Api<Pod> = Api::namespaced(client, namespace);
        let failed = |e: kube::Error| KubeError::Client {
            object: object.clone(),
            message: format!("exec into pod {pod}: {}", describe(&e)),
        };
        let mut attached = pods.exec(&pod, command, &params).await.map_err(failed)?;
        let (mut out, mut err) = (String::new(), String::new());
        let mut stdout = attached.stdout().expect("stdout was asked for");
        let mut stderr = attached.stderr().expect("stderr was asked for");
        let status = attached.take_status().expect("the status is taken once");
        let (read_out, read_err) = tokio::join!(
            stdout.read_to_string(&mut out),
            stderr.read_to_string(&mut err)
        );
        read_out.and(read_err).map_err(|e| KubeError::Client {
            object: object.clone(),
            message: format!("exec into pod {pod}: reading its output: {e}"),
        })?;
        let code = exit_code(status.await);
        attached.join().await.map_err(|e| KubeError::Client {
            object: object.clone(),
            message: format!("exec into pod {pod}: {e}"),
        })?;
        Ok(Executed {
            stdout: out,
            stderr: err,
            code,
        })
    }
}

/// The exit code a finished exec's status carries: 0 on success, the `ExitCode` cause of
/// a `NonZeroExitCode` failure, else -1.
fn exit_code(status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> i32 {
    let Some(status) = status else {
        return -1;
    };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .and_then(|d| d.causes)
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message)
        .and_then(|m| m.parse().ok())
        .unwrap_or(-1)
}

/// The name of the pod `workload` stands for.
async fn pod_of(
    client: Client,
    namespace: &str,
    workload: &str,
    object: &str,
) -> Result<String, KubeError> {
    let (kind, name) = workload.split_once('/').unwrap_or(("pod", workload));
    let not_found = || KubeError::NotFound {
        object: object.to_string(),
    };
    let client_error = |e: kube::Error| KubeError::Client {
        object: object.to_string(),
        message: describe(&e),
    };
    let get = Get {
        client: &client,
        namespace,
        name,
    };
    let selector = match kind {
        "pod" | "pods" | "po" => return Ok(name.to_string()),
        "deploy" | "deployment" | "deployments" => get
            .selector(|d: Deployment| d.spec.map(|s| s.selector))
            .await
            .map_err(client_error)?,
        "sts" | "statefulset" | "statefulsets" => get
            .selector(|s: StatefulSet| s.spec.map(|s| s.selector))
            .await
            .map_err(client_error)?,
        "ds" | "daemonset" | "daemonsets" => get
            .selector(|d: DaemonSet| d.spec.map(|s| s.selector))
            .await
            .map_err(client_error)?,
        other => {
            return Err(KubeError::Client {
                object: object.to_string(),
                message: format!("cannot exec into a {other}: name a pod, deploy, sts or ds"),
            });
        }
    };
    let selector = selector.ok_or_else(not_found)?;
    let params = ListParams::default().labels(&labels(&selector));
    let mut pods = Api::<Pod>::namespaced(client, namespace)
        .list(&params)
        .await
        .map_err(client_error)?
        .items;
    pods.retain(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    pods.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .cmp(&b.metadata.creation_timestamp)
    });
    pods.into_iter()
        .find_map(|p| p.metadata.name)
        .ok_or_else(|| KubeError::Client {
            object: object.to_string(),
            message: "no running pod matches its selector".to_string(),
        })
}

/// One named workload of a namespace, to read its pod selector.
struct Get<'a> {
    client: &'a Client,
    namespace: &'a str,
    name: &'a str,
}

impl Get<'_> {
    /// The selector `of` finds in the workload, `None` when it does not exist.
    async fn selector<K>(
        &self,
        of: impl FnOnce(K) -> Option<LabelSelector>,
    ) -> Result<Option<LabelSelector>, kube::Error>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
        K::DynamicType: Default,
    {
        let found = Api::<K>::namespaced(self.client.clone(), self.namespace)
            .get_opt(self.name)
            .await?;
        Ok(found.and_then(of))
    }
}

/// A label selector's `matchLabels` as a list query (`a=b,c=d`).
fn labels(selector: &LabelSelector) -> String {
    selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
