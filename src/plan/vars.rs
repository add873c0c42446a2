//! Variables: resolving their values and interpolating `${NAME}` in strings.
//!
//! Precedence is `--var NAME=VALUE`, then `--var-file` (the last file that sets it), then
//! the environment variable `MTM_VAR_NAME`, then `NAME`, then the plan's default. `${gen.NAME.FIELD}` references are generated values: they are
//! found and checked here but left in place, because their values exist only at apply
//! time. This module does no I/O: the environment comes in as a lookup function.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum VarError {
    #[error("unknown variable `{0}`")]
    Unknown(String),
    #[error("unterminated `${{` (a literal `${{` is written `$${{`)")]
    Unterminated,
    #[error("empty reference `${{}}`")]
    Empty,
}

/// A variable's resolved value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub value: String,
    pub sensitive: bool,
    pub description: Option<String>,
    /// Where the value came from: `--var`, `--var-file FILE`, `environment NAME` or
    /// `default`.
    pub source: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables {
    pub vars: BTreeMap<String, Variable>,
}

/// One `${...}` found in a text, with its 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub line: u64,
    pub column: u64,
    pub kind: RefKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefKind {
    Var(String),
    /// `${gen.NAME.FIELD}`: (NAME, FIELD).
    Gen(String, String),
    Bad(VarError),
}

impl Variables {
    /// The values of sensitive variables that are not empty, for redaction.
    pub fn secrets(&self) -> BTreeSet<String> {
        self.vars
            .values()
            .filter(|v| v.sensitive && !v.value.is_empty())
            .map(|v| v.value.clone())
            .collect()
    }

    /// Replaces `${NAME}` by the variable's value and `$${` by `${`; leaves `${gen.*}`.
    pub fn interpolate(&self, text: &str) -> Result<String, VarError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(body) = tail.strip_prefix("${") {
                let end = body.find('}').ok_or(VarError::Unterminated)?;
                let name = body[..end].trim();
                if name.is_empty() {
                    return Err(VarError::Empty);
                }
                if name.starts_with("gen.") {
                    out.push_str(&tail[..end + 3]);
                } else {
                    let var = self
                        .vars
                        .get(name)
                        .ok_or_else(|| VarError::Unknown(name.to_string()))?;
                    out.push_str(&var.value);
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Interpolates every string (keys too) in a JSON value.
    pub fn interpolate_value(&self, value: &Value) -> Result<Value, VarError> {
        Ok(match value {
            Value::String(s) => Value::String(self.interpolate(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.interpolate_value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(self.interpolate(k)?, self.interpolate_value(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Interpolates every string of a serde type by a round trip through JSON.
    pub fn interpolate_typed<T: Serialize + DeserializeOwned>(
        &self,
        typed: &T,
    ) -> Result<T, VarError> {
        let value = serde_json::to_value(typed).expect("plan types serialize to JSON");
        let done = self.interpolate_value(&value)?;
        Ok(serde_json::from_value(done).expect("interpolation keeps the shape"))
    }
}

/// Every `${...}` in a text, with positions, for located errors and for edges.
pub fn scan(text: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut col = 0;
        let bytes = line.as_bytes();
        while col < bytes.len() {
            if line[col..].starts_with("$${") {
                col += 3;
                continue;
            }
            if line[col..].starts_with("${") {
                let at = Reference {
                    line: i as u64 + 1,
                    column: line[..col].chars().count() as u64 + 1,
                    kind: RefKind::Bad(VarError::Unterminated),
                };
                let body = &line[col + 2..];
                let Some(end) = body.find('}') else {
                    found.push(at);
                    break;
                };
                let name = body[..end].trim();
                let kind = if name.is_empty() {
                    RefKind::Bad(VarError::Empty)
                } else if let Some(g) = name.strip_prefix("gen.") {
                    match g.split_once('.') {
                        Some((n, f)) => RefKind::Gen(n.to_string(), f.to_string()),
                        None => RefKind::Gen(g.to_string(), String::new()),
                    }
                } else {
                    RefKind::Var(name.to_string())
                };
                found.push(Reference { kind, ..at });
                col += 2 + end + 1;
                continue;
            }
            col += line[col..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// Names of generated values a JSON value refers to.
pub fn gen_refs(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            for r in scan(s) {
                if let RefKind::Gen(name, _) = r.kind {
                    into.insert(name);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| gen_refs(v, into)),
        Value::Object(map) => map.values().for_each(|v| gen_refs(v, into)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        let mut v = Variables::default();
        v.vars.insert(
            "CLUSTER1".into(),
            Variable {
                value: "east-ag".into(),
                sensitive: false,
                description: None,
                source: "default".into(),
            },
        );
        v
    }

    #[test]
    fn interpolates_escapes_and_keeps_generated() {
        let v = vars();
        assert_eq!(
            v.interpolate("ctx ${CLUSTER1}, lit $${X}, gen ${gen.k.jwks} $5")
                .unwrap(),
            "ctx east-ag, lit ${X}, gen ${gen.k.jwks} $5"
        );
        assert_eq!(
            v.interpolate("${NOPE}"),
            Err(VarError::Unknown("NOPE".into()))
        );
        assert_eq!(v.interpolate("${CLUSTER1"), Err(VarError::Unterminated));
    }

    #[test]
    fn scan_reports_positions() {
        let refs = scan("a: 1\nb: x ${CLUSTER1} ${gen.jwt.token.alice}\nc: ${oops\n");
        assert_eq!(refs.len(), 3);
        assert_eq!((refs[0].line, refs[0].column), (2, 6));
        assert_eq!(refs[0].kind, RefKind::Var("CLUSTER1".into()));
        assert_eq!(
            refs[1].kind,
            RefKind::Gen("jwt".into(), "token.alice".into())
        );
        assert_eq!((refs[2].line, refs[2].column), (3, 4));
        assert_eq!(refs[2].kind, RefKind::Bad(VarError::Unterminated));
    }
}
