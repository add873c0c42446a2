//! The state lock: an operating-system advisory lock on the file `<state dir>/lock`, whose
//! content names the process that holds it.
//!
//! The exclusion is the OS's (`File::try_lock`), so it ends when the holder's process ends,
//! however it ends: a `kill -9` leaves no lock behind. The file stays in place between
//! holders; its content (pid, host, command with secrets already masked, start) is only
//! for messages, and is cleared on release. `Lock::break_stale` (`mtm unlock`) is for a
//! holder on another host that shares the directory. This module knows files, pids and
//! hosts; it does not know what the state holds.

use super::now_rfc3339;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FILE: &str = "lock";
/// How long a writer waits, at least, for a reader that holds the lock for a moment.
const READER_GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

/// Who holds the lock, as written in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// The command line as the user would recognise it, secrets masked by the caller.
    pub command: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// A reader holds the lock only while it copies the state out, never for a whole run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reading: bool,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on host {} since {}: {}",
            self.pid, self.host, self.started_at, self.command
        )
    }
}

/// A lock that was removed by `Lock::break_stale`, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub holder: Holder,
    pub reason: String,
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    holder: Holder,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("state in {} is locked: held by {holder}\n  help: {help}", dir(path))]
    Held {
        path: PathBuf,
        holder: Box<Holder>,
        help: String,
    },
    #[error("state in {} is locked by a process that has not written its name into {}\n  help: wait a moment and try again", dir(path), path.display())]
    Unnamed { path: PathBuf },
    #[error("not unlocking {}: {holder} is still running\n  help: stop that process first", path.display())]
    Alive { path: PathBuf, holder: Box<Holder> },
    #[error("lock file {} is unreadable\n  help: if no mtm is running, delete it", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn dir(lock_path: &Path) -> String {
    lock_path
        .parent()
        .unwrap_or(lock_path)
        .display()
        .to_string()
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LockError {
    let path = path.to_path_buf();
    move |source| LockError::Io {
        action,
        path,
        source,
    }
}

impl Lock {
    /// Take the lock in `dir` (which must exist) for `command`, or say who holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<Lock, LockError> {
        Self::acquire_waiting(dir, command, Duration::ZERO)
    }

    /// As `acquire`, waiting up to `wait` for a holder to finish (and always a few
    /// seconds for a reader, which holds the lock only while it copies the state).
    pub fn acquire_waiting(dir: &Path, command: &str, wait: Duration) -> Result<Lock, LockError> {
        Self::take(dir, Holder::current(command, false), wait)
    }

    /// Take the lock to read the state, without waiting.
    pub fn acquire_reading(dir: &Path, command: &str) -> Result<Lock, LockError> {
        Self::take(dir, Holder::current(command, true), Duration::ZERO)
    }

    fn take(dir: &Path, holder: Holder, wait: Duration) -> Result<Lock, LockError> {
        let start = Instant::now();
        loop {
            let err = match Self::try_take(dir, &holder) {
                Ok(lock) => return Ok(lock),
                Err(err) => err,
            };
            let patience = match &err {
                // A reader holds the lock for a moment; a holder that has not named itself
                // is taking or releasing it just now.
                LockError::Held { holder, .. } if holder.reading => wait.max(READER_GRACE),
                LockError::Unnamed { .. } => wait.max(READER_GRACE),
                LockError::Held { .. } => wait,
                _ => return Err(err),
            };
            if start.elapsed() >= patience {
                return Err(err);
            }
            std::thread::sleep(POLL);
        }
    }

    fn try_take(dir: &Path, holder: &Holder) -> Result<Lock, LockError> {
        let path = dir.join(FILE);
        // `mtm unlock` may remove the file between our open and our lock: then the lock
        // is on a file nobody else will open, and we take the new one.
        for _ in 0..5 {
            let file = open(&path)?;
            match file.try_lock() {
                Ok(()) if same_file(&file, &path) => {
                    let lock = Lock {
                        file,
                        path,
                        holder: holder.clone(),
                    };
                    lock.write_holder()?;
                    return Ok(lock);
                }
                Ok(()) => continue,
                Err(TryLockError::WouldBlock) => return Err(held_by(&file, &path)),
                Err(TryLockError::Error(e)) => return Err(io_error("lock", &path)(e)),
            }
        }
        Err(io_error("lock", &path)(io::Error::other(
            "it was removed and recreated repeatedly while trying",
        )))
    }

    fn write_holder(&self) -> Result<(), LockError> {
        let mut bytes = serde_json::to_vec_pretty(&self.holder).expect("a holder always encodes");
        bytes.push(b'\n');
        let mut file = &self.file;
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&bytes))
            .and_then(|()| file.sync_data());
        written.map_err(io_error("write lock file", &self.path))
    }

    /// Who holds the lock in `dir`, if anyone does now.
    pub fn inspect(dir: &Path) -> Result<Option<Holder>, LockError> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(None),
            Err(TryLockError::WouldBlock) => match held_by(&file, &path) {
                LockError::Held { holder, .. } => Ok(Some(*holder)),
                LockError::Unnamed { .. } => Ok(None),
                other => Err(other),
            },
            Err(TryLockError::Error(e)) => Err(io_error("lock", &path)(e)),
        }
    }

    /// `mtm unlock`: remove a lock held on another host (which shares this directory, so
    /// this host cannot tell whether that process lives). A holder on this host is
    /// running (the operating system holds its lock) and is never broken. `Ok(None)` when
    /// nothing holds the lock.
    pub fn break_stale(dir: &Path) -> Result<Option<Broken>, LockError> {
        let path = dir.join(FILE);
        let Some(holder) = Self::inspect(dir)? else {
            return Ok(None);
        };
        if holder.host == this_host() {
            return Err(LockError::Alive {
                path,
                holder: Box::new(holder),
            });
        }
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_error("remove lock file", &path)(e));
            }
            _ => {}
        }
        let reason = format!(
            "taken on host {}, which this host cannot check; the lock file was removed",
            holder.host
        );
        Ok(Some(Broken { holder, reason }))
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Release now, reporting a failure that dropping would ignore.
    pub fn release(self) -> Result<(), LockError> {
        self.clear()
    }

    fn clear(&self) -> Result<(), LockError> {
        let result = self.file.set_len(0).and_then(|()| self.file.unlock());
        result.map_err(io_error("release lock file", &self.path))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Closing the file releases the OS lock in any case.
        let _ = self.clear();
    }
}

/// The lock file, created private if missing.
fn open(path: &Path) -> Result<File, LockError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io_error("open lock file", path))
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// The error naming whoever holds `file`'s lock; the holder writes its name just after
/// taking the lock, so an empty or half-written file is read again for a moment.
fn held_by(file: &File, path: &Path) -> LockError {
    let mut last = None;
    for _ in 0..20 {
        let mut bytes = Vec::new();
        let mut reader = file;
        if let Err(e) = reader.rewind().and_then(|_| reader.read_to_end(&mut bytes)) {
            return io_error("read lock file", path)(e);
        }
        if !bytes.is_empty() {
            match serde_json::from_slice::<Holder>(&bytes) {
                Ok(holder) => return held(path.to_path_buf(), holder),
                Err(source) => last = Some(source),
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    match last {
        Some(source) => LockError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
        None => LockError::Unnamed {
            path: path.to_path_buf(),
        },
    }
}

fn held(path: PathBuf, holder: Holder) -> LockError {
    let help = if holder.host == this_host() {
        "wait for that process to finish (or pass --lock-timeout DURATION to wait), or stop it"
            .to_string()
    } else {
        format!(
            "it was taken on host {}; if that process is gone, run: mtm unlock",
            holder.host
        )
    };
    LockError::Held {
        path,
        holder: Box::new(holder),
        help,
    }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl Holder {
    pub(crate) fn current(command: &str, reading: bool) -> Holder {
        Holder {
            pid: std::process::id(),
            host: this_host(),
            command: command.to_string(),
            started_at: now_rfc3339(),
            reading,
        }
    }
}

#[cfg(test)]
mod tests;
