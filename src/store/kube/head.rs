//! The head of state kept in a cluster: the one Secret, `<name>-state`, that says where
//! the records are and lists every revision with where it is.
//!
//! Every write of the state ends in one conditional replace of the head (at the
//! `resourceVersion` it was read at), so a write that raced another fails instead of
//! losing it; the blobs it points at are immutable (`chunks.rs`). The head is compressed
//! and holds summaries only, so it stays small. This module knows the head's shape and
//! its Secret; it does not know how the store changes it.

use super::chunks::{self, Blob};
use crate::store::{Envelope, RevisionSummary, StoreError};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const KEY: &str = "head";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Head {
    /// The records (`Envelope<Vec<Record>>`), once there are any.
    pub records: Option<Blob>,
    /// Oldest first.
    pub revisions: Vec<Entry>,
    /// The Lease identity of the holder that wrote last: a holder takes the head over
    /// when it takes the Lease, so one that lost its Lease finds another name here and
    /// writes nothing more (its write, had it read the head before, fails on the version).
    #[serde(default)]
    pub holder: Option<String>,
}

/// One revision: its summary, and the blob of the whole `Revision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub summary: RevisionSummary,
    pub blob: Blob,
}

/// The head as read, with the version a write must replace.
#[derive(Clone, Debug, Default)]
pub struct Read {
    pub head: Head,
    /// `None` when there is no head Secret yet.
    pub version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("cannot {action} Secret {name}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "Secret {name} was changed by another process since it was read; nothing was overwritten\n  help: is another mtm writing this state without its lease? run the command again"
    )]
    Conflict { name: String },
    /// Unreadable, or written by a newer mtm.
    #[error(transparent)]
    Entry(#[from] StoreError),
    #[error("Secret {name} is damaged")]
    Damaged {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

pub fn name(state: &str) -> String {
    format!("{state}-state")
}

impl Head {
    /// The names of every piece the head points at.
    pub fn pieces(&self, state: &str) -> BTreeSet<String> {
        let blobs = self
            .records
            .iter()
            .chain(self.revisions.iter().map(|e| &e.blob));
        blobs.flat_map(|b| b.names(state)).collect()
    }

    pub fn entry(&self, number: u64) -> Option<&Entry> {
        self.revisions.iter().find(|e| e.summary.number == number)
    }

    pub fn entry_mut(&mut self, number: u64) -> Option<&mut Entry> {
        self.revisions
            .iter_mut()
            .find(|e| e.summary.number == number)
    }
}

/// Read the head of `state`; an absent Secret is an empty head.
pub async fn read(api: &Api<Secret>, state: &str) -> Result<Read, HeadError> {
    let name = name(state);
    let secret = api.get_opt(&name).await.map_err(|source| HeadError::Api {
        action: "read",
        name: name.clone(),
        source,
    })?;
    let Some(secret) = secret else {
        return Ok(Read::default());
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(KEY))
        .map(|b| b.0.as_slice())
        .unwrap_or_default();
    let json = chunks::decompress(bytes).map_err(|source| HeadError::Damaged {
        name: name.clone(),
        source,
    })?;
    let head = Envelope::decode(&format!("head Secret {name}"), &json)?;
    Ok(Read {
        head,
        version: secret.metadata.resource_version,
    })
}

/// Replace the head read at `version` by `head`; `Conflict` if anyone wrote it since.
pub async fn write(
    api: &Api<Secret>,
    state: &str,
    head: &Head,
    version: Option<String>,
) -> Result<(), HeadError> {
    let name = name(state);
    let json = Envelope::encode("head", head)?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(chunks::labels(state, "head")),
            resource_version: version.clone(),
            ..ObjectMeta::default()
        },
        type_: Some("mtm.dev/state".to_string()),
        data: Some(BTreeMap::from([(
            KEY.to_string(),
            ByteString(chunks::compress(&json)),
        )])),
        ..Secret::default()
    };
    let params = PostParams::default();
    let (action, written) = match version {
        None => ("create", api.create(&params, &secret).await),
        Some(_) => ("replace", api.replace(&name, &params, &secret).await),
    };
    match written {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_conflict() || s.is_already_exists() => {
            Err(HeadError::Conflict { name })
        }
        Err(source) => Err(HeadError::Api {
            action,
            name,
            source,
        }),
    }
}
