//! What a plan says about one resource: the action and the fields that change.
//!
//! Pure data, shared by `plan`, `apply` (which executes changes) and the renderer. A
//! saved plan file is a list of these with a schema version; nothing else is serialized.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// A release or object restored to what it was before mtm.
    Restore,
    /// An object that exists but that mtm did not make: recorded as pre-existing and
    /// brought to the declared state; destroy restores it.
    Adopt,
    NoOp,
    /// A custom resource whose CRD is created in the same run: validated at apply.
    Pending,
    /// A requirement that holds, a wait, a generated value that exists: nothing to change.
    Check,
}

impl Action {
    pub fn changes(self) -> bool {
        matches!(
            self,
            Action::Create
                | Action::Update
                | Action::Delete
                | Action::Restore
                | Action::Pending
                | Action::Adopt
        )
    }

    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Restore => "restore",
            Action::Adopt => "adopt",
            Action::NoOp => "no-op",
            Action::Pending => "create (CRD pending)",
            Action::Check => "check",
        }
    }

    pub fn sign(self) -> &'static str {
        match self {
            Action::Create | Action::Pending => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Restore => "<",
            Action::Adopt => ">",
            Action::NoOp | Action::Check => " ",
        }
    }
}

/// A field another field manager holds that the apply changes: taken over without a flag
/// (a hand edit, see `mtm_kube::Ownership`) or a conflict that needs `--force-conflicts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldClaim {
    /// e.g. `spec.replicas`.
    pub path: String,
    pub manager: String,
    pub take_over: bool,
}

impl FieldClaim {
    /// "takes over .spec.replicas from kubectl" or "conflict: .spec.replicas is managed
    /// by horizontal-pod-autoscaler".
    pub fn describe(&self) -> String {
        if self.take_over {
            format!("takes over .{} from {}", self.path, self.manager)
        } else {
            format!(
                "conflict: .{} is managed by {} (apply needs --force-conflicts)",
                self.path, self.manager
            )
        }
    }
}

/// One changed field; an empty path means the whole object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    /// object, patch, release, generated, require, wait.
    pub kind: String,
    pub cluster: Option<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FieldChange>,
    /// Why the action is what it is, when that is not obvious (e.g. CRD pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Fields other managers hold that the apply changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<FieldClaim>,
    /// The live object's resourceVersion when planned, to notice a cluster that moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<String>,
    /// The step's name (empty in plans saved before it was kept), title, What and Why:
    /// the plan is shown grouped by step, with What and Why under `--explain`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub what: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// Counts per action, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub restore: usize,
    pub adopt: usize,
    pub unchanged: usize,
}

impl Summary {
    pub fn of(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create | Action::Pending => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Restore => s.restore += 1,
                Action::Adopt => s.adopt += 1,
                Action::NoOp => s.unchanged += 1,
                Action::Check => {}
            }
        }
        s
    }

    pub fn any(&self) -> bool {
        self.create + self.update + self.delete + self.restore + self.adopt > 0
    }
}
