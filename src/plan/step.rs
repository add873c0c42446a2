//! One step of a stage file turned into raw declarations.
//!
//! A raw declaration has its variables interpolated and its cluster resolved, but no
//! address yet: addresses depend on scope (is this kind namespaced?), which is known only
//! once every stage has been read. The loader finishes the job.

mod manifests;
mod specs;

use super::files::PlanDir;
use super::manifest::HeldObject;
use super::schema::{ObjectRef, PatchDecl, RemoveRef, RequireDecl, StepDecl};
use super::vars::{self, Variables};
use super::{Cluster, Need};
use crate::diag::{Diagnostic, Diagnostics};
use mtm_provider::resource::{
    CheckSpec, GenSpec, Origin, Provides, ReleaseSpec, StepInfo, WaitSpec,
};
use serde::Serialize;
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

// Short-lived, one per declaration while loading.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(super) enum RawKind {
    Object {
        cluster: String,
        object: HeldObject,
        /// The step's default namespace, used when the kind is namespaced.
        default_namespace: Option<String>,
    },
    Remove {
        cluster: String,
        target: Target,
    },
    /// A check of an earlier stage that this stage retires.
    RetireCheck {
        cluster: String,
        name: String,
    },
    Patch {
        cluster: String,
        target: Target,
        fields: Value,
    },
    Release {
        cluster: String,
        spec: ReleaseSpec,
    },
    Gen(GenSpec),
    RequireObject {
        cluster: String,
        target: Target,
        provides: Option<Provides>,
        hint: Option<String>,
    },
    RequireRelease {
        cluster: String,
        namespace: String,
        name: String,
        hint: Option<String>,
    },
    Wait {
        cluster: String,
        spec: WaitSpec,
    },
    Check {
        cluster: String,
        spec: CheckSpec,
    },
}

/// A reference to an object by apiVersion, kind, namespace and name.
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Clone, Debug)]
pub(super) struct RawDecl {
    pub kind: RawKind,
    pub origin: Origin,
    pub step: Arc<StepInfo>,
    pub needs: Vec<Need>,
    pub uses: BTreeSet<String>,
}

/// A `${gen.NAME.FIELD}` seen somewhere, for checking once all generated values are known.
#[derive(Clone, Debug)]
pub(super) struct GenUse {
    pub name: String,
    pub field: String,
    pub origin: Origin,
    pub stage: String,
}

pub(super) struct StepCtx<'a> {
    pub files: &'a PlanDir<'a>,
    pub stage: &'a str,
    pub file: &'a str,
    pub vars: &'a Variables,
    pub clusters: &'a BTreeMap<String, Cluster>,
    pub diags: &'a mut Diagnostics,
    pub gen_uses: &'a mut Vec<GenUse>,
}

fn origin(file: &str, line: u64, column: u64) -> Origin {
    Origin {
        file: file.to_string(),
        line,
        column,
    }
}

fn uses_of<T: Serialize>(typed: &T) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    vars::gen_refs(&serde_json::to_value(typed).unwrap_or_default(), &mut out);
    out
}

/// What every declaration of one step shares, and where its declarations go.
struct StepScope<'o> {
    info: Arc<StepInfo>,
    needs: Vec<Need>,
    /// The step's cluster, interpolated: the cluster of its declarations by default.
    cluster: Option<String>,
    /// The step's default namespace, interpolated.
    namespace: Option<String>,
    out: &'o mut Vec<RawDecl>,
}

impl StepScope<'_> {
    /// Adds one declaration of the step.
    fn push(&mut self, kind: RawKind, origin: Origin, uses: BTreeSet<String>) {
        self.out.push(RawDecl {
            kind,
            origin,
            step: self.info.clone(),
            needs: self.needs.clone(),
            uses,
        })
    }
}

impl StepCtx<'_> {
    fn diag(&mut self, line: u64, column: u64, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .0
            .push(Diagnostic::new(self.file, line, column, message));
        self.diags.0.last_mut().expect("just pushed")
    }

    fn cluster(&mut self, name: Option<&str>, line: u64, column: u64) -> Option<String> {
        let Some(name) = name else {
            self.diag(line, column, "no cluster for this declaration")
                .help =
                Some("set `cluster:` on the step (clusters are declared in plan.yaml)".into());
            return None;
        };
        if self.clusters.contains_key(name) {
            Some(name.to_string())
        } else {
            let known: Vec<&str> = self.clusters.keys().map(String::as_str).collect();
            self.diag(line, column, format!("unknown cluster `{name}`"))
                .help = Some(format!("clusters in plan.yaml: {}", known.join(", ")));
            None
        }
    }

    fn interpolate<T: Serialize + serde::de::DeserializeOwned>(
        &mut self,
        typed: &T,
        line: u64,
        column: u64,
    ) -> Option<T> {
        match self.vars.interpolate_typed(typed) {
            Ok(t) => Some(t),
            Err(e) => {
                self.diag(line, column, e.to_string());
                None
            }
        }
    }

    fn target(&mut self, r: &ObjectRef) -> Target {
        let text = |s: &str| self.vars.interpolate(s).unwrap_or_else(|_| s.to_string());
        Target {
            api_version: text(&r.api_version),
            kind: text(&r.kind),
            namespace: r.namespace.as_deref().map(text),
            name: text(&r.name),
        }
    }

    /// What a `removes` entry takes away: a check by name, or an object by identity.
    fn removal(&mut self, r: &RemoveRef, cluster: String, line: u64, col: u64) -> Option<RawKind> {
        let text = |s: &str| self.vars.interpolate(s).unwrap_or_else(|_| s.to_string());
        let object = (&r.api_version, &r.kind, &r.name);
        match (&r.check, object) {
            (Some(check), (None, None, None)) if r.namespace.is_none() => {
                Some(RawKind::RetireCheck {
                    cluster,
                    name: text(check),
                })
            }
            (None, (Some(api_version), Some(kind), Some(name))) => Some(RawKind::Remove {
                cluster,
                target: Target {
                    api_version: text(api_version),
                    kind: text(kind),
                    namespace: r.namespace.as_deref().map(text),
                    name: text(name),
                },
            }),
            (Some(_), _) => {
                self.diag(
                    line,
                    col,
                    "a `removes` entry names a check or an object, not both",
                )
                .help = Some("write `{ check: NAME }` or `{ apiVersion, kind, name }`".into());
                None
            }
            (None, _) => {
                self.diag(
                    line,
                    col,
                    "a `removes` entry needs apiVersion, kind and name (or `check: NAME`)",
                )
                .help =
                    Some("name the object an earlier stage declared, or one of its checks".into());
                None
            }
        }
    }

    /// Turns one step into raw declarations, reporting problems as it goes.
    pub fn step(&mut self, decl: &StepDecl, out: &mut Vec<RawDecl>) {
        let mut scope = self.scope(decl, out);
        for path in &decl.manifests {
            self.manifest(path, &mut scope);
        }
        for p in &decl.patches {
            self.patch(p, &mut scope);
        }
        for r in &decl.releases {
            self.release(r, &mut scope);
        }
        for g in &decl.generate {
            self.generated(g, &mut scope);
        }
        for r in &decl.removes {
            self.remove(r, &mut scope);
        }
        for q in &decl.requires {
            self.requirement(q, &mut scope);
        }
        for w in &decl.waits {
            self.wait(w, &mut scope);
        }
        for c in &decl.checks {
            self.check(c, &mut scope);
        }
    }

    /// What the step's declarations share; an unknown step cluster is reported here, once.
    fn scope<'o>(&mut self, decl: &StepDecl, out: &'o mut Vec<RawDecl>) -> StepScope<'o> {
        let info = Arc::new(StepInfo {
            stage: self.stage.to_string(),
            step: decl.name.value.clone(),
            title: decl.title.clone(),
            what: decl.what.clone().unwrap_or_default(),
            why: decl.why.clone().unwrap_or_default(),
        });
        let needs: Vec<Need> = decl
            .needs
            .iter()
            .map(|n| Need {
                pattern: n.value.clone(),
                origin: origin(self.file, n.referenced.line(), n.referenced.column()),
            })
            .collect();
        let step_cluster = decl.cluster.as_ref().map(|c| {
            (
                self.vars
                    .interpolate(&c.value)
                    .unwrap_or_else(|_| c.value.clone()),
                c.referenced.line(),
                c.referenced.column(),
            )
        });
        if let Some((name, line, col)) = &step_cluster {
            self.cluster(Some(name), *line, *col);
        }
        let namespace = decl
            .namespace
            .as_deref()
            .map(|n| self.vars.interpolate(n).unwrap_or_else(|_| n.to_string()));
        StepScope {
            info,
            needs,
            cluster: step_cluster.map(|c| c.0),
            namespace,
            out,
        }
    }

    /// A patch: its cluster, a mapping of fields and its target, interpolated.
    fn patch(&mut self, p: &Spanned<PatchDecl>, scope: &mut StepScope) {
        let (line, col) = (p.referenced.line(), p.referenced.column());
        let at = origin(self.file, line, col);
        let cluster = p.value.target.cluster.clone().or(scope.cluster.clone());
        let Some(cluster) = self.cluster(cluster.as_deref(), line, col) else {
            return;
        };
        if !p.value.fields.is_object() {
            self.diag(
                line,
                col,
                "patch `fields` must be a mapping (a partial object)",
            );
            return;
        }
        let target = self.target(&p.value.target);
        let Some(fields) = self.interpolate(&p.value.fields, line, col) else {
            return;
        };
        let uses = uses_of(&fields);
        scope.push(
            RawKind::Patch {
                cluster,
                target,
                fields,
            },
            at,
            uses,
        );
    }

    /// A `removes` entry: a check retired or an object removed, on its cluster.
    fn remove(&mut self, r: &Spanned<RemoveRef>, scope: &mut StepScope) {
        let (line, col) = (r.referenced.line(), r.referenced.column());
        let cluster = r.value.cluster.clone().or(scope.cluster.clone());
        let Some(cluster) = self.cluster(cluster.as_deref(), line, col) else {
            return;
        };
        let Some(kind) = self.removal(&r.value, cluster, line, col) else {
            return;
        };
        scope.push(kind, origin(self.file, line, col), BTreeSet::new());
    }

    /// A requirement: an object or a release that must exist before the step.
    fn requirement(&mut self, q: &Spanned<RequireDecl>, scope: &mut StepScope) {
        let (line, col) = (q.referenced.line(), q.referenced.column());
        let at = origin(self.file, line, col);
        let cluster = q.value.cluster.clone().or(scope.cluster.clone());
        let Some(cluster) = self.cluster(cluster.as_deref(), line, col) else {
            return;
        };
        let v = &q.value;
        match (&v.release, &v.api_version, &v.kind, &v.name) {
            (Some(rel), None, None, None) => scope.push(
                RawKind::RequireRelease {
                    cluster,
                    namespace: rel.namespace.clone(),
                    name: rel.name.clone(),
                    hint: v.hint.clone(),
                },
                at,
                BTreeSet::new(),
            ),
            (None, Some(api_version), Some(kind), Some(name)) => scope.push(
                RawKind::RequireObject {
                    cluster,
                    target: Target {
                        api_version: api_version.clone(),
                        kind: kind.clone(),
                        namespace: v.namespace.clone(),
                        name: name.clone(),
                    },
                    provides: v.provides.clone(),
                    hint: v.hint.clone(),
                },
                at,
                BTreeSet::new(),
            ),
            _ => {
                self.diag(line, col, "a requirement names either an object (apiVersion, kind, name) or a `release`")
                    .help = Some("e.g. `- release: { namespace: agentgateway-system, name: enterprise-agentgateway }`".into());
            }
        }
    }
}
