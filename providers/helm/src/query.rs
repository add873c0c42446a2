//! Read-only helm calls: a release's metadata, user values, manifest and history, and the
//! revision from before mtm found in that history.
//!
//! Values read here may hold sensitive data: they stay in memory and are only hashed,
//! redacted or sent back to helm on stdin.

use crate::HelmProvider;
use crate::error::HelmError;
use crate::redact::Redactor;
use crate::release::{LiveRelease, PriorRelease};
use crate::run::{Call, Target, is_not_found};
use crate::values::{normalize, values_sha256};
use serde::Deserialize;
use serde_json::Value;

/// The prefix of the description mtm gives the revisions it makes.
pub const MTM_DESCRIPTION: &str = "mtm:";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    chart: String,
    version: String,
    #[serde(default)]
    app_version: String,
    revision: u64,
    status: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct HistoryEntry {
    pub revision: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub description: String,
}

impl HistoryEntry {
    pub fn by_mtm(&self) -> bool {
        self.description.starts_with(MTM_DESCRIPTION)
    }

    /// A revision that could be restored: it deployed (it may have been superseded since).
    pub fn restorable(&self) -> bool {
        matches!(self.status.as_str(), "deployed" | "superseded")
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    t: &Target,
    command: &str,
    text: &str,
) -> Result<T, HelmError> {
    serde_json::from_str(text).map_err(|e| HelmError::Output {
        release: t.release(),
        cluster: t.cluster.clone(),
        command: command.to_string(),
        message: e.to_string(),
    })
}

impl HelmProvider {
    pub(crate) async fn get(
        &self,
        t: &Target,
        what: &str,
        revision: Option<u64>,
        json: bool,
    ) -> Result<String, HelmError> {
        let mut args = vec!["get".to_string(), what.to_string(), t.name.clone()];
        args.extend(t.scope_args());
        if let Some(r) = revision {
            args.extend(["--revision".to_string(), r.to_string()]);
        }
        if json {
            args.extend(["--output".to_string(), "json".to_string()]);
        }
        let command = format!("get {what}");
        self.helm
            .run(
                Call {
                    target: t,
                    command: &command,
                    args,
                    stdin: None,
                    redactor: &Redactor::new(),
                },
                None,
            )
            .await
    }

    /// The release's metadata and its user values; `None` when not installed.
    pub(crate) async fn live(&self, t: &Target) -> Result<Option<(LiveRelease, Value)>, HelmError> {
        let text = match self.get(t, "metadata", None, true).await {
            Ok(text) => text,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let m: Metadata = parse(t, "get metadata", &text)?;
        let values = self.user_values(t, Some(m.revision)).await?;
        let live = LiveRelease {
            revision: m.revision,
            chart: m.chart,
            chart_version: m.version,
            app_version: m.app_version,
            status: m.status,
            values_sha256: values_sha256(&values),
        };
        Ok(Some((live, values)))
    }

    /// `helm get values -o json` (user values only), `{}` for none.
    pub(crate) async fn user_values(
        &self,
        t: &Target,
        revision: Option<u64>,
    ) -> Result<Value, HelmError> {
        let text = self.get(t, "values", revision, true).await?;
        Ok(normalize(parse(t, "get values", &text)?))
    }

    pub(crate) async fn manifest(&self, t: &Target) -> Result<String, HelmError> {
        self.get(t, "manifest", None, false).await
    }

    /// Revisions, oldest first; empty when the release is not installed.
    pub(crate) async fn history(&self, t: &Target) -> Result<Vec<HistoryEntry>, HelmError> {
        let mut args = vec!["history".to_string(), t.name.clone()];
        args.extend(t.scope_args());
        args.extend(["--output".to_string(), "json".to_string()]);
        let text = match self
            .helm
            .run(
                Call {
                    target: t,
                    command: "history",
                    args,
                    stdin: None,
                    redactor: &Redactor::new(),
                },
                None,
            )
            .await
        {
            Ok(text) => text,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut entries: Vec<HistoryEntry> = parse(t, "history", &text)?;
        entries.sort_by_key(|e| e.revision);
        Ok(entries)
    }

    /// The newest restorable revision not made by mtm; `None` when every revision is
    /// mtm's (mtm installed the release), failed, or there is none.
    pub(crate) async fn prior(&self, t: &Target) -> Result<Option<PriorRelease>, HelmError> {
        let history = self.history(t).await?;
        let Some(entry) = history.iter().rev().find(|e| !e.by_mtm() && e.restorable()) else {
            return Ok(None);
        };
        let text = self.get(t, "metadata", Some(entry.revision), true).await?;
        let m: Metadata = parse(t, "get metadata", &text)?;
        let values = self.user_values(t, Some(entry.revision)).await?;
        Ok(Some(PriorRelease {
            revision: entry.revision,
            chart: m.chart,
            chart_version: m.version,
            app_version: m.app_version,
            values_sha256: values_sha256(&values),
        }))
    }
}
