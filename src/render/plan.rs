//! Plans and progress as text: one block per changing resource with a readable diff
//! (YAML values, coloured on a terminal), the step's What/Why with `--explain`, and a
//! summary line; progress as one plain line per event.

use super::Renderer;
use crate::engine::NodeError;
use crate::engine::apply::Progress;
use crate::engine::change::{Action, Change, Summary};
use owo_colors::OwoColorize;
use serde_json::Value;
use std::fmt::Write;

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

impl Renderer {
    fn paint(&self, action: Action, text: &str) -> String {
        if !self.color_out {
            return text.to_string();
        }
        match action {
            Action::Create | Action::Pending => text.green().to_string(),
            Action::Update => text.yellow().to_string(),
            Action::Delete => text.red().to_string(),
            Action::Restore | Action::Adopt => text.cyan().to_string(),
            _ => text.to_string(),
        }
    }
}

/// The plan as text: changing resources with their diffs, then the summary.
pub fn show_changes(
    r: &Renderer,
    changes: &[Change],
    errors: &[NodeError],
    not_attempted: &[String],
    explain: bool,
    verbose: bool,
) -> String {
    let mut out = String::new();
    for c in changes {
        if !c.action.changes() && !verbose {
            continue;
        }
        let head = format!("{} {} ({})", c.action.sign(), c.address, c.action.word());
        let _ = writeln!(out, "{}", r.paint(c.action, &head));
        if explain {
            let _ = writeln!(out, "    step: {}", c.title);
            if !c.what.is_empty() {
                out.push_str(&indent(&format!("what: {}", c.what), "    "));
            }
            if !c.why.is_empty() {
                out.push_str(&indent(&format!("why: {}", c.why), "    "));
            }
        }
        if let Some(note) = &c.note {
            let _ = writeln!(out, "    note: {note}");
        }
        for claim in &c.claims {
            let _ = writeln!(out, "    {}", claim.describe());
        }
        for d in &c.diff {
            match (&d.before, &d.after) {
                (None, Some(after)) if d.path.is_empty() => {
                    out.push_str(&r.paint(Action::Create, &indent(&yaml(after), "    + ")))
                }
                (Some(before), None) if d.path.is_empty() => {
                    out.push_str(&r.paint(Action::Delete, &indent(&yaml(before), "    - ")))
                }
                (before, after) => {
                    let _ = writeln!(out, "    {}:", d.path);
                    if let Some(b) = before {
                        out.push_str(&r.paint(Action::Delete, &indent(&yaml(b), "      - ")));
                    }
                    if let Some(a) = after {
                        out.push_str(&r.paint(Action::Create, &indent(&yaml(a), "      + ")));
                    }
                }
            }
        }
    }
    for e in errors {
        let _ = writeln!(out, "! {}: {}", e.address, e.message);
    }
    for line in not_attempted {
        let _ = writeln!(out, "! {line}");
    }
    let s = Summary::of(changes);
    let adopt = if s.adopt > 0 {
        format!(" {} to adopt,", s.adopt)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to update, {} to delete, {} to restore,{adopt} {} unchanged.{}",
        s.create,
        s.update,
        s.delete,
        s.restore,
        s.unchanged,
        if errors.is_empty() {
            String::new()
        } else {
            format!(" {} could not be planned.", errors.len())
        }
    );
    out
}

/// One line per progress event (plain, for logs and terminals alike).
pub fn progress_line(p: &Progress) -> Option<String> {
    Some(match p {
        Progress::Started { .. } => return None,
        Progress::Done {
            action: Action::NoOp | Action::Check,
            ..
        } => return None,
        Progress::Done {
            address,
            action,
            seconds,
        } => format!("{:>8}  {address} ({seconds:.1}s)\n", done_word(*action)),
        Progress::Failed(e) => format!("  failed  {}: {}\n", e.address, e.message),
        Progress::Skipped { address, because } => {
            format!(" skipped  {address}: {because} failed\n")
        }
        Progress::Stopping { running } => format!("stopping: waiting for {running} running\n"),
    })
}

fn done_word(a: Action) -> &'static str {
    match a {
        Action::Create | Action::Pending => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::Restore => "restored",
        Action::Adopt => "adopted",
        Action::NoOp => "ok",
        Action::Check => "checked",
    }
}
