//! What a chart is, as a digest: every revision mtm makes names the chart it was made from
//! in its description, so a later plan knows, without rendering the chart again, that a
//! release at the same values was made from the same chart.
//!
//! A local chart (a directory, or a packaged `.tgz`) is digested from its bytes: every
//! file's path and content. A chart from a repository or a registry is named by its
//! reference and pinned version (a published version does not change); without a pinned
//! version it has no digest, and the plan renders it (a dry run) as before.

use mtm_provider::ReleaseSpec;
use sha2::{Digest, Sha256};
use std::path::Path;

use crate::query::MTM_DESCRIPTION;

/// The digest of the chart `spec` names; `None` when it cannot be known without fetching.
pub(crate) fn fingerprint(spec: &ReleaseSpec) -> Option<String> {
    let path = Path::new(&spec.chart);
    let mut hash = Sha256::new();
    if path.is_dir() {
        hash_dir(path, path, &mut hash).ok()?;
    } else if path.is_file() {
        hash.update(std::fs::read(path).ok()?);
    } else {
        let version = spec.version.as_deref()?;
        hash.update(format!(
            "{}@{}",
            spec.chart,
            version.trim_start_matches('v')
        ));
    }
    Some(crate::values::hex(&hash.finalize()))
}

/// Every file under `dir`, in path order: its path relative to `root`, then its bytes.
fn hash_dir(root: &Path, dir: &Path, hash: &mut Sha256) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            hash_dir(root, &path, hash)?;
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let name = relative.to_string_lossy();
        let bytes = std::fs::read(&path)?;
        // Length-prefixed, so that no two trees hash alike by moving bytes between files.
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(())
}

/// The description of a revision mtm makes from a chart of digest `fingerprint`.
pub(crate) fn description(fingerprint: Option<&str>) -> String {
    match fingerprint {
        Some(f) => format!("{MTM_DESCRIPTION} apply (chart sha256:{f})"),
        None => format!("{MTM_DESCRIPTION} apply"),
    }
}

/// Whether a revision's description says mtm made it from the chart of digest
/// `fingerprint`.
pub(crate) fn made_from(description: &str, fingerprint: Option<&str>) -> bool {
    fingerprint.is_some_and(|f| description == self::description(Some(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(chart: &str, version: Option<&str>) -> ReleaseSpec {
        serde_json::from_value(serde_json::json!({
            "name": "r", "namespace": "n", "chart": chart, "version": version,
        }))
        .expect("a release spec")
    }

    #[test]
    fn a_local_chart_is_digested_from_its_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
        std::fs::write(dir.path().join("Chart.yaml"), "name: c\nversion: 1.0.0\n").expect("w");
        std::fs::write(dir.path().join("templates/a.yaml"), "a: 1\n").expect("w");
        let chart = dir.path().to_string_lossy().to_string();
        let first = fingerprint(&spec(&chart, Some("1.0.0"))).expect("a digest");
        assert_eq!(fingerprint(&spec(&chart, None)), Some(first.clone()));
        std::fs::write(dir.path().join("templates/a.yaml"), "a: 2\n").expect("w");
        let second = fingerprint(&spec(&chart, Some("1.0.0"))).expect("a digest");
        assert_ne!(first, second, "a changed template changes the digest");
        assert!(made_from(&description(Some(&second)), Some(&second)));
        assert!(!made_from(&description(Some(&first)), Some(&second)));
        assert!(!made_from(&description(None), None));
    }

    #[test]
    fn a_published_chart_is_named_by_its_pinned_version() {
        let pinned = fingerprint(&spec("oci://registry.invalid/charts/c", Some("v1.2.0")));
        assert_eq!(
            pinned,
            fingerprint(&spec("oci://registry.invalid/charts/c", Some("1.2.0")))
        );
        assert_ne!(
            pinned,
            fingerprint(&spec("oci://registry.invalid/charts/c", Some("1.3.0")))
        );
        assert_eq!(
            fingerprint(&spec("oci://registry.invalid/charts/c", None)),
            None
        );
    }
}
