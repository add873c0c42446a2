//! Log lines (tracing, the libraries' and mtm's own) through the renderer: to stderr,
//! redacted, above a live progress bar, never torn by it.
//!
//! The progress bar and every stderr line share one lock here, so a log line or an error
//! printed while the bar is drawn moves the bar out of the way instead of being drawn
//! over. This module knows nothing of plans or what the lines say.

// The log lines' writer is part of the one writer.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::sync::Mutex;

/// The live progress bar, if one is drawn.
static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);
/// Values no log line may show (sensitive variables, generated values).
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub(super) fn set_bar(bar: Option<indicatif::ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

pub(super) fn add_secrets(secrets: &[String]) {
    let mut all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    all.extend(secrets.iter().filter(|s| !s.is_empty()).cloned());
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
}

/// Runs `write` with the bar (if any) cleared for the time of it.
pub(super) fn around_bar(write: impl FnOnce()) {
    let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// Writes `bytes` to stderr, around the bar.
pub(super) fn to_stderr(bytes: &[u8]) {
    around_bar(|| {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
    });
}

/// What tracing writes to: one buffered line per event, flushed through [`to_stderr`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Logs;

/// One event's text, written out when dropped.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let mut text = String::from_utf8_lossy(&self.0).into_owned();
        for s in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            text = text.replace(s.as_str(), super::REDACTED);
        }
        to_stderr(text.as_bytes());
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// The log filter for `-v` counted `verbose` times: without `-v`, only mtm's own
/// warnings; the libraries' lines from `-v` on.
pub fn filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "off,mtm=warn,mtm_kube=warn,mtm_helm=warn,mtm_provider=warn",
        1 => "info",
        _ => "debug",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_only_from_v() {
        assert!(filter(0).starts_with("off,"));
        assert!(!filter(0).contains("kube_client"));
        assert_eq!(filter(1), "info");
    }
}
