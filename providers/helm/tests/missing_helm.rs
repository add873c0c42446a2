//! `MTM_HELM` naming a binary that does not exist: a clear error naming the release and
//! the cluster. A test binary of its own, because it sets a process-wide variable.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests and benches print and read their environment

mod support;

use support::*;

#[tokio::test]
async fn mtm_helm_pointing_nowhere_names_release_and_cluster() {
    let env = env();
    let s = Scratch::new("mtmhelm");
    // SAFETY: this binary's only test, before any thread of ours reads the environment.
    unsafe { std::env::set_var(mtm_helm::HELM_ENV, "/nonexistent") };
    let p = provider();
    let err = p
        .plan_release("west", &s.lab6(&env, &licence()))
        .await
        .expect_err("no helm");
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "release {}/agw on cluster west: helm not found on PATH: install helm 3.19+ or set \
             MTM_HELM to its path (tried `/nonexistent`)",
            s.namespace
        )
    );
}
