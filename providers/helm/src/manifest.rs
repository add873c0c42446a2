//! Rendered manifests made fit to show: Secret data replaced by hashes, known sensitive
//! strings redacted, and a unified diff between the live and the desired manifest.
//!
//! A chart may render a licence key into a Secret (the enterprise chart does), so a
//! manifest is never shown as helm prints it. Pure functions; helm is run elsewhere.

use crate::redact::Redactor;
use crate::values::sha256_hex;
use serde_json::Value;

/// Splits a multi-document manifest on `---` lines, dropping empty documents.
pub fn documents(manifest: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in manifest.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().expect("one document");
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.retain(|d| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    // `helm get manifest` ends with a blank line that a dry run does not print.
    docs.into_iter()
        .map(|d| format!("{}\n", d.trim_end()))
        .collect()
}

fn mask_secret(doc: &str) -> Option<String> {
    let mut v: Value = serde_saphyr::from_str(doc).ok()?;
    if v.get("kind").and_then(Value::as_str) != Some("Secret") {
        return None;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = v.get_mut(field) {
            for val in m.values_mut() {
                let text = match &*val {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *val = Value::String(format!(
                    "(sensitive sha256:{})",
                    &sha256_hex(text.as_bytes())[..16]
                ));
            }
        }
    }
    let comments: String = doc
        .lines()
        .take_while(|l| l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let body = serde_saphyr::to_string(&v).ok()?;
    Some(format!("{comments}{body}"))
}

/// The manifest with Secret values hashed and sensitive strings redacted.
pub fn safe(manifest: &str, redactor: &Redactor) -> String {
    documents(manifest)
        .into_iter()
        .map(|doc| {
            let doc = match mask_secret(&doc) {
                Some(masked) => masked,
                // A Secret that does not parse is not shown at all.
                None if doc.contains("kind: Secret") => {
                    "# (a Secret that could not be parsed; not shown)\n".to_string()
                }
                None => doc,
            };
            format!("---\n{}", redactor.apply(&doc))
        })
        .collect()
}

/// A unified diff of two manifests made safe; empty when they are equal.
pub fn diff(live: &str, desired: &str, redactor: &Redactor) -> String {
    let (live, desired) = (safe(live, redactor), safe(desired, redactor));
    if live == desired {
        return String::new();
    }
    similar::TextDiff::from_lines(&live, &desired)
        .unified_diff()
        .context_radius(3)
        .header(
            "live (helm get manifest)",
            "desired (helm upgrade --dry-run=server)",
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "---\n# Source: c/templates/s.yaml\napiVersion: v1\nkind: Secret\n\
        metadata:\n  name: lic\nstringData:\n  license-key: \"old-key-123\"\n---\n\
        # Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n\
        data:\n  a: \"1\"\n  echo: \"old-key-123\"\n";

    #[test]
    fn secrets_are_hashed_and_known_strings_redacted() {
        let mut r = Redactor::new();
        r.add("old-key-123");
        let out = safe(LIVE, &r);
        assert!(!out.contains("old-key-123"), "{out}");
        assert!(out.contains("license-key: (sensitive sha256:"), "{out}");
        assert!(out.contains("echo: \"(sensitive)\""), "{out}");
        assert!(out.contains("# Source: c/templates/s.yaml"), "{out}");
    }

    #[test]
    fn diff_is_empty_when_equal_and_shows_changes() {
        let r = Redactor::new();
        assert_eq!(diff(LIVE, LIVE, &r), "");
        let desired = LIVE
            .replace("a: \"1\"", "a: \"2\"")
            .replace("old-key-123", "new-key-456");
        let d = diff(LIVE, &desired, &r);
        assert!(
            d.contains("-  a: \"1\"") && d.contains("+  a: \"2\""),
            "{d}"
        );
        let secret_lines = d.lines().filter(|l| l.contains("license-key"));
        assert!(
            secret_lines.clone().count() == 2
                && secret_lines
                    .clone()
                    .all(|l| !l.contains("key-123") && !l.contains("key-456")),
            "{d}"
        );
        assert!(d.contains("license-key: (sensitive sha256:"), "{d}");
    }
}
