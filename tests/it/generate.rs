//! Generated values end to end: the workshop plan's `lab-jwt` entry is made into a state
//! directory, put into the lab 5 and lab 6 manifests and checks, and the tokens are then
//! validated the way a gateway would, with a standard JWT library, against the JWKS as it
//! stands in the substituted JWT policy, with that policy's issuer and audience.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use mtm::generate::{Generated, SecretFile, fingerprint, load_or_generate, substitute_value};
use mtm::plan::{LoadOptions, Plan, load};
use mtm_provider::resource::{GenSpec, Spec};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn workshop(vars: &[&str]) -> Plan {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/agentic-mcp-lab");
    let opts = LoadOptions {
        cli_vars: vars.iter().map(|v| v.to_string()).collect(),
        env: &|_| None,
    };
    load(&dir, &opts).unwrap_or_else(|d| panic!("the workshop plan loads: {d:?}"))
}

fn lab_jwt(plan: &Plan) -> GenSpec {
    let specs: Vec<&GenSpec> = plan
        .stages
        .iter()
        .flat_map(|s| &s.decls)
        .filter_map(|d| match &d.spec {
            Spec::Generated(g) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(specs.len(), 1, "{specs:?}");
    specs[0].clone()
}

/// Every manifest and check of the plan that uses a generated value, substituted, by
/// address.
fn substituted(plan: &Plan, values: &BTreeMap<String, Generated>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for decl in plan.stages.iter().flat_map(|s| &s.decls) {
        if decl.uses.is_empty() {
            continue;
        }
        let raw = match &decl.spec {
            Spec::Object { manifest, .. } => manifest.value(),
            Spec::Check { check, .. } => serde_json::to_value(check).unwrap(),
            other => panic!("{} uses a generated value: {other:?}", decl.address),
        };
        let done = substitute_value(&raw, values).unwrap();
        out.insert(decl.address.to_string(), done);
    }
    out
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    exp: u64,
    iat: u64,
}

/// What the lab 5 policy would check: its inline JWKS, issuer and audiences.
fn policy_validation(policy: &Value) -> (DecodingKey, Validation) {
    let provider = &policy["spec"]["traffic"]["jwtAuthentication"]["providers"][0];
    let inline = provider["jwks"]["inline"].as_str().expect("an inline JWKS");
    let set: JwkSet = serde_json::from_str(inline).expect("the inline JWKS is a JWK set");
    assert_eq!(set.keys.len(), 1);
    let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[provider["issuer"].as_str().unwrap()]);
    let audiences: Vec<&str> = provider["audiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    validation.set_audience(&audiences);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    (key, validation)
}

fn find<'a>(done: &'a BTreeMap<String, Value>, part: &str) -> &'a Value {
    let hits: Vec<_> = done.iter().filter(|(a, _)| a.contains(part)).collect();
    assert_eq!(hits.len(), 1, "{part} in {:?}", done.keys());
    hits[0].1
}

#[test]
fn workshop_tokens_validate_against_the_policy_jwks() {
    let plan = workshop(&[]);
    let spec = lab_jwt(&plan);
    assert_eq!(spec.fields(), ["jwks", "token.alice", "token.bob"]);
    let state = tempfile::tempdir().unwrap();
    let (generated, fresh) = load_or_generate(state.path(), &spec, SystemTime::now()).unwrap();
    assert!(fresh);
    let values = BTreeMap::from([(spec.name.clone(), generated.clone())]);
    let done = substituted(&plan, &values);
    let text = serde_json::to_string(&done).unwrap();
    assert!(!text.contains("${gen."), "{text}");

    let policy = find(&done, "mcp-jwt-auth");
    let (key, validation) = policy_validation(policy);
    for subject in ["alice", "bob"] {
        let token = generated.field(&format!("token.{subject}")).unwrap();
        let seen = decode::<Claims>(token, &key, &validation).unwrap();
        assert_eq!(seen.claims.sub, subject);
        assert_eq!(seen.claims.iss, "http://lab6");
        // JWT_LIFETIME's default.
        assert_eq!(seen.claims.exp - seen.claims.iat, 24 * 3600);
        let kid = decode_header(token).unwrap().kid;
        assert_eq!(kid.as_deref(), Some(generated.kid()));
    }

    // Lab 6's mock IdP serves the same JWKS; the checks carry the tokens.
    let idp = find(&done, "mock-idp-jwks");
    assert_eq!(
        idp["data"]["jwks.json"],
        policy["spec"]["traffic"]["jwtAuthentication"]["providers"][0]["jwks"]["inline"]
    );
    let alice = generated.field("token.alice").unwrap();
    let bob = generated.field("token.bob").unwrap();
    assert_eq!(find(&done, "alice-tools")["mcp"]["bearer"], alice);
    assert_eq!(find(&done, "bob-tools")["mcp"]["bearer"], bob);
    assert_eq!(
        find(&done, "user-jwt-denied")["http"]["headers"]["Authorization"],
        format!("Bearer {alice}")
    );

    // Another audience is refused.
    let mut other = validation.clone();
    other.set_audience(&["lab7"]);
    let err = decode::<Claims>(alice, &key, &other).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidAudience);
}

#[test]
fn values_stay_across_runs_and_follow_the_lifetime() {
    let state = tempfile::tempdir().unwrap();
    let spec = lab_jwt(&workshop(&["JWT_LIFETIME=2h"]));
    assert_eq!(spec.lifetime.as_deref(), Some("2h"));
    let now = SystemTime::now();
    let (first, fresh) = load_or_generate(state.path(), &spec, now).unwrap();
    assert!(fresh);
    assert_eq!(first.expires_at() - first.issued_at(), 2 * 3600);

    // The next run, a minute later: the same values, nothing made.
    let later = now + Duration::from_secs(60);
    let (second, fresh) = load_or_generate(state.path(), &spec, later).unwrap();
    assert!(!fresh);
    assert_eq!(second, first);
    assert_eq!(second.fingerprint(), first.fingerprint());

    // The file is private and holds the key; its values are the ones returned.
    let path = SecretFile::path(state.path(), &spec.name).unwrap();
    assert_eq!(path, state.path().join("secrets/lab-jwt.json"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("PRIVATE KEY"));
    assert!(text.contains(first.field("token.bob").unwrap()));

    // Near the end of the 2h the tokens are issued again, with the same key.
    let (third, fresh) =
        load_or_generate(state.path(), &spec, now + Duration::from_secs(7000)).unwrap();
    assert!(fresh);
    assert_eq!(third.field("jwks"), first.field("jwks"));
    assert_ne!(third.field("token.alice"), first.field("token.alice"));
    assert_ne!(third.fingerprint(), first.fingerprint());

    // Another lifetime is another spec: a new key.
    let changed = lab_jwt(&workshop(&["JWT_LIFETIME=1h"]));
    let (fourth, fresh) = load_or_generate(state.path(), &changed, later).unwrap();
    assert!(fresh);
    assert_ne!(fourth.field("jwks"), first.field("jwks"));
    assert_ne!(fourth.kid(), first.kid());
}

#[test]
fn expired_tokens_are_rejected() {
    let state = tempfile::tempdir().unwrap();
    let spec = lab_jwt(&workshop(&["JWT_LIFETIME=5m"]));
    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    let (old, _) = load_or_generate(state.path(), &spec, long_ago).unwrap();
    let values = BTreeMap::from([(spec.name.clone(), old.clone())]);
    let done = substituted(&workshop(&["JWT_LIFETIME=5m"]), &values);
    let (key, validation) = policy_validation(find(&done, "mcp-jwt-auth"));
    let err = decode::<Claims>(old.field("token.alice").unwrap(), &key, &validation).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ExpiredSignature);

    // Loading them now issues new ones, which validate against the same JWKS.
    let (new, fresh) = load_or_generate(state.path(), &spec, SystemTime::now()).unwrap();
    assert!(fresh);
    assert_eq!(new.kid(), old.kid());
    let seen = decode::<Claims>(new.field("token.alice").unwrap(), &key, &validation).unwrap();
    assert_eq!(seen.claims.sub, "alice");
}

#[test]
fn records_hold_fingerprints_not_values() {
    let state = tempfile::tempdir().unwrap();
    let spec = lab_jwt(&workshop(&[]));
    let (generated, _) = load_or_generate(state.path(), &spec, SystemTime::now()).unwrap();
    let redacted = generated.redacted();
    assert_eq!(
        redacted.keys().collect::<Vec<_>>(),
        ["jwks", "token.alice", "token.bob"]
    );
    let shown = format!("{redacted:?} {generated:?} {}", generated.fingerprint());
    for secret in generated.secrets() {
        assert!(!shown.contains(&secret));
    }
    let jwks = generated.field("jwks").unwrap();
    assert_eq!(redacted["jwks"], fingerprint(jwks));
    assert!(redacted["jwks"].starts_with("sha256:") && redacted["jwks"].len() == 7 + 64);
}
