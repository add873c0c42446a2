//! Generated values: what mtm makes instead of copying it from a sample (the RSA key, JWKS
//! and alice/bob tokens of labs 5 and 6), and the one file that keeps them between runs.
//!
//! `jwt` makes the values from a [`mtm_provider::GenSpec`] and a time passed in; `subst` puts them into
//! `${gen.NAME.FIELD}` references; `file` keeps them in `state/secrets/<name>.json` so that
//! the JWKS does not change on every run. That file is the only place mtm keeps secret
//! material: state records hold [`fingerprint`]s, and the renderer gets
//! [`Generated::secrets`] to redact. This module knows nothing of plans, clusters or the
//! store, and it never prints.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

mod file;
mod jwt;
mod subst;

pub use self::file::{SCHEMA, SecretFile, load_existing, load_or_generate};
pub use self::jwt::{DEFAULT_LIFETIME, generate, lifetime};
pub use self::subst::{SubstError, substitute, substitute_value};

/// Why a value could not be generated, or its file not kept.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("generate `{name}`: lifetime `{value}` is not a duration (use e.g. 24h, 30m, 300s)")]
    Lifetime { name: String, value: String },
    #[error("generate `{name}`: the clock is before 1970")]
    Clock { name: String },
    #[error("generate `{name}`: the name cannot be a file name (use letters, digits, `-`, `_`)")]
    Name { name: String },
    #[error("generate `{name}`: making the RSA key failed")]
    Key {
        name: String,
        #[source]
        source: rsa::Error,
    },
    #[error("generate `{name}`: encoding the RSA key failed")]
    KeyEncoding {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("generate `{name}`: signing the token of `{subject}` failed")]
    Sign {
        name: String,
        subject: String,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    #[error("{}: cannot {what}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a generated-values file of mtm; delete it to generate new values", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}: written by a newer mtm (schema {found}, this one reads {SCHEMA}); use that mtm or delete the file",
        path.display()
    )]
    Schema { path: PathBuf, found: u32 },
    #[error("{}: the stored private key is unreadable; delete the file to generate a new key", path.display())]
    StoredKey {
        path: PathBuf,
        #[source]
        source: rsa::pkcs8::Error,
    },
}

/// The values of one `generate` entry: the fields other resources reference, and the
/// private key they were made with (kept for re-issuing tokens, never a field).
#[derive(Clone, PartialEq, Eq)]
pub struct Generated {
    name: String,
    kid: String,
    key_pem: String,
    issued_at: u64,
    expires_at: u64,
    values: BTreeMap<String, String>,
}

impl Generated {
    /// The `generate` entry's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id: the RFC 7638 thumbprint of the public key, in the JWKS and every token.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// When the tokens were issued, unix seconds (also their `iat` and `nbf`).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// When the tokens expire, unix seconds (their `exp`).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// One field as `${gen.NAME.FIELD}` names it: `jwks` or `token.<subject>`.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }

    /// The field names, sorted (the same set as `GenSpec::fields()`).
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Every value the renderer must redact: each field (the JWKS is public, but it is
    /// masked too) and the private key.
    pub fn secrets(&self) -> Vec<String> {
        self.values
            .values()
            .chain(std::iter::once(&self.key_pem))
            .filter(|v| !v.is_empty())
            .cloned()
            .collect()
    }

    /// What a state record may hold instead of the values: `sha256:<hex>` per field.
    pub fn redacted(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), fingerprint(v)))
            .collect()
    }

    /// One `sha256:<hex>` over every field, for the resource's record hash: it changes
    /// when the key changes or the tokens are re-issued, and only then.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for (k, v) in &self.values {
            for part in [k, v] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part.as_bytes());
            }
        }
        format!("sha256:{}", hex(&hasher.finalize()))
    }

    pub(crate) fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

/// Shows names and fingerprints only, so that a `{:?}` never leaks a token or the key.
impl fmt::Debug for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generated")
            .field("name", &self.name)
            .field("kid", &self.kid)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("values", &self.redacted())
            .finish_non_exhaustive()
    }
}

/// `sha256:<hex>` of a value: what state records keep in place of a generated value.
pub fn fingerprint(value: &str) -> String {
    fingerprint_bytes(value.as_bytes())
}

/// `sha256:<hex>` of bytes that need not be text (a Secret's decoded value).
pub fn fingerprint_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Generated {
        Generated {
            name: "k".into(),
            kid: "kid".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----\nabc\n".into(),
            issued_at: 10,
            expires_at: 20,
            values: [("jwks", "{\"keys\":[]}"), ("token.alice", "a.b.c")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        // sha256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fingerprint("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_hold_tokens_jwks_and_key() {
        let g = sample();
        let secrets = g.secrets();
        assert!(secrets.contains(&"a.b.c".to_string()));
        assert!(secrets.contains(&"{\"keys\":[]}".to_string()));
        assert!(secrets.iter().any(|s| s.contains("PRIVATE KEY")));
    }

    #[test]
    fn debug_and_redacted_show_no_value() {
        let g = sample();
        let shown = format!("{g:?} {:?}", g.redacted());
        for secret in g.secrets() {
            assert!(!shown.contains(&secret), "{shown}");
        }
        assert!(shown.contains(&fingerprint("a.b.c")), "{shown}");
    }

    #[test]
    fn fingerprint_follows_every_field() {
        let a = sample();
        let mut b = sample();
        b.values.insert("token.alice".into(), "a.b.d".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), sample().fingerprint());
        assert!(a.fingerprint().starts_with("sha256:"));
    }
}
