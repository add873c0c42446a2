//! `mtm graph`: the dependency graph of the plan (or of `--target`) as text, dot or
//! mermaid; with `--output json`, nodes and edges as data.

use super::{Cli, load_plan};
use crate::graph::{self, render};
use crate::render::Renderer;
use petgraph::visit::EdgeRef;
use serde::Serialize;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Graph format
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Stages or resource addresses (globs allowed) to select, with what they depend on
    #[arg(long = "target", value_name = "STAGE|ADDRESS",
        add = clap_complete::ArgValueCandidates::new(super::completions::targets))]
    pub targets: Vec<String>,
    /// Draw every edge in dot and mermaid, also those another path implies (default: the
    /// transitive reduction)
    #[arg(long)]
    pub all_edges: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Dot,
    Mermaid,
}

#[derive(Serialize)]
struct JsonGraph {
    stages: Vec<String>,
    nodes: Vec<JsonNode>,
    edges: Vec<JsonEdge>,
    left_out: Vec<String>,
}

#[derive(Serialize)]
struct JsonNode {
    address: String,
    kind: &'static str,
    cluster: Option<String>,
    stages: Vec<String>,
    title: String,
}

#[derive(Serialize)]
struct JsonEdge {
    from: String,
    to: String,
    why: &'static str,
}

pub fn run(cli: &Cli, args: &Args, renderer: &mut Renderer) -> u8 {
    let selected = load_plan(cli, renderer).and_then(|plan| {
        let sel = graph::select(&plan, &args.targets)?;
        Ok((plan, sel))
    });
    let (plan, sel) = match selected {
        Ok(v) => v,
        Err(diags) => {
            renderer.diagnostics(&diags);
            return 1;
        }
    };
    if renderer.json_mode() {
        let g = &sel.graph.graph;
        let nodes = sel
            .selected_nodes()
            .map(|i| {
                let r = &g[i].resource;
                JsonNode {
                    address: r.address.to_string(),
                    kind: r.type_name(),
                    cluster: r.cluster().map(str::to_string),
                    stages: r.stages.clone(),
                    title: r.step.title.clone(),
                }
            })
            .collect();
        let edges = g
            .edge_references()
            .filter(|e| sel.selected[e.source().index()] && sel.selected[e.target().index()])
            .map(|e| JsonEdge {
                from: g[e.source()].resource.address.to_string(),
                to: g[e.target()].resource.address.to_string(),
                why: e.weight(),
            })
            .collect();
        renderer.json(&crate::render::Versioned::new(JsonGraph {
            stages: sel.stages.clone(),
            nodes,
            edges,
            left_out: sel.left_out.iter().map(|a| a.to_string()).collect(),
        }));
        return 0;
    }
    let text = match args.format {
        Format::Text => render::text(&plan, &sel),
        Format::Dot => render::dot(&plan, &sel, args.all_edges),
        Format::Mermaid => render::mermaid(&plan, &sel, args.all_edges),
    };
    renderer.print(&text);
    0
}
