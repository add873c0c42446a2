//! Manifest documents built straight from the YAML parser's events.
//!
//! serde-saphyr reads a manifest through serde's visitor machinery, which costs about twice
//! what its own parser (granit-parser) takes to produce the events. Manifests are almost
//! always plain Kubernetes YAML: mappings, sequences, untagged scalars. For those, this
//! module builds the JSON tree from the events itself, resolving each plain scalar as
//! serde-saphyr's default options do (null, YAML 1.1 booleans, integers, floats, text).
//!
//! Whatever lies outside that subset gives up rather than guess: a tag, an anchor or alias,
//! a merge key, a null-like or collection key, a duplicate key, a numeral it does not
//! decide (`1.5`, `0x1F`), a `%YAML` directive, a limit of serde-saphyr's default budget
//! reached, a syntax error. The caller then reads the file with serde-saphyr, so the tree
//! and every error are the library's. The tests read the same texts both ways, the
//! repository's manifests among them, and compare.

use granit_parser::{Event, Options, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// serde-saphyr's default budget, which a document within the subset must stay inside so
/// that giving up reproduces the library's own refusal.
const MAX_DEPTH: usize = 64;
const MAX_DOCUMENTS: usize = 1_024;
const MAX_NODES: usize = 250_000;
const MAX_EVENTS: usize = 1_000_000;

/// One document: where its root starts (1-based line and column) and its tree.
pub struct Document {
    pub line: u64,
    pub column: u64,
    pub body: Value,
}

/// A collection being filled.
enum Open {
    Seq(Vec<Value>),
    /// A mapping, and the key read whose value comes next.
    Map(Map<String, Value>, Option<String>),
}

/// The documents of `text`, or `None` when the text lies outside the subset this module
/// reads exactly (the caller reads it with serde-saphyr).
pub fn documents(text: &str) -> Option<Vec<Document>> {
    let mut options = Options::default();
    options.emit_comments = false;
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut builder = Builder::default();
    let mut events = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        events += 1;
        if events > MAX_EVENTS {
            return None;
        }
        builder.take(event, span)?;
    }
    Some(builder.done)
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    /// Where the current document's root starts.
    root_at: Option<(u64, u64)>,
    root: Option<Value>,
    nodes: usize,
    done: Vec<Document>,
}

impl Builder {
    /// Takes one event; `None` gives up.
    fn take(&mut self, event: Event, span: Span) -> Option<()> {
        match event {
            Event::StreamStart | Event::StreamEnd => Some(()),
            Event::DocumentStart(_, version) => {
                (version.is_none() && self.done.len() < MAX_DOCUMENTS).then_some(())
            }
            Event::DocumentEnd => self.end_document(),
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                self.node(span)?;
                if let Some(Open::Map(_, key @ None)) = self.stack.last_mut() {
                    *key = Some(plain_key(value.into_owned(), style)?);
                    return Some(());
                }
                let value = match style {
                    ScalarStyle::Plain => resolve_plain(&value)?,
                    _ => Value::String(value.into_owned()),
                };
                self.put(value)
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.open(Open::Seq(Vec::new()), anchor, tag.is_some(), span)
            }
            Event::MappingStart(_, anchor, tag) => {
                self.open(Open::Map(Map::new(), None), anchor, tag.is_some(), span)
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop()? {
                Open::Seq(items) => self.put(Value::Array(items)),
                Open::Map(map, None) => self.put(Value::Object(map)),
                Open::Map(_, Some(_)) => None,
            },
            _ => None,
        }
    }

    /// Opens a collection, unless it carries an anchor or a tag, nests past the budget, or
    /// stands as a mapping's key.
    fn open(&mut self, open: Open, anchor: usize, tagged: bool, span: Span) -> Option<()> {
        let as_key = matches!(self.stack.last(), Some(Open::Map(_, None)));
        if anchor != 0 || tagged || as_key || self.stack.len() >= MAX_DEPTH {
            return None;
        }
        self.node(span)?;
        self.stack.push(open);
        Some(())
    }

    /// Counts a node and notes where the document's root starts.
    fn node(&mut self, span: Span) -> Option<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return None;
        }
        if self.stack.is_empty() && self.root_at.is_none() {
            let at = span.start;
            self.root_at = Some((at.line() as u64, at.col() as u64 + 1));
        }
        Some(())
    }

    /// Puts a finished value where it belongs: the open collection, or the root.
    fn put(&mut self, value: Value) -> Option<()> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Some(())
            }
            Some(Open::Seq(items)) => {
                items.push(value);
                Some(())
            }
            Some(Open::Map(map, key)) => {
                let key = key.take()?;
                // A duplicate key: the library's policy decides.
                map.insert(key, value).is_none().then_some(())
            }
        }
    }

    fn end_document(&mut self) -> Option<()> {
        if !self.stack.is_empty() {
            return None;
        }
        let (line, column) = self.root_at.take().unwrap_or((1, 1));
        let body = self.root.take().unwrap_or(Value::Null);
        self.done.push(Document { line, column, body });
        Some(())
    }
}

/// A mapping key as text: any quoted or block scalar, and a plain one that is neither
/// null-like nor the merge key.
fn plain_key(key: String, style: ScalarStyle) -> Option<String> {
    let special = null_like(&key) || key == "<<";
    (style != ScalarStyle::Plain || !special).then_some(key)
}

/// The plain spellings of null.
fn null_like(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// An untagged plain scalar, resolved as serde-saphyr's defaults resolve one read into a
/// JSON value; `None` for a numeral this module does not decide (the file is read by the
/// library instead).
fn resolve_plain(text: &str) -> Option<Value> {
    if null_like(text) {
        return Some(Value::Null);
    }
    if let Some(b) = yaml11_bool(text) {
        return Some(Value::Bool(b));
    }
    // Not empty: the empty text is null.
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Some(Value::String(text.to_owned()));
    }
    if let Some(number) = plain_integer(text) {
        return Some(number);
    }
    // Text that cannot be a numeral for a character no numeral has (`-v`, `1.2.3-rc`,
    // `10:30`) is text; the rest (`1.5`, `0x1F`, `.inf`, `-`) is the library's to decide.
    let numeral = |b: u8| b.is_ascii_hexdigit() || b"xXoO+-._".contains(&b);
    let undecided = text.bytes().all(numeral)
        || matches!(
            text.trim_start_matches(['+', '-']),
            ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
        );
    (!undecided).then(|| Value::String(text.to_owned()))
}

/// `true`/`yes`/`y`/`on` and `false`/`no`/`n`/`off` in any case.
fn yaml11_bool(text: &str) -> Option<bool> {
    let is = |word: &str| text.eq_ignore_ascii_case(word);
    if is("true") || is("yes") || is("y") || is("on") {
        Some(true)
    } else if is("false") || is("no") || is("n") || is("off") {
        Some(false)
    } else {
        None
    }
}

/// A decimal integer written the one plain way (`0`, `8080`, `-3`; no sign `+`, no leading
/// zero, no underscore, no radix) that fits 64 bits; anything else numeral-like is `None`.
fn plain_integer(text: &str) -> Option<Value> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical || (negative && digits == "0") {
        return None;
    }
    if negative {
        text.parse::<i64>()
            .ok()
            .map(Number::from)
            .map(Value::Number)
    } else {
        text.parse::<u64>()
            .ok()
            .map(Number::from)
            .map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_saphyr::Spanned;

    /// What serde-saphyr makes of `text`: each document's position and tree.
    fn library(text: &str) -> Option<Vec<(u64, u64, Value)>> {
        let docs: Vec<Spanned<Value>> = serde_saphyr::from_multiple(text).ok()?;
        Some(
            docs.into_iter()
                .map(|d| (d.referenced.line(), d.referenced.column(), d.value))
                .filter(|(_, _, v)| !v.is_null())
                .collect(),
        )
    }

    fn ours(text: &str) -> Option<Vec<(u64, u64, Value)>> {
        Some(
            documents(text)?
                .into_iter()
                .map(|d| (d.line, d.column, d.body))
                .filter(|(_, _, v)| !v.is_null())
                .collect(),
        )
    }

    /// Read here, the text gives what the library gives.
    fn same(text: &str) {
        let mine = ours(text).unwrap_or_else(|| panic!("not read here:\n{text}"));
        assert_eq!(Some(mine), library(text), "\n{text}");
    }

    #[test]
    fn kubernetes_documents_read_as_the_library_reads_them() {
        same("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n");
        same(
            "# lead\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: b, namespace: a }\ndata:\n  k: \"1\"\n  j: '0755'\n  t: |\n    line\n    two\n  f: >\n    folded\n    text\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.27\n        args: [--port, \"8080\", -v]\n        ports: [{ containerPort: 8080 }]\n",
        );
        same("  apiVersion: v1\n  kind: Secret\n  stringData: { a: b }\n...\n");
        same("a: ${X}\nb: http://x:1/y\nc: -y\nd: ~\ne:\nf: a b  # c\n");
        same("a: plain\n  continued\n");
        same("just text\n---\n- a\n- b\n---\n--- {a: 1}\n--- # c\n\n  b: 2\n");
        same("a: \"\\u00e9\\t\\\"x\"\nb: 'it''s'\nc: |+\n  kept\n\nd: >-\n  stripped\n");
        same("a: 1\r\nb:\r\n  - c\r\n");
        same("\u{feff}a: 1\n");
    }

    #[test]
    fn plain_scalars_resolve_as_the_library_resolves_them() {
        let words = [
            "true",
            "True",
            "TRUE",
            "yes",
            "Yes",
            "y",
            "Y",
            "on",
            "ON",
            "false",
            "no",
            "N",
            "off",
            "null",
            "Null",
            "NULL",
            "~",
            "nan",
            "inf",
            "e5",
            "x1",
            "0",
            "7",
            "8080",
            "-3",
            "18446744073709551615",
            "-9223372036854775808",
            "9007199254740993",
            "-v",
            "--port",
            "1.2.3-rc",
            "10:30",
            "1:20",
            "0xZ",
            "+y",
            ".git",
            "-1h",
            "1 2",
            "500m",
            "1Gi",
            "30s",
        ];
        for word in words {
            same(&format!("k: {word}\nl: [{word}]\n"));
        }
    }

    #[test]
    fn what_is_not_decided_here_is_left_to_the_library() {
        let texts = [
            "k: 1.5\n",
            "k: 0x1F\n",
            "k: 0755\n",
            "k: +3\n",
            "k: 1e\n",
            "k: -\n",
            "k: -0\n",
            "k: 1_000\n",
            "k: .inf\n",
            "k: 18446744073709551616\n",
            "k: !!str 3\n",
            "a: &x 1\nb: *x\n",
            "<<: { a: 1 }\n",
            "a: 1\na: 2\n",
            "? [a]\n: 1\n",
            "~: 1\n",
            "%YAML 1.1\n---\na: 1\n",
            "a: [1\n",
            "a: b: c\n",
        ];
        for text in texts {
            assert!(ours(text).is_none(), "read here:\n{text}");
        }
    }

    /// Every manifest of the repository's plans and fixtures (helm templates aside).
    fn repository_manifests() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        let mut dirs = vec![root.join("plans"), root.join("tests/fixtures")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() && !path.ends_with("templates") && !path.ends_with("node_modules")
                {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    found.push(path);
                }
            }
        }
        found
    }

    #[test]
    fn the_repository_manifests_read_as_the_library_reads_them() {
        let mut workshop = 0;
        for path in repository_manifests() {
            let text = std::fs::read_to_string(&path).unwrap();
            let in_plan = path.components().any(|c| c.as_os_str() == "manifests");
            match ours(&text) {
                Some(mine) => {
                    assert_eq!(Some(mine), library(&text), "{}", path.display());
                    workshop += usize::from(in_plan);
                }
                // Every manifest of the plans is plain Kubernetes YAML, read here.
                None => assert!(!in_plan, "left to the library: {}", path.display()),
            }
        }
        assert!(workshop >= 10, "only {workshop} plan manifests found");
    }

    #[test]
    fn keys_that_look_like_values_stay_text() {
        same("true: 1\n1: a\n0x10: b\n1.5: c\n'~': d\n\"\": e\n");
    }

    #[test]
    fn nesting_past_the_library_budget_is_left_to_it() {
        let deep = format!(
            "{}1{}\n",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(ours(&deep).is_none());
        let ok = format!(
            "{}1{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        same(&ok);
    }
}
