//! The plan directory's files: every path a plan names stays inside the plan directory,
//! and every file is UTF-8 text.
//!
//! A manifest, values file or stage file is looked up here before it is opened: an
//! absolute path, a `..` component, or a symlink resolving outside the plan directory is
//! refused, and such a file is never opened (so its content can never reach a message).
//! This module knows nothing of YAML or of what the files mean.

use crate::diag::Diagnostic;
use std::path::{Component, Path, PathBuf};

/// Why a file of the plan cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("`{entry}` is an absolute path; paths are relative to the plan directory")]
    Absolute { entry: String },
    #[error("`{entry}` leaves the plan directory (`..`); paths stay inside it")]
    Parent { entry: String },
    #[error("`{entry}` resolves outside the plan directory (through a symlink)")]
    Outside { entry: String },
    #[error("cannot read {shown}: {reason}")]
    Read { shown: String, reason: String },
    #[error("{shown} is not UTF-8 text: invalid byte at offset {offset}")]
    NotUtf8 {
        shown: String,
        offset: usize,
        line: u64,
        column: u64,
    },
}

impl FileError {
    /// The position inside the file itself, for an error about its content.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            FileError::NotUtf8 { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }

    /// The message, saying what the file is for (`manifest`, `values file`).
    pub fn describe(&self, what: &str) -> String {
        match (self, what.is_empty()) {
            (_, true) => self.to_string(),
            (FileError::Read { shown, reason }, false) => {
                format!("cannot read {what} {shown}: {reason}")
            }
            (other, false) => format!("{what} {other}"),
        }
    }

    /// A diagnostic: located in the file itself for its content, else at the entry that
    /// names the file (`file`:`line`:`column`).
    pub fn diagnostic(&self, what: &str, file: &str, line: u64, column: u64) -> Diagnostic {
        match (self, self.position()) {
            (FileError::NotUtf8 { shown, .. }, Some((l, c))) => {
                Diagnostic::new(shown, l, c, self.describe(what))
            }
            _ => Diagnostic::new(file, line, column, self.describe(what)),
        }
    }
}

/// The plan directory, resolved once, and how its paths are shown.
pub struct PlanDir<'a> {
    dir: &'a Path,
    /// The directory with symlinks resolved; `None` when it cannot be resolved (then
    /// every read fails on its own).
    real: Option<PathBuf>,
    shown: &'a str,
}

impl<'a> PlanDir<'a> {
    pub fn new(dir: &'a Path, shown: &'a str) -> Self {
        PlanDir {
            dir,
            real: std::fs::canonicalize(dir).ok(),
            shown,
        }
    }

    /// How `entry` is shown in messages: the plan directory as given, then the entry.
    pub fn show(&self, entry: &str) -> String {
        format!("{}/{entry}", self.shown)
    }

    /// The path of `entry`, when it names a file inside the plan directory.
    pub fn confine(&self, entry: &str) -> Result<PathBuf, FileError> {
        let path = Path::new(entry);
        if path.is_absolute() {
            return Err(FileError::Absolute {
                entry: entry.into(),
            });
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(FileError::Parent {
                entry: entry.into(),
            });
        }
        let full = self.dir.join(path);
        // A symlink may point anywhere: resolve it (without opening the file) and see.
        if let (Some(real_dir), Ok(real)) = (&self.real, std::fs::canonicalize(&full))
            && !real.starts_with(real_dir)
        {
            return Err(FileError::Outside {
                entry: entry.into(),
            });
        }
        Ok(full)
    }

    /// The text of `entry`, once it is known to be inside the plan directory.
    pub fn read(&self, entry: &str) -> Result<String, FileError> {
        let full = self.confine(entry)?;
        let shown = self.show(entry);
        let bytes = std::fs::read(&full).map_err(|e| FileError::Read {
            shown: shown.clone(),
            reason: io_reason(&e),
        })?;
        utf8(shown, bytes)
    }
}

/// An I/O error in a few words, without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => {
            let text = e.to_string();
            match text.split_once(" (os error") {
                Some((head, _)) => head.to_string(),
                None => text,
            }
        }
    }
}

/// `bytes` as text, or where the first byte that is not UTF-8 is.
fn utf8(shown: String, bytes: Vec<u8>) -> Result<String, FileError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let column =
            std::str::from_utf8(&before[line_start..]).map_or(1, |s| s.chars().count() as u64 + 1);
        FileError::NotUtf8 {
            shown,
            offset,
            line,
            column,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_is_located() {
        let err = utf8("f".into(), b"a: 1\nb: \xff\n".to_vec()).unwrap_err();
        assert_eq!(err.position(), Some((2, 4)));
        assert_eq!(
            err.to_string(),
            "f is not UTF-8 text: invalid byte at offset 8"
        );
    }

    #[test]
    fn escapes_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let plan = PlanDir::new(dir.path(), ".");
        assert!(matches!(
            plan.confine("/etc/passwd"),
            Err(FileError::Absolute { .. })
        ));
        assert!(matches!(
            plan.confine("a/../../x"),
            Err(FileError::Parent { .. })
        ));
        assert!(plan.confine("manifests/x.yaml").is_ok());
    }
}
