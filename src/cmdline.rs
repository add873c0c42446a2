//! The command line as mtm keeps it (in the lock, in a revision, in messages), with the
//! value of every `--var` that may be secret masked.
//!
//! A `--var` value is kept only when the plan declares that variable and does not mark it
//! sensitive; without a plan, or for a name the plan does not know, the value is masked.
//! Known secret values are masked wherever else they appear. This module knows argument
//! shapes, not what a variable is for.

use std::collections::{BTreeMap, BTreeSet};

/// What replaces a masked value.
pub const MASK: &str = "(sensitive)";

/// Which variables may be shown, and which values must never be.
#[derive(Debug, Default)]
pub struct Masking {
    /// Declared variables: name to whether it is sensitive.
    pub declared: BTreeMap<String, bool>,
    /// Values to mask wherever they appear.
    pub secrets: BTreeSet<String>,
}

impl Masking {
    fn shows(&self, name: &str) -> bool {
        self.declared.get(name) == Some(&false)
    }
}

/// A command line kept by an mtm from before masking (`mtm ARGS...` joined by spaces) with
/// every `--var` value masked; unchanged if it has none.
pub fn mask_kept(command: &str) -> String {
    let args: Vec<String> = command.split(' ').skip(1).map(str::to_string).collect();
    if !args.iter().any(|a| a.starts_with("--var")) {
        return command.to_string();
    }
    masked(&args, &Masking::default())
}

/// `mtm ARGS...` with `--var` values masked as `masking` says.
pub fn masked(args: &[String], masking: &Masking) -> String {
    let mut out = vec!["mtm".to_string()];
    let mut after_var = false;
    for arg in args {
        let shown = if after_var {
            after_var = false;
            mask_assignment(arg, masking)
        } else if arg == "--var" {
            after_var = true;
            arg.clone()
        } else if let Some(rest) = arg.strip_prefix("--var=") {
            format!("--var={}", mask_assignment(rest, masking))
        } else {
            arg.clone()
        };
        out.push(mask_secrets(&shown, &masking.secrets));
    }
    out.join(" ")
}

/// `NAME=VALUE` with VALUE masked unless the plan declares NAME as not sensitive.
fn mask_assignment(assignment: &str, masking: &Masking) -> String {
    match assignment.split_once('=') {
        Some((name, _)) if masking.shows(name) => assignment.to_string(),
        Some((name, _)) => format!("{name}={MASK}"),
        // Not an assignment: the loader refuses it; it may still be a secret.
        None => MASK.to_string(),
    }
}

fn mask_secrets(text: &str, secrets: &BTreeSet<String>) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), MASK);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    fn plan_masking() -> Masking {
        Masking {
            declared: [("KEY".to_string(), true), ("CHART".to_string(), false)].into(),
            secrets: ["hunter2".to_string()].into(),
        }
    }

    #[test]
    fn sensitive_and_unknown_values_are_masked_in_both_forms() {
        let line = masked(
            &args("apply --var KEY=s3cr3t --var=CHART=oci://x --var=ODD=v --var OTHER=w"),
            &plan_masking(),
        );
        assert_eq!(
            line,
            "mtm apply --var KEY=(sensitive) --var=CHART=oci://x --var=ODD=(sensitive) --var OTHER=(sensitive)"
        );
    }

    #[test]
    fn without_a_plan_every_var_value_is_masked() {
        let line = masked(
            &args("state list --var CHART=x --var=KEY"),
            &Masking::default(),
        );
        assert_eq!(
            line,
            "mtm state list --var CHART=(sensitive) --var=(sensitive)"
        );
    }

    #[test]
    fn a_kept_command_line_is_masked_again() {
        assert_eq!(
            mask_kept("mtm apply --var KEY=abc --target lab6"),
            "mtm apply --var KEY=(sensitive) --target lab6"
        );
        assert_eq!(mask_kept("mtm destroy"), "mtm destroy");
    }

    #[test]
    fn a_known_secret_is_masked_anywhere() {
        let line = masked(
            &args("plan --target hunter2 --var CHART=ahunter2b"),
            &plan_masking(),
        );
        assert_eq!(
            line,
            "mtm plan --target (sensitive) --var CHART=a(sensitive)b"
        );
    }
}
