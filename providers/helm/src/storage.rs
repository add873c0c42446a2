//! Releases read where helm keeps them, without running helm: helm's default storage
//! driver keeps each revision of a release in a Secret of the release's namespace
//! (labelled `owner=helm`, `name=NAME`, `version=N`), whose `release` entry is the
//! release as JSON, gzipped and base64-encoded. Reading those Secrets with the engine's
//! own Kubernetes client answers `helm status`, `helm get metadata` and `helm history`
//! in one LIST instead of several helm processes.
//!
//! The engine lends the client through [`ReleaseSecrets`]; without one (or with
//! `HELM_DRIVER` naming another driver) every read runs helm, as before.

use crate::error::HelmError;
use crate::query::{HistoryEntry, Status};
use crate::release::PriorRelease;
use crate::run::Target;
use base64::Engine as _;
use futures::future::BoxFuture;
use std::io::Read;

/// One Secret of helm's storage: its labels' `version` and its `release` entry.
#[derive(Clone, Debug)]
pub struct StoredRevision {
    pub version: u64,
    /// The Secret's `release` data as stored (base64 text of the gzipped JSON).
    pub release: Vec<u8>,
}

/// Lists the Secrets helm keeps a release in, through the engine's Kubernetes client.
pub trait ReleaseSecrets: Send + Sync + std::fmt::Debug {
    /// Every stored revision of release `name` in `namespace` on the logical `cluster`;
    /// empty when there is none. The error is the client's, said in full.
    fn revisions<'a>(
        &'a self,
        cluster: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredRevision>, String>>;
}

/// The release JSON of a stored revision.
fn decode(t: &Target, stored: &StoredRevision) -> Result<Vec<u8>, HelmError> {
    let error = |message: String| HelmError::Output {
        release: t.release(),
        cluster: t.cluster.clone(),
        command: format!("read the release's Secret (revision {})", stored.version),
        message,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&stored.release)
        .map_err(|e| error(format!("not base64: {e}")))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| error(format!("not gzip: {e}")))?;
    Ok(json)
}

/// The revisions of a release, read from its Secrets.
pub(crate) struct Stored<'t> {
    t: &'t Target,
    revisions: Vec<StoredRevision>,
}

impl<'t> Stored<'t> {
    pub async fn read(secrets: &dyn ReleaseSecrets, t: &'t Target) -> Result<Self, HelmError> {
        let mut revisions = secrets
            .revisions(&t.cluster, &t.namespace, &t.name)
            .await
            .map_err(|message| HelmError::Storage {
                release: t.release(),
                cluster: t.cluster.clone(),
                message,
            })?;
        revisions.sort_by_key(|r| r.version);
        Ok(Stored { t, revisions })
    }

    /// Revision `revision`, or the newest for `None`; `None` when not stored.
    pub fn status(&self, revision: Option<u64>) -> Result<Option<Status>, HelmError> {
        let found = match revision {
            Some(r) => self.revisions.iter().find(|s| s.version == r),
            None => self.revisions.last(),
        };
        found
            .map(|s| Status::from_storage(self.t, &decode(self.t, s)?))
            .transpose()
    }

    /// Every revision, oldest first.
    fn all(&self) -> Result<Vec<Status>, HelmError> {
        self.revisions
            .iter()
            .map(|s| Status::from_storage(self.t, &decode(self.t, s)?))
            .collect()
    }

    /// Every revision, oldest first, as `helm history` lists them.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, HelmError> {
        Ok(self.all()?.iter().map(Status::entry).collect())
    }

    /// The newest restorable revision not made by mtm, from this one read.
    pub fn prior(&self) -> Result<Option<PriorRelease>, HelmError> {
        Ok(self
            .all()?
            .iter()
            .rev()
            .find(|s| !s.by_mtm() && s.restorable())
            .map(Status::prior))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use std::io::Write;

    fn target() -> Target {
        Target {
            cluster: "east".into(),
            context: "east-ag".into(),
            name: "r".into(),
            namespace: "n".into(),
            kubeconfig: None,
        }
    }

    /// A revision stored the way helm stores it.
    fn stored(version: u64, description: &str) -> StoredRevision {
        let json = serde_json::json!({
            "name": "r", "namespace": "n", "version": version,
            "info": {"status": "deployed", "description": description},
            "chart": {"metadata": {"name": "c", "version": "1.2.0", "appVersion": "9"},
                "templates": []},
            "config": {"a": {"b": 1}},
            "manifest": "kind: ConfigMap\n",
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(json.to_string().as_bytes()).expect("gzip");
        let release = STANDARD.encode(gz.finish().expect("gzip")).into_bytes();
        StoredRevision { version, release }
    }

    #[test]
    fn a_stored_release_reads_like_helm_status_and_history() {
        let t = target();
        let s = Stored {
            t: &t,
            revisions: vec![stored(1, "Install complete"), stored(2, "mtm: apply")],
        };
        let newest = s.status(None).expect("decodes").expect("a revision");
        let live = newest.live();
        assert_eq!(
            (
                live.revision,
                live.chart.as_str(),
                live.chart_version.as_str()
            ),
            (2, "c", "1.2.0")
        );
        assert_eq!(live.app_version, "9");
        assert!(newest.by_mtm());
        assert_eq!(newest.values(), serde_json::json!({"a": {"b": 1}}));
        assert_eq!(newest.manifest, "kind: ConfigMap\n");
        let first = s.status(Some(1)).expect("decodes").expect("revision 1");
        assert!(!first.by_mtm() && first.restorable());
        assert!(s.status(Some(3)).expect("decodes").is_none());
        let history = s.history().expect("decodes");
        assert_eq!(
            history.iter().map(|e| e.revision).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(!history[0].by_mtm() && history[1].by_mtm());
    }

    #[test]
    fn a_damaged_secret_is_an_error_that_names_the_release() {
        let t = target();
        let s = Stored {
            t: &t,
            revisions: vec![StoredRevision {
                version: 1,
                release: b"%%% not base64".to_vec(),
            }],
        };
        let err = s.status(None).expect_err("undecodable").to_string();
        assert!(err.contains("n/r") && err.contains("east"), "{err}");
    }
}
