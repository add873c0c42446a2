//! Keeps secrets out of results: the bearer and subject tokens a check carries, sensitive
//! header values, tokens issued while it runs, and anything shaped like a JWT.

use mtm_provider::resource::{CheckSpec, HttpCall};

const MASK: &str = "***";

#[derive(Debug, Default)]
pub(crate) struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// The secrets a check declares.
    pub fn of(check: &CheckSpec) -> Secrets {
        let mut s = Secrets::default();
        if let Some(call) = &check.http {
            s.add_headers(call);
        }
        if let Some(call) = &check.mcp
            && let Some(bearer) = &call.bearer
        {
            s.add(bearer);
        }
        if let Some(call) = &check.token_exchange {
            s.add(&call.subject_token);
            s.add_headers(&call.then);
        }
        s
    }

    fn add_headers(&mut self, call: &HttpCall) {
        for (name, value) in &call.headers {
            if is_sensitive_header(name) {
                self.add(value);
                if let Some((_scheme, credential)) = value.split_once(' ') {
                    self.add(credential.trim());
                }
            }
        }
    }

    /// Adds a secret, and its form-encoded spelling (a server may echo the form it got).
    pub fn add(&mut self, secret: &str) {
        for v in [secret.to_string(), form_encode(secret)] {
            if !v.is_empty() && !self.values.contains(&v) {
                self.values.push(v);
            }
        }
        // Longest first, so that a secret containing another is masked whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            out = out.replace(v.as_str(), MASK);
        }
        mask_jwts(&out)
    }
}

/// `application/x-www-form-urlencoded`, as reqwest's form sends it.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(crate) fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "token", "cookie", "key", "secret"]
        .iter()
        .any(|w| name.contains(w))
}

/// Replaces every `eyJ...x.y.z`-shaped run (a JWT or JWS) with the mask.
fn mask_jwts(text: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(is_b64(c) || c == '.'))
            .unwrap_or(tail.len());
        let run = &tail[..len];
        if run.split('.').filter(|p| !p.is_empty()).count() >= 2 {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
        rest = &tail[len..];
        if len == 0 {
            // Cannot happen ("eyJ" is itself a run), but never loop forever.
            out.push_str(rest);
            return out;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_declared_secrets_and_jwts() {
        let mut s = Secrets::default();
        s.add("s3cr3t-token");
        assert_eq!(
            s.mask("Bearer s3cr3t-token was refused"),
            "Bearer *** was refused"
        );
        assert_eq!(
            s.mask("got eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln, done"),
            "got ***, done"
        );
        assert_eq!(s.mask("eyJ alone"), "eyJ alone");
        s.add("a+b/c=");
        assert_eq!(
            s.mask("subject_token=a%2Bb%2Fc%3D&x"),
            "subject_token=***&x"
        );
    }

    #[test]
    fn sensitive_headers() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("Accept"));
    }
}
