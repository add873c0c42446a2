//! What an object's manifest names of other objects, found in the index of the plan's
//! nodes: the ServiceAccounts, ConfigMaps and Secrets of a pod spec, a Gateway's class,
//! Gateway API `parentRefs`, `backendRefs`, `targetRefs` and `parametersRef`, and Services
//! named by a `host`. It reports each reference with its reason and keeps no edges itself.

use super::Index;
use crate::plan::runs_pods;
use mtm_provider::ObjectId;
use serde_json::Value;

/// References from an object's manifest to other objects.
pub(super) fn object_refs(
    ix: &Index,
    id: &ObjectId,
    manifest: &Value,
    found: &mut dyn FnMut(usize, &'static str),
) {
    let cluster = id.cluster.as_str();
    let ns = id.namespace.as_deref();
    let local = |group: &str, kind: &str, name: &str| {
        let scoped = if kind == "GatewayClass" { None } else { ns };
        ix.object(cluster, group, kind, scoped, name)
    };
    if runs_pods(&id.group, &id.kind) {
        let spec = match id.kind.as_str() {
            "Pod" => at(manifest, "/spec"),
            "CronJob" => at(manifest, "/spec/jobTemplate/spec/template/spec"),
            _ => at(manifest, "/spec/template/spec"),
        };
        if let Some(spec) = spec {
            pod_refs(spec, &mut |kind, name| {
                if let Some(j) = local("", kind, name) {
                    found(j, "references");
                }
            });
        }
    }
    if id.group == "gateway.networking.k8s.io"
        && id.kind == "Gateway"
        && let Some(class) = manifest
            .pointer("/spec/gatewayClassName")
            .and_then(Value::as_str)
        && let Some(j) = local("gateway.networking.k8s.io", "GatewayClass", class)
    {
        found(j, "class");
    }
    walk(manifest, &mut |k, v| {
        let (default_group, default_kind, why) = match k {
            "parentRefs" => ("gateway.networking.k8s.io", "Gateway", "parentRefs"),
            "backendRefs" => ("", "Service", "backendRefs"),
            "targetRefs" => ("", "", "targetRefs"),
            "parametersRef" => ("", "", "parametersRef"),
            "host" => {
                if let Some(host) = v.as_str() {
                    host_ref(ix, cluster, host, found);
                }
                return;
            }
            _ => return,
        };
        let refs: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for r in refs {
            let text = |f: &str| r.get(f).and_then(Value::as_str);
            let Some(name) = text("name") else { continue };
            let group = text("group").unwrap_or(default_group);
            let kind = text("kind").unwrap_or(default_kind);
            let ref_ns = text("namespace").or(ns);
            if let Some(j) = ix.object(cluster, group, kind, ref_ns, name) {
                found(j, why);
            }
        }
    });
}

/// ServiceAccount, ConfigMap and Secret names a pod spec uses.
fn pod_refs(spec: &Value, found: &mut dyn FnMut(&'static str, &str)) {
    fn text<'v>(v: &'v Value, p: &str) -> Option<&'v str> {
        at(v, p).and_then(Value::as_str)
    }
    fn list<'v>(v: &'v Value, p: &str) -> &'v [Value] {
        at(v, p)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
    if let Some(sa) = text(spec, "/serviceAccountName").or_else(|| text(spec, "/serviceAccount")) {
        found("ServiceAccount", sa);
    }
    for s in list(spec, "/imagePullSecrets") {
        if let Some(n) = text(s, "/name") {
            found("Secret", n);
        }
    }
    for vol in list(spec, "/volumes") {
        if let Some(n) = text(vol, "/configMap/name") {
            found("ConfigMap", n);
        }
        if let Some(n) = text(vol, "/secret/secretName") {
            found("Secret", n);
        }
        for src in list(vol, "/projected/sources") {
            if let Some(n) = text(src, "/configMap/name") {
                found("ConfigMap", n);
            }
            if let Some(n) = text(src, "/secret/name") {
                found("Secret", n);
            }
        }
    }
    for c in list(spec, "/containers")
        .iter()
        .chain(list(spec, "/initContainers"))
    {
        for e in list(c, "/envFrom") {
            if let Some(n) = text(e, "/configMapRef/name") {
                found("ConfigMap", n);
            }
            if let Some(n) = text(e, "/secretRef/name") {
                found("Secret", n);
            }
        }
        for e in list(c, "/env") {
            if let Some(n) = text(e, "/valueFrom/configMapKeyRef/name") {
                found("ConfigMap", n);
            }
            if let Some(n) = text(e, "/valueFrom/secretKeyRef/name") {
                found("Secret", n);
            }
        }
    }
}

/// A Service named by a host: `svc.ns.svc[.cluster.local]` on the same cluster, or
/// `svc.ns.svc.<context>.mesh.internal` on the cluster with that context.
fn host_ref(ix: &Index, cluster: &str, host: &str, found: &mut dyn FnMut(usize, &'static str)) {
    let parts: Vec<&str> = host.split('.').collect();
    let target = match parts.as_slice() {
        [svc, ns, "svc"] | [svc, ns, "svc", "cluster", "local"] => {
            Some((cluster.to_string(), *svc, *ns))
        }
        [svc, ns, "svc", ctx @ .., "mesh", "internal"] if !ctx.is_empty() => ix
            .contexts
            .get(&ctx.join("."))
            .map(|c| (c.clone(), *svc, *ns)),
        _ => None,
    };
    if let Some((c, svc, ns)) = target
        && let Some(j) = ix.object(&c, "", "Service", Some(ns), svc)
    {
        found(j, "host");
    }
}

/// The value at `path`, a JSON pointer of mapping keys only (`/spec/template/spec`), found
/// as `Value::pointer` finds it but without copying each key.
pub(super) fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.strip_prefix('/')?
        .split('/')
        .try_fold(v, |v, key| v.as_object()?.get(key))
}

/// Calls `f(key, value)` for every key of every mapping in a JSON value.
fn walk(v: &Value, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                f(k, val);
                walk(val, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::at;
    use serde_json::json;

    #[test]
    fn at_finds_what_pointer_finds() {
        let v = json!({"spec": {"template": {"spec": {"volumes": [1]}}, "x": null}, "": {"a": 1}});
        for path in [
            "/spec",
            "/spec/template/spec",
            "/spec/template/spec/volumes",
            "/spec/x",
            "/spec/missing",
            "/spec/template/spec/volumes/none",
            "spec",
            "//a",
        ] {
            assert_eq!(at(&v, path), v.pointer(path), "{path}");
        }
    }
}
