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

/// The checks of `mtm graph --format text --target STAGE`: (address, first line of its
/// content as `mtm graph` names it).
fn checks(f: &Fixture, target: &str) -> Vec<String> {
    let run = f.run(&["graph", "--format", "text", "--target", target]);
    run.ok();
    run.stdout
        .lines()
        .filter(|l| l.contains("/check/") && !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_later_stage_redeclares_a_check_by_name_at_the_same_address() {
    let f = with_more(
        "    checks:\n      - { name: web-ok, http: { url: \"http://web.demo/health\" }, expect: { status: 204 } }\n",
    );
    assert_eq!(checks(&f, "more"), ["app/east/check/web-ok"]);
    // The fold holds the later content; without the later stage, the earlier one.
    assert_eq!(check_url(&f, "more"), "http://web.demo/health");
    assert_eq!(check_url(&f, "app"), "http://web.demo/");
}

/// The URL of the check `web-ok` in the fold up to `target`.
fn check_url(f: &Fixture, target: &str) -> String {
    use mtm_provider::resource::Spec;
    let opts = mtm::plan::LoadOptions {
        cli_vars: Vec::new(),
        env: &|_| None,
    };
    let plan = mtm::plan::load(f.path(), &opts).expect("the plan loads");
    let sel = mtm::graph::select(&plan, &[target.to_string()]).expect("a selection");
    let check = sel
        .selected_nodes()
        .find_map(|i| match &sel.graph.graph[i].resource.spec {
            Spec::Check { check, .. } if check.name == "web-ok" => Some(check.clone()),
            _ => None,
        })
        .expect("web-ok is in the fold");
    check.http.expect("an http check").url
}

#[test]
fn a_later_stage_retires_a_check_and_an_even_later_one_brings_it_back() {
    let f = with_more("    removes:\n      - { check: web-ok }\n");
    assert_eq!(checks(&f, "app"), ["app/east/check/web-ok"]);
    assert!(checks(&f, "more").is_empty(), "{:?}", checks(&f, "more"));
    let f = f
        .edit("plan.yaml", "stages: [base, app, more]", "stages: [base, app, more, again]")
        .file(
            "stages/again.yaml",
            "title: Again\nneeds: [more]\nsteps:\n  - name: again\n    title: Again\n    cluster: east\n    checks:\n      - { name: web-ok, http: { url: \"http://web.demo/again\" }, expect: { status: 200 } }\n",
        );
    assert_eq!(checks(&f, "again"), ["app/east/check/web-ok"]);
}

#[test]
fn retiring_a_check_no_earlier_stage_declares_is_an_error() {
    with_more("    removes:\n      - { check: no-such-check }\n")
        .run(&["validate"])
        .fails("stages/more.yaml:9:9: removes check `no-such-check` on cluster east, which no earlier stage declares");
    with_more("    removes:\n      - { check: web-ok, kind: Service }\n")
        .run(&["validate"])
        .fails("a `removes` entry names a check or an object, not both");
    with_more("    removes:\n      - { kind: Service, name: web }\n")
        .run(&["validate"])
        .fails("a `removes` entry needs apiVersion, kind and name (or `check: NAME`)");
}

/// The workshop's checks in the fold up to `target`: address to the check.
fn workshop_checks(
    target: &str,
) -> std::collections::BTreeMap<String, mtm_provider::resource::CheckSpec> {
    use mtm_provider::resource::Spec;
    let opts = mtm::plan::LoadOptions {
        cli_vars: Vec::new(),
        env: &|_| None,
    };
    let dir = crate::support::repo().join("plans/agentic-mcp-lab");
    let plan = mtm::plan::load(&dir, &opts).expect("the workshop loads");
    let sel = mtm::graph::select(&plan, &[target.to_string()]).expect("a selection");
    sel.selected_nodes()
        .filter_map(|i| {
            let r = &sel.graph.graph[i].resource;
            match &r.spec {
                Spec::Check { check, .. } => Some((
                    r.address.to_string(),
                    mtm_provider::resource::CheckSpec::clone(check),
                )),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn the_workshops_checks_hold_together_in_every_fold() {
    // Lab 1 alone: its baselines.
    let lab1 = workshop_checks("lab1");
    assert!(
        lab1.contains_key("lab1/east/check/rogue-ui-baseline"),
        "{:?}",
        lab1.keys()
    );
    // Lab 2 retires them (rogue-ui is denied now) and proves both sides itself.
    let lab2 = workshop_checks("lab2");
    assert!(
        !lab2.contains_key("lab1/east/check/rogue-ui-baseline"),
        "{:?}",
        lab2.keys()
    );
    assert!(
        !lab2.contains_key("lab1/east/check/dev-ui-baseline"),
        "{:?}",
        lab2.keys()
    );
    assert!(
        lab2["lab2/east/check/dev-ui-allowed"]
            .http
            .as_ref()
            .unwrap()
            .headers
            .is_empty()
    );
    // Lab 4's allow-list replaces lab 3's 26 tools.
    let lab4 = workshop_checks("lab4");
    assert!(
        !lab4.contains_key("lab3/east/check/federated-tools"),
        "{:?}",
        lab4.keys()
    );
    // After lab 5 every call carries a token: lab 2's call is re-declared with alice's, lab
    // 4's tool list retired for alice's and bob's; the bonus calls as alice.
    let all = workshop_checks("bonus");
    let allowed = all["lab2/east/check/dev-ui-allowed"].http.as_ref().unwrap();
    assert_eq!(
        allowed.headers.get("Authorization").map(String::as_str),
        Some("Bearer ${gen.lab-jwt.token.alice}")
    );
    assert!(
        !all.contains_key("lab4/east/check/allowlisted-tools"),
        "{:?}",
        all.keys()
    );
    let bonus = all["bonus/east/check/federated-across-clusters"]
        .mcp
        .as_ref()
        .unwrap();
    assert_eq!(bonus.bearer.as_deref(), Some("${gen.lab-jwt.token.alice}"));
    for (address, check) in &all {
        let unauthenticated = match (&check.http, &check.mcp) {
            (Some(h), _) => {
                h.url.contains("inventory-mcp")
                    && !h.headers.contains_key("Authorization")
                    && check.expect.status != Some(403)
            }
            (_, Some(m)) => m.bearer.is_none(),
            _ => false,
        };
        assert!(
            !unauthenticated,
            "{address} calls without a token after lab 5"
        );
    }
}
