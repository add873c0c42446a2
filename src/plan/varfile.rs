//! Variable files (`--var-file FILE`): a YAML or JSON mapping of variable names to
//! scalar values, as Terraform's `.tfvars` and helm's `--values` are used.
//!
//! JSON is read as YAML (it is a subset), strictly as plan files are (`yes` is text, a
//! key twice is an error), so one parser serves both and every problem names the file,
//! line and column. Numbers and booleans become their text; a list or a
//! mapping as a value is refused, since a variable holds a string.

use crate::diag::{Diagnostic, Diagnostics};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

/// One value read from a variable file, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileValue {
    pub value: String,
    pub file: String,
    pub line: u64,
    pub column: u64,
}

/// Reads the variable files in order; a later file wins for a name set twice.
pub fn read_all(files: &[impl AsRef<Path>]) -> Result<BTreeMap<String, FileValue>, Diagnostics> {
    let mut values = BTreeMap::new();
    let mut diags = Diagnostics::default();
    for file in files {
        match read(file.as_ref()) {
            Ok(read) => values.extend(read),
            Err(mut d) => diags.0.append(&mut d),
        }
    }
    diags.into_result().map(|()| values)
}

/// Reads the variable files, reporting each name the plan does not declare at its place
/// (problems go to `diags`; what could be read is returned).
pub fn declared_values(
    files: &[impl AsRef<Path>],
    declared: &[&str],
    diags: &mut Diagnostics,
) -> BTreeMap<String, FileValue> {
    let values = match read_all(files) {
        Ok(values) => values,
        Err(mut d) => {
            diags.0.append(&mut d.0);
            return BTreeMap::new();
        }
    };
    for (name, at) in &values {
        if !declared.contains(&name.as_str()) {
            diags.push(
                Diagnostic::new(
                    &at.file,
                    at.line,
                    at.column,
                    format!("unknown variable `{name}`"),
                )
                .help(format!("variables of this plan: {}", declared.join(", "))),
            );
        }
    }
    values
}

/// Reads one variable file.
fn read(path: &Path) -> Result<BTreeMap<String, FileValue>, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![
            Diagnostic::unplaced(&file, format!("cannot read the variable file: {e}"))
                .help("--var-file takes a YAML or JSON file of NAME: VALUE lines"),
        ]
    })?;
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let map: BTreeMap<String, Spanned<Value>> = super::yaml::parse_strict(&text)
        .map_err(|e| vec![super::yaml::diagnostic(&file, &text, &e)])?;
    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, spanned) in map {
        let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
        let value = match spanned.value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                problems.push(
                    Diagnostic::new(
                        &file,
                        line,
                        column,
                        format!("variable `{name}` must be a string, number or boolean"),
                    )
                    .help("a variable holds one text value; quote it if it spans lines"),
                );
                continue;
            }
        };
        values.insert(
            name,
            FileValue {
                value,
                file: file.clone(),
                line,
                column,
            },
        );
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn yaml_and_json_files_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.yaml",
            "CLUSTER1: east\nREPLICAS: 3\nON: true\n",
        );
        let b = write(dir.path(), "b.json", "{\"CLUSTER1\": \"west\"}");
        let values = read_all(&[a, b]).unwrap();
        assert_eq!(values["CLUSTER1"].value, "west");
        assert!(values["CLUSTER1"].file.ends_with("b.json"));
        assert_eq!(values["REPLICAS"].value, "3");
        assert_eq!(values["ON"].value, "true");
        assert_eq!(values["ON"].line, 3);
    }

    #[test]
    fn a_nested_value_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.yaml", "OK: x\nBAD:\n  - 1\n");
        let err = read_all(&[a]).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].message.contains("`BAD`"), "{}", err.0[0]);
        assert!(err.0[0].file.ends_with("a.yaml"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = read_all(&["/nonexistent/vars.yaml"]).unwrap_err();
        assert!(err.0[0].to_string().contains("/nonexistent/vars.yaml"));
    }
}
