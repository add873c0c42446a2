//! Usage errors exit 1, like every other error: exit 2 means only "changes present"
//! (`plan --detailed-exitcode`) and "drift found" (`drift`), so a typo in a CI job's flags
//! never reads as drift. Wrong values are refused at parse time, before anything is read
//! or written.

use crate::support::{Fixture, Run};

/// Runs `mtm --state <fixture>/state ARGS` on the mini plan; asserts exit 1, `expected`
/// in stderr, and that no state was written.
fn refused(args: &[&str], expected: &str) -> Run {
    let f = Fixture::mini();
    let state = f.path().join("state");
    let mut all = vec!["--state", state.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let run = f.run(&all);
    run.fails(expected);
    assert!(!state.exists(), "mtm {} wrote state", run.args);
    run
}

#[test]
fn an_unknown_flag_of_drift_exits_1_not_2() {
    refused(&["drift", "--bogus"], "unexpected argument '--bogus'");
}

#[test]
fn an_unknown_flag_of_plan_with_detailed_exitcode_exits_1() {
    refused(
        &["plan", "--detailed-exitcode", "--bogus"],
        "unexpected argument '--bogus'",
    );
}

#[test]
fn an_unknown_command_exits_1() {
    refused(&["frobnicate"], "unrecognized subcommand 'frobnicate'");
}

#[test]
fn no_command_at_all_exits_1() {
    refused(&[], "Usage: mtm");
}

#[test]
fn parallelism_0_is_refused() {
    refused(
        &["apply", "--auto-approve", "--parallelism", "0"],
        "invalid value '0' for '--parallelism <PARALLELISM>': must be at least 1",
    );
}

#[test]
fn parallelism_must_be_a_number() {
    refused(
        &["plan", "--parallelism", "many"],
        "`many` is not a whole number",
    );
}

#[test]
fn a_request_timeout_needs_a_unit() {
    refused(
        &["plan", "--request-timeout", "30"],
        "`30` is not a duration: write it like 30s, 2m or 500ms",
    );
}

#[test]
fn a_zero_request_timeout_is_refused() {
    refused(
        &["drift", "--request-timeout", "0s"],
        "the duration must be positive",
    );
}

#[test]
fn a_zero_check_timeout_is_refused() {
    refused(
        &["verify", "--timeout", "0"],
        "invalid value '0' for '--timeout",
    );
}

#[test]
fn an_unknown_output_format_is_refused() {
    refused(
        &["--output", "values", "validate"],
        "invalid value 'values' for '--output <OUTPUT>'",
    );
}

#[test]
fn a_saved_plan_with_a_target_is_refused() {
    refused(
        &["apply", "saved.json", "--target", "base"],
        "the argument '[FILE]' cannot be used with '--target <STAGE|ADDRESS>'",
    );
}

#[test]
fn graph_as_dot_and_as_json_is_refused() {
    refused(
        &["graph", "--format", "dot", "--output", "json"],
        "--output json and --format cannot be combined",
    );
}

#[test]
fn help_and_version_exit_0() {
    let f = Fixture::mini();
    f.run(&["--help"]).ok().stdout_has("Usage: mtm");
    f.run(&["--version"]).ok().stdout_has("mtm ");
    f.run(&["plan", "--help"])
        .ok()
        .stdout_has("--request-timeout <DURATION>");
}

#[test]
fn a_var_before_the_command_and_one_after_it_both_count() {
    let f = crate::support::Fixture::mini();
    let run = f.run(&[
        "--var",
        "CLUSTER1=before",
        "validate",
        "--var",
        "CLUSTER2=after",
    ]);
    run.ok()
        .stdout_has("CLUSTER1 = before (--var)")
        .stdout_has("CLUSTER2 = after (--var)");
}
