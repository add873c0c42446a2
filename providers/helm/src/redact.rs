//! Redaction of sensitive strings in text that leaves mtm: helm's stderr, rendered
//! manifests, diffs.
//!
//! A `Redactor` knows the clear values it must hide (the declared sensitive values and the
//! live release's values at sensitive paths) and replaces each occurrence by
//! `(sensitive)`. Its `Debug` shows how many it holds, never what.

use std::fmt;

pub const MASK: &str = "(sensitive)";

#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value to hide; empty strings are ignored.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_string());
        // Longest first, so that a secret containing another is hidden whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_every_occurrence_and_longest_first() {
        let mut r = Redactor::new();
        r.add("abc");
        r.add("abcdef");
        r.add("");
        assert_eq!(r.apply("x abcdef y abc"), "x (sensitive) y (sensitive)");
        assert_eq!(format!("{r:?}"), "Redactor(2 secrets)");
    }
}
