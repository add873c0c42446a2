//! The values a release should have: what the plan declares, on top of the live user
//! values when the release existed before mtm (reuse-values semantics), with the
//! non-empty sensitive values set by dotted path; and the redactor that hides the
//! sensitive values of both the plan and the live release.

use crate::error::HelmError;
use crate::redact::Redactor;
use crate::run::Target;
use crate::values::{deep_merge, get_path, normalize, set_path};
use mtm_provider::ReleaseSpec;
use serde_json::Value;

/// `base` (the live user values, or `{}`) merged with `overlay` and the sensitive values.
pub(crate) fn merged(
    t: &Target,
    spec: &ReleaseSpec,
    base: &Value,
    overlay: &Value,
) -> Result<Value, HelmError> {
    let mut values = normalize(base.clone());
    deep_merge(&mut values, &normalize(overlay.clone()));
    for (path, secret) in &spec.sensitive_values {
        // Empty: leave the release's own value (reuse-values keeps it).
        if secret.is_empty() {
            continue;
        }
        set_path(&mut values, path, Value::String(secret.clone())).map_err(|message| {
            HelmError::BadPath {
                release: t.release(),
                cluster: t.cluster.clone(),
                path: path.clone(),
                message,
            }
        })?;
    }
    Ok(values)
}

/// The desired user values. `live` is the live release's user values, used only when the
/// release existed before mtm (`existing: true`).
pub(crate) fn desired(
    t: &Target,
    spec: &ReleaseSpec,
    live: Option<&Value>,
) -> Result<Value, HelmError> {
    let empty = Value::Object(Default::default());
    let base = match live {
        Some(v) if spec.existing => v,
        _ => &empty,
    };
    merged(t, spec, base, &spec.values)
}

/// The dotted paths that are sensitive, whether or not a value is given for them.
pub(crate) fn sensitive_paths(spec: &ReleaseSpec) -> Vec<String> {
    spec.sensitive_values.keys().cloned().collect()
}

/// Hides the plan's sensitive values and the string values the given values sets hold at
/// sensitive paths.
pub(crate) fn redactor(spec: &ReleaseSpec, values: &[&Value]) -> Redactor {
    let mut r = Redactor::new();
    for (path, secret) in &spec.sensitive_values {
        r.add(secret);
        for v in values {
            if let Some(Value::String(s)) = get_path(v, path) {
                r.add(s);
            }
        }
    }
    r
}
