//! `mtm apply --refresh-only`: accepts the live values of drifted objects into state
//! (Terraform's name) instead of putting them right; no cluster is changed. It shows what
//! it would accept, asks (or `--auto-approve`), and writes a revision of its own.

use super::run;
use crate::engine::Engine;
use crate::engine::apply::Outcome;
use crate::render::Renderer;
use crate::store::{Record, Store};
use std::collections::BTreeMap;

fn line(o: &Outcome) -> Option<String> {
    match o {
        Outcome::Put(r, _) => Some(format!(
            "~ {}: live values accepted into state\n",
            r.address
        )),
        Outcome::Remove(a, _) => Some(format!("- {a}: deleted outside mtm, forgotten by state\n")),
        Outcome::Nothing(_) => None,
    }
}

pub fn run(
    engine: &Engine<'_>,
    store: &dyn Store,
    records: &BTreeMap<String, Record>,
    targets: &[String],
    auto_approve: bool,
    renderer: &Renderer,
) -> u8 {
    let rt = run::runtime();
    let (outcomes, errors) = rt.block_on(engine.refresh(records));
    for e in &errors {
        renderer.error(&format!("{}: {}", e.address, e.message));
    }
    if !errors.is_empty() {
        renderer.error("refresh has errors: state was not changed");
        return 1;
    }
    if outcomes.is_empty() {
        renderer.print("No drift: state already holds the live values.\n");
        return 0;
    }
    let text: String = outcomes.iter().filter_map(line).collect();
    renderer.print(&text);
    if !run::confirm("Accept the live values into state?", auto_approve, renderer) {
        return 1;
    }
    let ledger = run::ledger(store, engine.plan, targets);
    run::report(engine.accept(outcomes, &ledger), "refreshed", renderer)
}
