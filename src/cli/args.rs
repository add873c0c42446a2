//! Value parsers and cross-argument checks for the command line, so a wrong value is a
//! usage error at parse time (exit 1) rather than a surprise later.
//!
//! This module only reads arguments; it knows nothing of plans or clusters.

use super::{Cli, Command};
use clap::CommandFactory;
use clap::error::ErrorKind;
use std::time::Duration;

/// A count of at least 1 (`--parallelism`).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// A positive duration with its unit, as kubectl takes it: `500ms`, `30s`, `5m`, `1h`.
pub fn duration(text: &str) -> Result<Duration, String> {
    match wait(text)? {
        d if d.is_zero() => Err(format!("`{text}`: the duration must be positive")),
        d => Ok(d),
    }
}

/// A duration that may be zero (`--lock-timeout 0s`: do not wait).
pub fn wait(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
        .ok_or_else(|| format!("`{text}` is not a duration: write it like 30s, 2m or 500ms"))
}

/// Every value of a repeatable global option, wherever it was given. clap keeps only the
/// occurrences of one level when a global option is given both before and after the
/// subcommand (`mtm --var A=1 apply --var B=2` would lose A), so they are read again from
/// the command line, in order, up to a bare `--`.
pub fn every(args: &[String], long: &str) -> Vec<String> {
    let flag = format!("--{long}");
    let joined = format!("--{long}=");
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        } else if *arg == flag {
            out.extend(it.next().cloned());
        } else if let Some(value) = arg.strip_prefix(&joined) {
            out.push(value.to_string());
        }
    }
    out
}

/// Combinations clap cannot see (a global flag with a subcommand's own).
pub fn check(cli: &Cli) -> Result<(), clap::Error> {
    if let Command::Graph(g) = &cli.command
        && cli.output == crate::render::OutputFormat::Json
        && g.format != super::graph::Format::Text
    {
        return Err(Cli::command().error(
            ErrorKind::ArgumentConflict,
            "--output json and --format cannot be combined: --output json prints the graph's \
             nodes and edges as data, --format draws it (text, dot, mermaid); drop one",
        ));
    }
    if let Some(problem) = super::fleet::conflict(&cli.command) {
        return Err(Cli::command().error(ErrorKind::ArgumentConflict, problem));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(wait("0s"), Ok(Duration::ZERO));
        for bad in ["0s", "30", "s", "-1s", "1d", ""] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_globals_are_read_at_every_level() {
        let args: Vec<String> = "mtm --var A=1 apply --var=B=2 --target x --var C=3 -- --var D=4"
            .split(' ')
            .map(str::to_string)
            .collect();
        assert_eq!(every(&args, "var"), ["A=1", "B=2", "C=3"]);
        assert!(every(&args, "var-file").is_empty());
    }

    #[test]
    fn counts() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err());
        assert!(at_least_one("-1").is_err());
    }
}
