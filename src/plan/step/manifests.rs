//! A step's manifests into object declarations: each file read from the plan directory,
//! its `${...}` references checked, its documents parsed, interpolated and given the
//! step's cluster, and names the API server would refuse reported at their document.
//!
//! It does not know scopes or addresses: the loader decides those once every stage is read.

use super::{GenUse, RawKind, StepCtx, StepScope, origin};
use crate::diag::Diagnostic;
use crate::plan::kinds;
use crate::plan::manifest::{self, RawObject};
use crate::plan::vars::{self, RefKind};
use serde_saphyr::Spanned;
use std::collections::BTreeSet;

impl StepCtx<'_> {
    /// One manifest file of the step into object declarations, problems reported.
    pub(super) fn manifest(&mut self, path: &Spanned<String>, scope: &mut StepScope) {
        let (line, col) = (path.referenced.line(), path.referenced.column());
        let shown = self.files.show(&path.value);
        let text = match self.files.read(&path.value) {
            Ok(t) => t,
            Err(e) => {
                self.diags.push(
                    e.diagnostic("manifest", self.file, line, col)
                        .help("manifest paths are relative to the plan directory"),
                );
                return;
            }
        };
        let has_refs = text.contains("${");
        self.scan_refs(&shown, &text);
        let objects = match manifest::parse(&shown, &text) {
            Ok(o) => o,
            Err(problems) => {
                self.diags.0.extend(problems);
                return;
            }
        };
        for object in objects {
            self.manifest_object(&shown, object, has_refs, scope);
        }
    }

    /// Reports a manifest's unknown variables and bad references; notes its generated values.
    fn scan_refs(&mut self, shown: &str, text: &str) {
        for r in vars::scan(text) {
            let at = origin(shown, r.line, r.column);
            match r.kind {
                RefKind::Var(name) if !self.vars.vars.contains_key(&name) => self.diags.push(
                    Diagnostic::new(
                        shown,
                        r.line,
                        r.column,
                        format!("unknown variable `{name}`"),
                    )
                    .help("declare it under `variables:` in plan.yaml"),
                ),
                RefKind::Gen(name, field) => self.gen_uses.push(GenUse {
                    name,
                    field,
                    origin: at,
                    stage: self.stage.to_string(),
                }),
                RefKind::Bad(e) => {
                    self.diags
                        .push(Diagnostic::new(shown, r.line, r.column, e.to_string()))
                }
                RefKind::Var(_) => {}
            }
        }
    }

    /// One document of a manifest: the step's cluster, variables put in, its name checked.
    fn manifest_object(
        &mut self,
        shown: &str,
        mut object: RawObject,
        has_refs: bool,
        scope: &mut StepScope,
    ) {
        let at = origin(shown, object.line, object.column);
        let Some(cluster) = scope.cluster.clone() else {
            self.diags.push(
                Diagnostic::new(
                    shown,
                    object.line,
                    object.column,
                    format!("{} {} has no cluster", object.kind, object.name),
                )
                .help(format!(
                    "set `cluster:` on step `{}` in {}",
                    scope.info.step, self.file
                )),
            );
            return;
        };
        // A file without `${` (most of them) needs neither a copy nor a walk.
        let mut uses = BTreeSet::new();
        if has_refs {
            match self.vars.interpolate_value(&object.body) {
                Ok(body) => object.body = body,
                Err(_) => return, // reported by the scan above
            }
            for field in [&mut object.api_version, &mut object.kind, &mut object.name] {
                if let Ok(v) = self.vars.interpolate(field) {
                    *field = v;
                }
            }
            if let Some(ns) = &object.namespace {
                object.namespace = self.vars.interpolate(ns).ok();
            }
            vars::gen_refs(&object.body, &mut uses);
        }
        if let Some(problem) = name_problem(&object) {
            self.diags.push(
                Diagnostic::new(shown, object.line, object.column, problem)
                    .help("Kubernetes would refuse it when applied; rename it here"),
            );
            return;
        }
        let default_namespace = scope.namespace.clone();
        scope.push(
            RawKind::Object {
                cluster,
                object: object.hold(),
                default_namespace,
            },
            at,
            uses,
        );
    }
}

/// Why the object's name or namespace would be refused by the API server, for the built-in
/// kinds whose name rules are known offline (a name still holding `${` is left alone).
fn name_problem(object: &RawObject) -> Option<String> {
    let (group, _) = mtm_provider::ObjectId::split_api_version(&object.api_version);
    let kind = &object.kind;
    let name = &object.name;
    if let Some(ns) = object.namespace.as_deref().filter(|n| !n.contains("${"))
        && let Some(p) = kinds::namespace_problem(ns)
    {
        return Some(format!("{kind} {name}: namespace `{ns}` {p}"));
    }
    if name.contains("${") {
        return None;
    }
    kinds::name_problem(&group, kind, name).map(|p| format!("{kind} name `{name}` {p}"))
}
