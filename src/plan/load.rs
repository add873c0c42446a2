//! Loading a plan directory: `plan.yaml`, the stage files and their manifests.
//!
//! The loader reads files and the environment given to it, and reports every problem of
//! the plan in one [`Diagnostics`], each located at file:line:column. It decides the
//! address of every declaration: the first stage (in plan order) that declares an object
//! names it, so a later stage that re-declares or removes it speaks of the same address.

use super::files::PlanDir;
use super::kinds;
use super::schema::{PlanFile, StageFile};
use super::step::{GenUse, RawDecl, RawKind, StepCtx, Target};
use super::vars::{self, RefKind, Variable, Variables};
use super::yaml;
use super::{Cluster, Decl, LoadResult, Plan, Stage, object_address};
use crate::diag::{Diagnostic, Diagnostics};
use mtm_provider::resource::{CheckSpec, Origin, Requirement, Scope, Spec};
use mtm_provider::{Address, ObjectId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// What the loader takes from outside the plan directory.
pub struct LoadOptions<'a> {
    /// `NAME=VALUE` pairs from `--var`.
    pub cli_vars: Vec<String>,
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl LoadOptions<'_> {
    /// Variables from `--var` and the process environment.
    // The one place where the process environment enters the loader.
    #[allow(clippy::disallowed_methods)]
    pub fn from_process(cli_vars: Vec<String>) -> LoadOptions<'static> {
        LoadOptions {
            cli_vars,
            env: &|name| std::env::var(name).ok(),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The prefix of the environment variable that sets a plan variable and wins over the
/// variable of the bare name (`MTM_VAR_CLUSTER1` over `CLUSTER1`).
pub const VAR_ENV_PREFIX: &str = "MTM_VAR_";

/// Loads the plan in `dir`.
pub fn load(dir: &Path, opts: &LoadOptions) -> LoadResult {
    load_with_var_files(dir, opts, &[])
}

/// Loads the plan in `dir` with variables also from these files (`--var-file`, in order:
/// a later one wins).
pub fn load_with_var_files(
    dir: &Path,
    opts: &LoadOptions,
    var_files: &[std::path::PathBuf],
) -> LoadResult {
    let display_dir = dir.display().to_string();
    let display_dir = display_dir.trim_end_matches('/').to_string();
    let plan_path = format!("{display_dir}/plan.yaml");
    let mut diags = Diagnostics::default();
    let files = PlanDir::new(dir, &display_dir);
    let text = match files.read("plan.yaml") {
        Ok(t) => t,
        Err(e) => {
            let d = match e.position() {
                Some(_) => e.diagnostic("the plan", &plan_path, 0, 0),
                None => Diagnostic::unplaced(&plan_path, e.describe("the plan"))
                    .help("--plan takes a plan directory holding plan.yaml"),
            };
            diags.push(d);
            return Err(diags);
        }
    };
    let file: PlanFile = match yaml::parse_strict(&text) {
        Ok(f) => f,
        Err(e) => {
            diags.push(yaml::diagnostic(&plan_path, &text, &e));
            return Err(diags);
        }
    };

    let variables = resolve_variables(&file, &plan_path, opts, var_files, &mut diags);
    check_hand_edit_managers(&file, &plan_path, &mut diags);
    for r in vars::scan(&text) {
        match r.kind {
            RefKind::Var(name) if !file.variables.contains_key(&name) => diags.push(
                Diagnostic::new(
                    &plan_path,
                    r.line,
                    r.column,
                    format!("unknown variable `{name}`"),
                )
                .help("declare it under `variables:`"),
            ),
            RefKind::Gen(..) => diags.push(Diagnostic::new(
                &plan_path,
                r.line,
                r.column,
                "generated values cannot be used in plan.yaml",
            )),
            RefKind::Bad(e) => {
                diags.push(Diagnostic::new(&plan_path, r.line, r.column, e.to_string()))
            }
            RefKind::Var(_) => {}
        }
    }

    let mut clusters = BTreeMap::new();
    for (name, decl) in &file.clusters {
        let (line, col) = (decl.referenced.line(), decl.referenced.column());
        if !valid_name(name) {
            diags.push(Diagnostic::new(
                &plan_path,
                line,
                col,
                format!("cluster name `{name}` must be lowercase letters, digits and dashes"),
            ));
        }
        let context = variables
            .interpolate(&decl.value.context)
            .unwrap_or_default();
        if context.is_empty() && !decl.value.context.contains("${") {
            diags.push(Diagnostic::new(
                &plan_path,
                line,
                col,
                format!("cluster `{name}` has an empty context"),
            ));
        }
        clusters.insert(
            name.clone(),
            Cluster {
                name: name.clone(),
                context,
                description: decl.value.description.clone(),
            },
        );
    }

    // Stages: names, files, needs.
    let mut order: Vec<(String, Origin)> = Vec::new();
    for s in &file.stages {
        let at = Origin {
            file: plan_path.clone(),
            line: s.referenced.line(),
            column: s.referenced.column(),
        };
        if !valid_name(&s.value) {
            diags.push(Diagnostic::new(
                &at.file,
                at.line,
                at.column,
                format!(
                    "stage name `{}` must be lowercase letters, digits and dashes",
                    s.value
                ),
            ));
        } else if order.iter().any(|(n, _)| *n == s.value) {
            diags.push(Diagnostic::new(
                &at.file,
                at.line,
                at.column,
                format!("stage `{}` is listed twice", s.value),
            ));
        } else {
            order.push((s.value.clone(), at));
        }
    }
    if order.is_empty() {
        diags.push(
            Diagnostic::new(&plan_path, 1, 1, "the plan has no stages")
                .help("list them under `stages:`"),
        );
    }

    let mut stages: Vec<(Stage, Vec<RawDecl>)> = Vec::new();
    let mut gen_uses: Vec<GenUse> = Vec::new();
    for (index, (name, at)) in order.iter().enumerate() {
        let rel = format!("stages/{name}.yaml");
        let shown = files.show(&rel);
        let text = match files.read(&rel) {
            Ok(t) => t,
            Err(e) => {
                let mut d = e.diagnostic("", &at.file, at.line, at.column);
                d.message = format!("stage `{name}`: {}", d.message);
                diags.push(d.help(format!("each stage listed in plan.yaml has a file {rel}")));
                continue;
            }
        };
        let stage_file: StageFile = match yaml::parse_strict(&text) {
            Ok(f) => f,
            Err(e) => {
                diags.push(yaml::diagnostic(&shown, &text, &e));
                continue;
            }
        };
        for r in vars::scan(&text) {
            match r.kind {
                RefKind::Var(n) if !variables.vars.contains_key(&n) => diags.push(
                    Diagnostic::new(&shown, r.line, r.column, format!("unknown variable `{n}`"))
                        .help("declare it under `variables:` in plan.yaml"),
                ),
                RefKind::Gen(n, f) => gen_uses.push(GenUse {
                    name: n,
                    field: f,
                    origin: Origin {
                        file: shown.clone(),
                        line: r.line,
                        column: r.column,
                    },
                    stage: name.clone(),
                }),
                RefKind::Bad(e) => {
                    diags.push(Diagnostic::new(&shown, r.line, r.column, e.to_string()))
                }
                RefKind::Var(_) => {}
            }
        }
        let mut needs = Vec::new();
        for need in &stage_file.needs {
            let (line, col) = (need.referenced.line(), need.referenced.column());
            match order.iter().position(|(n, _)| *n == need.value) {
                None => diags.push(
                    Diagnostic::new(&shown, line, col, format!("unknown stage `{}` in needs", need.value))
                        .help(format!("stages: {}", order.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "))),
                ),
                Some(p) if p >= index => diags.push(
                    Diagnostic::new(&shown, line, col, format!(
                        "stage `{name}` needs `{}`, which does not come before it in plan.yaml `stages`",
                        need.value
                    ))
                    .help("a stage builds only on earlier stages; reorder `stages` or drop this need"),
                ),
                Some(_) => needs.push(need.value.clone()),
            }
        }
        let mut raw = Vec::new();
        let mut step_names = BTreeMap::new();
        let mut ctx = StepCtx {
            files: &files,
            stage: name,
            file: &shown,
            vars: &variables,
            clusters: &clusters,
            diags: &mut diags,
            gen_uses: &mut gen_uses,
        };
        for step in &stage_file.steps {
            let sname = &step.value.name;
            if !valid_name(&sname.value) {
                ctx.diags.push(Diagnostic::new(
                    &shown,
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
                    &shown,
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
        stages.push((
            Stage {
                name: name.clone(),
                title: stage_file.title,
                summary: stage_file.summary,
                needs,
                decls: Vec::new(),
            },
            raw,
        ));
    }

    // Once something is reported, a declaration may be missing (a file unread, a step
    // dropped): checks that need every declaration (custom kinds, removals, generated
    // values, needs patterns) would then report only consequences of it, so they stay
    // quiet. Duplicates and local problems are reported regardless.
    let scopes = Scopes::learn(&stages);
    let mut namer = Namer::default();
    for (stage, raw) in &mut stages {
        for r in raw.drain(..) {
            let quiet = !diags.is_empty();
            if let Some(decl) = finish(&stage.name, r, &scopes, &mut namer, &mut diags, quiet) {
                stage.decls.push(decl);
            }
        }
    }
    let stages: Vec<Stage> = stages.into_iter().map(|(s, _)| s).collect();
    let plan = Plan {
        dir: dir.to_path_buf(),
        name: file.plan.clone(),
        title: file.title.clone(),
        description: file.description.clone(),
        variables,
        clusters,
        stages,
        hand_edit_managers: file
            .hand_edit_managers
            .iter()
            .map(|m| m.value.clone())
            .collect(),
    };
    check_unique_generated(&plan, &mut diags);
    let quiet = !diags.is_empty();
    check_generated(&plan, &gen_uses, &mut diags, quiet);
    if !quiet {
        check_needs(&plan, &mut diags);
    }
    diags.into_result().map(|()| plan)
}

/// A variable's value and where it came from: `--var`, then `--var-file`, then
/// `MTM_VAR_NAME`, then `NAME`; `None` leaves it to the default.
fn pick(
    name: &str,
    cli: &HashMap<String, String>,
    files: &BTreeMap<String, super::varfile::FileValue>,
    opts: &LoadOptions,
) -> Option<(String, String)> {
    let prefixed = format!("{VAR_ENV_PREFIX}{name}");
    if let Some(v) = cli.get(name) {
        Some((v.clone(), "--var".to_string()))
    } else if let Some(v) = files.get(name) {
        Some((v.value.clone(), format!("--var-file {}", v.file)))
    } else if let Some(v) = (opts.env)(&prefixed) {
        Some((v, format!("environment {prefixed}")))
    } else {
        (opts.env)(name).map(|v| (v, format!("environment {name}")))
    }
}

fn resolve_variables(
    file: &PlanFile,
    plan_path: &str,
    opts: &LoadOptions,
    var_files: &[std::path::PathBuf],
    diags: &mut Diagnostics,
) -> Variables {
    let mut cli: HashMap<String, String> = HashMap::new();
    for pair in &opts.cli_vars {
        match pair.split_once('=') {
            Some((name, value)) if valid_var_name(name) => {
                if !file.variables.contains_key(name) {
                    diags.push(
                        Diagnostic::unplaced(
                            format!("--var {name}"),
                            format!("unknown variable `{name}`"),
                        )
                        .help(format!(
                            "variables of this plan: {}",
                            file.variables
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
                cli.insert(name.to_string(), value.to_string());
            }
            _ => diags.push(
                Diagnostic::unplaced("--var", format!("`{pair}` is not NAME=VALUE"))
                    .help("e.g. --var CLUSTER1=east-ag"),
            ),
        }
    }
    let declared: Vec<&str> = file.variables.keys().map(String::as_str).collect();
    let from_files = super::varfile::declared_values(var_files, &declared, diags);
    let mut variables = Variables::default();
    for (name, decl) in &file.variables {
        let (line, col) = (decl.referenced.line(), decl.referenced.column());
        if !valid_var_name(name) {
            diags.push(Diagnostic::new(
                plan_path,
                line,
                col,
                format!("variable name `{name}` must be letters, digits and underscores"),
            ));
            continue;
        }
        let (value, source) = match pick(name, &cli, &from_files, opts) {
            Some((value, source)) => (Some(value), source),
            None => (decl.value.default.clone(), "default".to_string()),
        };
        let Some(value) = value else {
            diags.push(
                Diagnostic::new(
                    plan_path,
                    line,
                    col,
                    format!("variable `{name}` has no value"),
                )
                .help(format!(
                    "pass --var {name}=VALUE, put it in a --var-file, or set the environment variable {VAR_ENV_PREFIX}{name} or {name}"
                )),
            );
            continue;
        };
        variables.vars.insert(
            name.clone(),
            Variable {
                value,
                sensitive: decl.value.sensitive,
                description: decl.value.description.clone(),
                source,
            },
        );
    }
    variables
}

/// Which custom kinds are served on which cluster, learnt from the plan.
#[derive(Default)]
struct Scopes {
    custom: HashMap<(String, String, String), Scope>,
}

impl Scopes {
    fn learn(stages: &[(Stage, Vec<RawDecl>)]) -> Scopes {
        let mut scopes = Scopes::default();
        for r in stages.iter().flat_map(|(_, raw)| raw) {
            match &r.kind {
                RawKind::Object {
                    cluster, object, ..
                } if object.kind == "CustomResourceDefinition" => {
                    let spec = object.body.get("spec");
                    let text =
                        |ptr: &str| spec.and_then(|s| s.pointer(ptr)).and_then(|v| v.as_str());
                    if let (Some(group), Some(kind)) = (text("/group"), text("/names/kind")) {
                        let scope = if text("/scope") == Some("Cluster") {
                            Scope::Cluster
                        } else {
                            Scope::Namespaced
                        };
                        scopes
                            .custom
                            .insert((cluster.clone(), group.into(), kind.into()), scope);
                    }
                }
                RawKind::RequireObject {
                    cluster,
                    provides: Some(p),
                    ..
                } => {
                    scopes
                        .custom
                        .insert((cluster.clone(), p.group.clone(), p.kind.clone()), p.scope);
                }
                _ => {}
            }
        }
        scopes
    }

    /// `Ok(true)` cluster-scoped, `Ok(false)` namespaced, `Err` unknown kind.
    fn cluster_scoped(&self, cluster: &str, group: &str, kind: &str) -> Result<bool, ()> {
        if let Some(scoped) = kinds::builtin_cluster_scoped(group, kind) {
            return Ok(scoped);
        }
        self.custom
            .get(&(cluster.to_string(), group.to_string(), kind.to_string()))
            .map(|s| *s == Scope::Cluster)
            .ok_or(())
    }
}

/// An object's identity without its version: cluster, group, kind, namespace, name.
type IdentityKey = (String, String, String, Option<String>, String);

/// Hands out addresses and notices duplicates.
#[derive(Default)]
struct Namer {
    /// Object identity (without version) to (address, stage that declared it last, origin).
    objects: HashMap<IdentityKey, (Address, String, Origin)>,
    others: HashMap<Address, Origin>,
    /// `cluster/name` of a check to (address, stage that declared it last, origin, spec):
    /// a later stage re-declares or retires it by name.
    checks: HashMap<String, (Address, String, Origin, CheckSpec)>,
}

fn at(o: &Origin, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&o.file, o.line, o.column, message)
}

fn object_id(cluster: &str, t: &Target, namespace: Option<String>) -> ObjectId {
    let (group, version) = ObjectId::split_api_version(&t.api_version);
    ObjectId {
        cluster: cluster.to_string(),
        group,
        version,
        kind: t.kind.clone(),
        namespace,
        name: t.name.clone(),
    }
}

/// Resolves a target's namespace by scope, reporting what is wrong.
fn scoped_id(
    cluster: &str,
    t: &Target,
    default_ns: Option<&String>,
    scopes: &Scopes,
    origin: &Origin,
    diags: &mut Diagnostics,
    quiet: bool,
) -> Option<ObjectId> {
    let (group, _) = ObjectId::split_api_version(&t.api_version);
    let what = format!("{} {}", t.kind, t.name);
    match scopes.cluster_scoped(cluster, &group, &t.kind) {
        Err(()) if quiet => None,
        Err(()) => {
            diags.push(
                at(origin, format!(
                    "{what}: no CustomResourceDefinition for kind {} in group {group} on cluster {cluster}",
                    t.kind
                ))
                .help("declare the CRD in the plan, or require it in the standup with `provides`; check apiVersion and kind for typos"),
            );
            None
        }
        Ok(true) => {
            if t.namespace.is_some() {
                diags.push(
                    at(
                        origin,
                        format!("{what}: {} is cluster-scoped but has a namespace", t.kind),
                    )
                    .help("remove metadata.namespace"),
                );
                return None;
            }
            Some(object_id(cluster, t, None))
        }
        Ok(false) => {
            let ns = t.namespace.clone().or_else(|| default_ns.cloned());
            if ns.is_none() {
                diags.push(
                    at(
                        origin,
                        format!("{what}: namespaced object without a namespace"),
                    )
                    .help("set metadata.namespace, or `namespace:` on the step"),
                );
                return None;
            }
            Some(object_id(cluster, t, ns))
        }
    }
}

fn finish(
    stage: &str,
    r: RawDecl,
    scopes: &Scopes,
    namer: &mut Namer,
    diags: &mut Diagnostics,
    quiet: bool,
) -> Option<Decl> {
    let RawDecl {
        kind,
        origin,
        step,
        needs,
        uses,
    } = r;
    let other = |namer: &mut Namer, diags: &mut Diagnostics, address: String| -> Option<Address> {
        let address = Address(address);
        if let Some(first) = namer.others.insert(address.clone(), origin.clone()) {
            diags.push(at(
                &origin,
                format!("duplicate address {address} (first declared at {first})"),
            ));
            return None;
        }
        Some(address)
    };
    let (address, spec) = match kind {
        RawKind::Object {
            cluster,
            mut object,
            default_namespace,
        } => {
            let target = Target {
                api_version: object.api_version.clone(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
            };
            let id = scoped_id(
                &cluster,
                &target,
                default_namespace.as_ref(),
                scopes,
                &origin,
                diags,
                quiet,
            )?;
            if object.namespace.is_none()
                && let Some(ns) = &id.namespace
                && let Some(meta) = object
                    .body
                    .get_mut("metadata")
                    .and_then(|m| m.as_object_mut())
            {
                meta.insert("namespace".into(), ns.clone().into());
            }
            let address = match namer.objects.get(&id.key()) {
                Some((address, last, first)) if last == stage => {
                    diags.push(at(&origin, format!(
                        "duplicate address {address}: stage `{stage}` declares this object twice (first at {first})"
                    )));
                    return None;
                }
                Some((address, _, _)) => address.clone(),
                None => object_address(stage, &id),
            };
            namer.objects.insert(
                id.key(),
                (address.clone(), stage.to_string(), origin.clone()),
            );
            (
                address,
                Spec::Object {
                    id,
                    manifest: Arc::new(object.body),
                },
            )
        }
        RawKind::Remove { cluster, target } => {
            let id = scoped_id(&cluster, &target, None, scopes, &origin, diags, quiet)?;
            let Some((address, _, _)) = namer.objects.get(&id.key()).cloned() else {
                if quiet {
                    return None;
                }
                diags.push(
                    at(&origin, format!("removes {id}, which no earlier stage declares"))
                        .help("a stage removes only what an earlier stage of the plan declared; check cluster, apiVersion, kind, namespace and name"),
                );
                return None;
            };
            namer.objects.insert(
                id.key(),
                (address.clone(), stage.to_string(), origin.clone()),
            );
            (address, Spec::Absent { id })
        }
        RawKind::Patch {
            cluster,
            target,
            fields,
        } => {
            let id = scoped_id(&cluster, &target, None, scopes, &origin, diags, quiet)?;
            let address = other(
                namer,
                diags,
                format!("{stage}/{cluster}/patch/{}", id.tail()),
            )?;
            let manager = format!("mtm-patch-{stage}-{}", step.step);
            (
                address,
                Spec::Patch {
                    target: id,
                    fields,
                    manager,
                },
            )
        }
        RawKind::Release { cluster, spec } => {
            let address = other(
                namer,
                diags,
                format!("{stage}/{cluster}/helm/{}/{}", spec.namespace, spec.name),
            )?;
            (
                address,
                Spec::Release {
                    cluster,
                    release: spec,
                },
            )
        }
        RawKind::Gen(spec) => {
            let address = other(namer, diags, format!("{stage}/-/gen/{}", spec.name))?;
            (address, Spec::Generated(spec))
        }
        RawKind::RequireObject {
            cluster,
            target,
            provides,
            hint,
        } => {
            let (group, version) = ObjectId::split_api_version(&target.api_version);
            let id = ObjectId {
                cluster: cluster.clone(),
                group,
                version,
                kind: target.kind,
                namespace: target.namespace,
                name: target.name,
            };
            let address = other(
                namer,
                diags,
                format!("{stage}/{cluster}/require/{}", id.tail()),
            )?;
            (
                address,
                Spec::Require {
                    cluster,
                    requirement: Requirement::Object { id, provides, hint },
                },
            )
        }
        RawKind::RequireRelease {
            cluster,
            namespace,
            name,
            hint,
        } => {
            let address = other(
                namer,
                diags,
                format!("{stage}/{cluster}/require/helm/{namespace}/{name}"),
            )?;
            (
                address,
                Spec::Require {
                    cluster,
                    requirement: Requirement::Release {
                        namespace,
                        name,
                        hint,
                    },
                },
            )
        }
        RawKind::Wait { cluster, spec } => {
            let address = other(
                namer,
                diags,
                format!("{stage}/{cluster}/wait/{}", spec.name),
            )?;
            (
                address,
                Spec::Wait {
                    cluster,
                    wait: spec,
                },
            )
        }
        RawKind::Check { cluster, spec } => {
            let key = format!("{cluster}/{}", spec.name);
            let address = match namer.checks.get(&key) {
                Some((address, last, first, _)) if last == stage => {
                    diags.push(at(&origin, format!(
                        "duplicate address {address}: stage `{stage}` declares this check twice (first at {first})"
                    )));
                    return None;
                }
                Some((address, ..)) => address.clone(),
                None => other(
                    namer,
                    diags,
                    format!("{stage}/{cluster}/check/{}", spec.name),
                )?,
            };
            let entry = (
                address.clone(),
                stage.to_string(),
                origin.clone(),
                spec.clone(),
            );
            namer.checks.insert(key, entry);
            (
                address,
                Spec::Check {
                    cluster,
                    check: spec,
                },
            )
        }
        RawKind::RetireCheck { cluster, name } => {
            let key = format!("{cluster}/{name}");
            let Some((address, _, _, spec)) = namer.checks.get(&key).cloned() else {
                if !quiet {
                    diags.push(
                        at(&origin, format!("removes check `{name}` on cluster {cluster}, which no earlier stage declares"))
                            .help("a stage removes only a check an earlier stage of the plan declared; check its name and cluster"),
                    );
                }
                return None;
            };
            namer.checks.insert(
                key,
                (
                    address.clone(),
                    stage.to_string(),
                    origin.clone(),
                    spec.clone(),
                ),
            );
            return Some(Decl {
                address,
                spec: Spec::Check {
                    cluster,
                    check: spec,
                },
                step,
                origin,
                needs,
                uses,
                retires: true,
            });
        }
    };
    Some(Decl {
        address,
        spec,
        step,
        origin,
        needs,
        uses,
        retires: false,
    })
}

/// Every `${gen.NAME.FIELD}` names a generated value of a stage the user's stage needs.
/// `handEditManagers` names managers (a trailing `*` is a prefix): never every manager,
/// which would take controllers' fields as `--force-conflicts` does.
fn check_hand_edit_managers(file: &PlanFile, plan_path: &str, diags: &mut Diagnostics) {
    for m in &file.hand_edit_managers {
        let name = m.value.trim();
        let prefix = name.strip_suffix('*').unwrap_or(name);
        let problem = if prefix.is_empty() {
            Some("names no manager: it would take every manager's fields, controllers' too")
        } else if prefix.contains('*') {
            Some("may have `*` only at its end (a prefix)")
        } else {
            None
        };
        if let Some(problem) = problem {
            diags.push(
                Diagnostic::new(
                    plan_path,
                    m.referenced.line(),
                    m.referenced.column(),
                    format!("handEditManagers entry `{}` {problem}", m.value),
                )
                .help("name the field managers of hand edits (e.g. `my-script` or `ops-*`); for a controller's field use --force-conflicts"),
            );
        }
    }
}

fn check_generated(plan: &Plan, uses: &[GenUse], diags: &mut Diagnostics, quiet: bool) {
    let mut gens: BTreeMap<&str, (&str, Vec<String>)> = BTreeMap::new();
    for stage in &plan.stages {
        for d in &stage.decls {
            if let Spec::Generated(g) = &d.spec {
                gens.insert(&g.name, (&stage.name, g.fields()));
            }
        }
    }
    for u in uses {
        let Some((gen_stage, fields)) = gens.get(u.name.as_str()) else {
            if quiet {
                continue;
            }
            diags.push(
                at(&u.origin, format!("unknown generated value `{}`", u.name)).help(format!(
                    "generated values: {}",
                    if gens.is_empty() {
                        "none".to_string()
                    } else {
                        gens.keys().copied().collect::<Vec<_>>().join(", ")
                    }
                )),
            );
            continue;
        };
        if !fields.contains(&u.field) {
            diags.push(
                at(
                    &u.origin,
                    format!("generated value `{}` has no field `{}`", u.name, u.field),
                )
                .help(format!("fields: {}", fields.join(", "))),
            );
        }
        if !plan
            .needs_closure([u.stage.as_str()])
            .iter()
            .any(|s| s == gen_stage)
        {
            diags.push(
                at(&u.origin, format!(
                    "stage `{}` uses `{}`, generated by stage `{gen_stage}`, which it does not need",
                    u.stage, u.name
                ))
                .help(format!("add `{gen_stage}` to the needs of stage `{}`", u.stage)),
            );
        }
    }
}

/// A generated value's name is unique in the plan: values are kept by name in state.
fn check_unique_generated(plan: &Plan, diags: &mut Diagnostics) {
    let mut first: BTreeMap<&str, (&str, &Origin)> = BTreeMap::new();
    for stage in &plan.stages {
        for d in &stage.decls {
            let Spec::Generated(g) = &d.spec else {
                continue;
            };
            match first.get(g.name.as_str()) {
                Some((other, at_first)) => diags.push(
                    at(&d.origin, format!(
                        "generated value `{}` is already generated by stage `{other}` (at {at_first})",
                        g.name
                    ))
                    .help("generated values are kept by name: give each a name of its own"),
                ),
                None => {
                    first.insert(&g.name, (&stage.name, &d.origin));
                }
            }
        }
    }
}

/// Every explicit `needs` pattern compiles and matches something.
fn check_needs(plan: &Plan, diags: &mut Diagnostics) {
    let addresses: Vec<&Address> = plan
        .stages
        .iter()
        .flat_map(|s| s.decls.iter().map(|d| &d.address))
        .collect();
    let mut seen = BTreeSet::new();
    for d in plan.stages.iter().flat_map(|s| &s.decls) {
        for need in &d.needs {
            if !seen.insert((
                need.pattern.clone(),
                need.origin.line,
                need.origin.file.clone(),
            )) {
                continue;
            }
            match crate::graph::Pattern::new(&need.pattern) {
                Err(e) => diags.push(at(&need.origin, e.to_string())),
                Ok(p) if !addresses.iter().any(|a| p.matches(a.as_str())) => diags.push(
                    at(
                        &need.origin,
                        format!(
                            "needs `{}`, which matches no resource of the plan",
                            need.pattern
                        ),
                    )
                    .help("`mtm graph --format text` lists every address"),
                ),
                Ok(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("lab1"));
        assert!(!valid_name("Lab1"));
        assert!(!valid_name("a/b"));
        assert!(valid_var_name("CLUSTER1"));
        assert!(!valid_var_name("1X"));
    }
}
