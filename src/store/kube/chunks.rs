//! Blobs kept in Secrets: a value's JSON, compressed (gzip) and cut into pieces small
//! enough for one Secret each, so no value is limited by an object's 1 MiB.
//!
//! A piece is named after the digest of the compressed bytes and is immutable, so a
//! reader that holds a `Blob` reads exactly what was written or finds a piece gone (then
//! it reads the head again). This module knows Secrets and bytes; it does not know
//! records, revisions or the head that points at blobs.

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

/// The most compressed bytes one Secret holds (its data may hold 1 MiB in all).
pub const PIECE: usize = 768 * 1024;
/// The data key of a piece.
const KEY: &str = "piece";
/// The label every object of one state carries, with the state's name.
pub const STATE_LABEL: &str = "mtm.dev/state";
const PART_LABEL: &str = "mtm.dev/part";

/// Where a value is: the digest of its compressed bytes, their length, how many pieces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    pub digest: String,
    pub len: u64,
    pub pieces: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("cannot {action} Secret {name}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Another writer replaced the blob after the head was read; read the head again.
    #[error("Secret {name} is gone")]
    Gone { name: String },
    #[error("Secret {name} does not hold what its head says (digest or length differs)")]
    Damaged { name: String },
    #[error("cannot decompress the value in Secret {name}")]
    Decompress {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// The labels of a state's objects of one part (`head`, `piece`, `generated`).
pub fn labels(state: &str, part: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "mtm".to_string(),
        ),
        (STATE_LABEL.to_string(), state.to_string()),
        (PART_LABEL.to_string(), part.to_string()),
    ])
}

impl Blob {
    /// The names of its pieces, in order.
    pub fn names(&self, state: &str) -> Vec<String> {
        (0..self.pieces)
            .map(|i| format!("{state}-piece-{}-{i}", &self.digest[..24]))
            .collect()
    }
}

pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

pub fn decompress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Store `json` compressed in as many pieces as it needs. A piece that exists already
/// holds the same bytes (its name is their digest), so it is kept.
pub async fn write(api: &Api<Secret>, state: &str, json: &[u8]) -> Result<Blob, ChunkError> {
    let compressed = compress(json);
    let blob = Blob {
        digest: digest(&compressed),
        len: compressed.len() as u64,
        pieces: compressed.len().div_ceil(PIECE).max(1) as u32,
    };
    // gzip's output is never empty, so there is at least one piece.
    for (name, piece) in blob.names(state).into_iter().zip(compressed.chunks(PIECE)) {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(labels(state, "piece")),
                ..ObjectMeta::default()
            },
            type_: Some("mtm.dev/state-piece".to_string()),
            immutable: Some(true),
            data: Some(BTreeMap::from([(
                KEY.to_string(),
                ByteString(piece.to_vec()),
            )])),
            ..Secret::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_already_exists() => {}
            Err(source) => {
                return Err(ChunkError::Api {
                    action: "create",
                    name,
                    source,
                });
            }
        }
    }
    Ok(blob)
}

/// The JSON a blob holds, checked against its digest.
pub async fn read(api: &Api<Secret>, state: &str, blob: &Blob) -> Result<Vec<u8>, ChunkError> {
    let mut compressed = Vec::with_capacity(blob.len as usize);
    let names = blob.names(state);
    for name in &names {
        let secret = api.get_opt(name).await.map_err(|source| ChunkError::Api {
            action: "read",
            name: name.clone(),
            source,
        })?;
        let Some(mut secret) = secret else {
            return Err(ChunkError::Gone { name: name.clone() });
        };
        let piece = secret
            .data
            .as_mut()
            .and_then(|d| d.remove(KEY))
            .ok_or_else(|| ChunkError::Damaged { name: name.clone() })?;
        compressed.extend_from_slice(&piece.0);
    }
    let first = names.first().cloned().unwrap_or_default();
    if compressed.len() as u64 != blob.len || digest(&compressed) != blob.digest {
        return Err(ChunkError::Damaged { name: first });
    }
    decompress(&compressed).map_err(|source| ChunkError::Decompress {
        name: first,
        source,
    })
}

/// Delete the pieces of `state` that none of `keep` names (a failed delete is left for
/// the next writer's sweep).
pub async fn sweep(
    api: &Api<Secret>,
    state: &str,
    keep: &BTreeSet<String>,
) -> Result<usize, ChunkError> {
    let selector = format!("{STATE_LABEL}={state},{PART_LABEL}=piece");
    let list = api
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| ChunkError::Api {
            action: "list",
            name: format!("{state}-piece-*"),
            source,
        })?;
    let mut deleted = 0;
    for name in list.items.into_iter().filter_map(|m| m.metadata.name) {
        if !keep.contains(&name) && delete(api, &name).await {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Delete the pieces of `blob` that `keep` does not name.
pub async fn forget(api: &Api<Secret>, state: &str, blob: &Blob, keep: &BTreeSet<String>) {
    for name in blob.names(state) {
        if !keep.contains(&name) {
            delete(api, &name).await;
        }
    }
}

async fn delete(api: &Api<Secret>, name: &str) -> bool {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => true,
        Err(kube::Error::Api(status)) if status.is_not_found() => false,
        Err(e) => {
            tracing::debug!("cannot delete Secret {name} (the next sweep will): {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_round_trips() {
        let text = br#"{"schema":1,"data":[1,2,3]}"#.repeat(1000);
        let packed = compress(&text);
        assert!(packed.len() < text.len() / 10, "{}", packed.len());
        assert_eq!(decompress(&packed).unwrap(), text);
        assert!(decompress(b"not gzip").is_err());
    }

    #[test]
    fn pieces_are_named_by_digest_and_number() {
        let blob = Blob {
            digest: "ab".repeat(32),
            len: 2 * PIECE as u64 + 1,
            pieces: 3,
        };
        assert_eq!(
            blob.names("mtm"),
            [
                "mtm-piece-abababababababababababab-0",
                "mtm-piece-abababababababababababab-1",
                "mtm-piece-abababababababababababab-2"
            ]
        );
    }
}
