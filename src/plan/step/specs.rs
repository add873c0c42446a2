//! A step's typed entries into declarations: releases (values files merged under the
//! inline values), generated values, waits and checks, each interpolated and checked for
//! what can be known offline (durations, subjects, probes, HTTP statuses).
//!
//! It reads values files from the plan directory but knows nothing of charts or clusters.

use super::{RawKind, StepCtx, StepScope, origin, uses_of};
use crate::diag::Diagnostic;
use mtm_provider::resource::{CheckSpec, GenSpec, ReleaseSpec, WaitSpec};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::BTreeSet;

impl StepCtx<'_> {
    /// A helm release on the step's cluster: values merged, timeout checked.
    pub(super) fn release(&mut self, r: &Spanned<ReleaseSpec>, scope: &mut StepScope) {
        let (line, col) = (r.referenced.line(), r.referenced.column());
        let Some(cluster) = self.cluster(scope.cluster.as_deref(), line, col) else {
            return;
        };
        let Some(mut spec) = self.interpolate(&r.value, line, col) else {
            return;
        };
        self.merge_values(&mut spec, line, col);
        if let Some(t) = &spec.timeout
            && !valid_duration(t)
        {
            self.diag(
                line,
                col,
                format!("release timeout `{t}` is not a positive duration"),
            )
            .help = Some("write it like 300s, 5m or 1h".into());
        }
        let uses = uses_of(&spec);
        scope.push(
            RawKind::Release { cluster, spec },
            origin(self.file, line, col),
            uses,
        );
    }

    /// A release's values: its values files first, in order, then the inline values over them.
    fn merge_values(&mut self, spec: &mut ReleaseSpec, line: u64, col: u64) {
        let mut merged = Value::Object(Default::default());
        for file in std::mem::take(&mut spec.values_files) {
            let shown = self.files.show(&file);
            let text = match self.files.read(&file) {
                Ok(t) => t,
                Err(e) => {
                    self.diags.push(
                        e.diagnostic("values file", self.file, line, col)
                            .help("values files are relative to the plan directory"),
                    );
                    continue;
                }
            };
            match serde_saphyr::from_str::<Value>(&text) {
                Ok(v) => match self.vars.interpolate_value(&v) {
                    Ok(v) => merge(&mut merged, &v),
                    Err(e) => self
                        .diags
                        .push(Diagnostic::new(&shown, 1, 1, e.to_string())),
                },
                Err(e) => self
                    .diags
                    .push(crate::plan::yaml::diagnostic(&shown, &text, &e)),
            }
        }
        if !spec.values.is_null() {
            merge(&mut merged, &spec.values);
        }
        spec.values = merged;
    }

    /// A generated value: its lifetime and its subjects checked.
    pub(super) fn generated(&mut self, g: &Spanned<GenSpec>, scope: &mut StepScope) {
        let (line, col) = (g.referenced.line(), g.referenced.column());
        let Some(spec) = self.interpolate(&g.value, line, col) else {
            return;
        };
        if let Some(t) = &spec.lifetime
            && !valid_duration(t)
        {
            self.diag(
                line,
                col,
                format!("lifetime `{t}` is not a positive duration"),
            )
            .help = Some("write it like 300s, 5m or 24h".into());
        }
        if spec.subjects.is_empty() {
            self.diag(
                line,
                col,
                format!("generated value `{}` has no subjects", spec.name),
            );
        }
        scope.push(
            RawKind::Gen(spec),
            origin(self.file, line, col),
            BTreeSet::new(),
        );
    }

    /// A wait on the step's cluster: the step's namespace by default, timeout and target
    /// checked.
    pub(super) fn wait(&mut self, w: &Spanned<WaitSpec>, scope: &mut StepScope) {
        let (line, col) = (w.referenced.line(), w.referenced.column());
        let Some(cluster) = self.cluster(scope.cluster.as_deref(), line, col) else {
            return;
        };
        let Some(mut spec) = self.interpolate(&w.value, line, col) else {
            return;
        };
        if spec.namespace.is_none() {
            spec.namespace = scope.namespace.clone();
        }
        if let Some(t) = &spec.timeout
            && !valid_duration(t)
        {
            self.diag(
                line,
                col,
                format!("wait timeout `{t}` is not a positive duration"),
            )
            .help = Some("write it like 300s, 5m or 1h".into());
        }
        if spec.object.is_some() && spec.selector.is_some() {
            self.diag(
                line,
                col,
                "a wait names either one `object` or a `selector`, not both",
            );
        }
        scope.push(
            RawKind::Wait { cluster, spec },
            origin(self.file, line, col),
            BTreeSet::new(),
        );
    }

    /// A check on the step's cluster: one probe, a real HTTP status, something expected.
    pub(super) fn check(&mut self, c: &Spanned<CheckSpec>, scope: &mut StepScope) {
        let (line, col) = (c.referenced.line(), c.referenced.column());
        let Some(cluster) = self.cluster(scope.cluster.as_deref(), line, col) else {
            return;
        };
        let Some(spec) = self.interpolate(&c.value, line, col) else {
            return;
        };
        if spec.probe_count() != 1 {
            self.diag(
                line,
                col,
                format!(
                    "check `{}` needs exactly one of http, mcp, tokenExchange, command (it has {})",
                    spec.name,
                    spec.probe_count()
                ),
            );
        }
        if let Some(status) = spec.expect.status
            && !(100..=599).contains(&status)
        {
            self.diag(
                line,
                col,
                format!(
                    "check `{}`: expected status {status} is not an HTTP status (100 to 599)",
                    spec.name
                ),
            );
        }
        if spec.expect.is_empty() {
            self.diag(line, col, format!("check `{}` expects nothing", spec.name))
                .help =
                Some("say what the workshop expects, e.g. `expect: { status: 200 }`".into());
        }
        let uses = uses_of(&spec);
        scope.push(
            RawKind::Check { cluster, spec },
            origin(self.file, line, col),
            uses,
        );
    }
}

/// Deep-merges `over` into `base`: mappings key by key, anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Checks a positive duration with its unit, such as `300s`, `5m`, `24h`, `500ms`.
fn valid_duration(text: &str) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.chars().any(|c| c != '0')
        && matches!(unit, "ms" | "s" | "m" | "h")
}

#[cfg(test)]
mod tests {
    use super::valid_duration;

    #[test]
    fn values_files_merge_under_inline_values() {
        let mut base = serde_json::json!({"a": {"x": 1, "y": 2}, "b": [1]});
        super::merge(
            &mut base,
            &serde_json::json!({"a": {"y": 3, "z": 4}, "b": [2]}),
        );
        assert_eq!(
            base,
            serde_json::json!({"a": {"x": 1, "y": 3, "z": 4}, "b": [2]})
        );
    }

    #[test]
    fn durations() {
        for ok in ["300s", "5m", "24h", "500ms"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in ["", "s", "5", "5 m", "1d", "-1s", "0s", "00m"] {
            assert!(!valid_duration(bad), "{bad}");
        }
    }
}
