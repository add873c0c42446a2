//! One changed field as text: a whole object added or removed, a value before and after,
//! and a multi-line string (a JWKS, a script, a certificate) as a line diff with two lines
//! of context, so that a one-line change in a long value is one `-` and one `+`.
//!
//! Known secret values are masked in each side before the lines are compared, so that a
//! secret spanning lines never reaches the output in pieces that the renderer's
//! whole-value masking would not recognise.

use super::Renderer;
use crate::engine::change::{Action, FieldChange};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// Lines of unchanged context around each change of a multi-line value.
const CONTEXT: usize = 2;

fn yaml(v: &Value) -> String {
    match v {
        Value::String(s) if !s.contains('\n') => s.clone(),
        other => serde_saphyr::to_string(other)
            .unwrap_or_else(|_| other.to_string())
            .trim_end()
            .to_string(),
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

/// Both sides when they are strings and one of them spans lines.
fn multi_line<'a>(
    before: Option<&'a Value>,
    after: Option<&'a Value>,
) -> Option<(&'a str, &'a str)> {
    match (before?, after?) {
        (Value::String(b), Value::String(a)) if b.contains('\n') || a.contains('\n') => {
            Some((b.as_str(), a.as_str()))
        }
        _ => None,
    }
}

/// The lines that differ between two texts, with context, each hunk after a `@@` line.
fn line_diff(r: &Renderer, before: &str, after: &str, prefix: &str) -> String {
    let (before, after) = (r.redact(before), r.redact(after));
    let diff = TextDiff::from_lines(before.as_str(), after.as_str());
    let mut out = String::new();
    for hunk in diff.grouped_ops(CONTEXT) {
        let first = hunk.first().map_or(0, |op| op.old_range().start);
        out.push_str(&format!("{prefix}@@ line {} @@\n", first + 1));
        for op in &hunk {
            for change in diff.iter_changes(op) {
                let text = change.value().trim_end_matches('\n');
                let line = match change.tag() {
                    ChangeTag::Equal => format!("{prefix}  {text}\n"),
                    ChangeTag::Delete => r.paint(Action::Delete, &format!("{prefix}- {text}\n")),
                    ChangeTag::Insert => r.paint(Action::Create, &format!("{prefix}+ {text}\n")),
                };
                out.push_str(&line);
            }
        }
    }
    out
}

/// One field change, indented under its resource.
pub fn field(r: &Renderer, d: &FieldChange) -> String {
    let mut out = String::new();
    match (&d.before, &d.after) {
        (None, Some(after)) if d.path.is_empty() => {
            out.push_str(&r.paint(Action::Create, &indent(&yaml(after), "    + ")))
        }
        (Some(before), None) if d.path.is_empty() => {
            out.push_str(&r.paint(Action::Delete, &indent(&yaml(before), "    - ")))
        }
        (before, after) => {
            out.push_str(&format!("    {}:\n", d.path));
            if let Some((b, a)) = multi_line(before.as_ref(), after.as_ref()) {
                out.push_str(&line_diff(r, b, a, "      "));
                return out;
            }
            if let Some(b) = before {
                out.push_str(&r.paint(Action::Delete, &indent(&yaml(b), "      - ")));
            }
            if let Some(a) = after {
                out.push_str(&r.paint(Action::Create, &indent(&yaml(a), "      + ")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::OutputFormat;

    fn change(before: &str, after: &str) -> FieldChange {
        FieldChange {
            path: "data.script".into(),
            before: Some(Value::String(before.into())),
            after: Some(Value::String(after.into())),
        }
    }

    #[test]
    fn a_one_line_change_in_a_long_value_is_one_minus_and_one_plus() {
        let r = Renderer::new(OutputFormat::Text, true);
        let before: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let after = before.replace("line 10\n", "line ten\n");
        let text = field(&r, &change(&before, &after));
        assert_eq!(
            text,
            "    data.script:\n      @@ line 8 @@\n        line 8\n        line 9\n      - line 10\n      + line ten\n        line 11\n        line 12\n"
        );
    }

    #[test]
    fn a_multi_line_secret_is_masked_before_the_lines_are_compared() {
        let mut r = Renderer::new(OutputFormat::Text, true);
        let key = "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----";
        r.add_secrets([key.to_string()]);
        let before = format!("head\n{key}\ntail\n");
        let after = format!("head\n{key}\ntail changed\n");
        let text = field(&r, &change(&before, &after));
        assert!(!text.contains("AAAA") && !text.contains("BBBB"), "{text}");
        assert!(
            text.contains("- tail\n") && text.contains("+ tail changed\n"),
            "{text}"
        );
    }

    #[test]
    fn single_line_values_keep_before_and_after() {
        let r = Renderer::new(OutputFormat::Text, true);
        let text = field(&r, &change("a", "b"));
        assert_eq!(text, "    data.script:\n      - a\n      + b\n");
    }
}
