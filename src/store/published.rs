//! The published copy of the state: what readers see while a writer holds the state.
//!
//! sled lets one process open a database at a time, and a writer holds the state for a
//! whole apply. So at every commit (when it opens the state and something was written
//! since the last publication, and when a revision finishes) the writer publishes `<state dir>/published/`: `head.json` (the records and the revision
//! list, replaced atomically by a rename) and one `revision-N.json` per finished revision
//! (written once: a finished revision never changes). A reader that finds the state locked
//! reads these, and so sees the last committed revision. This module knows files and
//! JSON; it does not know sled or the lock.

use super::{Envelope, Record, Revision, RevisionSummary, StoreError};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const DIR: &str = "published";
const HEAD: &str = "head.json";

/// The records and the revision list as of the last commit.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Head {
    pub records: Vec<Record>,
    pub revisions: Vec<RevisionSummary>,
}

fn dir(state: &Path) -> PathBuf {
    state.join(DIR)
}

fn revision_file(state: &Path, number: u64) -> PathBuf {
    dir(state).join(format!("revision-{number}.json"))
}

/// Replace the published head.
pub fn write_head(state: &Path, head: &Head) -> Result<(), StoreError> {
    write_atomic(
        &dir(state).join(HEAD),
        &Envelope::encode("published head", head)?,
    )
}

/// Publish a finished revision (callers that may publish one twice ask `has_revision`
/// first: a finished revision never changes).
pub fn write_revision(state: &Path, revision: &Revision) -> Result<(), StoreError> {
    let path = revision_file(state, revision.number);
    write_atomic(&path, &Envelope::encode("published revision", revision)?)
}

/// Whether revision `number` is published already.
pub fn has_revision(state: &Path, number: u64) -> bool {
    revision_file(state, number).exists()
}

/// Whether a head is published.
pub fn has_head(state: &Path) -> bool {
    dir(state).join(HEAD).exists()
}

/// The published head, if any was published.
pub fn read_head(state: &Path) -> Result<Option<Head>, StoreError> {
    read(&dir(state).join(HEAD), "published head")
}

/// A published revision, if it was published.
pub fn read_revision(state: &Path, number: u64) -> Result<Option<Revision>, StoreError> {
    read(
        &revision_file(state, number),
        &format!("published revision {number}"),
    )
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<Option<T>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Envelope::decode(what, &bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_failure(&format!("read {}", path.display()), e)),
    }
}

/// Write to a private temporary file beside `path`, sync, then rename over `path`: a
/// reader sees the old file or the new one, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let parent = path.parent().expect("published files live in a directory");
    let action = format!("publish {}", path.display());
    fs::create_dir_all(parent).map_err(|e| io_failure(&action, e))?;
    let staged = parent.join(format!(
        ".{}.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let write = || -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&staged)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        fs::rename(&staged, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&staged);
        io_failure(&action, e)
    })
}

fn io_failure(action: &str, source: io::Error) -> StoreError {
    StoreError::Backend {
        action: action.to_string(),
        source: Box::new(source),
    }
}
