//! State: what mtm has applied, one record per resource, and the revisions that applied it.
//!
//! This module defines the `Store` trait the engine writes through, the serde types it
//! stores, the envelope that carries their schema version, and `MemoryStore` for tests of
//! other modules. It does not know how state is kept on disk (only `sled.rs` does), what a
//! plan or a cluster is, or how a manifest was hashed or redacted: callers hand it records
//! that are already final.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub mod kube;
pub mod location;
pub mod lock;
mod memory;
pub mod migrate;
pub mod open;
mod published;
mod read;
mod sled;
mod time;

pub use self::location::{KubeLocation, Location, LocationError};
pub use self::lock::{Holder, Lock, LockError};
pub use self::memory::MemoryStore;
pub use self::open::{Backend, OpenStateError, StateLock, open_locked_at, open_read_at};
pub use self::read::{ReadState, open_read};
pub use self::sled::{OpenError, SledStore, open_locked};
pub use self::time::{now_rfc3339, rfc3339};

/// The version of everything this mtm writes into state. A state written with a newer
/// schema is refused rather than misread.
pub const SCHEMA: u32 = 1;

/// What mtm applied for one resource, as of the revision that last touched it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The resource's stable address (stage / cluster / group / kind / namespace / name).
    pub address: String,
    /// Logical cluster name (east, west), if the resource lives in one.
    pub cluster: Option<String>,
    /// The Kubernetes object it is, if it is one.
    pub identity: Option<Identity>,
    /// object, patch, release, generated, ...
    pub kind: String,
    /// sha256 hex of what was applied.
    pub hash: String,
    /// What was applied, sensitive values already replaced by hashes by the caller.
    pub manifest: Value,
    /// The revision that wrote this record.
    pub revision: u64,
    /// RFC 3339 UTC.
    pub applied_at: String,
    /// What existed before mtm touched it, restored on destroy.
    pub prior: Option<Value>,
}

/// A record without its manifest and prior: what a listing shows, read without decoding
/// the stored objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSummary {
    pub address: String,
    pub cluster: Option<String>,
    pub kind: String,
    pub hash: String,
    pub revision: u64,
    pub applied_at: String,
}

impl From<&Record> for RecordSummary {
    fn from(r: &Record) -> Self {
        RecordSummary {
            address: r.address.clone(),
            cluster: r.cluster.clone(),
            kind: r.kind.clone(),
            hash: r.hash.clone(),
            revision: r.revision,
            applied_at: r.applied_at.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Option<String>,
}

/// One apply, destroy or rollback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub number: u64,
    /// The plan's name; absent in revisions written before mtm kept it.
    #[serde(default)]
    pub plan: Option<String>,
    pub command: String,
    pub targets: Vec<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub result: RevisionResult,
    /// In the order they were recorded.
    pub changes: Vec<RevisionEntry>,
    /// Every record as it stood when the revision finished, so a rollback needs nothing
    /// else. Empty while the revision runs.
    pub applied: BTreeMap<String, Record>,
}

/// A revision without its changes and snapshot, for listings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionSummary {
    pub number: u64,
    #[serde(default)]
    pub plan: Option<String>,
    pub command: String,
    pub targets: Vec<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub result: RevisionResult,
    /// How many changes it recorded.
    pub changes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RevisionResult {
    Running,
    Succeeded,
    Failed {
        message: String,
    },
    /// The process that ran it died before finishing it.
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionEntry {
    pub address: String,
    /// create, update, delete or restore.
    pub action: String,
    /// Hash of what was applied, when something was.
    pub hash: Option<String>,
}

/// Where the engine persists what it did. Every write is durable when it returns.
pub trait Store: Send + Sync {
    /// All records, ordered by address.
    fn records(&self) -> Result<Vec<Record>, StoreError>;
    /// All records without their manifests, ordered by address (a store may read these
    /// without decoding what it keeps of each object).
    fn record_summaries(&self) -> Result<Vec<RecordSummary>, StoreError> {
        Ok(self.records()?.iter().map(RecordSummary::from).collect())
    }
    fn record(&self, address: &str) -> Result<Option<Record>, StoreError>;
    /// Insert or replace the record at `record.address`; flushed on return.
    fn put_record(&self, record: &Record) -> Result<(), StoreError>;
    /// As [`Store::put_record`]; a store that must wait for its disk lets other work go on
    /// meanwhile (the record is durable when the future is ready).
    fn put_record_soon<'a>(
        &'a self,
        record: &'a Record,
    ) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::ready(self.put_record(record)))
    }
    /// Runs `writes` (writes to this store) so that all they wrote is durable when this
    /// returns; a store may flush once for all of them instead of once each.
    fn together(
        &self,
        writes: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        writes()
    }
    /// Whether there was a record to remove; flushed on return.
    fn remove_record(&self, address: &str) -> Result<bool, StoreError>;
    /// Start a revision of plan `plan`, numbered one past the last; stored as running on
    /// return.
    fn begin_revision(
        &self,
        plan: &str,
        command: &str,
        targets: &[String],
    ) -> Result<u64, StoreError>;
    /// Append a change to a running revision; flushed on return.
    fn record_change(&self, revision: u64, change: &RevisionEntry) -> Result<(), StoreError>;
    /// Close a running revision with a final result and snapshot the current records
    /// into it; flushed on return.
    fn finish_revision(&self, revision: u64, result: RevisionResult) -> Result<(), StoreError>;
    /// All revisions, oldest first, without changes or snapshots.
    fn revisions(&self) -> Result<Vec<RevisionSummary>, StoreError>;
    fn revision(&self, number: u64) -> Result<Option<Revision>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no revision {0} in state")]
    NoSuchRevision(u64),
    #[error("revision {0} is already finished")]
    Finished(u64),
    #[error("revision {0} cannot finish as running")]
    FinishRunning(u64),
    #[error(
        "state entry {what} was written by a newer mtm (schema {found}, this mtm reads {SCHEMA}); upgrade mtm"
    )]
    NewerEntry { what: String, found: u32 },
    #[error("state entry {what} is unreadable; the state directory may be damaged")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode {what} for state")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// The storage underneath failed; `action` says what was being done.
    #[error("cannot {action}")]
    Backend {
        action: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// From now on, files and directories this process creates are private to its user
/// (umask 077): state, its lock, published copies and the database's own files.
pub(crate) fn private_files() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: umask only sets the process's file mode creation mask.
        ONCE.call_once(|| unsafe {
            libc::umask(0o077);
        });
    }
}

/// How every value is stored: with the schema it was written in.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub schema: u32,
    pub data: T,
}

impl<T: Serialize> Envelope<T> {
    /// `value` in the current schema, as JSON bytes.
    pub fn encode(what: &str, value: T) -> Result<Vec<u8>, StoreError> {
        let envelope = Envelope {
            schema: SCHEMA,
            data: value,
        };
        serde_json::to_vec(&envelope).map_err(|source| StoreError::Encode {
            what: what.to_string(),
            source,
        })
    }
}

impl<T: for<'de> Deserialize<'de>> Envelope<T> {
    /// The value in `bytes`, refused if a newer mtm wrote it.
    pub fn decode(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
        #[derive(Deserialize)]
        struct Version {
            schema: u32,
        }
        // One parse where it reads; the slower way below only to say why it does not.
        if let Ok(envelope) = serde_json::from_slice::<Envelope<T>>(bytes)
            && envelope.schema <= SCHEMA
        {
            return Ok(envelope.data);
        }
        let decode_error = |source| StoreError::Decode {
            what: what.to_string(),
            source,
        };
        // The version first, so a newer shape is reported as newer, not as damage.
        let version: Version = serde_json::from_slice(bytes).map_err(decode_error)?;
        if version.schema > SCHEMA {
            return Err(StoreError::NewerEntry {
                what: what.to_string(),
                found: version.schema,
            });
        }
        let envelope: Envelope<T> = serde_json::from_slice(bytes).map_err(decode_error)?;
        Ok(envelope.data)
    }
}

/// The contract every store passes, for the tests of each backend (the kube backend's
/// run in the integration tests, against the local clusters).
#[doc(hidden)]
pub mod contract;
