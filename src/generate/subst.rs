//! Putting generated values into text: `${gen.NAME.FIELD}` becomes the field's value.
//!
//! Runs after the plan's own interpolation, which has already replaced `${VAR}` and turned
//! `$${` into `${`; what is left to do here is the `${gen.*}` references. A `$${` still
//! present is copied as it is, and any other `${...}` is left alone. Manifests are already
//! parsed, so a value inside a YAML block scalar is a JSON string, and the multi-line JWKS
//! goes in as plain text. No I/O.

use super::Generated;
use serde_json::Value;
use std::collections::BTreeMap;

/// A `${gen.NAME.FIELD}` that cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubstError {
    #[error("`${{{reference}}}`: no generated value `{name}` (known: {known})")]
    UnknownName {
        reference: String,
        name: String,
        known: String,
    },
    #[error(
        "`${{{reference}}}`: generated value `{name}` has no field `{field}` (fields: {fields})"
    )]
    UnknownField {
        reference: String,
        name: String,
        field: String,
        fields: String,
    },
    #[error("unterminated `${{{start}` (a literal `${{` is written `$${{`)")]
    Unterminated { start: String },
}

/// Replaces every `${gen.NAME.FIELD}` in `text` by the field of the generated value NAME.
pub fn substitute(text: &str, values: &BTreeMap<String, Generated>) -> Result<String, SubstError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("$${");
            rest = after;
            continue;
        }
        let Some(body) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            if body.trim_start().starts_with("gen.") {
                let start: String = body.chars().take(40).collect();
                return Err(SubstError::Unterminated { start });
            }
            out.push_str("${");
            rest = body;
            continue;
        };
        match body[..end].trim().strip_prefix("gen.") {
            Some(reference) => out.push_str(resolve(reference, values)?),
            None => out.push_str(&tail[..end + 3]),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`substitute`] on every string of a JSON value, object keys included.
pub fn substitute_value(
    value: &Value,
    values: &BTreeMap<String, Generated>,
) -> Result<Value, SubstError> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(s, values)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_value(v, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(substitute(k, values)?, substitute_value(v, values)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// `NAME.FIELD` (the part after `gen.`) to the value; the name never holds a dot, the field
/// may (`token.alice`).
fn resolve<'a>(
    reference: &str,
    values: &'a BTreeMap<String, Generated>,
) -> Result<&'a str, SubstError> {
    let (name, field) = reference.split_once('.').unwrap_or((reference, ""));
    let full = format!("gen.{reference}");
    let generated = values.get(name).ok_or_else(|| SubstError::UnknownName {
        reference: full.clone(),
        name: name.to_string(),
        known: list(values.keys().map(String::as_str)),
    })?;
    generated
        .field(field)
        .ok_or_else(|| SubstError::UnknownField {
            reference: full,
            name: name.to_string(),
            field: field.to_string(),
            fields: list(generated.field_names()),
        })
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = items.collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::jwt::tests::{issued_at, spec};
    use super::*;
    use serde_json::json;

    fn values() -> BTreeMap<String, Generated> {
        let g = issued_at(&spec(None), 1_700_000_000);
        BTreeMap::from([(g.name().to_string(), g)])
    }

    #[test]
    fn replaces_references_inside_longer_strings() {
        let v = values();
        let g = &v["lab-jwt"];
        let alice = g.field("token.alice").unwrap();
        let bob = g.field("token.bob").unwrap();
        assert_eq!(
            substitute(
                "Bearer ${gen.lab-jwt.token.alice}, then ${ gen.lab-jwt.token.bob }.",
                &v
            )
            .unwrap(),
            format!("Bearer {alice}, then {bob}.")
        );
    }

    #[test]
    fn leaves_other_text_alone() {
        let v = values();
        for text in [
            "",
            "no references",
            "$5 and $ alone, ${HOME} and ${other.thing}",
            "literal $${gen.lab-jwt.jwks} stays",
            "unterminated ${HOME and a trailing $",
            "ünïcödé ${X} ✓",
        ] {
            assert_eq!(substitute(text, &v).unwrap(), text);
        }
    }

    #[test]
    fn jwks_in_a_block_scalar_becomes_its_json_text() {
        let v = values();
        // `inline: |\n  ${gen.lab-jwt.jwks}\n` as the YAML parser hands it over.
        let manifest = json!({
            "spec": { "jwks": { "inline": "${gen.lab-jwt.jwks}\n" }, "n": 3, "list": ["${gen.lab-jwt.token.bob}", true] }
        });
        let done = substitute_value(&manifest, &v).unwrap();
        let inline = done["spec"]["jwks"]["inline"].as_str().unwrap();
        let jwks: Value = serde_json::from_str(inline).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], v["lab-jwt"].kid());
        assert!(inline.ends_with("}\n"));
        assert_eq!(
            done["spec"]["list"][0],
            v["lab-jwt"].field("token.bob").unwrap()
        );
        assert_eq!(done["spec"]["list"][1], true);
        assert_eq!(done["spec"]["n"], 3);
    }

    #[test]
    fn substitutes_object_keys_too() {
        let v = values();
        let done = substitute_value(&json!({ "${gen.lab-jwt.token.bob}": 1 }), &v).unwrap();
        assert!(done.get(v["lab-jwt"].field("token.bob").unwrap()).is_some());
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = substitute("x ${gen.nope.jwks}", &values()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`${gen.nope.jwks}`: no generated value `nope` (known: lab-jwt)"
        );
    }

    #[test]
    fn unknown_field_is_an_error() {
        let err = substitute("${gen.lab-jwt.token.carol}", &values()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`${gen.lab-jwt.token.carol}`: generated value `lab-jwt` has no field \
             `token.carol` (fields: jwks, token.alice, token.bob)"
        );
        let err = substitute("${gen.lab-jwt}", &values()).unwrap_err();
        assert!(matches!(err, SubstError::UnknownField { ref field, .. } if field.is_empty()));
    }

    #[test]
    fn errors_in_json_values_surface() {
        let err = substitute_value(&json!({"a": ["${gen.x.y}"]}), &values()).unwrap_err();
        assert!(matches!(err, SubstError::UnknownName { ref name, .. } if name == "x"));
    }

    #[test]
    fn unterminated_gen_reference_is_an_error() {
        let err = substitute("${gen.lab-jwt.jwks", &values()).unwrap_err();
        assert!(matches!(err, SubstError::Unterminated { .. }), "{err}");
    }
}
