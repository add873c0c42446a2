//! The stage files of a plan into stages and raw declarations: each file read and parsed,
//! its `${...}` references checked, its `needs` checked against the plan's stage order, and
//! its steps (names checked) handed to the step reader.
//!
//! Addresses are not decided here: they need every stage read first.

use super::valid_name;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::files::PlanDir;
use crate::plan::schema::StageFile;
use crate::plan::step::{GenUse, RawDecl, StepCtx};
use crate::plan::vars::{self, RefKind, Variables};
use crate::plan::{Cluster, Stage, yaml};
use mtm_provider::resource::Origin;
use std::collections::BTreeMap;

/// What every stage file is read against: the plan's files, stage order, variables and
/// clusters.
pub(super) struct StageReader<'a> {
    pub files: &'a PlanDir<'a>,
    /// The stages of plan.yaml, in order, each with where plan.yaml lists it.
    pub order: &'a [(String, Origin)],
    pub variables: &'a Variables,
    pub clusters: &'a BTreeMap<String, Cluster>,
}

impl StageReader<'_> {
    /// Stage `index` of the order as a stage without declarations yet, and its raw
    /// declarations; `None` when its file cannot be read or parsed (reported).
    pub fn read(
        &self,
        index: usize,
        diags: &mut Diagnostics,
        gen_uses: &mut Vec<GenUse>,
    ) -> Option<(Stage, Vec<RawDecl>)> {
        let (name, at) = &self.order[index];
        let rel = format!("stages/{name}.yaml");
        let shown = self.files.show(&rel);
        let text = match self.files.read(&rel) {
            Ok(t) => t,
            Err(e) => {
                let mut d = e.diagnostic("", &at.file, at.line, at.column);
                d.message = format!("stage `{name}`: {}", d.message);
                diags.push(d.help(format!("each stage listed in plan.yaml has a file {rel}")));
                return None;
            }
        };
        let stage_file: StageFile = match yaml::parse_strict(&text) {
            Ok(f) => f,
            Err(e) => {
                diags.push(yaml::diagnostic(&shown, &text, &e));
                return None;
            }
        };
        self.scan_refs(name, &shown, &text, diags, gen_uses);
        let needs = self.needs(index, &shown, &stage_file, diags);
        let raw = self.steps(name, &shown, &stage_file, diags, gen_uses);
        let stage = Stage {
            name: name.clone(),
            title: stage_file.title,
            summary: stage_file.summary,
            needs,
            decls: Vec::new(),
        };
        Some((stage, raw))
    }

    /// Reports a stage file's unknown variables and bad references; notes its generated
    /// values.
    fn scan_refs(
        &self,
        name: &str,
        shown: &str,
        text: &str,
        diags: &mut Diagnostics,
        gen_uses: &mut Vec<GenUse>,
    ) {
        for r in vars::scan(text) {
            match r.kind {
                RefKind::Var(n) if !self.variables.vars.contains_key(&n) => diags.push(
                    Diagnostic::new(shown, r.line, r.column, format!("unknown variable `{n}`"))
                        .help("declare it under `variables:` in plan.yaml"),
                ),
                RefKind::Gen(n, f) => gen_uses.push(GenUse {
                    name: n,
                    field: f,
                    origin: Origin {
                        file: shown.to_string(),
                        line: r.line,
                        column: r.column,
                    },
                    stage: name.to_string(),
                }),
                RefKind::Bad(e) => {
                    diags.push(Diagnostic::new(shown, r.line, r.column, e.to_string()))
                }
                RefKind::Var(_) => {}
            }
        }
    }

    /// The `needs` of stage `index`: stages before it in plan order; any other reported.
    fn needs(
        &self,
        index: usize,
        shown: &str,
        stage_file: &StageFile,
        diags: &mut Diagnostics,
    ) -> Vec<String> {
        let order = self.order;
        let name = &order[index].0;
        let mut needs = Vec::new();
        for need in &stage_file.needs {
            let (line, col) = (need.referenced.line(), need.referenced.column());
            match order.iter().position(|(n, _)| *n == need.value) {
                None => diags.push(
                    Diagnostic::new(shown, line, col, format!("unknown stage `{}` in needs", need.value))
                        .help(format!("stages: {}", order.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "))),
                ),
                Some(p) if p >= index => diags.push(
                    Diagnostic::new(shown, line, col, format!(
                        "stage `{name}` needs `{}`, which does not come before it in plan.yaml `stages`",
                        need.value
                    ))
                    .help("a stage builds only on earlier stages; reorder `stages` or drop this need"),
                ),
                Some(_) => needs.push(need.value.clone()),
            }
        }
        needs
    }

    /// The steps of a stage into raw declarations, each step's name checked and unique.
    fn steps(
        &self,
        name: &str,
        shown: &str,
        stage_file: &StageFile,
        diags: &mut Diagnostics,
        gen_uses: &mut Vec<GenUse>,
    ) -> Vec<RawDecl> {
        let mut raw = Vec::new();
        let mut step_names = BTreeMap::new();
        let mut ctx = StepCtx {
            files: self.files,
            stage: name,
            file: shown,
            vars: self.variables,
            clusters: self.clusters,
            diags,
            gen_uses,
        };
        for step in &stage_file.steps {
            let sname = &step.value.name;
            if !valid_name(&sname.value) {
                ctx.diags.push(Diagnostic::new(
                    shown,
                    sname.referenced.line(),
                    sname.referenced.column(),
                    format!(
                        "step name `{}` must be lowercase letters, digits and dashes",
                        sname.value
                    ),
                ));
            }
            if let Some(first) = step_names.insert(sname.value.clone(), sname.referenced.line()) {
                ctx.diags.push(Diagnostic::new(
                    shown,
                    sname.referenced.line(),
                    sname.referenced.column(),
                    format!(
                        "step `{}` is declared twice in stage `{name}` (first at line {first})",
                        sname.value
                    ),
                ));
            }
            ctx.step(&step.value, &mut raw);
        }
        raw
    }
}
