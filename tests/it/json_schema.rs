//! A JSON Schema (draft 2020-12) checker for the keywords docs/schemas/ uses, and no
//! others: a schema using a keyword it does not know is refused, so it cannot pass an
//! output by ignoring a rule. Written here rather than taken from a crate because the
//! validators on crates.io bring second versions of getrandom and hashbrown into the
//! workspace (see the README's dependency notes).

use serde_json::{Map, Value};

/// Keywords that only annotate; they never constrain.
const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "$defs"];
/// Keywords this checker enforces.
const RULES: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "const",
    "enum",
    "$ref",
    "oneOf",
];

/// A schema document, checked for unknown keywords when built.
pub struct Schema {
    root: Value,
}

impl Schema {
    pub fn new(root: Value) -> Result<Self, String> {
        known_keywords(&root, "#")?;
        Ok(Self { root })
    }

    /// Every way `value` breaks the schema, each with its JSON pointer.
    pub fn problems(&self, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.check(&self.root, value, "", &mut out);
        out
    }

    pub fn accepts(&self, value: &Value) -> bool {
        self.problems(value).is_empty()
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
        let Some(rules) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                out.push(format!("{at}: nothing is allowed here"));
            }
            return;
        };
        if let Some(target) = rules.get("$ref").and_then(Value::as_str) {
            let resolved = self.resolve(target);
            self.check(resolved, value, at, out);
        }
        if let Some(types) = rules.get("type") {
            check_type(types, value, at, out);
        }
        if let Some(expected) = rules.get("const")
            && expected != value
        {
            out.push(format!("{at}: {value} is not {expected}"));
        }
        if let Some(options) = rules.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            out.push(format!("{at}: {value} is not one of {options:?}"));
        }
        if let (Some(min), Some(n)) = (rules.get("minimum").and_then(Value::as_f64), value.as_f64())
            && n < min
        {
            out.push(format!("{at}: {n} is below {min}"));
        }
        if let Some(options) = rules.get("oneOf").and_then(Value::as_array) {
            let fits = options.iter().filter(|o| self.fits(o, value)).count();
            if fits != 1 {
                out.push(format!("{at}: fits {fits} of the oneOf options, not 1"));
            }
        }
        if let Value::Object(fields) = value {
            self.check_object(rules, fields, at, out);
        }
        if let (Some(items), Value::Array(list)) = (rules.get("items"), value) {
            for (i, item) in list.iter().enumerate() {
                self.check(items, item, &format!("{at}/{i}"), out);
            }
        }
    }

    fn check_object(
        &self,
        rules: &Map<String, Value>,
        fields: &Map<String, Value>,
        at: &str,
        out: &mut Vec<String>,
    ) {
        for name in rules
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                out.push(format!("{at}: required field {name:?} is missing"));
            }
        }
        let named = rules.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            let path = format!("{at}/{name}");
            match named.and_then(|n| n.get(name)) {
                Some(schema) => self.check(schema, field, &path, out),
                None => {
                    if let Some(extra) = rules.get("additionalProperties") {
                        self.check(extra, field, &path, out);
                    }
                }
            }
        }
    }

    fn fits(&self, schema: &Value, value: &Value) -> bool {
        let mut out = Vec::new();
        self.check(schema, value, "", &mut out);
        out.is_empty()
    }

    fn resolve(&self, target: &str) -> &Value {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $ref is supported, not {target}"));
        self.root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("$ref {target} names nothing"))
    }
}

fn check_type(types: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let names: Vec<&str> = match types {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !names.iter().any(|name| is_type(name, value)) {
        out.push(format!("{at}: {value} is not of type {names:?}"));
    }
}

fn is_type(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => panic!("unknown type {other:?}"),
    }
}

/// Refuses a keyword the checker would silently skip, anywhere in the schema.
fn known_keywords(schema: &Value, at: &str) -> Result<(), String> {
    let Some(rules) = schema.as_object() else {
        return match schema {
            Value::Bool(_) => Ok(()),
            other => Err(format!(
                "{at}: a schema is an object or a boolean, not {other}"
            )),
        };
    };
    for (key, sub) in rules {
        if !ANNOTATIONS.contains(&key.as_str()) && !RULES.contains(&key.as_str()) {
            return Err(format!("{at}: keyword {key:?} is not supported"));
        }
        let here = format!("{at}/{key}");
        match key.as_str() {
            "properties" | "$defs" => {
                for (name, s) in sub.as_object().into_iter().flatten() {
                    known_keywords(s, &format!("{here}/{name}"))?;
                }
            }
            "oneOf" => {
                for (i, s) in sub.as_array().into_iter().flatten().enumerate() {
                    known_keywords(s, &format!("{here}/{i}"))?;
                }
            }
            "items" | "additionalProperties" => known_keywords(sub, &here)?,
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn the_checker_enforces_each_keyword_it_knows() {
    let schema = Schema::new(serde_json::json!({
        "$defs": { "n": { "type": "integer", "minimum": 0 } },
        "type": "object",
        "properties": {
            "version": { "const": 1 },
            "kind": { "enum": ["a", "b"] },
            "count": { "$ref": "#/$defs/n" },
            "list": { "type": "array", "items": { "type": ["string", "null"] } },
            "either": { "oneOf": [{ "type": "string" }, { "type": "integer" }] }
        },
        "required": ["version"],
        "additionalProperties": false
    }))
    .unwrap();
    let good = serde_json::json!({
        "version": 1, "kind": "a", "count": 2, "list": ["x", null], "either": 3
    });
    assert!(schema.accepts(&good), "{:?}", schema.problems(&good));
    for bad in [
        serde_json::json!({ "kind": "a" }),
        serde_json::json!({ "version": 2 }),
        serde_json::json!({ "version": 1, "kind": "c" }),
        serde_json::json!({ "version": 1, "count": -1 }),
        serde_json::json!({ "version": 1, "count": 1.5 }),
        serde_json::json!({ "version": 1, "list": [1] }),
        serde_json::json!({ "version": 1, "either": true }),
        serde_json::json!({ "version": 1, "extra": 0 }),
        serde_json::json!([]),
    ] {
        assert!(!schema.accepts(&bad), "{bad} was accepted");
    }
    assert!(Schema::new(serde_json::json!({ "pattern": "x" })).is_err());
    assert!(Schema::new(serde_json::json!({ "items": { "maxItems": 1 } })).is_err());
}
