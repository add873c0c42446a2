//! The `jwt-rsa` generator: a 2048-bit RSA key, its JWKS, and one RS256 token per subject.
//!
//! Pure but for the random numbers of the key: the time comes in as an argument, nothing is
//! read or written. Tokens carry `iss`, `aud`, `sub`, `iat`, `nbf` and `exp`, and a header
//! whose `kid` is the RFC 7638 thumbprint of the key, which is also the JWKS entry's `kid`.

use super::{GenerateError, Generated};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mtm_provider::GenSpec;
use rsa::PrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The modulus size of generated keys.
const KEY_BITS: usize = 2048;

/// The token lifetime when the spec names none: 24 hours, in seconds.
pub const DEFAULT_LIFETIME: u64 = 24 * 3600;

/// Makes a new key and everything derived from it, with tokens issued at `now`.
pub fn generate(spec: &GenSpec, now: SystemTime) -> Result<Generated, GenerateError> {
    // Everything that can be wrong with the spec is found before the (slow) key.
    let lifetime = lifetime(spec)?;
    let now = unix(spec, now)?;
    let key =
        PrivateKey::new(&mut getrandom::SysRng, KEY_BITS).map_err(|source| GenerateError::Key {
            name: spec.name.clone(),
            source,
        })?;
    let key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|source| GenerateError::KeyEncoding {
            name: spec.name.clone(),
            source: source.into(),
        })?
        .to_string();
    issue(spec, &key, key_pem, now, lifetime)
}

/// The values of `spec` for an existing key: the JWKS, and tokens issued at `now` (unix
/// seconds) that expire `lifetime` seconds later.
pub(super) fn issue(
    spec: &GenSpec,
    key: &PrivateKey,
    key_pem: String,
    now: u64,
    lifetime: u64,
) -> Result<Generated, GenerateError> {
    let n = URL_SAFE_NO_PAD.encode(key.n_bytes());
    let e = URL_SAFE_NO_PAD.encode(key.e_bytes());
    let jwk = rsa_jwk(n, e);
    let kid = jwk.common.key_id.clone().expect("rsa_jwk sets the kid");
    let jwks = JwkSet { keys: vec![jwk] };
    let mut values = BTreeMap::new();
    values.insert(
        "jwks".to_string(),
        serde_json::to_string(&jwks).expect("a JWKS serializes"),
    );

    let der = key
        .to_pkcs1_der()
        .map_err(|source| GenerateError::KeyEncoding {
            name: spec.name.clone(),
            source: source.into(),
        })?;
    let signing = EncodingKey::from_rsa_der(der.as_bytes());
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.clone());
    let expires_at = now.saturating_add(lifetime);
    ensure_provider();
    for subject in &spec.subjects {
        let claims = Claims {
            iss: &spec.issuer,
            aud: &spec.audience,
            sub: subject,
            iat: now,
            nbf: now,
            exp: expires_at,
        };
        let token = jsonwebtoken::encode(&header, &claims, &signing).map_err(|source| {
            GenerateError::Sign {
                name: spec.name.clone(),
                subject: subject.clone(),
                source,
            }
        })?;
        values.insert(format!("token.{subject}"), token);
    }
    Ok(Generated {
        name: spec.name.clone(),
        kid,
        key_pem,
        issued_at: now,
        expires_at,
        values,
    })
}

/// The spec's token lifetime in seconds: `lifetime` as `24h`, `30m`, `300s` or `1h30m`,
/// [`DEFAULT_LIFETIME`] when absent.
pub fn lifetime(spec: &GenSpec) -> Result<u64, GenerateError> {
    let Some(text) = &spec.lifetime else {
        return Ok(DEFAULT_LIFETIME);
    };
    crate::duration::parse(text)
        .map(|d| d.as_secs())
        .filter(|&secs| secs > 0)
        .ok_or_else(|| GenerateError::Lifetime {
            name: spec.name.clone(),
            value: text.clone(),
        })
}

/// The JWKS entry of an RSA signing key (RS256) given as base64url `n` and `e`; its `kid`
/// is the key's RFC 7638 thumbprint.
fn rsa_jwk(n: String, e: String) -> Jwk {
    let mut jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::RS256),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
            key_type: RSAKeyType::RSA,
            n,
            e,
        }),
    };
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .expect("an RSA key always has a thumbprint");
    jwk.common.key_id = Some(kid);
    jwk
}

pub(super) fn unix(spec: &GenSpec, now: SystemTime) -> Result<u64, GenerateError> {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| GenerateError::Clock {
            name: spec.name.clone(),
        })
}

/// jsonwebtoken picks its backend from its features; should another crate of the build
/// turn on a second backend, it would panic instead. Install RustCrypto's explicitly then.
fn ensure_provider() {
    if CryptoProvider::try_get_default().is_none() {
        // An error means another thread installed one first: that one is used.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, errors::ErrorKind};
    use mtm_provider::resource::GenKind;
    use serde::Deserialize;
    use std::sync::OnceLock;
    use std::time::Duration;

    pub(crate) fn spec(lifetime: Option<&str>) -> GenSpec {
        GenSpec {
            name: "lab-jwt".into(),
            kind: GenKind::JwtRsa,
            issuer: "http://lab6".into(),
            audience: "lab6".into(),
            subjects: vec!["alice".into(), "bob".into()],
            lifetime: lifetime.map(str::to_string),
        }
    }

    /// One key for every test that does not test key generation: 2048-bit keys are slow
    /// in a debug build.
    pub(crate) fn key() -> &'static (PrivateKey, String) {
        static KEY: OnceLock<(PrivateKey, String)> = OnceLock::new();
        KEY.get_or_init(|| {
            let key = PrivateKey::new(&mut getrandom::SysRng, KEY_BITS).unwrap();
            let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
            (key, pem)
        })
    }

    pub(crate) fn issued_at(spec: &GenSpec, now: u64) -> Generated {
        let (key, pem) = key();
        issue(spec, key, pem.clone(), now, lifetime(spec).unwrap()).unwrap()
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[derive(Debug, Deserialize)]
    struct Seen {
        iss: String,
        aud: String,
        sub: String,
        iat: u64,
        nbf: u64,
        exp: u64,
    }

    fn decoding_key(g: &Generated) -> DecodingKey {
        let jwks: serde_json::Value = serde_json::from_str(g.field("jwks").unwrap()).unwrap();
        let jwk = &jwks["keys"][0];
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap()
    }

    fn validation(audience: &str) -> Validation {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&["http://lab6"]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = 0;
        v
    }

    #[test]
    fn generated_key_has_2048_bits_and_signs_valid_tokens() {
        let g = generate(&spec(Some("5m")), SystemTime::now()).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(g.field("jwks").unwrap()).unwrap();
        let n = URL_SAFE_NO_PAD
            .decode(jwks["keys"][0]["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(n.len() * 8, 2048);
        let seen = decode::<Seen>(
            g.field("token.bob").unwrap(),
            &decoding_key(&g),
            &validation("lab6"),
        )
        .unwrap();
        assert_eq!(seen.claims.sub, "bob");
        assert_eq!(seen.claims.exp - seen.claims.iat, 300);
    }

    #[test]
    fn tokens_validate_against_the_jwks() {
        let t = now();
        let g = issued_at(&spec(None), t);
        for subject in ["alice", "bob"] {
            let token = g.field(&format!("token.{subject}")).unwrap();
            let seen = decode::<Seen>(token, &decoding_key(&g), &validation("lab6")).unwrap();
            assert_eq!(seen.claims.sub, subject);
            assert_eq!(seen.claims.iss, "http://lab6");
            assert_eq!(seen.claims.aud, "lab6");
            assert_eq!((seen.claims.iat, seen.claims.nbf), (t, t));
            assert_eq!(seen.claims.exp, t + DEFAULT_LIFETIME);
            assert_eq!(seen.header.alg, Algorithm::RS256);
        }
        assert_eq!(
            g.field_names().collect::<Vec<_>>(),
            spec(None)
                .fields()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn jwks_has_the_members_a_validator_needs() {
        let g = issued_at(&spec(None), now());
        let jwks: serde_json::Value = serde_json::from_str(g.field("jwks").unwrap()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["e"], "AQAB");
        let n = jwk["n"].as_str().unwrap();
        assert!(
            !n.contains('=') && !n.contains('+') && !n.contains('/'),
            "{n}"
        );
        assert_eq!(jwk["kid"], thumbprint(n));
        assert_eq!(g.kid(), jwk["kid"]);
        assert!(!g.field("jwks").unwrap().contains('\n'));
    }

    #[test]
    fn token_kid_matches_the_jwks() {
        let g = issued_at(&spec(None), now());
        let jwks: serde_json::Value = serde_json::from_str(g.field("jwks").unwrap()).unwrap();
        let header = decode_header(g.field("token.alice").unwrap()).unwrap();
        assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
        assert_eq!(header.typ.as_deref(), Some("JWT"));
    }

    #[test]
    fn expired_token_is_rejected() {
        let g = issued_at(&spec(Some("300s")), now() - 3600);
        let err = decode::<Seen>(
            g.field("token.alice").unwrap(),
            &decoding_key(&g),
            &validation("lab6"),
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ExpiredSignature);
    }

    #[test]
    fn wrong_audience_is_rejected() {
        let g = issued_at(&spec(None), now());
        let err = decode::<Seen>(
            g.field("token.alice").unwrap(),
            &decoding_key(&g),
            &validation("lab7"),
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidAudience);
    }

    #[test]
    fn token_from_another_key_is_rejected() {
        let mine = issued_at(&spec(None), now());
        let other = generate(&spec(None), SystemTime::now()).unwrap();
        let err = decode::<Seen>(
            other.field("token.alice").unwrap(),
            &decoding_key(&mine),
            &validation("lab6"),
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature);
        assert_ne!(other.kid(), mine.kid());
    }

    /// The kid `rsa_jwk` gives a key with exponent AQAB.
    fn thumbprint(n: &str) -> String {
        rsa_jwk(n.to_string(), "AQAB".to_string())
            .common
            .key_id
            .unwrap()
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1\
                 L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4\
                 QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO\
                 pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF\
                 Cur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn lifetimes() {
        for (text, secs) in [
            ("24h", 86_400),
            ("300s", 300),
            ("5m", 300),
            ("1h30m", 5_400),
            (" 2h ", 7_200),
            ("5 m", 300),
        ] {
            assert_eq!(lifetime(&spec(Some(text))).unwrap(), secs, "{text}");
        }
        assert_eq!(lifetime(&spec(None)).unwrap(), DEFAULT_LIFETIME);
        for bad in [
            "",
            "24",
            "0s",
            "1d",
            "m",
            "-1h",
            "500ms",
            "99999999999999999999h",
        ] {
            let err = lifetime(&spec(Some(bad))).unwrap_err();
            assert!(
                matches!(&err, GenerateError::Lifetime { value, .. } if value == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_lifetime_is_an_error_naming_the_value() {
        let err = generate(&spec(Some("soon")), SystemTime::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "generate `lab-jwt`: lifetime `soon` is not a duration (use e.g. 24h, 30m, 300s)"
        );
    }

    #[test]
    fn clock_before_1970_is_an_error() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        let err = generate(&spec(None), before).unwrap_err();
        assert!(matches!(err, GenerateError::Clock { .. }), "{err}");
    }
}
