//! One logical cluster: its kube context, its client (made on first use), and its
//! discovery cache.
//!
//! The client is built from the kubeconfig the first time a call needs it. A cluster that
//! cannot be used (its context does not load; its server refuses connections, does not
//! answer, fails TLS or refuses the credentials) is remembered as down for the rest of the
//! run: every later call fails at once with the same error, naming the cluster, its
//! context and server, and the cause. Discovery (aggregated, two requests) runs once and
//! is kept until it misses a kind (a CRD established since) or is invalidated. This module
//! knows nothing of manifests, diffs or waits.

use crate::error::KubeError;
use crate::retry::{self, RetryPolicy, Target};
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::config::{Config, KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Discovery, Scope};
use mtm_provider::ObjectId;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OnceCell};

/// How long a connection attempt (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may wait for the server's answer, unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A discovery miss does not refresh a cache younger than this.
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// A kind the API server serves: where to send requests, and whether it is namespaced.
#[derive(Clone, Debug)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

struct Cached {
    discovery: Arc<Discovery>,
    at: Instant,
    stale: bool,
}

/// Why a cluster is down for the rest of the run.
#[derive(Clone, Debug)]
enum Fault {
    /// The kube context did not load.
    Context(String),
    /// The server could not be used.
    Unreachable(String),
}

pub(crate) struct Cluster {
    pub name: String,
    pub context: String,
    kubeconfig: Option<PathBuf>,
    pub retry: RetryPolicy,
    request_timeout: Duration,
    client: OnceCell<Client>,
    /// The server's URL, once the context is loaded.
    server: std::sync::OnceLock<String>,
    fault: std::sync::Mutex<Option<Fault>>,
    discovery: Mutex<Option<Cached>>,
    /// Objects listed a kind and namespace at a time (`listing.rs`).
    pub listings: crate::listing::Listings,
}

impl Cluster {
    pub fn new(
        name: String,
        context: String,
        kubeconfig: Option<PathBuf>,
        retry: RetryPolicy,
        request_timeout: Duration,
    ) -> Self {
        Cluster {
            name,
            context,
            kubeconfig,
            retry,
            request_timeout,
            client: OnceCell::new(),
            server: std::sync::OnceLock::new(),
            fault: std::sync::Mutex::new(None),
            discovery: Mutex::new(None),
            listings: Default::default(),
        }
    }

    /// The error every call gets once the cluster is known to be down.
    pub fn fault(&self) -> Option<KubeError> {
        let fault = self.fault.lock().expect("fault lock").clone()?;
        Some(match fault {
            Fault::Context(message) => self.context_error(message),
            Fault::Unreachable(message) => KubeError::Unavailable {
                cluster: self.name.clone(),
                context: self.context.clone(),
                server: self.server(),
                message,
            },
        })
    }

    fn server(&self) -> String {
        self.server
            .get()
            .cloned()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Remembers a cluster-level failure (the first one wins), passing the error on.
    fn remember(&self, err: KubeError) -> KubeError {
        let fault = match &err {
            KubeError::Context { message, .. } => Fault::Context(message.clone()),
            KubeError::Unavailable { message, .. } => Fault::Unreachable(message.clone()),
            _ => return err,
        };
        let mut slot = self.fault.lock().expect("fault lock");
        if slot.is_none() {
            tracing::debug!(cluster = %self.name, error = %err, "cluster down for this run");
            *slot = Some(fault);
        }
        err
    }

    fn context_error(&self, message: String) -> KubeError {
        KubeError::Context {
            cluster: self.name.clone(),
            context: self.context.clone(),
            message,
        }
    }

    /// The client, built from the kubeconfig on first use.
    pub async fn client(&self) -> Result<Client, KubeError> {
        if let Some(down) = self.fault() {
            return Err(down);
        }
        self.build_client().await.map_err(|e| self.remember(e))
    }

    async fn build_client(&self) -> Result<Client, KubeError> {
        self.client
            .get_or_try_init(|| async {
                let options = KubeConfigOptions {
                    context: Some(self.context.clone()),
                    ..Default::default()
                };
                let loaded = match &self.kubeconfig {
                    Some(path) => match Kubeconfig::read_from(path) {
                        Ok(kc) => Config::from_custom_kubeconfig(kc, &options).await,
                        Err(e) => Err(e),
                    },
                    None => Config::from_kubeconfig(&options).await,
                };
                let mut config = loaded.map_err(|e| {
                    let source = match &self.kubeconfig {
                        Some(p) => p.display().to_string(),
                        None => "the kubeconfig (KUBECONFIG or ~/.kube/config)".into(),
                    };
                    self.context_error(match e {
                        KubeconfigError::LoadContext(_) => {
                            format!("{source} has no context of that name")
                        }
                        other => other.to_string(),
                    })
                })?;
                let _ = self.server.set(config.cluster_url.to_string());
                config.connect_timeout = Some(CONNECT_TIMEOUT.min(self.request_timeout));
                // No call waits on the server for long (waits poll): a request that gets
                // no answer within the request timeout means the server is stuck.
                config.read_timeout = Some(self.request_timeout);
                config.write_timeout = Some(self.request_timeout);
                // One retry layer: ours (`retry`), not kube-client's as well.
                config.default_retry = false;
                Client::try_from(config).map_err(|e| self.context_error(crate::error::describe(&e)))
            })
            .await
            .cloned()
    }

    /// Runs one API call with the retry policy, naming `object` in its errors.
    pub async fn call<T, F, Fut>(&self, object: &str, op: F) -> Result<T, KubeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        if let Some(down) = self.fault() {
            return Err(down);
        }
        let server = self.server();
        let target = Target {
            cluster: &self.name,
            context: &self.context,
            server: &server,
            object,
        };
        retry::call(&self.retry, &target, op)
            .await
            .map_err(|e| self.remember(e))
    }

    /// Reads one object; `None` when it does not exist. A 404 that is not the API's own
    /// NotFound means the kind's endpoint is gone (its CRD deleted): discovery is stale,
    /// and no object of the kind exists.
    pub async fn get(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        object: &str,
    ) -> Result<Option<DynamicObject>, KubeError> {
        match self.call(object, || api.get_opt(name)).await {
            Ok(found) => Ok(found),
            Err(KubeError::Api { status, .. }) if status.code == 404 => {
                self.invalidate_discovery().await;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn run_discovery(&self) -> Result<Arc<Discovery>, KubeError> {
        let client = self.client().await?;
        let what = format!("{}: discovery", self.name);
        let aggregated = self
            .call(&what, || Discovery::new(client.clone()).run_aggregated())
            .await;
        let discovery = match aggregated {
            Ok(d) => d,
            // Servers before 1.30 may lack aggregated discovery: ask group by group.
            Err(KubeError::Api { .. }) | Err(KubeError::Client { .. }) => {
                self.call(&what, || Discovery::new(client.clone()).run())
                    .await?
            }
            Err(e) => return Err(e),
        };
        Ok(Arc::new(discovery))
    }

    /// The cached discovery and when it was made; made now if there is none or it is stale.
    async fn discovery(&self) -> Result<(Arc<Discovery>, Instant), KubeError> {
        let mut guard = self.discovery.lock().await;
        if let Some(c) = guard.as_ref()
            && !c.stale
        {
            return Ok((c.discovery.clone(), c.at));
        }
        let discovery = self.run_discovery().await?;
        let at = Instant::now();
        *guard = Some(Cached {
            discovery: discovery.clone(),
            at,
            stale: false,
        });
        Ok((discovery, at))
    }

    /// Refreshes discovery unless someone else did since `seen`, or it is very young.
    async fn refresh_after(&self, seen: Instant) -> Result<Arc<Discovery>, KubeError> {
        let mut guard = self.discovery.lock().await;
        if let Some(c) = guard.as_ref()
            && !c.stale
            && (c.at > seen || c.at.elapsed() < MIN_REFRESH)
        {
            return Ok(c.discovery.clone());
        }
        let discovery = self.run_discovery().await?;
        *guard = Some(Cached {
            discovery: discovery.clone(),
            at: Instant::now(),
            stale: false,
        });
        Ok(discovery)
    }

    /// Whether the cluster can be used: discovery made (or already there).
    pub async fn reach(&self) -> Result<(), KubeError> {
        self.discovery().await.map(|_| ())
    }

    /// Marks discovery stale: the next lookup asks the server again (a CRD was established).
    pub async fn invalidate_discovery(&self) {
        if let Some(c) = self.discovery.lock().await.as_mut() {
            c.stale = true;
        }
    }

    /// The kind of `gvk`, refreshing discovery once if it is not known; `None` if the
    /// server does not serve it.
    pub async fn resolve(&self, gvk: &GroupVersionKind) -> Result<Option<Kind>, KubeError> {
        let (discovery, at) = self.discovery().await?;
        if let Some(kind) = lookup(&discovery, gvk) {
            return Ok(Some(kind));
        }
        let discovery = self.refresh_after(at).await?;
        Ok(lookup(&discovery, gvk))
    }

    /// Like [`Cluster::resolve`], but keeps refreshing (with backoff) for up to `patience`:
    /// a CRD that was just established may take a moment to be served.
    pub async fn resolve_patiently(
        &self,
        gvk: &GroupVersionKind,
        patience: Duration,
    ) -> Result<Option<Kind>, KubeError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            if let Some(kind) = self.resolve(gvk).await? {
                return Ok(Some(kind));
            }
            if start.elapsed() + pause > patience {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// A kind by its name alone (`Pod`, `Gateway`), for waits that give no apiVersion:
    /// the core group first, then the groups in alphabetical order, preferred versions.
    pub async fn resolve_kind_name(&self, kind: &str) -> Result<Option<Kind>, KubeError> {
        let find = |d: &Discovery| {
            let mut groups = d.groups_alphabetical();
            groups.sort_by_key(|g| !g.name().is_empty());
            groups.iter().find_map(|g| {
                g.recommended_kind(kind).map(|(ar, caps)| Kind {
                    resource: ar,
                    namespaced: caps.scope == Scope::Namespaced,
                })
            })
        };
        let (discovery, at) = self.discovery().await?;
        if let Some(k) = find(&discovery) {
            return Ok(Some(k));
        }
        Ok(find(&*self.refresh_after(at).await?))
    }

    /// The dynamic API of a kind, in `namespace` when it is namespaced (all namespaces
    /// when none is given).
    pub async fn api(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, KubeError> {
        let client = self.client().await?;
        Ok(match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(client, ns, &kind.resource),
            _ => Api::all_with(client, &kind.resource),
        })
    }
}

fn lookup(discovery: &Discovery, gvk: &GroupVersionKind) -> Option<Kind> {
    discovery.resolve_gvk(gvk).map(|(ar, caps)| Kind {
        resource: ar,
        namespaced: caps.scope == Scope::Namespaced,
    })
}

/// The group, version and kind of an object identity.
pub(crate) fn gvk_of(id: &ObjectId) -> GroupVersionKind {
    GroupVersionKind::gvk(&id.group, &id.version, &id.kind)
}
