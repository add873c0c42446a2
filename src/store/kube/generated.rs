//! The generated secret material (the lab key, JWKS and tokens: what a state directory
//! keeps under `secrets/`) in a Secret of its own, `<name>-generated`, one data key per
//! file, replaced at the version it was read at.
//!
//! Kept apart from the records so that nothing that reads state for listing ever reads
//! it. The engine reads and writes these files in a directory, as in a state directory;
//! for state in a cluster that is this process's private work directory (`workdir`),
//! filled from the Secret and written back when a revision finishes. This module moves
//! bytes; it does not know what the files hold.

use super::chunks;
use super::head::HeadError;
use super::ops::{Ctx, Failure};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn name(state: &str) -> String {
    format!("{state}-generated")
}

fn api_error(action: &'static str, name: &str) -> impl FnOnce(kube::Error) -> Failure {
    let name = name.to_string();
    move |source| {
        Failure::Head(HeadError::Api {
            action,
            name,
            source,
        })
    }
}

/// The files, by name; none when the Secret does not exist.
pub async fn read(ctx: &Ctx) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let name = name(&ctx.state);
    let secret = ctx
        .api
        .get_opt(&name)
        .await
        .map_err(api_error("read", &name))?;
    let data = secret.and_then(|s| s.data).unwrap_or_default();
    Ok(data.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// Replace the files with `files`.
pub async fn write(ctx: &Ctx, files: BTreeMap<String, Vec<u8>>) -> Result<(), Failure> {
    // Only while the head names this writer (it has not lost its Lease).
    ctx.head_to_write().await?;
    let name = name(&ctx.state);
    let existing = ctx
        .api
        .get_opt(&name)
        .await
        .map_err(api_error("read", &name))?;
    let version = existing.and_then(|s| s.metadata.resource_version);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(chunks::labels(&ctx.state, "generated")),
            resource_version: version.clone(),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(files.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
        ..Secret::default()
    };
    let params = PostParams::default();
    let written = match version {
        None => ctx.api.create(&params, &secret).await,
        Some(_) => ctx.api.replace(&name, &params, &secret).await,
    };
    match written {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_conflict() || s.is_already_exists() => {
            Err(Failure::Head(HeadError::Conflict { name }))
        }
        Err(e) => Err(api_error("write", &name)(e)),
    }
}

/// This process's private directory for the generated files of the state `location`
/// names (`<dir>/secrets/`, as in a state directory).
pub fn workdir(location: &str) -> PathBuf {
    let digest: String = Sha256::digest(location.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::env::temp_dir().join(format!("mtm-{}-{digest}", std::process::id()))
}
