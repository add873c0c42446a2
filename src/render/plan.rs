//! Plans and progress as text. A plan reads like the workshop: changes grouped by stage,
//! then by step under the step's title (its What/Why once, with `--explain`), one block
//! per changing resource with a readable diff (`diff`), then one summary line per stage
//! and per cluster, then the total. Progress is one plain line per event.

use super::Renderer;
use crate::engine::NodeError;
use crate::engine::apply::Progress;
use crate::engine::change::{Action, Change, Summary};
use owo_colors::OwoColorize;
use std::collections::BTreeMap;
use std::fmt::Write;

impl Renderer {
    pub(super) fn paint(&self, action: Action, text: &str) -> String {
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

/// The stage a change belongs to: the first segment of its address.
fn stage_of(c: &Change) -> &str {
    c.address.split('/').next().unwrap_or("")
}

/// One step's changes, in the order they came.
struct StepGroup<'a> {
    first: &'a Change,
    changes: Vec<&'a Change>,
}

/// Changes by stage, then step, each in order of first appearance.
fn grouped<'a>(changes: &[&'a Change]) -> Vec<(&'a str, Vec<StepGroup<'a>>)> {
    let mut stages: Vec<(&str, Vec<StepGroup>)> = Vec::new();
    for &c in changes {
        let stage = stage_of(c);
        let at = match stages.iter().position(|(s, _)| *s == stage) {
            Some(at) => at,
            None => {
                stages.push((stage, Vec::new()));
                stages.len() - 1
            }
        };
        let steps = &mut stages[at].1;
        match steps
            .iter_mut()
            .find(|g| g.first.step == c.step && g.first.title == c.title)
        {
            Some(g) => g.changes.push(c),
            None => steps.push(StepGroup {
                first: c,
                changes: vec![c],
            }),
        }
    }
    stages
}

/// The step's heading, and its What and Why under `--explain`.
fn step_heading(g: &StepGroup, explain: bool, out: &mut String) {
    let c = g.first;
    let name = if c.step.is_empty() {
        c.title.clone()
    } else {
        format!("{}: {}", c.step, c.title)
    };
    let _ = writeln!(out, "--- step {name}");
    if explain {
        for (word, text) in [("What", &c.what), ("Why", &c.why)] {
            if !text.is_empty() {
                let mut lines = text.lines();
                let first = lines.next().unwrap_or("");
                let _ = writeln!(out, "    {word}: {first}");
                for line in lines {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
}

/// One resource: its action, note, claims and field diffs.
fn resource(r: &Renderer, c: &Change, out: &mut String) {
    let head = format!("{} {} ({})", c.action.sign(), c.address, c.action.word());
    let _ = writeln!(out, "{}", r.paint(c.action, &head));
    if let Some(note) = &c.note {
        let _ = writeln!(out, "    note: {note}");
    }
    for claim in &c.claims {
        let _ = writeln!(out, "    {}", claim.describe());
    }
    for d in &c.diff {
        out.push_str(&super::diff::field(r, d));
    }
}

/// "2 to create, 1 to update, 3 unchanged", or "no changes".
fn counts(s: &Summary) -> String {
    let parts: Vec<String> = [
        (s.create, "to create"),
        (s.update, "to update"),
        (s.delete, "to delete"),
        (s.restore, "to restore"),
        (s.adopt, "to adopt"),
        (s.unchanged, "unchanged"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(", ")
    }
}

/// One line per stage (plan order) and per cluster, before the total.
fn summaries(changes: &[Change], out: &mut String) {
    let mut stages: Vec<(&str, Vec<Change>)> = Vec::new();
    let mut clusters: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.action != Action::Check) {
        match stages.iter_mut().find(|(s, _)| *s == stage_of(c)) {
            Some((_, list)) => list.push(c.clone()),
            None => stages.push((stage_of(c), vec![c.clone()])),
        }
        let cluster = c.cluster.as_deref().unwrap_or("(no cluster)");
        clusters.entry(cluster).or_default().push(c.clone());
    }
    for (stage, list) in &stages {
        let _ = writeln!(out, "Stage {stage}: {}.", counts(&Summary::of(list)));
    }
    for (cluster, list) in &clusters {
        let _ = writeln!(out, "Cluster {cluster}: {}.", counts(&Summary::of(list)));
    }
}

/// The plan as text: changes by stage and step with their diffs, then the summaries.
pub fn show_changes(
    r: &Renderer,
    changes: &[Change],
    errors: &[NodeError],
    not_attempted: &[String],
    explain: bool,
    verbose: bool,
) -> String {
    let mut out = String::new();
    let shown: Vec<&Change> = changes
        .iter()
        .filter(|c| c.action.changes() || verbose)
        .collect();
    for (stage, steps) in grouped(&shown) {
        let _ = writeln!(out, "=== stage {stage}");
        for g in &steps {
            step_heading(g, explain, &mut out);
            for c in &g.changes {
                resource(r, c, &mut out);
            }
        }
    }
    for e in errors {
        let _ = writeln!(out, "! {}: {}", e.address, e.message);
    }
    for line in not_attempted {
        let _ = writeln!(out, "! {line}");
    }
    summaries(changes, &mut out);
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
