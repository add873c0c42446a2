//! Loading a plan directory: `plan.yaml`, the stage files and their manifests.
//!
//! The loader reads files and the environment given to it, and reports every problem of
//! the plan in one [`Diagnostics`], each located at file:line:column. It decides the
//! address of every declaration: the first stage (in plan order) that declares an object
//! names it, so a later stage that re-declares or removes it speaks of the same address.

mod address;
mod checks;
mod scopes;
mod stages;

use super::files::PlanDir;
use super::schema::PlanFile;
use super::step::{GenUse, RawDecl};
use super::vars::{self, RefKind, Variable, Variables};
use super::yaml;
use super::{Cluster, LoadResult, Plan, Stage};
use crate::diag::{Diagnostic, Diagnostics};
use address::{Namer, finish};
use checks::{check_generated, check_hand_edit_managers, check_needs, check_unique_generated};
use mtm_provider::resource::Origin;
use scopes::Scopes;
use stages::StageReader;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

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

/// Whether a cluster, stage or step name is lowercase letters, digits and dashes.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether a variable name is letters, digits and underscores, not starting with a digit.
pub(crate) fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The prefix of the environment variable that sets a plan variable and wins over the
/// variable of the bare name (`MTM_VAR_CLUSTER1` over `CLUSTER1`).
pub const VAR_ENV_PREFIX: &str = "MTM_VAR_";

/// The names of the variables `plan.yaml` in `dir` declares, none of them resolved;
/// `None` when the file cannot be read or parsed (loading the plan says why).
pub fn declared_variables(dir: &Path) -> Option<Vec<String>> {
    let shown = dir.display().to_string();
    let plan_path = format!("{}/plan.yaml", shown.trim_end_matches('/'));
    let (_, file) = read_plan_file(&PlanDir::new(dir, &shown), &plan_path).ok()?;
    Some(file.variables.into_keys().collect())
}

/// `state:` of `plan.yaml` in `dir`, its variables filled in, without reading the stages;
/// `None` when there is none or the file does not load (loading the plan says why).
pub fn declared_state(
    dir: &Path,
    opts: &LoadOptions,
    var_files: &[std::path::PathBuf],
) -> Option<String> {
    let shown = dir.display().to_string();
    let plan_path = format!("{}/plan.yaml", shown.trim_end_matches('/'));
    let (_, file) = read_plan_file(&PlanDir::new(dir, &shown), &plan_path).ok()?;
    let mut diags = Diagnostics::default();
    let variables = resolve_variables(&file, &plan_path, opts, var_files, &mut diags);
    state_of(&file, &variables)
}

/// `state:`, variables filled in; an empty one is none.
fn state_of(file: &PlanFile, variables: &Variables) -> Option<String> {
    file.state
        .as_ref()
        .and_then(|s| variables.interpolate(&s.value).ok())
        .filter(|s| !s.is_empty())
}

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
    let files = PlanDir::new(dir, &display_dir);
    let (text, file) = read_plan_file(&files, &plan_path)?;
    let mut diags = Diagnostics::default();
    let variables = resolve_variables(&file, &plan_path, opts, var_files, &mut diags);
    check_hand_edit_managers(&file, &plan_path, &mut diags);
    check_plan_refs(&file, &text, &plan_path, &mut diags);
    let clusters = clusters(&file, &variables, &plan_path, &mut diags);
    let order = stage_order(&file, &plan_path, &mut diags);

    let reader = StageReader {
        files: &files,
        order: &order,
        variables: &variables,
        clusters: &clusters,
    };
    let mut stages: Vec<(Stage, Vec<RawDecl>)> = Vec::new();
    let mut gen_uses = Vec::new();
    for read in read_stages(&reader, order.len()) {
        diags.0.extend(read.diags.0);
        gen_uses.extend(read.gen_uses);
        stages.extend(read.stage);
    }
    let stages = address_all(stages, &mut diags);
    let state = state_of(&file, &variables);
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
        state,
    };
    check_unique_generated(&plan, &mut diags);
    let quiet = !diags.is_empty();
    check_generated(&plan, &gen_uses, &mut diags, quiet);
    if !quiet {
        check_needs(&plan, &mut diags);
    }
    diags.into_result().map(|()| plan)
}

/// One stage file as read: the stage (unless it could not be), what was wrong, and the
/// generated values it uses.
struct StageRead {
    stage: Option<(Stage, Vec<RawDecl>)>,
    diags: Diagnostics,
    gen_uses: Vec<GenUse>,
}

/// Every stage of the order read, on as many threads as there are cores (stage files are
/// independent until addresses are given), and given back in plan order so the problems
/// are reported as a sequential read would report them.
fn read_stages(reader: &StageReader, count: usize) -> Vec<StageRead> {
    let read = |index: usize| {
        let (mut diags, mut gen_uses) = (Diagnostics::default(), Vec::new());
        let stage = reader.read(index, &mut diags, &mut gen_uses);
        StageRead {
            stage,
            diags,
            gen_uses,
        }
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(count);
    if workers <= 1 {
        return (0..count).map(read).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, StageRead)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= count {
                            return mine;
                        }
                        mine.push((i, read(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// plan.yaml's text and its parsed shape; the one problem that stops loading otherwise.
fn read_plan_file(files: &PlanDir, plan_path: &str) -> Result<(String, PlanFile), Diagnostics> {
    let mut diags = Diagnostics::default();
    let text = match files.read("plan.yaml") {
        Ok(t) => t,
        Err(e) => {
            let d = match e.position() {
                Some(_) => e.diagnostic("the plan", plan_path, 0, 0),
                None => Diagnostic::unplaced(plan_path, e.describe("the plan"))
                    .help("--plan takes a plan directory holding plan.yaml"),
            };
            diags.push(d);
            return Err(diags);
        }
    };
    match yaml::parse_strict(&text) {
        Ok(file) => Ok((text, file)),
        Err(e) => {
            diags.push(yaml::diagnostic(plan_path, &text, &e));
            Err(diags)
        }
    }
}

/// Reports plan.yaml's unknown variables, bad references and generated values (which it
/// cannot use).
fn check_plan_refs(file: &PlanFile, text: &str, plan_path: &str, diags: &mut Diagnostics) {
    for r in vars::scan(text) {
        match r.kind {
            RefKind::Var(name) if !file.variables.contains_key(&name) => diags.push(
                Diagnostic::new(
                    plan_path,
                    r.line,
                    r.column,
                    format!("unknown variable `{name}`"),
                )
                .help("declare it under `variables:`"),
            ),
            RefKind::Gen(..) => diags.push(Diagnostic::new(
                plan_path,
                r.line,
                r.column,
                "generated values cannot be used in plan.yaml",
            )),
            RefKind::Bad(e) => {
                diags.push(Diagnostic::new(plan_path, r.line, r.column, e.to_string()))
            }
            RefKind::Var(_) => {}
        }
    }
}

/// The plan's clusters with their contexts interpolated; bad names and empty contexts
/// reported.
fn clusters(
    file: &PlanFile,
    variables: &Variables,
    plan_path: &str,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Cluster> {
    let mut clusters = BTreeMap::new();
    for (name, decl) in &file.clusters {
        let (line, col) = (decl.referenced.line(), decl.referenced.column());
        if !valid_name(name) {
            diags.push(Diagnostic::new(
                plan_path,
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
                plan_path,
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
    clusters
}

/// The stages of plan.yaml in order, each with where it is listed; bad names, repeats and
/// no stages at all reported.
fn stage_order(file: &PlanFile, plan_path: &str, diags: &mut Diagnostics) -> Vec<(String, Origin)> {
    let mut order: Vec<(String, Origin)> = Vec::new();
    for s in &file.stages {
        let at = Origin {
            file: plan_path.to_string(),
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
            Diagnostic::new(plan_path, 1, 1, "the plan has no stages")
                .help("list them under `stages:`"),
        );
    }
    order
}

/// Every raw declaration given its address, stage by stage in plan order.
fn address_all(mut stages: Vec<(Stage, Vec<RawDecl>)>, diags: &mut Diagnostics) -> Vec<Stage> {
    // Once something is reported, a declaration may be missing (a file unread, a step
    // dropped): checks that need every declaration (custom kinds, removals, generated
    // values, needs patterns) would then report only consequences of it, so they stay
    // quiet. Duplicates and local problems are reported regardless.
    let scopes = Scopes::learn(&stages);
    let mut namer = Namer::default();
    for (stage, raw) in &mut stages {
        for r in raw.drain(..) {
            let quiet = !diags.is_empty();
            if let Some(decl) = finish(&stage.name, r, &scopes, &mut namer, diags, quiet) {
                stage.decls.push(decl);
            }
        }
    }
    stages.into_iter().map(|(s, _)| s).collect()
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

/// The plan's variables, each from the first source that has it (see [`pick`]);
/// unknown `--var` names, bad names and variables with no value reported.
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

/// A diagnostic at `o`.
fn at(o: &Origin, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&o.file, o.line, o.column, message)
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
