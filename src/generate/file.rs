//! The secrets file: `<state>/secrets/<name>.json`, the one place mtm keeps a generated
//! private key and the values made with it, so that they stay the same from run to run.
//!
//! The file remembers the spec it was made for. A changed spec (type, issuer, audience,
//! subjects or lifetime) gets a new key; tokens that have expired, or expire within a tenth
//! of their lifetime, are issued again with the same key, so the JWKS stays as it was. The
//! file is written with mode 0600 to a temporary name and renamed into place. This file
//! knows nothing of the store: state records hold fingerprints, never these values.

use super::jwt::{generate, issue, lifetime, unix};
use super::{GenerateError, Generated};
use mtm_provider::GenSpec;
use rsa::PrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The version of the secrets file this mtm writes. A newer one is refused, not misread.
pub const SCHEMA: u32 = 1;

/// The values of one `generate` entry as kept on disk, with the key and the spec.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretFile {
    schema: u32,
    spec: GenSpec,
    private_key_pem: String,
    kid: String,
    issued_at: u64,
    expires_at: u64,
    values: BTreeMap<String, String>,
}

/// The generated values of `spec` as of `now`: those kept in `<state_dir>/secrets/` when
/// they were made for this spec and their tokens are still good, otherwise new ones, which
/// are written there first. The flag is true when anything was made (a key or tokens).
pub fn load_or_generate(
    state_dir: &Path,
    spec: &GenSpec,
    now: SystemTime,
) -> Result<(Generated, bool), GenerateError> {
    let path = SecretFile::path(state_dir, &spec.name)?;
    let lifetime = lifetime(spec)?;
    let at = unix(spec, now)?;
    if let Some(kept) = SecretFile::read(&path)?
        && kept.made_for(spec, lifetime)
    {
        if kept.tokens_good_at(at) {
            return Ok((kept.into_generated(), false));
        }
        let key = PrivateKey::from_pkcs8_pem(&kept.private_key_pem).map_err(|source| {
            GenerateError::StoredKey {
                path: path.clone(),
                source,
            }
        })?;
        let generated = issue(spec, &key, kept.private_key_pem, at, lifetime)?;
        SecretFile::new(spec, &generated).write(&path)?;
        return Ok((generated, true));
    }
    let generated = generate(spec, now)?;
    SecretFile::new(spec, &generated).write(&path)?;
    Ok((generated, true))
}

/// The values kept for `spec` when they were made for it and their tokens are still good
/// at `now`; `None` when [`load_or_generate`] would make something. Reads only.
pub fn load_existing(
    state_dir: &Path,
    spec: &GenSpec,
    now: SystemTime,
) -> Result<Option<Generated>, GenerateError> {
    let path = SecretFile::path(state_dir, &spec.name)?;
    let lifetime = lifetime(spec)?;
    let at = unix(spec, now)?;
    Ok(SecretFile::read(&path)?
        .filter(|kept| kept.made_for(spec, lifetime) && kept.tokens_good_at(at))
        .map(SecretFile::into_generated))
}

impl SecretFile {
    /// The file that keeps the values of the entry `name`: `<state_dir>/secrets/<name>.json`.
    pub fn path(state_dir: &Path, name: &str) -> Result<PathBuf, GenerateError> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain {
            return Err(GenerateError::Name {
                name: name.to_string(),
            });
        }
        Ok(state_dir.join("secrets").join(format!("{name}.json")))
    }

    pub fn new(spec: &GenSpec, generated: &Generated) -> Self {
        SecretFile {
            schema: SCHEMA,
            spec: spec.clone(),
            private_key_pem: generated.key_pem().to_string(),
            kid: generated.kid().to_string(),
            issued_at: generated.issued_at(),
            expires_at: generated.expires_at(),
            values: generated
                .field_names()
                .filter_map(|f| Some((f.to_string(), generated.field(f)?.to_string())))
                .collect(),
        }
    }

    /// The file at `path`, or `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, GenerateError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(GenerateError::Io {
                    path: path.to_path_buf(),
                    what: "read the generated values",
                    source,
                });
            }
        };
        let corrupt = |source| GenerateError::Corrupt {
            path: path.to_path_buf(),
            source,
        };
        // The schema first, so that a newer file is named as such rather than as corrupt.
        #[derive(Deserialize)]
        struct Versioned {
            schema: u32,
        }
        let Versioned { schema } = serde_json::from_str(&text).map_err(corrupt)?;
        if schema > SCHEMA {
            return Err(GenerateError::Schema {
                path: path.to_path_buf(),
                found: schema,
            });
        }
        serde_json::from_str(&text).map(Some).map_err(corrupt)
    }

    /// Writes the file with mode 0600 (its directory 0700): to a temporary file in the same
    /// directory, synced, then renamed over the old one, so a crash leaves one or the other.
    pub fn write(&self, path: &Path) -> Result<(), GenerateError> {
        let io = |what: &'static str| {
            move |source| GenerateError::Io {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        private_dir(dir).map_err(io("create the secrets directory"))?;
        let mut text = serde_json::to_string_pretty(self).expect("a secrets file serializes");
        text.push('\n');
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp.{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let written = (|| {
            match fs::remove_file(&tmp) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let mut file = private_file(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(io("write the generated values"))?;
        // Make the rename itself durable; not every filesystem can sync a directory.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Whether the file was made for `spec` and holds every field it names. Lifetimes are
    /// compared as durations, so `24h`, `1440m` and none are the same.
    fn made_for(&self, spec: &GenSpec, lifetime_secs: u64) -> bool {
        let fields: Vec<&str> = self.values.keys().map(String::as_str).collect();
        let mut wanted = spec.fields();
        wanted.sort();
        wanted.dedup();
        self.spec.name == spec.name
            && self.spec.kind == spec.kind
            && self.spec.issuer == spec.issuer
            && self.spec.audience == spec.audience
            && self.spec.subjects == spec.subjects
            && lifetime(&self.spec).ok() == Some(lifetime_secs)
            && fields == wanted
    }

    /// Whether the tokens are valid at `at` and stay so for more than a tenth of their
    /// lifetime (a clock that went back before their issue also makes them stale).
    fn tokens_good_at(&self, at: u64) -> bool {
        let lifetime = self.expires_at.saturating_sub(self.issued_at);
        at >= self.issued_at && self.expires_at.saturating_sub(at) > lifetime / 10
    }

    fn into_generated(self) -> Generated {
        Generated {
            name: self.spec.name,
            kid: self.kid,
            key_pem: self.private_key_pem,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            values: self.values,
        }
    }
}

/// Shows no key and no value.
impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFile")
            .field("schema", &self.schema)
            .field("spec", &self.spec)
            .field("kid", &self.kid)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::super::jwt::tests::{issued_at, spec};
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const T: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// A state directory whose secrets file already holds values issued at `T` with the
    /// shared test key, so that only the tests about new keys make one.
    fn seeded(spec: &GenSpec) -> (tempfile::TempDir, Generated) {
        let dir = tempfile::tempdir().unwrap();
        let g = issued_at(spec, T);
        let path = SecretFile::path(dir.path(), &spec.name).unwrap();
        SecretFile::new(spec, &g).write(&path).unwrap();
        (dir, g)
    }

    #[test]
    fn kept_values_come_back_unchanged() {
        let s = spec(Some("24h"));
        let (dir, g) = seeded(&s);
        for later in [T, T + 3600, T + 20 * 3600] {
            let (again, fresh) = load_or_generate(dir.path(), &s, at(later)).unwrap();
            assert!(!fresh, "at +{}s", later - T);
            assert_eq!(again, g);
        }
    }

    #[test]
    fn equal_lifetimes_written_differently_keep_the_values() {
        let (dir, g) = seeded(&spec(Some("24h")));
        for same in [None, Some("1440m"), Some("86400s")] {
            let (again, fresh) = load_or_generate(dir.path(), &spec(same), at(T + 60)).unwrap();
            assert!(!fresh, "{same:?}");
            assert_eq!(again, g);
        }
    }

    #[test]
    fn tokens_near_expiry_are_issued_again_with_the_same_key() {
        let s = spec(Some("10h"));
        let (dir, g) = seeded(&s);
        // 9h01m in, less than a tenth of the lifetime is left.
        let later = T + 9 * 3600 + 60;
        let (again, fresh) = load_or_generate(dir.path(), &s, at(later)).unwrap();
        assert!(fresh);
        assert_eq!(again.kid(), g.kid());
        assert_eq!(again.field("jwks"), g.field("jwks"));
        assert_ne!(again.field("token.alice"), g.field("token.alice"));
        assert_eq!(again.issued_at(), later);
        assert_eq!(again.expires_at(), later + 10 * 3600);
        // And the new tokens are what the file holds now.
        let (third, fresh) = load_or_generate(dir.path(), &s, at(later + 1)).unwrap();
        assert!(!fresh);
        assert_eq!(third, again);
    }

    #[test]
    fn expired_tokens_and_a_clock_gone_back_are_issued_again() {
        let s = spec(Some("1h"));
        for when in [T + 2 * 3600, T - 60] {
            let (dir, g) = seeded(&s);
            let (again, fresh) = load_or_generate(dir.path(), &s, at(when)).unwrap();
            assert!(fresh);
            assert_eq!(again.kid(), g.kid());
            assert_eq!(again.issued_at(), when);
        }
    }

    #[test]
    fn changed_spec_makes_a_new_key() {
        let s = spec(None);
        let (dir, g) = seeded(&s);
        let mut other = s.clone();
        other.audience = "lab7".into();
        let (new, fresh) = load_or_generate(dir.path(), &other, at(T + 60)).unwrap();
        assert!(fresh);
        assert_ne!(new.kid(), g.kid());
        assert_ne!(new.field("jwks"), g.field("jwks"));
        let path = SecretFile::path(dir.path(), "lab-jwt").unwrap();
        let kept = SecretFile::read(&path).unwrap().unwrap();
        assert_eq!(kept.spec, other);
        assert_eq!(kept.into_generated(), new);
    }

    #[test]
    fn other_spec_changes_are_noticed() {
        let s = spec(None);
        let file = SecretFile::new(&s, &issued_at(&s, T));
        let lifetime = lifetime(&s).unwrap();
        assert!(file.made_for(&s, lifetime));
        let changes: [fn(&mut GenSpec); 4] = [
            |s| s.issuer = "http://lab7".into(),
            |s| s.subjects.push("carol".into()),
            |s| s.subjects.reverse(),
            |s| s.lifetime = Some("1h".into()),
        ];
        for change in changes {
            let mut changed = s.clone();
            change(&mut changed);
            let lifetime = super::lifetime(&changed).unwrap();
            assert!(!file.made_for(&changed, lifetime), "{changed:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private_and_written_whole() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, _) = seeded(&spec(None));
        let secrets = dir.path().join("secrets");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&secrets.join("lab-jwt.json")), 0o600);
        assert_eq!(mode(&secrets), 0o700);
        let names: Vec<_> = fs::read_dir(&secrets)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["lab-jwt.json"]);
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_with_their_path() {
        let s = spec(None);
        let (dir, _) = seeded(&s);
        let path = SecretFile::path(dir.path(), "lab-jwt").unwrap();
        fs::write(&path, "{ not json").unwrap();
        let err = load_or_generate(dir.path(), &s, at(T)).unwrap_err();
        assert!(matches!(err, GenerateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("lab-jwt.json"), "{err}");

        fs::write(&path, r#"{"schema": 2, "later": true}"#).unwrap();
        let err = load_or_generate(dir.path(), &s, at(T)).unwrap_err();
        assert!(
            matches!(err, GenerateError::Schema { found: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn unreadable_stored_key_is_an_error() {
        let s = spec(Some("1h"));
        let (dir, _) = seeded(&s);
        let path = SecretFile::path(dir.path(), "lab-jwt").unwrap();
        let mut file = SecretFile::read(&path).unwrap().unwrap();
        file.private_key_pem =
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
        file.write(&path).unwrap();
        // Fresh tokens need no key; expired ones do.
        assert!(load_or_generate(dir.path(), &s, at(T + 60)).is_ok());
        let err = load_or_generate(dir.path(), &s, at(T + 7200)).unwrap_err();
        assert!(matches!(err, GenerateError::StoredKey { .. }), "{err}");
    }

    #[test]
    fn names_that_are_not_plain_file_names_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            let err = SecretFile::path(Path::new("state"), bad).unwrap_err();
            assert!(matches!(err, GenerateError::Name { .. }), "{bad:?}");
        }
        assert_eq!(
            SecretFile::path(Path::new("state"), "lab-jwt").unwrap(),
            Path::new("state/secrets/lab-jwt.json")
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = spec(None);
        let g = issued_at(&s, T);
        let shown = format!("{:?}", SecretFile::new(&s, &g));
        for secret in g.secrets() {
            assert!(!shown.contains(&secret));
        }
    }
}
