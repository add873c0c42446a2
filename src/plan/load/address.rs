//! Raw declarations into declarations with addresses: the first stage that declares an
//! object or a check names it, a later stage that re-declares, removes or retires it speaks
//! of the same address, and a duplicate within a stage is an error.
//!
//! It relies on every stage having been read: the order of calls is the plan's order.

use super::at;
use super::scopes::{Scopes, scoped_id};
use crate::diag::Diagnostics;
use crate::plan::manifest::HeldObject;
use crate::plan::step::{RawDecl, RawKind, Target};
use crate::plan::{Decl, object_address};
use foldhash::HashMap;
use mtm_provider::resource::{
    CheckSpec, GenSpec, Origin, Provides, ReleaseSpec, Requirement, Spec, StepInfo, WaitSpec,
};
use mtm_provider::{Address, Manifest, ObjectId};
use serde_json::Value;
use std::collections::hash_map::Entry;

/// An object's identity without its version: cluster, group, kind, namespace, name.
type IdentityKey = (String, String, String, Option<String>, String);

/// Hands out addresses and notices duplicates.
#[derive(Default)]
pub(super) struct Namer {
    /// Object identity (without version) to (address, stage that declared it last, origin).
    objects: HashMap<IdentityKey, (Address, String, Origin)>,
    others: HashMap<Address, Origin>,
    /// `cluster/name` of a check to (address, stage that declared it last, origin, spec):
    /// a later stage re-declares or retires it by name.
    checks: HashMap<String, (Address, String, Origin, CheckSpec)>,
}

/// One raw declaration being given its address: its stage and origin, and what it is
/// checked against.
struct Finish<'a> {
    stage: &'a str,
    origin: &'a Origin,
    scopes: &'a Scopes,
    namer: &'a mut Namer,
    diags: &'a mut Diagnostics,
    /// Something was reported already: stay quiet about what may only follow from it.
    quiet: bool,
}

/// The declaration of `r` in `stage` with its address, or `None` (reported unless quiet).
pub(super) fn finish(
    stage: &str,
    r: RawDecl,
    scopes: &Scopes,
    namer: &mut Namer,
    diags: &mut Diagnostics,
    quiet: bool,
) -> Option<Decl> {
    let RawDecl {
        kind,
        origin,
        step,
        needs,
        uses,
    } = r;
    let retires = matches!(kind, RawKind::RetireCheck { .. });
    let mut f = Finish {
        stage,
        origin: &origin,
        scopes,
        namer,
        diags,
        quiet,
    };
    let (address, spec) = f.spec(kind, &step)?;
    Some(Decl {
        address,
        spec,
        step,
        origin,
        needs,
        uses,
        retires,
    })
}

impl Finish<'_> {
    /// The address and spec of one raw declaration, by its kind.
    fn spec(&mut self, kind: RawKind, step: &StepInfo) -> Option<(Address, Spec)> {
        match kind {
            RawKind::Object {
                cluster,
                object,
                default_namespace,
            } => self.object(cluster, object, default_namespace),
            RawKind::Remove { cluster, target } => self.remove(&cluster, &target),
            RawKind::Patch {
                cluster,
                target,
                fields,
            } => self.patch(&cluster, &target, fields, step),
            RawKind::Release { cluster, spec } => self.release(cluster, spec),
            RawKind::Gen(spec) => self.generated(spec),
            RawKind::RequireObject {
                cluster,
                target,
                provides,
                hint,
            } => self.require_object(cluster, target, provides, hint),
            RawKind::RequireRelease {
                cluster,
                namespace,
                name,
                hint,
            } => self.require_release(cluster, namespace, name, hint),
            RawKind::Wait { cluster, spec } => self.wait(cluster, spec),
            RawKind::Check { cluster, spec } => self.check(cluster, spec),
            RawKind::RetireCheck { cluster, name } => self.retire_check(cluster, &name),
        }
    }

    /// A new address for anything but an object or a check; a duplicate is reported.
    fn other(&mut self, address: String) -> Option<Address> {
        let address = Address(address);
        if let Some(first) = self
            .namer
            .others
            .insert(address.clone(), self.origin.clone())
        {
            self.diags.push(at(
                self.origin,
                format!("duplicate address {address} (first declared at {first})"),
            ));
            return None;
        }
        Some(address)
    }

    /// An object: its namespace by scope (written into the manifest when defaulted), and
    /// the address of the first stage that declared it.
    fn object(
        &mut self,
        cluster: String,
        object: HeldObject,
        default_namespace: Option<String>,
    ) -> Option<(Address, Spec)> {
        let HeldObject {
            api_version,
            kind,
            name,
            namespace,
            manifest,
        } = object;
        let defaulted = namespace.is_none();
        let target = Target {
            api_version,
            kind,
            namespace,
            name,
        };
        let id = scoped_id(
            &cluster,
            &target,
            default_namespace.as_ref(),
            self.scopes,
            self.origin,
            self.diags,
            self.quiet,
        )?;
        let stage = self.stage;
        let address = match self.namer.objects.entry(id.key()) {
            Entry::Occupied(mut seen) => {
                let (address, last, first) = seen.get();
                if last == stage {
                    self.diags.push(at(self.origin, format!(
                        "duplicate address {address}: stage `{stage}` declares this object twice (first at {first})"
                    )));
                    return None;
                }
                let address = address.clone();
                seen.insert((address.clone(), stage.to_string(), self.origin.clone()));
                address
            }
            Entry::Vacant(new) => {
                let address = object_address(stage, &id);
                new.insert((address.clone(), stage.to_string(), self.origin.clone()));
                address
            }
        };
        let manifest = match &id.namespace {
            Some(ns) if defaulted => in_namespace(&manifest, &id, ns),
            _ => manifest,
        };
        Some((address, Spec::Object { id, manifest }))
    }

    /// The removal of an object an earlier stage declared, at that object's address.
    fn remove(&mut self, cluster: &str, target: &Target) -> Option<(Address, Spec)> {
        let id = scoped_id(
            cluster,
            target,
            None,
            self.scopes,
            self.origin,
            self.diags,
            self.quiet,
        )?;
        let Some((address, _, _)) = self.namer.objects.get(&id.key()).cloned() else {
            if self.quiet {
                return None;
            }
            self.diags.push(
                at(self.origin, format!("removes {id}, which no earlier stage declares"))
                    .help("a stage removes only what an earlier stage of the plan declared; check cluster, apiVersion, kind, namespace and name"),
            );
            return None;
        };
        self.namer.objects.insert(
            id.key(),
            (address.clone(), self.stage.to_string(), self.origin.clone()),
        );
        Some((address, Spec::Absent { id }))
    }

    /// A field patch, applied by a field manager of its stage and step.
    fn patch(
        &mut self,
        cluster: &str,
        target: &Target,
        fields: Value,
        step: &StepInfo,
    ) -> Option<(Address, Spec)> {
        let id = scoped_id(
            cluster,
            target,
            None,
            self.scopes,
            self.origin,
            self.diags,
            self.quiet,
        )?;
        let stage = self.stage;
        let address = self.other(format!("{stage}/{cluster}/patch/{}", id.tail()))?;
        let manager = format!("mtm-patch-{stage}-{}", step.step);
        let spec = Spec::Patch {
            target: id,
            fields,
            manager,
        };
        Some((address, spec))
    }

    /// A helm release, addressed by its namespace and name.
    fn release(&mut self, cluster: String, spec: ReleaseSpec) -> Option<(Address, Spec)> {
        let stage = self.stage;
        let address = self.other(format!(
            "{stage}/{cluster}/helm/{}/{}",
            spec.namespace, spec.name
        ))?;
        let release = spec;
        Some((address, Spec::Release { cluster, release }))
    }

    /// A generated value, addressed by its name on no cluster.
    fn generated(&mut self, spec: GenSpec) -> Option<(Address, Spec)> {
        let stage = self.stage;
        let address = self.other(format!("{stage}/-/gen/{}", spec.name))?;
        Some((address, Spec::Generated(spec)))
    }

    /// A required object, taken as named (its scope is the cluster's business).
    fn require_object(
        &mut self,
        cluster: String,
        target: Target,
        provides: Option<Provides>,
        hint: Option<String>,
    ) -> Option<(Address, Spec)> {
        let (group, version) = ObjectId::split_api_version(&target.api_version);
        let id = ObjectId {
            cluster: cluster.clone(),
            group,
            version,
            kind: target.kind,
            namespace: target.namespace,
            name: target.name,
        };
        let stage = self.stage;
        let address = self.other(format!("{stage}/{cluster}/require/{}", id.tail()))?;
        let requirement = Requirement::Object { id, provides, hint };
        Some((
            address,
            Spec::Require {
                cluster,
                requirement,
            },
        ))
    }

    /// A required helm release.
    fn require_release(
        &mut self,
        cluster: String,
        namespace: String,
        name: String,
        hint: Option<String>,
    ) -> Option<(Address, Spec)> {
        let stage = self.stage;
        let address = self.other(format!("{stage}/{cluster}/require/helm/{namespace}/{name}"))?;
        let requirement = Requirement::Release {
            namespace,
            name,
            hint,
        };
        Some((
            address,
            Spec::Require {
                cluster,
                requirement,
            },
        ))
    }

    /// A wait, addressed by its name.
    fn wait(&mut self, cluster: String, spec: WaitSpec) -> Option<(Address, Spec)> {
        let stage = self.stage;
        let address = self.other(format!("{stage}/{cluster}/wait/{}", spec.name))?;
        Some((
            address,
            Spec::Wait {
                cluster,
                wait: spec,
            },
        ))
    }

    /// A check: the address of the first stage that declared a check of this name on the
    /// cluster.
    fn check(&mut self, cluster: String, spec: CheckSpec) -> Option<(Address, Spec)> {
        let stage = self.stage;
        let key = format!("{cluster}/{}", spec.name);
        let address = match self.namer.checks.get(&key) {
            Some((address, last, first, _)) if last == stage => {
                self.diags.push(at(self.origin, format!(
                    "duplicate address {address}: stage `{stage}` declares this check twice (first at {first})"
                )));
                return None;
            }
            Some((address, ..)) => address.clone(),
            None => self.other(format!("{stage}/{cluster}/check/{}", spec.name))?,
        };
        let entry = (
            address.clone(),
            stage.to_string(),
            self.origin.clone(),
            spec.clone(),
        );
        self.namer.checks.insert(key, entry);
        let check = Box::new(spec);
        Some((address, Spec::Check { cluster, check }))
    }

    /// The retirement of a check an earlier stage declared, at its address, with its spec.
    fn retire_check(&mut self, cluster: String, name: &str) -> Option<(Address, Spec)> {
        let key = format!("{cluster}/{name}");
        let Some((address, _, _, spec)) = self.namer.checks.get(&key).cloned() else {
            if !self.quiet {
                self.diags.push(
                    at(self.origin, format!("removes check `{name}` on cluster {cluster}, which no earlier stage declares"))
                        .help("a stage removes only a check an earlier stage of the plan declared; check its name and cluster"),
                );
            }
            return None;
        };
        self.namer.checks.insert(
            key,
            (
                address.clone(),
                self.stage.to_string(),
                self.origin.clone(),
                spec.clone(),
            ),
        );
        let check = Box::new(spec);
        Some((address, Spec::Check { cluster, check }))
    }
}

/// A manifest put in the namespace its step gives it (written into its metadata), its
/// names noted there.
fn in_namespace(manifest: &Manifest, id: &ObjectId, ns: &str) -> Manifest {
    let mut body = manifest.value();
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), ns.into());
    }
    let names = crate::plan::names(&id.group, &id.kind, Some(ns), &body);
    Manifest::noting(&body, names)
}
