//! Generated values in a run: the ones kept from earlier runs (read at plan time, never
//! made there) and the ones made at apply time, by generated-value name.
//!
//! Making and keeping them is `crate::generate`; substituting `${gen.NAME.FIELD}` is
//! `crate::generate::substitute_value`. This module only connects them to the engine.

use crate::generate::{self, Generated};
use crate::plan::Plan;
use mtm_provider::resource::{GenSpec, Spec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
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
pub fn existing(dir: &Path, plan: &Plan) -> Result<GenValues, String> {
    let mut out = GenValues::new();
    for d in plan.stages.iter().flat_map(|s| &s.decls) {
        if let Spec::Generated(spec) = &d.spec
            && let Some(g) =
                generate::load_existing(dir, spec, SystemTime::now()).map_err(|e| e.to_string())?
        {
            out.insert(spec.name.clone(), g);
        }
    }
    Ok(out)
}

/// The values of `spec`, kept from an earlier run or made now.
pub fn make(dir: &Path, spec: &GenSpec) -> Result<Generated, String> {
    generate::load_or_generate(dir, spec, SystemTime::now())
        .map(|(g, _fresh)| g)
        .map_err(|e| format!("cannot make generated value {}: {e}", spec.name))
}
