//! What an object's manifest names of other objects, noted once at load so the graph never
//! reads the manifest: the ServiceAccounts, ConfigMaps and Secrets of a pod spec, a
//! Gateway's class, Gateway API `parentRefs`, `backendRefs`, `targetRefs` and
//! `parametersRef`, Services named by a `host`, and the kind a CRD serves.
//!
//! Nothing here looks a name up: the graph finds (or does not find) each among the plan's
//! nodes.

use super::runs_pods;
use mtm_provider::Named;
use serde_json::Value;

/// Everything `manifest` names, in the order found: the manifest of an object of `group`
/// and `kind` in namespace `ns` (`None`: cluster-scoped).
pub fn names(group: &str, kind: &str, ns: Option<&str>, manifest: &Value) -> Vec<Named> {
    let mut out = Vec::new();
    let mut local = |why: &'static str, group: &str, kind: &str, name: &str| {
        let scoped = if kind == "GatewayClass" { None } else { ns };
        out.push(object(why, group, kind, scoped, name));
    };
    if runs_pods(group, kind) {
        let spec = match kind {
            "Pod" => at(manifest, "/spec"),
            "CronJob" => at(manifest, "/spec/jobTemplate/spec/template/spec"),
            _ => at(manifest, "/spec/template/spec"),
        };
        if let Some(spec) = spec {
            pod_refs(spec, &mut |kind, name| local("references", "", kind, name));
        }
    }
    let text = |p: &str| at(manifest, p).and_then(Value::as_str);
    if group == "gateway.networking.k8s.io"
        && kind == "Gateway"
        && let Some(class) = text("/spec/gatewayClassName")
    {
        local("class", "gateway.networking.k8s.io", "GatewayClass", class);
    }
    if kind == "CustomResourceDefinition"
        && let (Some(group), Some(kind)) = (text("/spec/group"), text("/spec/names/kind"))
    {
        out.push(Named::Serves {
            group: group.into(),
            kind: kind.into(),
        });
    }
    walk(manifest, &mut |k, v| field_refs(k, v, ns, &mut out));
    out
}

fn object(
    why: &'static str,
    group: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> Named {
    Named::Object {
        why,
        group: group.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
        name: name.into(),
    }
}

/// The references of one mapping entry `key: value`: Gateway API refs and hosts.
fn field_refs(key: &str, value: &Value, ns: Option<&str>, out: &mut Vec<Named>) {
    let (default_group, default_kind, why) = match key {
        "parentRefs" => ("gateway.networking.k8s.io", "Gateway", "parentRefs"),
        "backendRefs" => ("", "Service", "backendRefs"),
        "targetRefs" => ("", "", "targetRefs"),
        "parametersRef" => ("", "", "parametersRef"),
        "host" => {
            if let Some(host) = value.as_str() {
                out.push(Named::Host(host.into()));
            }
            return;
        }
        _ => return,
    };
    let refs = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    for r in refs {
        let text = |f: &str| r.get(f).and_then(Value::as_str);
        let Some(name) = text("name") else { continue };
        let group = text("group").unwrap_or(default_group);
        let kind = text("kind").unwrap_or(default_kind);
        out.push(object(why, group, kind, text("namespace").or(ns), name));
    }
}

/// Where a name stands in one item of a pod spec's list, and the kind it names.
type Fields = &'static [(&'static str, &'static str)];
const PULL_SECRET: Fields = &[("/name", "Secret")];
const VOLUME: Fields = &[
    ("/configMap/name", "ConfigMap"),
    ("/secret/secretName", "Secret"),
];
const PROJECTED: Fields = &[("/configMap/name", "ConfigMap"), ("/secret/name", "Secret")];
const ENV_FROM: Fields = &[
    ("/configMapRef/name", "ConfigMap"),
    ("/secretRef/name", "Secret"),
];
const ENV: Fields = &[
    ("/valueFrom/configMapKeyRef/name", "ConfigMap"),
    ("/valueFrom/secretKeyRef/name", "Secret"),
];

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
    fn each(items: &[Value], fields: Fields, found: &mut dyn FnMut(&'static str, &str)) {
        for item in items {
            for (path, kind) in fields {
                if let Some(name) = text(item, path) {
                    found(kind, name);
                }
            }
        }
    }
    if let Some(sa) = text(spec, "/serviceAccountName").or_else(|| text(spec, "/serviceAccount")) {
        found("ServiceAccount", sa);
    }
    each(list(spec, "/imagePullSecrets"), PULL_SECRET, found);
    for vol in list(spec, "/volumes") {
        each(std::slice::from_ref(vol), VOLUME, found);
        each(list(vol, "/projected/sources"), PROJECTED, found);
    }
    for c in list(spec, "/containers")
        .iter()
        .chain(list(spec, "/initContainers"))
    {
        each(list(c, "/envFrom"), ENV_FROM, found);
        each(list(c, "/env"), ENV, found);
    }
}

/// The value at `path`, a JSON pointer of mapping keys only (`/spec/template/spec`), found
/// as `Value::pointer` finds it but without copying each key.
fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
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
    use super::*;
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

    #[test]
    fn a_deployment_names_its_pod_spec_refs_in_its_namespace() {
        let m = json!({"spec": {"template": {"spec": {
            "serviceAccountName": "sa",
            "volumes": [{"configMap": {"name": "cm"}}],
            "containers": [{"env": [{"valueFrom": {"secretKeyRef": {"name": "s"}}}]}]}}}});
        let got = names("apps", "Deployment", Some("ns"), &m);
        let want: Vec<Named> = [
            ("ServiceAccount", "sa"),
            ("ConfigMap", "cm"),
            ("Secret", "s"),
        ]
        .iter()
        .map(|(k, n)| object("references", "", k, Some("ns"), n))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn routes_hosts_classes_and_crds() {
        let route = json!({"spec": {
            "parentRefs": [{"name": "gw", "namespace": "other"}],
            "rules": [{"backendRefs": [{"name": "svc"}], "host": "a.b.svc"}]}});
        let got = names("gateway.networking.k8s.io", "HTTPRoute", Some("ns"), &route);
        assert!(
            got.contains(&object(
                "parentRefs",
                "gateway.networking.k8s.io",
                "Gateway",
                Some("other"),
                "gw"
            )),
            "{got:?}"
        );
        assert!(
            got.contains(&object("backendRefs", "", "Service", Some("ns"), "svc")),
            "{got:?}"
        );
        assert!(got.contains(&Named::Host("a.b.svc".into())), "{got:?}");
        let gw = json!({"spec": {"gatewayClassName": "c"}});
        let got = names("gateway.networking.k8s.io", "Gateway", Some("ns"), &gw);
        assert_eq!(
            got,
            [object(
                "class",
                "gateway.networking.k8s.io",
                "GatewayClass",
                None,
                "c"
            )]
        );
        let crd = json!({"spec": {"group": "g.io", "names": {"kind": "K"}}});
        let got = names(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            None,
            &crd,
        );
        assert_eq!(
            got,
            [Named::Serves {
                group: "g.io".into(),
                kind: "K".into()
            }]
        );
    }
}
