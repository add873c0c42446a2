#!/usr/bin/env bash
# Regenerates the README's picture of the workshop: docs/workshop-graph.dot (what
# `mtm graph --format dot` prints: the transitive reduction, clusters as boxes, stages as
# colours) and docs/workshop-graph.svg rendered from it by Graphviz. A test
# (tests/it/picture.rs) fails when the committed dot is not what mtm prints.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -- --plan plans/agentic-mcp-lab graph --format dot > docs/workshop-graph.dot
dot -Tsvg docs/workshop-graph.dot > docs/workshop-graph.svg
echo "docs/workshop-graph.dot and docs/workshop-graph.svg regenerated"
