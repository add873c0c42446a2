//! The plan: loaded from its directory, variables resolved, every declaration given its
//! address; and the fold that turns a set of stages into the desired resources.
//!
//! Everything here is computed from files and the environment passed in; nothing talks to
//! a cluster, and nothing prints. Errors come back as located [`Diagnostics`].

mod events;
mod files;
mod fold;
mod kinds;
mod load;
mod manifest;
mod names;
mod schema;
mod step;
pub mod varfile;
pub mod vars;
pub(crate) mod yaml;

pub use fold::{Node, fold};
pub use kinds::runs_pods;
pub(crate) use load::valid_var_name;
pub use load::{
    LoadOptions, VAR_ENV_PREFIX, declared_state, declared_variables, load, load_with_var_files,
};
pub use names::names;

use crate::diag::Diagnostics;
use mtm_provider::resource::{Origin, Spec, StepInfo};
use mtm_provider::{Address, ObjectId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use vars::Variables;

/// A loaded plan: every stage with its declarations, in plan order.
#[derive(Debug)]
pub struct Plan {
    pub dir: PathBuf,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub variables: Variables,
    pub clusters: BTreeMap<String, Cluster>,
    pub stages: Vec<Stage>,
    /// Field managers taken over as hand edits, besides the default ones (`handEditManagers`).
    pub hand_edit_managers: Vec<String>,
    /// `state:` of plan.yaml, variables filled in: where state lives unless `--state` or
    /// `MTM_STATE` say otherwise.
    pub state: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub context: String,
    pub description: Option<String>,
}

#[derive(Debug)]
pub struct Stage {
    pub name: String,
    pub title: String,
    pub summary: Option<String>,
    pub needs: Vec<String>,
    pub decls: Vec<Decl>,
}

/// One declaration of a stage: an object, a removal, a patch, a release, ...
#[derive(Clone, Debug)]
pub struct Decl {
    pub address: Address,
    pub spec: Spec,
    pub step: Arc<StepInfo>,
    pub origin: Origin,
    /// Explicit `needs` of its step: address patterns.
    pub needs: Vec<Need>,
    /// Names of the generated values it refers to.
    pub uses: BTreeSet<String>,
    /// This declaration retires the check at `address` (`removes: [{ check: NAME }]`): the
    /// fold drops it until a later stage declares it again.
    pub retires: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub pattern: String,
    pub origin: Origin,
}

impl Plan {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn stage_names(&self) -> Vec<&str> {
        self.stages.iter().map(|s| s.name.as_str()).collect()
    }

    /// The stages `names` need, transitively, with themselves, in plan order.
    pub fn needs_closure<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = names.into_iter().map(str::to_string).collect();
        while let Some(name) = todo.pop() {
            if wanted.insert(name.clone())
                && let Some(stage) = self.stage(&name)
            {
                todo.extend(stage.needs.iter().cloned());
            }
        }
        self.stages
            .iter()
            .filter(|s| wanted.contains(&s.name))
            .map(|s| s.name.clone())
            .collect()
    }

    /// The sensitive values to keep out of output: sensitive variables.
    pub fn secrets(&self) -> BTreeSet<String> {
        self.variables.secrets()
    }

    /// The kube context of a logical cluster.
    pub fn context(&self, cluster: &str) -> Option<&str> {
        self.clusters.get(cluster).map(|c| c.context.as_str())
    }
}

/// The address of an object declared first by `stage`.
pub fn object_address(stage: &str, id: &ObjectId) -> Address {
    Address(format!("{stage}/{}/{}", id.cluster, id.tail()))
}

/// Result of loading: the plan or every problem found.
pub type LoadResult = Result<Plan, Diagnostics>;
