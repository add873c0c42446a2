//! The state opened for reading (`state list|show|history`, `plan`, `drift`): never
//! blocked by a writer, never refused because of a dead one.
//!
//! When nobody holds the state, the reader takes the lock for as long as it reads and
//! opens the database itself (so it also sees what a killed writer left). When a writer
//! holds it, the reader reads what the writer last published (`published.rs`): the last
//! committed revision. This module decides which; it does not know what callers do with
//! what they read.

use super::kube::KubeStore;
use super::lock::{Lock, LockError};
use super::published::{self, Head};
use super::sled::{OpenError, SledStore};
use super::{Record, RecordSummary, Revision, RevisionSummary, Store, StoreError};
use std::path::{Path, PathBuf};

/// What a reader reads from.
#[derive(Debug)]
pub enum ReadState {
    /// No state directory: nothing was ever applied there.
    Empty,
    /// The database itself, locked while this lives: drop it soon.
    Live { store: SledStore, _lock: Lock },
    /// What the writer holding the state last published.
    Published { dir: PathBuf, head: Head },
    /// State in a cluster, read as some write left it (`kube/`).
    Kube(Box<KubeStore>),
}

/// Open the state in `dir` for reading; `command` names this reader in the lock.
pub fn open_read(dir: &Path, command: &str) -> Result<ReadState, OpenError> {
    if !dir.join("db").exists() && !dir.join("published").exists() {
        return Ok(ReadState::Empty);
    }
    super::private_files();
    match Lock::acquire_reading(dir, command) {
        Ok(lock) => Ok(ReadState::Live {
            store: SledStore::open_reading(dir)?,
            _lock: lock,
        }),
        Err(held @ LockError::Held { .. }) => match published::read_head(dir) {
            Ok(Some(head)) => Ok(ReadState::Published {
                dir: dir.to_path_buf(),
                head,
            }),
            Ok(None) => Err(OpenError::Lock(held)),
            Err(e) => Err(OpenError::Failed {
                dir: dir.to_path_buf(),
                source: Box::new(e),
            }),
        },
        Err(e) => Err(OpenError::Lock(e)),
    }
}

impl ReadState {
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        match self {
            ReadState::Empty => Ok(Vec::new()),
            ReadState::Live { store, .. } => store.records(),
            ReadState::Kube(store) => store.records(),
            ReadState::Published { head, .. } => Ok(head.records.clone()),
        }
    }

    /// Every record without its manifest (`state list`).
    pub fn record_summaries(&self) -> Result<Vec<RecordSummary>, StoreError> {
        match self {
            ReadState::Live { store, .. } => store.record_summaries(),
            ReadState::Kube(store) => store.record_summaries(),
            _ => Ok(self.records()?.iter().map(RecordSummary::from).collect()),
        }
    }

    pub fn record(&self, address: &str) -> Result<Option<Record>, StoreError> {
        match self {
            ReadState::Live { store, .. } => store.record(address),
            ReadState::Kube(store) => store.record(address),
            _ => Ok(self.records()?.into_iter().find(|r| r.address == address)),
        }
    }

    pub fn revisions(&self) -> Result<Vec<RevisionSummary>, StoreError> {
        match self {
            ReadState::Empty => Ok(Vec::new()),
            ReadState::Live { store, .. } => store.revisions(),
            ReadState::Kube(store) => store.revisions(),
            ReadState::Published { head, .. } => Ok(head.revisions.clone()),
        }
    }

    pub fn revision(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        match self {
            ReadState::Empty => Ok(None),
            ReadState::Live { store, .. } => store.revision(number),
            ReadState::Kube(store) => store.revision(number),
            ReadState::Published { dir, .. } => published::read_revision(dir, number),
        }
    }
}
