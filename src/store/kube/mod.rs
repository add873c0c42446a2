//! `KubeStore`: the `Store` kept in a cluster, for a team that shares one state
//! (`--state kube://CONTEXT/NAMESPACE[/NAME]`).
//!
//! Records and revisions are compressed blobs in immutable Secrets (`chunks.rs`), found
//! through one head Secret that every write replaces conditionally (`head.rs`); the lock
//! is a Lease renewed while the run lives (`lease.rs`); generated secret material is a
//! Secret of its own (`generated.rs`). Calls run on a runtime of the store's own
//! (`bridge.rs`). This is an I/O edge like `sled.rs`: it knows kube-rs and the objects it
//! keeps, not what a record means or how the CLI found the location.

mod bridge;
mod chunks;
mod generated;
mod head;
mod lease;
mod ops;

use self::bridge::Bridge;
use self::lease::{LeaseError, LeaseLock};
use super::location::KubeLocation;
use super::{Holder, StoreError};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use self::lease::LeaseLock as KubeLock;

/// How long one call to the cluster may wait for an answer, unless `Access` says.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// State in a cluster. A store opened with its lease (`open_locked`) writes; one opened
/// for reading (`open_read`) refuses to.
#[derive(Debug)]
pub struct KubeStore {
    location: KubeLocation,
    bridge: Arc<Bridge>,
    ctx: ops::Ctx,
    /// The lease's flag, set once another process took it; `None` for a reader.
    lost: Option<Arc<AtomicBool>>,
    /// Serialises this process's writes (each reads the head, then replaces it).
    write: Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeStoreError {
    #[error(
        "cannot use state in {location}: {message}\n  help: check the context with: kubectl --context {} get namespaces",
        location.context
    )]
    Connect {
        location: Box<KubeLocation>,
        message: String,
    },
    #[error("state in {location} is locked: {lease}")]
    Locked {
        location: Box<KubeLocation>,
        lease: Box<LeaseError>,
    },
    #[error("state in {location}: cannot {action}")]
    Api {
        location: Box<KubeLocation>,
        action: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "state in {location}: another process took this one's Lease after it expired; nothing more is written\n  help: run the command again once the other process is done"
    )]
    Lost { location: Box<KubeLocation> },
    #[error("state in {location} was opened for reading; it cannot be written")]
    ReadOnly { location: Box<KubeLocation> },
}

/// Where the clusters' contexts are read from, and how long a call may wait.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `--kubeconfig`; else KUBECONFIG or ~/.kube/config.
    pub kubeconfig: Option<PathBuf>,
    /// `--request-timeout`; else 30 s.
    pub request_timeout: Option<Duration>,
}

/// Take the state's lease for `command` (waiting up to `wait` for a holder to end or
/// expire), then open it for writing: running revisions a dead holder left are marked
/// interrupted, and pieces nothing points at are swept. The namespace is created if
/// missing. Drop the store before the lock: a tuple drops its lock first.
pub fn open_locked(
    location: &KubeLocation,
    access: &Access,
    command: &str,
    wait: Duration,
) -> Result<(KubeLock, KubeStore), KubeStoreError> {
    let (bridge, client) = connect(location, access)?;
    ensure_namespace(&bridge, &client, location)?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &location.namespace);
    let lock = LeaseLock::acquire(
        bridge.clone(),
        leases,
        &lock_name(location),
        command,
        location.lease,
        wait,
    )
    .map_err(|lease| locked(location, lease))?;
    let mut store = KubeStore::new(location, bridge, client);
    store.lost = Some(lock.lost());
    store.ctx.fence = Some(lock.identity().to_string());
    store.recover()?;
    Ok((lock, store))
}

/// Open the state for reading: no lease, never blocked by a writer; every read sees the
/// state as some write left it.
pub fn open_read(location: &KubeLocation, access: &Access) -> Result<KubeStore, KubeStoreError> {
    let (bridge, client) = connect(location, access)?;
    Ok(KubeStore::new(location, bridge, client))
}

/// Who holds the state's lease now, if anyone does.
pub fn holder(location: &KubeLocation, access: &Access) -> Result<Option<Holder>, KubeStoreError> {
    let (bridge, client) = connect(location, access)?;
    let leases: Api<Lease> = Api::namespaced(client, &location.namespace);
    let name = lock_name(location);
    bridge
        .run(async move { lease::current(&leases, &name).await })
        .map_err(|lease| locked(location, lease))
}

fn locked(location: &KubeLocation, lease: LeaseError) -> KubeStoreError {
    match lease {
        held @ LeaseError::Held { .. } => KubeStoreError::Locked {
            location: Box::new(location.clone()),
            lease: Box::new(held),
        },
        other => KubeStoreError::Api {
            location: Box::new(location.clone()),
            action: "take the lock".to_string(),
            source: Box::new(other),
        },
    }
}

fn lock_name(location: &KubeLocation) -> String {
    format!("{}-lock", location.name)
}

fn connect(
    location: &KubeLocation,
    access: &Access,
) -> Result<(Arc<Bridge>, Client), KubeStoreError> {
    let failed = |message: String| KubeStoreError::Connect {
        location: Box::new(location.clone()),
        message,
    };
    let bridge = Arc::new(Bridge::new().map_err(|e| failed(format!("no runtime: {e}")))?);
    let (context, kubeconfig) = (location.context.clone(), access.kubeconfig.clone());
    let timeout = access.request_timeout.unwrap_or(REQUEST_TIMEOUT);
    let client = bridge.run(async move { client(context, kubeconfig.as_deref(), timeout).await });
    Ok((bridge, client.map_err(failed)?))
}

async fn client(
    context: String,
    kubeconfig: Option<&Path>,
    timeout: Duration,
) -> Result<Client, String> {
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let loaded = match kubeconfig {
        Some(path) => match Kubeconfig::read_from(path) {
            Ok(kc) => Config::from_custom_kubeconfig(kc, &options).await,
            Err(e) => Err(e),
        },
        None => Config::from_kubeconfig(&options).await,
    };
    let source = match kubeconfig {
        Some(path) => path.display().to_string(),
        None => "the kubeconfig (KUBECONFIG or ~/.kube/config)".to_string(),
    };
    let mut config = loaded.map_err(|e| match e {
        kube::config::KubeconfigError::LoadContext(_) => {
            format!("{source} has no context {context}")
        }
        other => format!("cannot load context {context} from {source}: {other}"),
    })?;
    config.connect_timeout = Some(timeout.min(Duration::from_secs(10)));
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    Client::try_from(config).map_err(|e| format!("cannot make a client for {context}: {e}"))
}

/// Create the state's namespace if it is missing.
fn ensure_namespace(
    bridge: &Bridge,
    client: &Client,
    location: &KubeLocation,
) -> Result<(), KubeStoreError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let name = location.namespace.clone();
    let made = bridge.run(async move {
        if api.get_opt(&name).await?.is_some() {
            return Ok(());
        }
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match api.create(&PostParams::default(), &namespace).await {
            Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(()),
            other => other.map(drop),
        }
    });
    made.map_err(|source| KubeStoreError::Api {
        location: Box::new(location.clone()),
        action: format!("create namespace {}", location.namespace),
        source: Box::new(source),
    })
}

impl KubeStore {
    fn new(location: &KubeLocation, bridge: Arc<Bridge>, client: Client) -> KubeStore {
        let secrets: Api<Secret> = Api::namespaced(client, &location.namespace);
        KubeStore {
            location: location.clone(),
            bridge,
            ctx: ops::Ctx::new(secrets, location.name.clone()),
            lost: None,
            write: Mutex::new(()),
        }
    }

    pub fn location(&self) -> &KubeLocation {
        &self.location
    }

    /// `StoreError::Backend` for a failed `action`, naming the location.
    fn backend(&self, action: &str) -> impl FnOnce(ops::Failure) -> StoreError {
        let location = self.location.clone();
        let action = action.to_string();
        move |failure| match failure {
            ops::Failure::Store(e) => e,
            other => StoreError::Backend {
                action: format!("{action} in {location}"),
                source: Box::new(other),
            },
        }
    }

    /// Whether this store may write now: opened with its lease, and the lease still ours.
    fn writable(&self) -> Result<(), StoreError> {
        let refuse = |e: KubeStoreError| StoreError::Backend {
            action: "write state".to_string(),
            source: Box::new(e),
        };
        match &self.lost {
            None => Err(refuse(KubeStoreError::ReadOnly {
                location: Box::new(self.location.clone()),
            })),
            Some(lost) if lost.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(refuse(KubeStoreError::Lost {
                    location: Box::new(self.location.clone()),
                }))
            }
            Some(_) => Ok(()),
        }
    }

    fn recover(&self) -> Result<(), KubeStoreError> {
        let ctx = self.ctx.clone();
        let recovered = self.bridge.run(async move { ctx.recover().await });
        recovered.map_err(|source| KubeStoreError::Api {
            location: Box::new(self.location.clone()),
            action: "open the state".to_string(),
            source: Box::new(source),
        })
    }

    /// The generated secret material (file name to bytes), from its own Secret.
    pub fn generated(&self) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let ctx = self.ctx.clone();
        let read = self.bridge.run(async move { generated::read(&ctx).await });
        read.map_err(self.backend("read the generated values"))
    }

    /// This process's private directory holding the generated files (`secrets/`), filled
    /// from the Secret on first use: the engine's state directory for this state.
    pub fn materialize(&self) -> Result<PathBuf, StoreError> {
        let dir = generated::workdir(&self.location.to_string());
        let files = dir.join(crate::store::open::GENERATED);
        if !files.exists() {
            crate::store::private_files();
            let private = std::fs::create_dir_all(&dir);
            private.map_err(|source| StoreError::Backend {
                action: format!("create {}", dir.display()),
                source: Box::new(source),
            })?;
            crate::store::open::write_generated(&files, &self.generated()?)?;
        }
        Ok(dir)
    }

    /// Write the work directory's generated files back to the Secret if they changed
    /// (a writer, after a revision finishes).
    fn sync_generated(&self) -> Result<(), StoreError> {
        let files =
            generated::workdir(&self.location.to_string()).join(crate::store::open::GENERATED);
        if self.lost.is_none() || !files.exists() {
            return Ok(());
        }
        let now = crate::store::open::read_generated(&files)?;
        if now != self.generated()? {
            self.put_generated(now)?;
        }
        Ok(())
    }

    /// Remove this process's work directory for `location`, if it made one.
    pub fn forget_workdir(location: &KubeLocation) {
        let dir = generated::workdir(&location.to_string());
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!("cannot remove {}: {e}", dir.display());
        }
    }

    /// Replace the generated secret material.
    pub fn put_generated(&self, files: BTreeMap<String, Vec<u8>>) -> Result<(), StoreError> {
        self.writable()?;
        let ctx = self.ctx.clone();
        let written = self
            .bridge
            .run(async move { generated::write(&ctx, files).await });
        written.map_err(self.backend("write the generated values"))
    }
}
