//! Manifests: plain Kubernetes YAML files, one object per document.
//!
//! This module turns a file's text into raw objects with the position of each document.
//! It checks only what every Kubernetes object needs (apiVersion, kind, metadata.name);
//! scope, clusters and variables are the loader's business.

use super::events::Document;
use crate::diag::Diagnostic;
use mtm_provider::{Manifest, ObjectId};
use serde_json::Value;
use serde_saphyr::Spanned;

/// One document of a manifest file.
#[derive(Clone, Debug)]
pub struct RawObject {
    pub line: u64,
    pub column: u64,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub body: Value,
}

/// A document once its variables are in: who it is, and its manifest held as text with
/// what it names of other objects (see `names`); the tree is gone.
#[derive(Clone, Debug)]
pub struct HeldObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub manifest: Manifest,
}

impl RawObject {
    /// The object with its tree turned into text, its names noted in its own namespace.
    pub fn hold(self) -> HeldObject {
        let (group, _) = ObjectId::split_api_version(&self.api_version);
        let names = super::names(&group, &self.kind, self.namespace.as_deref(), &self.body);
        HeldObject {
            manifest: Manifest::noting(&self.body, names),
            api_version: self.api_version,
            kind: self.kind,
            name: self.name,
            namespace: self.namespace,
        }
    }
}

/// The documents of a manifest file: built from the parser's events where the text allows
/// (see `events`), by serde-saphyr otherwise, whose error is the diagnostic.
fn read(file: &str, text: &str) -> Result<Vec<Document>, Vec<Diagnostic>> {
    if let Some(docs) = super::events::documents(text) {
        return Ok(docs);
    }
    let docs: Vec<Spanned<Value>> = serde_saphyr::from_multiple(text)
        .map_err(|e| vec![super::yaml::diagnostic(file, text, &e)])?;
    Ok(docs
        .into_iter()
        .map(|d| Document {
            line: d.referenced.line(),
            column: d.referenced.column(),
            body: d.value,
        })
        .collect())
}

/// Parses every document of a manifest file.
pub fn parse(file: &str, text: &str) -> Result<Vec<RawObject>, Vec<Diagnostic>> {
    let docs = read(file, text)?;
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for Document { line, column, body } in docs {
        let at = |msg: String| Diagnostic::new(file, line, column, msg);
        if body.is_null() {
            continue;
        }
        let Some(map) = body.as_object() else {
            problems.push(at(
                "a manifest document must be a Kubernetes object (a mapping)".into(),
            ));
            continue;
        };
        let text_of = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
        let meta = map.get("metadata").and_then(Value::as_object);
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match (text_of("apiVersion"), text_of("kind"), name) {
            (Some(api_version), Some(kind), Some(name)) if !name.is_empty() => {
                objects.push(RawObject {
                    line,
                    column,
                    api_version,
                    kind,
                    name,
                    namespace,
                    body,
                })
            }
            (None, _, _) => problems.push(
                at("manifest document has no apiVersion".into())
                    .help("every Kubernetes object needs apiVersion, kind and metadata.name"),
            ),
            (_, None, _) => problems.push(at("manifest document has no kind".into())),
            _ => problems.push(at("manifest document has no metadata.name".into())),
        }
    }
    if problems.is_empty() {
        Ok(objects)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_line() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: { name: a }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: b, namespace: a }\n";
        let objs = parse("m.yaml", text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].line, 5);
        assert_eq!(objs[1].namespace.as_deref(), Some("a"));
    }

    #[test]
    fn what_the_event_reader_leaves_is_read_by_the_library() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a, namespace: ns }\ndata: { x: &v 1.5, y: *v }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: ns }\n";
        assert!(crate::plan::events::documents(text).is_none());
        let objs = parse("m.yaml", text).unwrap();
        assert_eq!(objs[0].body["data"]["y"], serde_json::json!(1.5));
        assert_eq!((objs[1].line, objs[1].kind.as_str()), (6, "Namespace"));
        let err = parse("m.yaml", "a: [1\n").unwrap_err();
        assert!(err[0].message.starts_with("invalid YAML"), "{}", err[0]);
    }

    #[test]
    fn missing_name_is_located() {
        let err = parse(
            "m.yaml",
            "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: Namespace\nmetadata: {}\n",
        )
        .unwrap_err();
        assert_eq!(err.len(), 2);
        assert_eq!(err[1].line, 4);
        assert!(err[1].message.contains("metadata.name"), "{}", err[1]);
    }
}
