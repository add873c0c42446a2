//! YAML for plan and stage files: strict YAML 1.2 scalars, and errors in the project's
//! words.
//!
//! Plan and stage files take `true`/`false` only for booleans (`yes`, `on` are errors, not
//! booleans); duplicate keys are errors. A YAML error becomes a located [`Diagnostic`]
//! naming the field at fault where the position shows one, and never passes on the
//! library's advice to its own callers ("set DuplicateKeyPolicy in Options"). Manifests
//! are plain Kubernetes YAML and keep the library's defaults (see `manifest`).

use crate::diag::Diagnostic;
use serde::de::DeserializeOwned;
use serde_saphyr::{Error, Options};

fn strict() -> Options {
    let mut options = Options::default();
    options.strict_booleans = true;
    // YAML 1.1 spellings are text, not numbers (`1_000`, `0755`).
    options.underscored_numbers_as_strings = true;
    options.leading_zero_numbers_as_strings = true;
    options.with_snippet = false;
    options
}

/// Parses a plan or stage file.
pub fn parse_strict<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_saphyr::from_str_with_options(text, strict())
}

/// Where an error is: line and column (1-based), the file's start when unknown.
fn position(err: &Error) -> (u64, u64) {
    err.location()
        .map(|l| (l.line(), l.column()))
        .filter(|(line, _)| *line > 0)
        .unwrap_or((1, 1))
}

/// A diagnostic for a YAML error in `file`, whose text is `text`.
pub fn diagnostic(file: &str, text: &str, err: &Error) -> Diagnostic {
    let (mut line, mut column) = position(err);
    let message = words(err);
    // A value refused by the schema may be reported at its mapping: find the value.
    if scalar_error(err)
        && field_at(text, line, column).is_none()
        && let Some(at) = value_of(&message).and_then(|v| find_after(text, line, column, &v))
    {
        (line, column) = at;
    }
    let message = match field_at(text, line, column) {
        Some(field) if scalar_error(err) => format!("`{field}`: {message}"),
        _ => message,
    };
    Diagnostic::new(file, line, column, format!("invalid YAML: {message}"))
}

/// The refused value a serde message quotes (`string "200"`, `floating point `2.5``).
fn value_of(message: &str) -> Option<String> {
    if let Some(rest) = message.split_once("string \"").map(|(_, r)| r) {
        return rest.split_once('"').map(|(v, _)| v.to_string());
    }
    let (_, rest) = message.split_once('`')?;
    rest.split_once('`').map(|(v, _)| v.to_string())
}

/// Where `value` (bare or quoted) first appears at or after `line`:`column`.
fn find_after(text: &str, line: u64, column: u64, value: &str) -> Option<(u64, u64)> {
    let mut offset = 0;
    for (i, row) in text.split_inclusive('\n').enumerate() {
        if (i as u64) + 1 == line {
            offset += row
                .char_indices()
                .nth(usize::try_from(column).ok()?.saturating_sub(1))
                .map_or(row.len(), |(b, _)| b);
            break;
        }
        offset += row.len();
    }
    let rest = text.get(offset..)?;
    let hit = [
        format!("\"{value}\""),
        format!("'{value}'"),
        value.to_string(),
    ]
    .iter()
    .filter_map(|v| rest.find(v.as_str()))
    .min()?;
    let before = &text[..offset + hit];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    Some((line, column))
}

/// Errors about one scalar's value (where naming its field helps).
fn scalar_error(err: &Error) -> bool {
    matches!(
        err.without_snippet(),
        Error::InvalidBooleanStrict { .. }
            | Error::InvalidScalar { .. }
            | Error::SerdeInvalidType { .. }
            | Error::SerdeInvalidValue { .. }
            | Error::NullIntoString { .. }
            | Error::QuotingRequired { .. }
    )
}

/// The key of the `key: value` pair whose value starts at `line`:`column`, if any.
fn field_at(text: &str, line: u64, column: u64) -> Option<String> {
    let row = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let before: String = row
        .chars()
        .take(usize::try_from(column).ok()?.saturating_sub(1))
        .collect();
    let before = before.trim_end().strip_suffix(':')?.trim_end();
    let key: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!key.is_empty()).then_some(key)
}

/// The error's message, without position, and in the project's words.
pub fn words(err: &Error) -> String {
    match err.without_snippet() {
        Error::DuplicateMappingKey { key: Some(k), .. } => {
            format!("key `{k}` appears twice in one mapping")
        }
        Error::DuplicateMappingKey { key: None, .. } => "a key appears twice in one mapping".into(),
        Error::MultipleDocuments { .. } => {
            "more than one YAML document (`---`): this file holds exactly one".into()
        }
        Error::Budget { breach, .. } => {
            let what = format!("{breach:?}");
            let what: String = what
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            format!(
                "the file is larger or nests deeper than a plan file may ({} limit)",
                what.to_lowercase()
            )
        }
        Error::InvalidBooleanStrict { .. } => "not a boolean: write true or false".into(),
        Error::NullIntoString { .. } => "empty value where text is expected".into(),
        Error::InvalidUtf8Input => "the file is not UTF-8 text".into(),
        Error::InvalidScalar { ty, .. } => match whole_number_range(ty) {
            Some(range) => format!("expected a whole number ({range})"),
            None => format!("not a valid {ty}"),
        },
        _ => bare_message(err),
    }
}

/// The range of an integer type, by its Rust name.
fn whole_number_range(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "u8" => "0 to 255",
        "u16" => "0 to 65535",
        "u32" => "0 to 4294967295",
        "u64" | "usize" => "0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "without a fraction",
        _ => return None,
    })
}

/// The library's message without position, snippet, or advice addressed to programmers.
fn bare_message(err: &Error) -> String {
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((_, msg)) => msg,
        None => first,
    };
    let first = match first.rfind(" at line ") {
        Some(at) => &first[..at],
        None => first,
    };
    // Advice to the programmer ("...; use Option<String>", "..., set X in Options").
    let cut = [
        "; use ",
        ", use ",
        ", set ",
        "; set ",
        " in Options",
        "Option<",
    ]
    .iter()
    .filter_map(|m| first.find(m))
    .min();
    let first = match cut {
        Some(at) => first[..at].trim_end(),
        None => first,
    };
    // serde's "invalid type: X, expected Y" reads better the other way round.
    let wrong = first
        .strip_prefix("invalid type: ")
        .or_else(|| first.strip_prefix("invalid value: "))
        .and_then(|r| r.split_once(", expected "));
    match wrong {
        Some((got, expected)) => format!("expected {expected}, got {got}"),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Flag {
        sensitive: bool,
    }

    #[test]
    fn yes_is_not_a_boolean_and_the_field_is_named() {
        let text = "sensitive: yes\n";
        let err = parse_strict::<Flag>(text).unwrap_err();
        let d = diagnostic("f.yaml", text, &err);
        assert_eq!((d.line, d.column), (1, 12));
        assert!(d.message.contains("`sensitive`"), "{}", d.message);
        assert!(!d.message.contains("strict mode"), "{}", d.message);
    }

    #[test]
    fn duplicate_keys_in_our_words() {
        let text = "sensitive: true\nsensitive: false\n";
        let err = parse_strict::<Flag>(text).unwrap_err();
        let d = diagnostic("f.yaml", text, &err);
        assert!(d.message.contains("appears twice"), "{}", d.message);
        assert!(!d.message.contains("Options"), "{}", d.message);
    }

    #[test]
    fn field_at_flow_and_block() {
        assert_eq!(
            field_at("a: { status: 999 }\n", 1, 14).as_deref(),
            Some("status")
        );
        assert_eq!(field_at("  x: yes\n", 1, 6).as_deref(), Some("x"));
        assert_eq!(field_at("- yes\n", 1, 3), None);
    }
}
