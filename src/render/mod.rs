//! The renderer: the one place that writes to stdout and stderr.
//!
//! Commands hand it text or data; it chooses colour (a terminal, and `NO_COLOR` unset),
//! JSON or text, and redacts every sensitive value before anything leaves the process.
//! It knows nothing of plans or clusters.

// The one writer: stdout and stderr are this module's (and NO_COLOR its to read).
#![allow(clippy::disallowed_methods)]

use crate::diag::Diagnostics;
use owo_colors::OwoColorize;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

mod diff;
mod logs;
mod plan;
pub use logs::{Logs, filter as log_filter};
pub use plan::{progress_line, show_changes};

/// What redacted text shows in place of a sensitive value.
pub const REDACTED: &str = "(sensitive)";

/// The version of every `--output json` shape (docs/schemas/), in each as `"version"`;
/// raised when a shape changes in a way a reader would notice.
pub const JSON_VERSION: u32 = 1;

/// An `--output json` object with `"version"` added to its fields.
#[derive(Serialize)]
pub struct Versioned<T: Serialize> {
    pub version: u32,
    #[serde(flatten)]
    pub body: T,
}

impl<T: Serialize> Versioned<T> {
    pub fn new(body: T) -> Self {
        Versioned {
            version: JSON_VERSION,
            body,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub struct Renderer {
    pub format: OutputFormat,
    color_out: bool,
    color_err: bool,
    secrets: BTreeSet<String>,
    /// Nothing to stdout (errors still go to stderr): for a command run inside another
    /// that prints its own summary (`rehearse`).
    quiet: bool,
    /// Where the text goes instead of stdout and stderr, for a command run as one of
    /// many (`--fleet`).
    capture: Option<Arc<Capture>>,
}

/// What a command run as one of many printed, and what it said it found: kept, redacted,
/// for a summary to show (`--fleet`), instead of interleaving on the terminal.
#[derive(Debug, Default)]
pub struct Capture {
    text: Mutex<String>,
    found: Mutex<Option<String>>,
}

impl Capture {
    /// Everything printed, stdout's and stderr's lines in the order they came.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What the command found, in counts (`3 to change`, `2 drifted`), if it said.
    pub fn found(&self) -> Option<String> {
        self.found.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, text: &str) {
        self.text
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(text);
    }
}

impl Renderer {
    pub fn new(format: OutputFormat, no_color: bool) -> Renderer {
        let allowed = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Renderer {
            format,
            color_out: allowed && std::io::stdout().is_terminal(),
            color_err: allowed && std::io::stderr().is_terminal(),
            secrets: BTreeSet::new(),
            quiet: false,
            capture: None,
        }
    }

    /// A renderer like this one that writes text, without colour, into `capture`
    /// instead of stdout and stderr.
    pub fn captured(&self, capture: Arc<Capture>) -> Renderer {
        Renderer {
            format: OutputFormat::Text,
            color_out: false,
            color_err: false,
            secrets: self.secrets.clone(),
            quiet: false,
            capture: Some(capture),
        }
    }

    /// Says what the command found, in counts only (`3 to change`): kept for a summary
    /// when captured, nothing otherwise (the command prints its own lines).
    pub fn found(&self, counts: &str) {
        if let Some(capture) = &self.capture {
            *capture.found.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.redact(counts));
        }
    }

    /// A renderer like this one that prints only errors.
    pub fn quieted(&self) -> Renderer {
        Renderer {
            format: self.format,
            color_out: false,
            color_err: self.color_err,
            secrets: self.secrets.clone(),
            quiet: true,
            capture: self.capture.clone(),
        }
    }

    /// Values that must never be printed.
    pub fn add_secrets(&mut self, secrets: impl IntoIterator<Item = String>) {
        let new: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        logs::add_secrets(&new);
        self.secrets.extend(new);
    }

    /// Whether stderr gets colour (a terminal, no `--no-color`, no `NO_COLOR`); log
    /// lines follow it.
    pub fn color_err(&self) -> bool {
        self.color_err
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, so a secret containing another is masked whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            out = out.replace(s.as_str(), REDACTED);
        }
        out
    }

    pub fn json_mode(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Writes text to stdout as is (redacted).
    pub fn print(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = self.redact(text);
        if let Some(capture) = &self.capture {
            capture.push(&text);
            return;
        }
        logs::around_bar(|| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        });
    }

    /// Writes a value as pretty JSON to stdout (redacted).
    pub fn json<T: Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value).expect("output types serialize");
        self.print(&format!("{text}\n"));
    }

    /// A line to stdout with a bold heading word.
    pub fn heading(&self, word: &str, rest: &str) {
        if self.color_out {
            self.print(&format!("{} {rest}\n", word.bold().green()));
        } else {
            self.print(&format!("{word} {rest}\n"));
        }
    }

    /// A progress bar for `total` steps when stdout is a terminal (else `None`: callers
    /// print one plain line per event instead). It is drawn on stdout, where the lines
    /// printed through it go, above it; stderr lines move it out of the way.
    pub fn progress_bar(&self, total: u64) -> Option<ProgressBar> {
        if !std::io::stdout().is_terminal()
            || self.json_mode()
            || self.quiet
            || self.capture.is_some()
        {
            return None;
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stdout(),
        );
        let style =
            indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        logs::set_bar(Some(bar.clone()));
        Some(ProgressBar { bar })
    }

    /// Every diagnostic to stderr.
    pub fn diagnostics(&self, diags: &Diagnostics) {
        let mut out = String::new();
        for d in &diags.0 {
            out.push_str(&self.error_line(&d.to_string()));
        }
        if diags.0.len() > 1 {
            out.push_str(&format!("{} problems found\n", diags.0.len()));
        }
        self.to_stderr(&out);
    }

    fn error_line(&self, message: &str) -> String {
        let text = self.redact(message);
        if self.color_err {
            format!("{} {text}\n", "error:".red().bold())
        } else {
            format!("error: {text}\n")
        }
    }

    /// One error message to stderr.
    pub fn error(&self, message: &str) {
        self.to_stderr(&self.error_line(message));
    }

    /// Redacted lines to stderr, or to the capture.
    fn to_stderr(&self, text: &str) {
        match &self.capture {
            Some(capture) => capture.push(text),
            None => logs::to_stderr(text.as_bytes()),
        }
    }
}

/// A command line clap refused (exit 1), or the help or version asked for (exit 0).
pub fn usage(e: &clap::Error) -> std::process::ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// A live progress bar; lines printed through it stay above the bar.
pub struct ProgressBar {
    bar: indicatif::ProgressBar,
}

impl ProgressBar {
    pub fn line(&self, renderer: &Renderer, text: &str) {
        self.bar.println(renderer.redact(text.trim_end()));
    }

    pub fn working_on(&self, renderer: &Renderer, what: &str) {
        self.bar.set_message(renderer.redact(what));
    }

    pub fn step(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        logs::set_bar(None);
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_secret_longest_first() {
        let mut r = Renderer::new(OutputFormat::Text, true);
        r.add_secrets(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(r.redact("x abcdef y abc"), "x (sensitive) y (sensitive)");
        assert_eq!(r.redact("nothing"), "nothing");
    }

    #[test]
    fn a_captured_renderer_keeps_its_lines_redacted_and_in_order() {
        let mut top = Renderer::new(OutputFormat::Json, true);
        top.add_secrets(["hunter2".to_string()]);
        let capture = Arc::new(Capture::default());
        let mut r = top.captured(capture.clone());
        assert!(!r.json_mode(), "an instance's detail is text");
        r.add_secrets(["licence-xyz".to_string()]);
        r.print("plan with hunter2\n");
        r.error("cannot use licence-xyz");
        r.quieted().print("not kept: quiet\n");
        r.quieted().error("kept: errors of a quiet one");
        r.found("3 to change");
        assert!(r.progress_bar(3).is_none());
        assert_eq!(
            capture.text(),
            "plan with (sensitive)\nerror: cannot use (sensitive)\nerror: kept: errors of a quiet one\n"
        );
        assert_eq!(capture.found().as_deref(), Some("3 to change"));
        // Not captured: found is nothing to keep.
        top.found("1 drifted");
    }
}
