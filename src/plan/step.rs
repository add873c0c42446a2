//! One step of a stage file turned into raw declarations.
//!
//! A raw declaration has its variables interpolated and its cluster resolved, but no
//! address yet: addresses depend on scope (is this kind namespaced?), which is known only
//! once every stage has been read. The loader finishes the job.

use super::files::PlanDir;
use super::manifest::{self, RawObject};
use super::schema::{ObjectRef, RemoveRef, StepDecl};
use super::vars::{self, RefKind, Variables};
use super::{Cluster, Need};
use crate::diag::{Diagnostic, Diagnostics};
use mtm_provider::resource::{
    CheckSpec, GenSpec, Origin, Provides, ReleaseSpec, StepInfo, WaitSpec,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

// Short-lived, one per declaration while loading.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(super) enum RawKind {
    Object {
        cluster: String,
        object: RawObject,
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

/// Deep-merges `over` into `base`: mappings key by key, anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Why the object's name or namespace would be refused by the API server, for the built-in
/// kinds whose name rules are known offline (a name still holding `${` is left alone).
fn name_problem(object: &manifest::RawObject) -> Option<String> {
    let (group, _) = mtm_provider::ObjectId::split_api_version(&object.api_version);
    let kind = &object.kind;
    let name = &object.name;
    if let Some(ns) = object.namespace.as_deref().filter(|n| !n.contains("${"))
        && let Some(p) = super::kinds::namespace_problem(ns)
    {
        return Some(format!("{kind} {name}: namespace `{ns}` {p}"));
    }
    if name.contains("${") {
        return None;
    }
    super::kinds::name_problem(&group, kind, name).map(|p| format!("{kind} name `{name}` {p}"))
}

/// Checks a positive duration with its unit, such as `300s`, `5m`, `24h`, `500ms`.
pub(super) fn valid_duration(text: &str) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.chars().any(|c| c != '0')
        && matches!(unit, "ms" | "s" | "m" | "h")
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
        let default_cluster = step_cluster.as_ref().map(|c| c.0.clone());
        let namespace = decl
            .namespace
            .as_deref()
            .map(|n| self.vars.interpolate(n).unwrap_or_else(|_| n.to_string()));
        let mut push = |kind: RawKind, origin: Origin, uses: BTreeSet<String>| {
            out.push(RawDecl {
                kind,
                origin,
                step: info.clone(),
                needs: needs.clone(),
                uses,
            })
        };

        for path in &decl.manifests {
            let (line, col) = (path.referenced.line(), path.referenced.column());
            let shown = self.files.show(&path.value);
            let text = match self.files.read(&path.value) {
                Ok(t) => t,
                Err(e) => {
                    self.diags.push(
                        e.diagnostic("manifest", self.file, line, col)
                            .help("manifest paths are relative to the plan directory"),
                    );
                    continue;
                }
            };
            let has_refs = text.contains("${");
            for r in vars::scan(&text) {
                let at = origin(&shown, r.line, r.column);
                match r.kind {
                    RefKind::Var(name) if !self.vars.vars.contains_key(&name) => self.diags.push(
                        Diagnostic::new(
                            &shown,
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
                            .push(Diagnostic::new(&shown, r.line, r.column, e.to_string()))
                    }
                    RefKind::Var(_) => {}
                }
            }
            let objects = match manifest::parse(&shown, &text) {
                Ok(o) => o,
                Err(problems) => {
                    self.diags.0.extend(problems);
                    continue;
                }
            };
            for mut object in objects {
                let at = origin(&shown, object.line, object.column);
                let Some(cluster) = default_cluster.clone() else {
                    self.diags.push(
                        Diagnostic::new(
                            &shown,
                            object.line,
                            object.column,
                            format!("{} {} has no cluster", object.kind, object.name),
                        )
                        .help(format!(
                            "set `cluster:` on step `{}` in {}",
                            decl.name.value, self.file
                        )),
                    );
                    continue;
                };
                // A file without `${` (most of them) needs neither a copy nor a walk.
                let mut uses = BTreeSet::new();
                if has_refs {
                    match self.vars.interpolate_value(&object.body) {
                        Ok(body) => object.body = body,
                        Err(_) => continue, // reported by the scan above
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
                        Diagnostic::new(&shown, object.line, object.column, problem)
                            .help("Kubernetes would refuse it when applied; rename it here"),
                    );
                    continue;
                }
                push(
                    RawKind::Object {
                        cluster,
                        object,
                        default_namespace: namespace.clone(),
                    },
                    at,
                    uses,
                );
            }
        }

        for p in &decl.patches {
            let (line, col) = (p.referenced.line(), p.referenced.column());
            let at = origin(self.file, line, col);
            let cluster = p.value.target.cluster.clone().or(default_cluster.clone());
            let Some(cluster) = self.cluster(cluster.as_deref(), line, col) else {
                continue;
            };
            if !p.value.fields.is_object() {
                self.diag(
                    line,
                    col,
                    "patch `fields` must be a mapping (a partial object)",
                );
                continue;
            }
            let target = self.target(&p.value.target);
            let Some(fields) = self.interpolate(&p.value.fields, line, col) else {
                continue;
            };
            let uses = uses_of(&fields);
            push(
                RawKind::Patch {
                    cluster,
                    target,
                    fields,
                },
                at,
                uses,
            );
        }

        for r in &decl.releases {
            let (line, col) = (r.referenced.line(), r.referenced.column());
            let Some(cluster) = self.cluster(default_cluster.as_deref(), line, col) else {
                continue;
            };
            let Some(mut spec) = self.interpolate(&r.value, line, col) else {
                continue;
            };
            // Files first, in order, then the inline values over them.
            let mut merged = Value::Object(Default::default());
            for file in std::mem::take(&mut spec.values_files) {
                let shown = self.files.show(&file);
                let text = match self.files.read(&file) {
                    Ok(t) => t,
                    Err(e) => {
                        self.diags.push(
                            e.diagnostic("values file", self.file, line, col)
                                .help("values files are relative to the plan directory"),
                        );
                        continue;
                    }
                };
                match serde_saphyr::from_str::<Value>(&text) {
                    Ok(v) => match self.vars.interpolate_value(&v) {
                        Ok(v) => merge(&mut merged, &v),
                        Err(e) => self
                            .diags
                            .push(Diagnostic::new(&shown, 1, 1, e.to_string())),
                    },
                    Err(e) => self.diags.push(super::yaml::diagnostic(&shown, &text, &e)),
                }
            }
            if !spec.values.is_null() {
                merge(&mut merged, &spec.values);
            }
            spec.values = merged;
            if let Some(t) = &spec.timeout
                && !valid_duration(t)
            {
                self.diag(
                    line,
                    col,
                    format!("release timeout `{t}` is not a positive duration"),
                )
                .help = Some("write it like 300s, 5m or 1h".into());
            }
            let uses = uses_of(&spec);
            push(
                RawKind::Release { cluster, spec },
                origin(self.file, line, col),
                uses,
            );
        }

        for g in &decl.generate {
            let (line, col) = (g.referenced.line(), g.referenced.column());
            let Some(spec) = self.interpolate(&g.value, line, col) else {
                continue;
            };
            if let Some(t) = &spec.lifetime
                && !valid_duration(t)
            {
                self.diag(
                    line,
                    col,
                    format!("lifetime `{t}` is not a positive duration"),
                )
                .help = Some("write it like 300s, 5m or 24h".into());
            }
            if spec.subjects.is_empty() {
                self.diag(
                    line,
                    col,
                    format!("generated value `{}` has no subjects", spec.name),
                );
            }
            push(
                RawKind::Gen(spec),
                origin(self.file, line, col),
                BTreeSet::new(),
            );
        }

        for r in &decl.removes {
            let (line, col) = (r.referenced.line(), r.referenced.column());
            let cluster = r.value.cluster.clone().or(default_cluster.clone());
            let Some(cluster) = self.cluster(cluster.as_deref(), line, col) else {
                continue;
            };
            let Some(kind) = self.removal(&r.value, cluster, line, col) else {
                continue;
            };
            push(kind, origin(self.file, line, col), BTreeSet::new());
        }

        for q in &decl.requires {
            let (line, col) = (q.referenced.line(), q.referenced.column());
            let at = origin(self.file, line, col);
            let cluster = q.value.cluster.clone().or(default_cluster.clone());
            let Some(cluster) = self.cluster(cluster.as_deref(), line, col) else {
                continue;
            };
            let v = &q.value;
            match (&v.release, &v.api_version, &v.kind, &v.name) {
                (Some(rel), None, None, None) => push(
                    RawKind::RequireRelease {
                        cluster,
                        namespace: rel.namespace.clone(),
                        name: rel.name.clone(),
                        hint: v.hint.clone(),
                    },
                    at,
                    BTreeSet::new(),
                ),
                (None, Some(api_version), Some(kind), Some(name)) => push(
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

        for w in &decl.waits {
            let (line, col) = (w.referenced.line(), w.referenced.column());
            let Some(cluster) = self.cluster(default_cluster.as_deref(), line, col) else {
                continue;
            };
            let Some(mut spec) = self.interpolate(&w.value, line, col) else {
                continue;
            };
            if spec.namespace.is_none() {
                spec.namespace = namespace.clone();
            }
            if let Some(t) = &spec.timeout
                && !valid_duration(t)
            {
                self.diag(
                    line,
                    col,
                    format!("wait timeout `{t}` is not a positive duration"),
                )
                .help = Some("write it like 300s, 5m or 1h".into());
            }
            if spec.object.is_some() && spec.selector.is_some() {
                self.diag(
                    line,
                    col,
                    "a wait names either one `object` or a `selector`, not both",
                );
            }
            push(
                RawKind::Wait { cluster, spec },
                origin(self.file, line, col),
                BTreeSet::new(),
            );
        }

        for c in &decl.checks {
            let (line, col) = (c.referenced.line(), c.referenced.column());
            let Some(cluster) = self.cluster(default_cluster.as_deref(), line, col) else {
                continue;
            };
            let Some(spec) = self.interpolate(&c.value, line, col) else {
                continue;
            };
            if spec.probe_count() != 1 {
                self.diag(line, col, format!(
                    "check `{}` needs exactly one of http, mcp, tokenExchange, command (it has {})",
                    spec.name,
                    spec.probe_count()
                ));
            }
            if let Some(status) = spec.expect.status
                && !(100..=599).contains(&status)
            {
                self.diag(
                    line,
                    col,
                    format!(
                        "check `{}`: expected status {status} is not an HTTP status (100 to 599)",
                        spec.name
                    ),
                );
            }
            if spec.expect.is_empty() {
                self.diag(line, col, format!("check `{}` expects nothing", spec.name))
                    .help =
                    Some("say what the workshop expects, e.g. `expect: { status: 200 }`".into());
            }
            let uses = uses_of(&spec);
            push(
                RawKind::Check { cluster, spec },
                origin(self.file, line, col),
                uses,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_duration;

    #[test]
    fn values_files_merge_under_inline_values() {
        let mut base = serde_json::json!({"a": {"x": 1, "y": 2}, "b": [1]});
        super::merge(
            &mut base,
            &serde_json::json!({"a": {"y": 3, "z": 4}, "b": [2]}),
        );
        assert_eq!(
            base,
            serde_json::json!({"a": {"x": 1, "y": 3, "z": 4}, "b": [2]})
        );
    }

    #[test]
    fn durations() {
        for ok in ["300s", "5m", "24h", "500ms"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in ["", "s", "5", "5 m", "1d", "-1s", "0s", "00m"] {
            assert!(!valid_duration(bad), "{bad}");
        }
    }
}
