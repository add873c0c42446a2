//! Generated values in a run: the ones kept from earlier runs (read at plan time, never
//! made there) and the ones made at apply time, by generated-value name; and the
//! provider through which the engine makes and removes them like any other resource.
//!
//! Making and keeping them is `crate::generate`; substituting `${gen.NAME.FIELD}` is
//! `crate::generate::substitute_value`. This module only connects them to the engine.

use crate::generate::{self, GenerateError, Generated};
use crate::plan::Plan;
use mtm_provider::resource::GenSpec;
use mtm_provider::{
    Answer, Applied, Cancel, DriftField, Observed, Provider, ProviderError, Resource, Verdict,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Generated values by name.
pub type GenValues = BTreeMap<String, Generated>;

/// Every secret among `gens` (for redaction).
pub fn secrets(gens: &GenValues) -> BTreeSet<String> {
    gens.values()
        .flat_map(|g| g.secrets())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The generated values of `plan` that earlier runs made and that are still valid for
/// their declaration; nothing is made or written.
pub fn existing(dir: &Path, plan: &Plan) -> Result<GenValues, GenerateError> {
    let mut out = GenValues::new();
    for d in plan.stages.iter().flat_map(|s| &s.decls) {
        if let Some(spec) = d.spec.generated()
            && let Some(g) = generate::load_existing(dir, spec, SystemTime::now())?
        {
            out.insert(spec.name.clone(), g);
        }
    }
    Ok(out)
}

/// The values of `spec`, kept from an earlier run or made now.
pub fn make(dir: &Path, spec: &GenSpec) -> Result<Generated, GenerateError> {
    generate::load_or_generate(dir, spec, SystemTime::now()).map(|(g, _fresh)| g)
}

/// Generated values as resources: made (or kept) on apply, their files removed on delete.
pub struct ValueProvider {
    dir: PathBuf,
    gens: Arc<Mutex<GenValues>>,
}

impl ValueProvider {
    /// Keeps files in `dir` and what it makes in `gens`, which the engine shares.
    pub fn new(dir: &Path, gens: Arc<Mutex<GenValues>>) -> ValueProvider {
        ValueProvider {
            dir: dir.to_path_buf(),
            gens,
        }
    }
}

fn spec_of(resource: &Resource) -> Result<&GenSpec, ProviderError> {
    resource
        .spec
        .generated()
        .ok_or_else(|| ProviderError::Resource {
            address: resource.address.to_string(),
            message: format!("a {} is not a generated value", resource.type_name()),
        })
}

fn failed(resource: &Resource, message: String) -> ProviderError {
    ProviderError::Resource {
        address: resource.address.to_string(),
        message,
    }
}

impl Provider for ValueProvider {
    fn name(&self) -> &str {
        "generated"
    }

    fn observe<'a>(&'a self, resource: &'a Resource) -> Answer<'a, Observed> {
        Box::pin(async move {
            let spec = spec_of(resource)?;
            let known = self
                .gens
                .lock()
                .expect("gens lock")
                .contains_key(&spec.name);
            Ok(Observed::just(if known {
                Verdict::Check
            } else {
                Verdict::Create
            }))
        })
    }

    fn apply<'a>(&'a self, resource: &'a Resource, _cancel: Cancel) -> Answer<'a, Applied> {
        Box::pin(async move {
            let spec = spec_of(resource)?;
            let cannot = |e: String| {
                let message = format!("cannot make generated value {}: {e}", spec.name);
                failed(resource, message)
            };
            // Making a key takes a core for a moment: not on the thread the walk runs on.
            let (dir, owned) = (self.dir.clone(), spec.clone());
            let made = tokio::task::spawn_blocking(move || make(&dir, &owned))
                .await
                .map_err(|e| cannot(e.to_string()))?
                .map_err(|e| cannot(e.to_string()))?;
            let fingerprint = made.fingerprint();
            self.gens
                .lock()
                .expect("gens lock")
                .insert(spec.name.clone(), made);
            Ok(Applied {
                summary: "generated".into(),
                record: Some(json!({ "name": spec.name, "fingerprint": fingerprint })),
                ..Applied::default()
            })
        })
    }

    fn delete<'a>(&'a self, resource: &'a Resource, _cancel: Cancel) -> Answer<'a, ()> {
        Box::pin(async move {
            // The key material goes with the resource: nothing secret is left behind.
            let spec = spec_of(resource)?;
            let path = generate::SecretFile::path(&self.dir, &spec.name)
                .map_err(|e| failed(resource, e.to_string()))?;
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(failed(
                    resource,
                    format!("cannot remove {}: {e}", path.display()),
                )),
            }
        })
    }

    fn restore<'a>(
        &'a self,
        resource: &'a Resource,
        _snapshot: &'a Value,
        _cancel: Cancel,
    ) -> Answer<'a, ()> {
        // A value is only ever made or removed; a rollback keeps it if its file is there.
        Box::pin(async move {
            let spec = spec_of(resource)?;
            match self
                .gens
                .lock()
                .expect("gens lock")
                .contains_key(&spec.name)
            {
                true => Ok(()),
                false => Err(failed(
                    resource,
                    "its secret material is gone from state/secrets: apply the plan instead".into(),
                )),
            }
        })
    }

    fn drift<'a>(
        &'a self,
        _resource: &'a Resource,
        _recorded: &'a Value,
    ) -> Answer<'a, Vec<DriftField>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
