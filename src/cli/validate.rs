//! `mtm validate`: loads the plan offline and builds its full graph, reporting every
//! problem with its location; prints a summary when all is well.

use super::{Cli, load_plan};
use crate::graph;
use crate::render::{REDACTED, Renderer};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Report {
    valid: bool,
    plan: String,
    stages: Vec<String>,
    resources: BTreeMap<&'static str, usize>,
    edges: usize,
    clusters: BTreeMap<String, String>,
    variables: BTreeMap<String, VarReport>,
}

#[derive(Serialize)]
struct VarReport {
    value: String,
    source: String,
    sensitive: bool,
}

pub fn run(cli: &Cli, renderer: &mut Renderer) -> u8 {
    let checked = load_plan(cli, renderer).and_then(|plan| {
        let sel = graph::select(&plan, &[])?;
        Ok((plan, sel))
    });
    let (plan, sel) = match checked {
        Ok(v) => v,
        Err(diags) => {
            renderer.diagnostics(&diags);
            return 1;
        }
    };
    let mut resources = BTreeMap::new();
    for n in sel.graph.graph.node_weights() {
        *resources.entry(n.resource.type_name()).or_insert(0) += 1;
    }
    let report = Report {
        valid: true,
        plan: plan.name.clone(),
        stages: plan.stage_names().iter().map(|s| s.to_string()).collect(),
        resources,
        edges: sel.graph.graph.edge_count(),
        clusters: plan
            .clusters
            .values()
            .map(|c| (c.name.clone(), c.context.clone()))
            .collect(),
        variables: plan
            .variables
            .vars
            .iter()
            .map(|(k, v)| {
                let value = if v.sensitive && !v.value.is_empty() {
                    REDACTED.to_string()
                } else {
                    v.value.clone()
                };
                (
                    k.clone(),
                    VarReport {
                        value,
                        source: v.source.clone(),
                        sensitive: v.sensitive,
                    },
                )
            })
            .collect(),
    };
    if renderer.json_mode() {
        renderer.json(&crate::render::Versioned::new(&report));
        return 0;
    }
    let counts: Vec<String> = report
        .resources
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    renderer.heading(
        "valid",
        &format!(
            "plan {}: {} stages, {} resources ({}), {} edges",
            report.plan,
            report.stages.len(),
            sel.graph.graph.node_count(),
            counts.join(", "),
            report.edges
        ),
    );
    let clusters: Vec<String> = report
        .clusters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    renderer.print(&format!("clusters: {}\n", clusters.join(", ")));
    for (name, v) in &report.variables {
        renderer.print(&format!("  {name} = {} ({})\n", v.value, v.source));
    }
    0
}
