//! `fleet.yaml`: the instances of a fleet, each a name and what differs from the others.
//!
//! ```yaml
//! vars:                      # optional: every instance's (an instance's own win)
//!   AG_CHART_VERSION: 2.1.0
//! instances:
//!   - name: alice            # lowercase letters, digits and '-'
//!     vars: { CLUSTER1: alice-east, CLUSTER2: alice-west }
//!     kubeconfig: alice.kubeconfig        # optional: else --kubeconfig / KUBECONFIG
//!     state: kube://alice-east/mtm-state  # optional: else state/<name> beside this file
//! ```
//!
//! Relative paths are taken from the fleet file's directory, so a fleet file and its
//! kubeconfigs move together. Every problem is reported at once, each at
//! file:line:column, in the plan loader's words (`plan/yaml.rs`). Values are kept as
//! given and never shown: a variable may be sensitive.

use super::FleetError;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::valid_var_name;
use crate::store::Location;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A fleet file, loaded and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fleet {
    /// The file as given on the command line (for messages).
    pub file: String,
    /// In the file's order.
    pub instances: Vec<Instance>,
}

/// One instance of the plan: its own variables, clusters and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    /// The fleet's `vars`, then the instance's own (which win), as `NAME=VALUE`.
    pub vars: Vec<String>,
    pub kubeconfig: Option<PathBuf>,
    /// A directory or `kube://CONTEXT/NAMESPACE[/NAME]`.
    pub state: PathBuf,
    /// Where the instance is declared.
    pub line: u64,
    /// Where each of its variables is set (line, column): the instance's own, else the
    /// fleet's.
    pub var_at: BTreeMap<String, (u64, u64)>,
}

impl Fleet {
    /// Every variable an instance sets that `declared` lacks, at its line: the plan's
    /// loader would only name it as a `--var`.
    pub fn undeclared(&self, declared: &[&str]) -> Diagnostics {
        let mut diags = Diagnostics::default();
        let mut said: Vec<(u64, u64)> = Vec::new();
        for i in &self.instances {
            for (name, &(line, column)) in &i.var_at {
                if declared.contains(&name.as_str()) || said.contains(&(line, column)) {
                    continue;
                }
                said.push((line, column));
                diags.push(
                    Diagnostic::new(
                        &self.file,
                        line,
                        column,
                        format!("the plan has no variable `{name}`"),
                    )
                    .help(format!("variables of the plan: {}", declared.join(", "))),
                );
            }
        }
        diags
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    #[serde(default)]
    vars: BTreeMap<String, Spanned<Scalar>>,
    instances: Vec<Spanned<InstanceDecl>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceDecl {
    name: Spanned<String>,
    #[serde(default)]
    vars: BTreeMap<String, Spanned<Scalar>>,
    kubeconfig: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
}

/// A variable's value: text, or a number or boolean written bare (`PORT: 8080`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Whole(i64),
    Number(f64),
    Flag(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(t) => t.clone(),
            Scalar::Whole(n) => n.to_string(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Flag(b) => b.to_string(),
        }
    }
}

/// Reads and checks the fleet file at `path`.
pub fn load(path: &Path) -> Result<Fleet, FleetError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
        file: file.clone(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse(&file, &text, base).map_err(FleetError::Invalid)
}

/// Checks the text of a fleet file named `file`; relative paths are taken from `base`.
pub fn parse(file: &str, text: &str, base: &Path) -> Result<Fleet, Diagnostics> {
    let decl: FleetFile = crate::plan::yaml::parse_strict(text)
        .map_err(|e| Diagnostics(vec![crate::plan::yaml::diagnostic(file, text, &e)]))?;
    let mut diags = Diagnostics::default();
    let shared = vars(file, &decl.vars, &mut diags);
    if decl.instances.is_empty() {
        diags.push(
            Diagnostic::new(
                file,
                1,
                1,
                "`instances` is empty: a fleet needs an instance",
            )
            .help("list each instance with its name and vars"),
        );
    }
    let mut instances: Vec<Instance> = Vec::new();
    for spanned in &decl.instances {
        let d = &spanned.value;
        let (line, column) = (d.name.referenced.line(), d.name.referenced.column());
        let name = d.name.value.clone();
        if !valid_name(&name) {
            diags.push(
                Diagnostic::new(file, line, column, format!("instance name `{name}` is not lowercase letters, digits and '-' (at most 63)"))
                    .help("the name is used in paths and in state names: e.g. alice, team-3"),
            );
        }
        let twice = instances.iter().find(|i| i.name == name);
        if let Some(first) = twice {
            diags.push(Diagnostic::new(
                file,
                line,
                column,
                format!(
                    "instance `{name}` is listed twice (first at line {})",
                    first.line
                ),
            ));
        }
        let mut all = shared.clone();
        all.extend(vars(file, &d.vars, &mut diags));
        let var_at = all.iter().map(|(k, (_, at))| (k.clone(), *at)).collect();
        let state = match &d.state {
            Some(s) => placed(file, s, base, &mut diags),
            None => base.join("state").join(&name),
        };
        // A name listed twice shares its default state: said once, as the name.
        let shared_state = instances.iter().find(|i| i.state == state);
        if let Some(other) = shared_state.filter(|_| twice.is_none()) {
            let at = d.state.as_ref().map_or(&d.name, |s| s);
            diags.push(
                Diagnostic::new(
                    file,
                    at.referenced.line(),
                    at.referenced.column(),
                    format!(
                        "instance `{name}` keeps its state where `{}` does: {}",
                        other.name,
                        state.display()
                    ),
                )
                .help("each instance needs a state of its own (kube://CONTEXT/NAMESPACE/NAME names one in a shared namespace)"),
            );
        }
        instances.push(Instance {
            name,
            vars: all
                .into_iter()
                .map(|(k, (v, _))| format!("{k}={v}"))
                .collect(),
            var_at,
            kubeconfig: d.kubeconfig.as_ref().map(|k| base.join(&k.value)),
            state,
            line,
        });
    }
    diags.into_result().map(|()| Fleet {
        file: file.to_string(),
        instances,
    })
}

/// A state location as given, checked; a relative directory taken from `base`.
fn placed(file: &str, s: &Spanned<String>, base: &Path, diags: &mut Diagnostics) -> PathBuf {
    let given = Path::new(&s.value);
    match Location::parse(given) {
        Ok(Location::Dir(dir)) => base.join(dir),
        Ok(Location::Kube(_)) => given.to_path_buf(),
        Err(e) => {
            let line = (s.referenced.line(), s.referenced.column());
            diags.push(Diagnostic::new(
                file,
                line.0,
                line.1,
                format!("`state`: {e}"),
            ));
            given.to_path_buf()
        }
    }
}

/// Variables by name with where they are set, each name checked.
fn vars(
    file: &str,
    decl: &BTreeMap<String, Spanned<Scalar>>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, (String, (u64, u64))> {
    let mut out = BTreeMap::new();
    for (name, value) in decl {
        if !valid_var_name(name) {
            diags.push(Diagnostic::new(
                file,
                value.referenced.line(),
                value.referenced.column(),
                format!("variable name `{name}` must be letters, digits and underscores"),
            ));
        }
        let at = (value.referenced.line(), value.referenced.column());
        out.insert(name.clone(), (value.value.text(), at));
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(text: &str) -> Result<Fleet, Diagnostics> {
        parse("fleet.yaml", text, Path::new("/f"))
    }

    fn problems(text: &str) -> Vec<String> {
        fleet(text)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn instances_with_their_vars_state_and_kubeconfig() {
        let f = fleet(
            "vars: { AG_CHART_VERSION: 2.1.0, PORT: 8080 }\ninstances:\n  - name: alice\n    vars: { CLUSTER1: a-east, PORT: 9090 }\n    kubeconfig: k/alice.yaml\n    state: kube://a-east/mtm-state\n  - name: bob\n",
        )
        .unwrap();
        let alice = &f.instances[0];
        assert_eq!(alice.name, "alice");
        assert_eq!(
            alice.vars,
            ["AG_CHART_VERSION=2.1.0", "CLUSTER1=a-east", "PORT=9090"]
        );
        assert_eq!(
            alice.kubeconfig.as_deref(),
            Some(Path::new("/f/k/alice.yaml"))
        );
        assert_eq!(alice.state, Path::new("kube://a-east/mtm-state"));
        assert_eq!(alice.line, 3);
        let bob = &f.instances[1];
        assert_eq!(bob.state, Path::new("/f/state/bob"));
        assert_eq!(bob.kubeconfig, None);
        assert_eq!(bob.line, 7);
    }

    #[test]
    fn a_bad_key_is_refused_at_its_line() {
        let p = problems("instances:\n  - name: alice\n    contxt: east\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("fleet.yaml:3:"), "{p:?}");
        assert!(p[0].contains("contxt"), "{p:?}");
    }

    #[test]
    fn a_missing_name_is_refused_at_its_instance() {
        let p = problems("instances:\n  - name: alice\n  - vars: { CLUSTER1: x }\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("fleet.yaml:3:"), "{p:?}");
        assert!(p[0].contains("name"), "{p:?}");
    }

    #[test]
    fn names_twice_bad_names_shared_state_and_bad_locations_all_at_once() {
        let p = problems(
            "instances:\n  - name: alice\n  - name: alice\n  - name: Bob_1\n    state: state/alice\n  - name: carol\n    state: kube://east\n",
        );
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(
            p[0].starts_with("fleet.yaml:3:11: instance `alice` is listed twice (first at line 2)"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("fleet.yaml:4:11: instance name `Bob_1`"),
            "{p:?}"
        );
        assert!(
            p[2].starts_with(
                "fleet.yaml:5:12: instance `Bob_1` keeps its state where `alice` does"
            ),
            "{p:?}"
        );
        assert!(
            p[3].starts_with("fleet.yaml:7:12: `state`: state location kube://east"),
            "{p:?}"
        );
    }

    #[test]
    fn a_variable_the_plan_lacks_is_named_at_its_line_once() {
        let f = fleet(
            "vars: { NOPE: 1 }\ninstances:\n  - name: a\n    vars: { CLUSTER1: x, CLUSTR2: y }\n  - name: b\n",
        )
        .unwrap();
        let p: Vec<String> = f
            .undeclared(&["CLUSTER1", "CLUSTER2"])
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("fleet.yaml:4:35: the plan has no variable `CLUSTR2`"),
            "{p:?}"
        );
        assert!(
            p[0].ends_with("help: variables of the plan: CLUSTER1, CLUSTER2"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("fleet.yaml:1:15: the plan has no variable `NOPE`"),
            "{p:?}"
        );
        assert!(f.undeclared(&["CLUSTER1", "CLUSTR2", "NOPE"]).is_empty());
    }

    #[test]
    fn no_instances_and_bad_var_names() {
        assert!(problems("instances: []\n")[0].contains("`instances` is empty"));
        let p = problems("instances:\n  - name: a\n    vars: { 1X: y }\n");
        assert!(p[0].starts_with("fleet.yaml:3:"), "{p:?}");
        assert!(p[0].contains("`1X`"), "{p:?}");
        assert!(problems("{}\n")[0].contains("instances"));
    }
}
