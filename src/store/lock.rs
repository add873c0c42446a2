//! The state lock: a file `<state dir>/lock` that names the process holding the state.
//!
//! `Lock::acquire` creates the file exclusively or reports who holds it; dropping the
//! `Lock` removes the file if it is still ours; `Lock::break_stale` removes a lock whose
//! holder is provably gone (same host, pid not running, or running as another process).
//! This module knows files, pids and hosts; it does not know what the state holds, and it
//! never waits for a holder or removes a lock it cannot prove stale.

use super::now_rfc3339;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const FILE: &str = "lock";

/// Who holds the lock, as written in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// The command line as the user would recognise it, e.g. `mtm apply --target lab6`.
    pub command: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// The holder's start in clock ticks after boot (`/proc/<pid>/stat`), so that another
    /// process that later got the same pid is not taken for the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
    /// The host's boot id, so that a pid from before a restart is known to be gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// Unique to one acquisition: a `Lock` removes only the file it created.
    #[serde(default)]
    pub token: String,
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

/// A lock that was removed by `Lock::break_stale`, and why it was judged stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub holder: Holder,
    pub reason: String,
}

/// The held lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    holder: Holder,
    released: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("state in {} is locked: held by {holder}\n  help: {help}", dir(path))]
    Held {
        path: PathBuf,
        holder: Box<Holder>,
        help: String,
    },
    #[error("not unlocking {}: {holder} is still running\n  help: stop that process first", path.display())]
    Alive { path: PathBuf, holder: Box<Holder> },
    #[error(
        "not unlocking {}: it was taken on host {}, not on this host ({host}), so mtm cannot tell whether pid {} is running\n  help: if that process is gone, delete {}",
        path.display(), holder.host, holder.pid, path.display()
    )]
    OtherHost {
        path: PathBuf,
        holder: Box<Holder>,
        host: String,
    },
    #[error(
        "not unlocking {}: cannot tell whether pid {} is running ({why})\n  help: if that process is gone, delete {}",
        path.display(), holder.pid, path.display()
    )]
    Unknown {
        path: PathBuf,
        holder: Box<Holder>,
        why: String,
    },
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
        let path = dir.join(FILE);
        let holder = Holder::current(command);
        let mut bytes = serde_json::to_vec_pretty(&holder).expect("a holder always encodes");
        bytes.push(b'\n');
        // A lock released between our attempt and our look at its holder: try again, a
        // few times, rather than report a holder we cannot name.
        for _ in 0..3 {
            if let Some(lock) = Self::try_acquire(dir, &path, &holder, &bytes)? {
                return Ok(lock);
            }
        }
        Err(LockError::Io {
            action: "take lock file",
            path,
            source: io::Error::other("it was taken and released repeatedly while trying"),
        })
    }

    /// `Ok(None)` if the lock existed but vanished before we could read its holder.
    fn try_acquire(
        dir: &Path,
        path: &Path,
        holder: &Holder,
        bytes: &[u8],
    ) -> Result<Option<Lock>, LockError> {
        // Write the whole holder to a private file, then link it into place: the link is
        // the exclusive create (it fails if `lock` exists, as O_EXCL does), and a reader
        // never sees a lock file that is empty or half written, even if we die here.
        let staged = dir.join(format!("lock.{}.{}", holder.pid, holder.token));
        write_synced(&staged, bytes)?;
        let linked = fs::hard_link(&staged, path);
        let _ = fs::remove_file(&staged);
        match linked {
            Ok(()) => {
                sync_dir(dir);
                Ok(Some(Lock {
                    path: path.to_path_buf(),
                    holder: holder.clone(),
                    released: false,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match read(path)? {
                Some(other) => Err(held(path.to_path_buf(), other)),
                None => Ok(None),
            },
            Err(e) => Err(io_error("create lock file", path)(e)),
        }
    }

    /// Who holds the lock in `dir`, if anyone.
    pub fn inspect(dir: &Path) -> Result<Option<Holder>, LockError> {
        read(&dir.join(FILE))
    }

    /// Remove the lock in `dir` if its holder is provably gone: it was taken on this host
    /// and its pid is not running, or is running as a process started later. Refuses,
    /// saying why, in every other case. `Ok(None)` when there is no lock.
    pub fn break_stale(dir: &Path) -> Result<Option<Broken>, LockError> {
        let path = dir.join(FILE);
        let Some(holder) = read(&path)? else {
            return Ok(None);
        };
        let host = this_host();
        if holder.host != host {
            return Err(LockError::OtherHost {
                path,
                holder: Box::new(holder),
                host,
            });
        }
        let reason = match liveness(&holder) {
            Liveness::Gone(reason) => reason,
            Liveness::Alive => {
                return Err(LockError::Alive {
                    path,
                    holder: Box::new(holder),
                });
            }
            Liveness::Unknown(why) => {
                return Err(LockError::Unknown {
                    path,
                    holder: Box::new(holder),
                    why,
                });
            }
        };
        // Remove only the lock we judged: another `unlock` may have broken it and a new
        // holder taken it meanwhile.
        match read(&path)? {
            Some(again) if again == holder => remove(&path)?,
            Some(other) => return Err(held(path, other)),
            None => {}
        }
        Ok(Some(Broken { holder, reason }))
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Release now, reporting a failure that dropping would ignore.
    pub fn release(mut self) -> Result<(), LockError> {
        self.released = true;
        self.remove_if_ours()
    }

    fn remove_if_ours(&self) -> Result<(), LockError> {
        match read(&self.path) {
            Ok(Some(current)) if current.token == self.holder.token => remove(&self.path),
            // Gone, someone else's (broken and retaken), or unreadable (we did not write
            // that): not ours to remove.
            Ok(_) | Err(LockError::Unreadable { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.remove_if_ours();
        }
    }
}

fn held(path: PathBuf, holder: Holder) -> LockError {
    let help = if holder.host == this_host() {
        "if that process is gone, run: mtm unlock".to_string()
    } else {
        format!(
            "it was taken on host {}; if that process is gone, delete {}",
            holder.host,
            path.display()
        )
    };
    LockError::Held {
        path,
        holder: Box::new(holder),
        help,
    }
}

fn read(path: &Path) -> Result<Option<Holder>, LockError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read lock file", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| LockError::Unreadable {
            path: path.to_path_buf(),
            source,
        })
}

fn remove(path: &Path) -> Result<(), LockError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("remove lock file", path)(e)),
        _ => Ok(()),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), LockError> {
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(path);
        io_error("write lock file", path)(e)
    })
}

/// Best effort: make the new directory entry itself durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl Holder {
    fn current(command: &str) -> Holder {
        static ACQUISITIONS: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = ACQUISITIONS.fetch_add(1, Ordering::Relaxed);
        Holder {
            pid,
            host: this_host(),
            command: command.to_string(),
            started_at: now_rfc3339(),
            process_start: proc_stat("self").and_then(|s| s.start),
            boot_id: boot_id(),
            token: format!("{nanos:x}-{count}"),
        }
    }
}

enum Liveness {
    Alive,
    Gone(String),
    Unknown(String),
}

/// Whether the holder (taken on this host) is still running.
fn liveness(holder: &Holder) -> Liveness {
    let pid = holder.pid;
    if let (Some(then), Some(now)) = (&holder.boot_id, boot_id())
        && *then != now
    {
        return Liveness::Gone("the host has restarted since".to_string());
    }
    if proc_stat("self").is_none() {
        return kill_zero(pid);
    }
    match proc_stat(&pid.to_string()) {
        None => Liveness::Gone(format!("no process has pid {pid}")),
        Some(stat) if matches!(stat.state, 'Z' | 'X' | 'x') => {
            Liveness::Gone(format!("pid {pid} has exited"))
        }
        Some(stat) => match (holder.process_start, stat.start) {
            (Some(then), Some(now)) if then != now => Liveness::Gone(format!(
                "pid {pid} now belongs to another process, started after the lock was taken"
            )),
            _ => Liveness::Alive,
        },
    }
}

struct ProcStat {
    state: char,
    start: Option<u64>,
}

/// The state and start time of `/proc/<pid>/stat`, if that exists.
fn proc_stat(pid: &str) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 22 (starttime) is the 20th after the command name.
    let start = fields.nth(18).and_then(|f| f.parse().ok());
    Some(ProcStat { state, start })
}

fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Without /proc: ask `kill -0`, which fails with "No such process" when pid is gone.
fn kill_zero(pid: u32) -> Liveness {
    let output = Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => Liveness::Alive,
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No such process") => {
            Liveness::Gone(format!("no process has pid {pid}"))
        }
        Ok(out) => Liveness::Unknown(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Liveness::Unknown(format!("cannot run kill -0: {e}")),
    }
}

#[cfg(test)]
mod tests;
