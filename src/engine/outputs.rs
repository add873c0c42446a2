//! `mtm output`: the values a person running the workshop by hand needs, by name: the
//! plan's variables (`var.CLUSTER1`) and the generated values kept in `state/secrets/`
//! (`gen.lab-jwt.jwks`, `gen.lab-jwt.token.alice`).
//!
//! Sensitive ones (sensitive variables, every generated value) are masked in a listing
//! and shown only when asked for by name or with `--show-sensitive`. Pure: the caller
//! reads the plan and the secrets files and prints.

use super::values::GenValues;
use crate::plan::Plan;
use serde::Serialize;

/// One named value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Output {
    pub name: String,
    pub sensitive: bool,
    /// `None` for a generated value not made yet (no apply of its stage so far).
    pub value: Option<String>,
}

/// Why a name cannot be shown.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("no output named `{name}` (known: {known})")]
    Unknown { name: String, known: String },
    #[error(
        "`{name}` is not generated yet: apply the stage that declares `{generator}` first (mtm apply)"
    )]
    NotYet { name: String, generator: String },
}

/// Every output of `plan`, variables first, by name; generated values from `gens`.
pub fn all(plan: &Plan, gens: &GenValues) -> Vec<Output> {
    let mut out: Vec<Output> = plan
        .variables
        .vars
        .iter()
        .map(|(name, v)| Output {
            name: format!("var.{name}"),
            sensitive: v.sensitive,
            value: Some(v.value.clone()),
        })
        .collect();
    let specs = plan
        .stages
        .iter()
        .flat_map(|s| &s.decls)
        .filter_map(|d| d.spec.generated());
    let mut seen = std::collections::BTreeSet::new();
    for spec in specs.filter(|g| seen.insert(g.name.clone())) {
        let made = gens.get(&spec.name);
        for field in spec.fields() {
            out.push(Output {
                name: format!("gen.{}.{field}", spec.name),
                sensitive: true,
                value: made.and_then(|g| g.field(&field)).map(str::to_string),
            });
        }
    }
    out
}

/// The value of the output `name`.
pub fn one<'a>(outputs: &'a [Output], name: &str) -> Result<&'a str, OutputError> {
    let Some(o) = outputs.iter().find(|o| o.name == name) else {
        let known: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
        return Err(OutputError::Unknown {
            name: name.to_string(),
            known: known.join(", "),
        });
    };
    o.value.as_deref().ok_or_else(|| OutputError::NotYet {
        name: name.to_string(),
        generator: name
            .strip_prefix("gen.")
            .and_then(|rest| rest.split('.').next())
            .unwrap_or(name)
            .to_string(),
    })
}

/// `outputs` with sensitive values replaced by `mask` unless `show_sensitive`.
pub fn masked(outputs: &[Output], show_sensitive: bool, mask: &str) -> Vec<Output> {
    outputs
        .iter()
        .map(|o| Output {
            value: match &o.value {
                Some(_) if o.sensitive && !show_sensitive => Some(mask.to_string()),
                other => other.clone(),
            },
            ..o.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Output> {
        vec![
            Output {
                name: "var.CLUSTER1".into(),
                sensitive: false,
                value: Some("east-ag".into()),
            },
            Output {
                name: "gen.lab-jwt.token.alice".into(),
                sensitive: true,
                value: Some("a.b.c".into()),
            },
            Output {
                name: "gen.lab-jwt.token.bob".into(),
                sensitive: true,
                value: None,
            },
        ]
    }

    #[test]
    fn by_name_shows_the_value_and_says_what_is_missing() {
        let o = sample();
        assert_eq!(one(&o, "gen.lab-jwt.token.alice"), Ok("a.b.c"));
        assert_eq!(
            one(&o, "gen.lab-jwt.token.bob").unwrap_err().to_string(),
            "`gen.lab-jwt.token.bob` is not generated yet: apply the stage that declares `lab-jwt` first (mtm apply)"
        );
        let err = one(&o, "gen.nope").unwrap_err().to_string();
        assert!(err.contains("no output named `gen.nope`"), "{err}");
        assert!(
            err.contains("var.CLUSTER1, gen.lab-jwt.token.alice"),
            "{err}"
        );
    }

    #[test]
    fn a_listing_masks_sensitive_values_unless_asked() {
        let o = sample();
        let listed = masked(&o, false, "(sensitive)");
        assert_eq!(listed[0].value.as_deref(), Some("east-ag"));
        assert_eq!(listed[1].value.as_deref(), Some("(sensitive)"));
        assert_eq!(listed[2].value, None);
        assert!(!format!("{listed:?}").contains("a.b.c"));
        assert_eq!(masked(&o, true, "(sensitive)"), o);
    }
}
