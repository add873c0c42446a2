//! Read-only helm calls: a revision of a release (`helm status -o json`: metadata, user
//! values, description and manifest at once) and its history, and the revision from
//! before mtm found in that history.
//!
//! Values read here may hold sensitive data: they stay in memory and are only hashed,
//! redacted or sent back to helm on stdin.

use crate::HelmProvider;
use crate::error::HelmError;
use crate::redact::Redactor;
use crate::release::{LiveRelease, PriorRelease};
use crate::run::{Call, Target, is_not_found};
use crate::storage::Stored;
use crate::values::{normalize, values_sha256};
use serde::Deserialize;
use serde_json::Value;

/// The prefix of the description mtm gives the revisions it makes.
pub const MTM_DESCRIPTION: &str = "mtm:";

/// One revision of a release, as `helm status -o json` (and `helm upgrade -o json`) print
/// it, with its chart's metadata (which those leave out) from `helm get metadata`; only the
/// fields mtm reads. `config` holds the user values in clear: it stays in memory.
#[derive(Debug, Deserialize)]
pub(crate) struct Status {
    /// The revision.
    pub version: u64,
    pub info: Info,
    #[serde(skip)]
    chart: ChartMetadata,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    pub manifest: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Info {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub description: String,
}

/// `helm get metadata -o json`: the revision's chart.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChartMetadata {
    #[serde(rename = "chart")]
    name: String,
    version: String,
    #[serde(default)]
    app_version: String,
}

impl Status {
    /// The revision number in helm's output of a release (`upgrade -o json`).
    pub fn revision_in(t: &Target, command: &str, text: &str) -> Result<u64, HelmError> {
        #[derive(Deserialize)]
        struct Revision {
            version: u64,
        }
        Ok(parse::<Revision>(t, command, text)?.version)
    }

    /// A revision as helm's storage holds it: the release JSON, its chart included.
    pub fn from_storage(t: &Target, json: &[u8]) -> Result<Self, HelmError> {
        #[derive(Deserialize)]
        struct Stored {
            chart: StoredChart,
        }
        #[derive(Deserialize)]
        struct StoredChart {
            metadata: StoredMetadata,
        }
        /// The chart's own `Chart.yaml` fields, as helm's storage keeps them.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct StoredMetadata {
            name: String,
            version: String,
            #[serde(default)]
            app_version: String,
        }
        let text = String::from_utf8_lossy(json);
        let mut status: Status = parse(t, "read the release's Secret", &text)?;
        let stored: Stored = parse(t, "read the release's Secret", &text)?;
        let m = stored.chart.metadata;
        status.chart = ChartMetadata {
            name: m.name,
            version: m.version,
            app_version: m.app_version,
        };
        Ok(status)
    }

    /// The revision as `helm history` lists it.
    pub fn entry(&self) -> HistoryEntry {
        HistoryEntry {
            revision: self.version,
            status: self.info.status.clone(),
            description: self.info.description.clone(),
        }
    }

    /// The user values (`{}` for none).
    pub fn values(&self) -> Value {
        normalize(self.config.clone())
    }

    pub fn live(&self) -> LiveRelease {
        LiveRelease {
            revision: self.version,
            chart: self.chart.name.clone(),
            chart_version: self.chart.version.clone(),
            app_version: self.chart.app_version.clone(),
            status: self.info.status.clone(),
            values_sha256: values_sha256(&self.values()),
        }
    }

    pub fn into_live(self) -> (LiveRelease, Value) {
        (self.live(), self.values())
    }

    pub fn prior(&self) -> PriorRelease {
        let live = self.live();
        PriorRelease {
            revision: live.revision,
            chart: live.chart,
            chart_version: live.chart_version,
            app_version: live.app_version,
            values_sha256: live.values_sha256,
        }
    }

    pub fn by_mtm(&self) -> bool {
        by_mtm(&self.info.description)
    }

    pub fn restorable(&self) -> bool {
        restorable(&self.info.status)
    }

    /// Deployed, at the chart version `spec` declares.
    pub fn at_rest(&self, spec: &mtm_provider::ReleaseSpec) -> bool {
        self.info.status == "deployed"
            && spec.version.as_deref().is_none_or(|v| {
                v.trim_start_matches('v') == self.chart.version.trim_start_matches('v')
            })
    }
}

/// A revision mtm made: its description starts with [`MTM_DESCRIPTION`].
fn by_mtm(description: &str) -> bool {
    description.starts_with(MTM_DESCRIPTION)
}

/// A revision that could be restored: it deployed (it may have been superseded since).
fn restorable(status: &str) -> bool {
    matches!(status, "deployed" | "superseded")
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
        by_mtm(&self.description)
    }

    pub fn restorable(&self) -> bool {
        restorable(&self.status)
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
    /// One revision of the release (the newest when `revision` is `None`) as `helm status
    /// -o json` gives it: metadata, user values, description and manifest in one call;
    /// `None` when not installed.
    pub(crate) async fn status(
        &self,
        t: &Target,
        revision: Option<u64>,
    ) -> Result<Option<Status>, HelmError> {
        if let Some(secrets) = self.storage() {
            return Stored::read(secrets, t).await?.status(revision);
        }
        let mut args = vec!["status".to_string(), t.name.clone()];
        args.extend(t.scope_args());
        if let Some(r) = revision {
            args.extend(["--revision".to_string(), r.to_string()]);
        }
        args.extend(["--output".to_string(), "json".to_string()]);
        let call = Call {
            target: t,
            command: "status",
            args,
            stdin: None,
            redactor: &Redactor::new(),
        };
        // Both at once: a plan waits for the slower of the two, not for their sum.
        let (status, meta) =
            tokio::join!(self.helm.run(call, None), self.get(t, "metadata", revision));
        let text = match status {
            Ok(text) => text,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut status: Status = parse(t, "status", &text)?;
        status.chart = parse(t, "get metadata", &meta?)?;
        Ok(Some(status))
    }

    /// `helm get WHAT NAME -o json [--revision N]`.
    async fn get(
        &self,
        t: &Target,
        what: &str,
        revision: Option<u64>,
    ) -> Result<String, HelmError> {
        let mut args = vec!["get".to_string(), what.to_string(), t.name.clone()];
        args.extend(t.scope_args());
        if let Some(r) = revision {
            args.extend(["--revision".to_string(), r.to_string()]);
        }
        args.extend(["--output".to_string(), "json".to_string()]);
        let command = format!("get {what}");
        let call = Call {
            target: t,
            command: &command,
            args,
            stdin: None,
            redactor: &Redactor::new(),
        };
        self.helm.run(call, None).await
    }

    /// The release's metadata and its user values; `None` when not installed.
    pub(crate) async fn live(&self, t: &Target) -> Result<Option<(LiveRelease, Value)>, HelmError> {
        Ok(self.status(t, None).await?.map(Status::into_live))
    }

    /// Revisions, oldest first; empty when the release is not installed.
    pub(crate) async fn history(&self, t: &Target) -> Result<Vec<HistoryEntry>, HelmError> {
        if let Some(secrets) = self.storage() {
            return Stored::read(secrets, t).await?.history();
        }
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

    /// The revision from before mtm of the release `spec` on the logical `cluster`: what
    /// `destroy` would restore (see [`HelmProvider::prior`]).
    pub async fn prior_release(
        &self,
        cluster: &str,
        spec: &mtm_provider::ReleaseSpec,
    ) -> Result<Option<PriorRelease>, HelmError> {
        let t = self.target(cluster, spec)?;
        let newest = self.status(&t, None).await?;
        self.prior(&t, newest.as_ref()).await
    }

    /// The newest restorable revision not made by mtm; `None` when every revision is
    /// mtm's (mtm installed the release), failed, or there is none. `newest` is the
    /// release's newest revision when already read: when it is not mtm's and restorable,
    /// it is the answer, without reading the history.
    pub(crate) async fn prior(
        &self,
        t: &Target,
        newest: Option<&Status>,
    ) -> Result<Option<PriorRelease>, HelmError> {
        if let Some(s) = newest.filter(|s| !s.by_mtm() && s.restorable()) {
            return Ok(Some(s.prior()));
        }
        if let Some(secrets) = self.storage() {
            return Stored::read(secrets, t).await?.prior();
        }
        let history = self.history(t).await?;
        let Some(entry) = history.iter().rev().find(|e| !e.by_mtm() && e.restorable()) else {
            return Ok(None);
        };
        Ok(self
            .status(t, Some(entry.revision))
            .await?
            .map(|s| s.prior()))
    }
}
