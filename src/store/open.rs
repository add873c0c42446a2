//! Opening the state wherever `--state` points (`location.rs`): a directory kept by sled
//! or a namespace of a cluster, locked for a writer or as it stands for a reader.
//!
//! `Backend` is either store behind the one `Store` face, plus what only copying the
//! whole state needs (revisions imported as they were, the generated secret material).
//! This module chooses; it does not know how either backend keeps anything.

use super::RevisionEntry;
use super::kube::{self, Access, KubeLock, KubeStore, KubeStoreError};
use super::location::Location;
use super::lock::Lock;
use super::read::ReadState;
use super::sled::{OpenError, SledStore};
use super::{Record, Revision, RevisionResult, RevisionSummary, Store, StoreError};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// The lock a writer holds: the OS lock of a directory, or a cluster's Lease.
#[derive(Debug)]
pub enum StateLock {
    Dir(Lock),
    Kube(Box<KubeLock>),
}

#[derive(Debug)]
pub enum Backend {
    Dir(SledStore),
    Kube(Box<KubeStore>),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenStateError {
    #[error(transparent)]
    Dir(#[from] OpenError),
    #[error(transparent)]
    Kube(#[from] KubeStoreError),
}

/// The state at `location`, locked for `command` (waiting up to `wait` for a holder).
/// Drop the store before the lock: a tuple drops its lock first.
pub fn open_locked_at(
    location: &Location,
    access: &Access,
    command: &str,
    wait: Duration,
) -> Result<(StateLock, Backend), OpenStateError> {
    Ok(match location {
        Location::Dir(dir) => {
            let (lock, store) = super::sled::open_locked(dir, command, wait)?;
            (StateLock::Dir(lock), Backend::Dir(store))
        }
        Location::Kube(kube) => {
            let (lock, store) = kube::open_locked(kube, access, command, wait)?;
            (
                StateLock::Kube(Box::new(lock)),
                Backend::Kube(Box::new(store)),
            )
        }
    })
}

/// The state at `location` for reading: never blocked by a writer.
pub fn open_read_at(
    location: &Location,
    access: &Access,
    command: &str,
) -> Result<ReadState, OpenStateError> {
    Ok(match location {
        Location::Dir(dir) => super::read::open_read(dir, command)?,
        Location::Kube(kube) => ReadState::Kube(Box::new(kube::open_read(kube, access)?)),
    })
}

/// Where generated secret material lives in a state directory.
pub(crate) const GENERATED: &str = "secrets";

impl Backend {
    pub fn location(&self) -> String {
        match self {
            Backend::Dir(store) => store.dir().display().to_string(),
            Backend::Kube(store) => store.location().to_string(),
        }
    }

    /// Add a finished revision as it was, after the last one.
    pub fn import_revision(&self, revision: &Revision) -> Result<(), StoreError> {
        match self {
            Backend::Dir(store) => store.import_revision(revision),
            Backend::Kube(store) => store.import_revision(revision),
        }
    }

    /// The generated secret material, file name to bytes.
    pub fn generated(&self) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        match self {
            Backend::Dir(store) => read_generated(&store.dir().join(GENERATED)),
            Backend::Kube(store) => store.generated(),
        }
    }

    /// Replace the generated secret material.
    pub fn put_generated(&self, files: BTreeMap<String, Vec<u8>>) -> Result<(), StoreError> {
        match self {
            Backend::Dir(store) => write_generated(&store.dir().join(GENERATED), &files),
            Backend::Kube(store) => store.put_generated(files),
        }
    }

    fn store(&self) -> &dyn Store {
        match self {
            Backend::Dir(store) => store,
            Backend::Kube(store) => store.as_ref(),
        }
    }
}

fn io_failure(action: String) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Backend {
        action,
        source: Box::new(source),
    }
}

pub(crate) fn read_generated(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
    let mut files = BTreeMap::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(io_failure(format!("read {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_failure(format!("read {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Only the kept files, not a temporary one a killed write left.
        if name.ends_with(".json") && !name.starts_with('.') {
            let path = entry.path();
            let bytes = fs::read(&path).map_err(io_failure(format!("read {}", path.display())))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

/// Each file written private (0600, its directory 0700) and synced.
pub(crate) fn write_generated(
    dir: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), StoreError> {
    super::private_files();
    fs::create_dir_all(dir).map_err(io_failure(format!("create {}", dir.display())))?;
    for (name, bytes) in files {
        let plain = !name.starts_with('.') && !name.contains(['/', '\\']);
        let path = dir.join(name);
        if !plain {
            return Err(io_failure(format!("write {}", path.display()))(
                io::Error::other("not a plain file name"),
            ));
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(&path)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
        written.map_err(io_failure(format!("write {}", path.display())))?;
    }
    Ok(())
}

impl Store for Backend {
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        self.store().records()
    }

    fn record(&self, address: &str) -> Result<Option<Record>, StoreError> {
        self.store().record(address)
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        self.store().put_record(record)
    }

    fn put_record_soon<'a>(
        &'a self,
        record: &'a Record,
    ) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
        self.store().put_record_soon(record)
    }

    fn together(
        &self,
        writes: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.store().together(writes)
    }

    fn remove_record(&self, address: &str) -> Result<bool, StoreError> {
        self.store().remove_record(address)
    }

    fn begin_revision(
        &self,
        plan: &str,
        command: &str,
        targets: &[String],
    ) -> Result<u64, StoreError> {
        self.store().begin_revision(plan, command, targets)
    }

    fn record_change(&self, revision: u64, change: &RevisionEntry) -> Result<(), StoreError> {
        self.store().record_change(revision, change)
    }

    fn finish_revision(&self, revision: u64, result: RevisionResult) -> Result<(), StoreError> {
        self.store().finish_revision(revision, result)
    }

    fn revisions(&self) -> Result<Vec<RevisionSummary>, StoreError> {
        self.store().revisions()
    }

    fn revision(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        self.store().revision(number)
    }
}
