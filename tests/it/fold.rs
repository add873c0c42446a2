//! The fold keeps dependencies: a resource a later stage re-declares still counts for the
//! waits and checks of every step that declared it; a removal does not.

use crate::support::Fixture;

/// The mini plan with a third stage `more` that re-declares the Service `web` (another
/// port) or removes it.
fn with_more(step: &str) -> Fixture {
    Fixture::mini()
        .edit(
            "plan.yaml",
            "stages: [base, app]",
            "stages: [base, app, more]",
        )
        .file(
            "stages/more.yaml",
            &format!(
                "title: More\nneeds: [app]\nsteps:\n  - name: more\n    title: More\n    \
                 cluster: east\n    namespace: demo\n{step}"
            ),
        )
        .file(
            "manifests/svc.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  selector: { app: web }\n  ports: [{ port: 8080 }]\n",
        )
}

/// The `after` lines of `address` in `mtm graph --format text`.
fn dependencies(f: &Fixture, address: &str) -> Vec<String> {
    let run = f.run(&["graph", "--format", "text"]);
    run.ok();
    let mut lines = run.stdout.lines().skip_while(|l| !l.starts_with(address));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("no {address}:\n{}", run.stdout));
    assert!(head.starts_with(address), "{head}");
    lines
        .take_while(|l| l.starts_with("    after "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn a_redeclared_object_keeps_its_earlier_waits_and_checks() {
    let f = with_more("    manifests: [manifests/svc.yaml]\n");
    let service = "app/east/core/Service/demo/web";
    let wait = dependencies(&f, "app/east/wait/app-ready");
    assert!(
        wait.contains(&format!("after {service} (waits-for)")),
        "the wait lost the re-declared Service: {wait:?}"
    );
    let check = dependencies(&f, "app/east/check/web-ok");
    assert!(
        check.contains(&format!("after {service} (checks)")),
        "the check lost the re-declared Service: {check:?}"
    );
}

#[test]
fn a_removed_object_is_not_waited_for_by_earlier_checks() {
    let f = with_more(
        "    removes:\n      - { apiVersion: v1, kind: Service, namespace: demo, name: web }\n",
    );
    let check = dependencies(&f, "app/east/check/web-ok");
    assert!(
        !check.iter().any(|l| l.contains("core/Service/demo/web")),
        "the check waits for a later stage's removal: {check:?}"
    );
    let wait = dependencies(&f, "app/east/wait/app-ready");
    assert!(
        !wait.iter().any(|l| l.contains("core/Service/demo/web")),
        "the wait waits for a later stage's removal: {wait:?}"
    );
}
