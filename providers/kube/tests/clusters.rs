//! The Kubernetes provider against the two local clusters (east-ag, west-ag): plans from
//! server-side dry runs, applies, conflicts, patches, waits, requirements and deletes.
//! Every test uses namespaces and names of its own and cleans up after itself.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // tests and benches print and read their environment

mod support;

use mtm_kube::{KubeError, KubeProvider, RequireError, WaitError};
use mtm_provider::Verdict;
use mtm_provider::{Address, Provider, Requirement, Resource, Spec, WaitSpec};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use support::{id, kubectl, kubectl_try, namespace_id, provider, unique};

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn config_map(ns: &str, name: &str, color: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": ns},
           "data": {"color": color, "size": "10"}})
}

fn deployment(ns: &str, name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}]}]}}}})
}

/// Creates (and waits for) a namespace through the provider.
async fn make_namespace(p: &KubeProvider, cluster: &str, ns: &str) {
    let nid = namespace_id(cluster, ns);
    p.apply_object(&nid, &namespace(ns), false).await.unwrap();
    p.wait_ready(&nid).await.unwrap();
}

async fn drop_namespace(p: &KubeProvider, cluster: &str, ns: &str) {
    p.delete_object(&namespace_id(cluster, ns)).await.unwrap();
}

fn paths(plan: &mtm_kube::ObjectPlan) -> Vec<String> {
    plan.diff
        .iter()
        .map(|d| {
            let show = |v: &Option<Value>| v.as_ref().map_or("-".to_string(), |v| v.to_string());
            format!("{}: {} -> {}", d.path, show(&d.before), show(&d.after))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_then_noop_then_one_field_change() {
    let p = provider();
    let ns = unique("mk-apply");
    let _cleanup = support::cleanup("east", &ns);
    let nid = namespace_id("east", &ns);
    let cid = id("east", "v1", "ConfigMap", Some(&ns), "settings");
    let did = id("east", "apps/v1", "Deployment", Some(&ns), "web");

    // Before anything exists: creates; the ConfigMap's namespace is created in the same run.
    let plan = p.plan_object(&nid, &namespace(&ns)).await.unwrap();
    assert_eq!(plan.action, Verdict::Create);
    assert!(plan.unvalidated.is_none(), "{plan:?}");
    let plan = p
        .plan_object(&cid, &config_map(&ns, "settings", "blue"))
        .await
        .unwrap();
    assert_eq!(plan.action, Verdict::Create);
    assert!(
        plan.unvalidated
            .as_deref()
            .unwrap_or("")
            .contains(&format!("namespace {ns} does not exist")),
        "{plan:?}"
    );

    let a = p.apply_object(&nid, &namespace(&ns), false).await.unwrap();
    assert_eq!(a.summary, "created");
    assert!(a.uid.is_some());
    p.wait_ready(&nid).await.unwrap();
    let a = p
        .apply_object(&cid, &config_map(&ns, "settings", "blue"), false)
        .await
        .unwrap();
    assert_eq!(a.summary, "created");
    p.apply_object(&did, &deployment(&ns, "web", 1), false)
        .await
        .unwrap();
    p.wait_ready(&did).await.unwrap();

    // Right after: nothing to do, although the server added status, defaults, versions.
    for (oid, m) in [
        (&nid, namespace(&ns)),
        (&cid, config_map(&ns, "settings", "blue")),
        (&did, deployment(&ns, "web", 1)),
    ] {
        let plan = p.plan_object(oid, &m).await.unwrap();
        assert_eq!(plan.action, Verdict::NoOp, "{oid}: {:?}", plan.diff);
        assert!(plan.diff.is_empty());
        assert!(plan.live.is_some());
    }

    // One field changed: exactly that field, on that object only.
    let plan = p
        .plan_object(&cid, &config_map(&ns, "settings", "green"))
        .await
        .unwrap();
    assert_eq!(plan.action, Verdict::Update);
    assert_eq!(paths(&plan), vec!["data.color: \"blue\" -> \"green\""]);
    let plan = p
        .plan_object(&did, &deployment(&ns, "web", 1))
        .await
        .unwrap();
    assert_eq!(plan.action, Verdict::NoOp);

    let rv_before = kubectl(
        "east",
        &[
            "get",
            "deploy",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
    );
    let a = p
        .apply_object(&cid, &config_map(&ns, "settings", "green"), false)
        .await
        .unwrap();
    assert_eq!(a.summary, "configured");
    let a = p
        .apply_object(&did, &deployment(&ns, "web", 1), false)
        .await
        .unwrap();
    assert_eq!(a.summary, "unchanged");
    let rv_after = kubectl(
        "east",
        &[
            "get",
            "deploy",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
    );
    assert_eq!(rv_before, rv_after, "the unchanged Deployment was written");
    assert_eq!(
        kubectl(
            "east",
            &[
                "get",
                "cm",
                "settings",
                "-n",
                &ns,
                "-o",
                "jsonpath={.data.color}"
            ]
        ),
        "green"
    );
    let plan = p
        .plan_object(&cid, &config_map(&ns, "settings", "green"))
        .await
        .unwrap();
    assert_eq!(plan.action, Verdict::NoOp);

    drop_namespace(&p, "east", &ns).await;
}

fn replicas_and_labels(ns: &str) -> String {
    kubectl(
        "east",
        &[
            "get",
            "deploy",
            "api",
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.replicas} {.metadata.labels.app} {.metadata.labels.owner}",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_by_other_managers_conflicts_and_force() {
    let p = provider();
    let ns = unique("mk-others");
    let _cleanup = support::cleanup("east", &ns);
    make_namespace(&p, "east", &ns).await;
    let did = id("east", "apps/v1", "Deployment", Some(&ns), "api");
    let manifest = deployment(&ns, "api", 1);
    p.apply_object(&did, &manifest, false).await.unwrap();

    // A label mtm does not declare, added by someone else: not ours, not in the plan.
    kubectl(
        "east",
        &["label", "deploy", "api", "-n", &ns, "owner=someone"],
    );
    let plan = p.plan_object(&did, &manifest).await.unwrap();
    assert_eq!(plan.action, Verdict::NoOp, "{:?}", plan.diff);

    // A declared label and the declared replicas changed by someone else: both show.
    kubectl(
        "east",
        &[
            "label",
            "deploy",
            "api",
            "-n",
            &ns,
            "app=hijacked",
            "--overwrite",
        ],
    );
    kubectl(
        "east",
        &["scale", "deploy", "api", "-n", &ns, "--replicas=3"],
    );
    let plan = p.plan_object(&did, &manifest).await.unwrap();
    assert_eq!(plan.action, Verdict::Update);
    assert_eq!(
        paths(&plan),
        vec![
            "metadata.labels.app: \"hijacked\" -> \"api\"",
            "spec.replicas: 3 -> 1"
        ]
    );
    for d in &plan.diff {
        assert!(
            d.owners.iter().any(|o| o.starts_with("kubectl")),
            "{}: owners {:?}",
            d.path,
            d.owners
        );
    }

    // Hand edits (kubectl's managers) are taken back without force, and kubectl's claims
    // on those fields are cleared; the other manager's own label stays.
    let a = p.apply_object(&did, &manifest, false).await.unwrap();
    assert_eq!(a.summary, "configured");
    assert_eq!(replicas_and_labels(&ns), "1 api someone");
    let live: serde_json::Value = serde_json::from_str(&kubectl(
        "east",
        &[
            "get",
            "deploy",
            "api",
            "-n",
            &ns,
            "--show-managed-fields",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    for e in live["metadata"]["managedFields"].as_array().unwrap() {
        if e["manager"].as_str().unwrap().starts_with("kubectl") {
            let set = e["fieldsV1"].to_string();
            assert!(
                !set.contains("f:replicas") && !set.contains("\"f:app\""),
                "{e}"
            );
        }
    }

    // A controller's field is a conflict naming the field and its manager.
    kubectl(
        "east",
        &[
            "patch",
            "deploy",
            "api",
            "-n",
            &ns,
            "--field-manager=test-controller",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":2}}"#,
        ],
    );
    let err = p.apply_object(&did, &manifest, false).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, KubeError::Conflict { .. }), "{text}");
    assert!(
        text.contains("field manager \"test-controller\" owns .spec.replicas"),
        "{text}"
    );
    assert!(
        text.contains(&format!("east/apps/Deployment/{ns}/api")),
        "{text}"
    );
    assert!(text.contains("force-conflicts"), "{text}");
    assert_eq!(replicas_and_labels(&ns), "2 api someone");

    // Force takes it over.
    let a = p.apply_object(&did, &manifest, true).await.unwrap();
    assert_eq!(a.summary, "configured");
    assert_eq!(replicas_and_labels(&ns), "1 api someone");
    let plan = p.plan_object(&did, &manifest).await.unwrap();
    assert_eq!(plan.action, Verdict::NoOp, "{:?}", plan.diff);

    drop_namespace(&p, "east", &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_and_custom_resource_in_one_run() {
    let p = provider();
    let group = format!("{}.mtm.example", unique("g"));
    let crd_name = format!("widgets.{group}");
    let _cleanup = support::cleanup_object("west", "crd", &crd_name);
    let crd_id = id(
        "west",
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        &crd_name,
    );
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {"group": group, "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
    });
    let cr_id = id("west", &format!("{group}/v1"), "Widget", None, "first");
    let cr = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "first"}, "spec": {"size": 3}});

    // Warm the discovery cache first, so the CR is found only after a refresh.
    let plan = p.plan_object(&crd_id, &crd).await.unwrap();
    assert_eq!(plan.action, Verdict::Create);
    let plan = p.plan_object(&cr_id, &cr).await.unwrap();
    assert_eq!(plan.action, Verdict::Pending);
    assert!(
        plan.unvalidated
            .as_deref()
            .unwrap()
            .contains(&format!("no CRD serves {group}/v1 Widget"))
    );
    assert_eq!(plan.diff[0].after.as_ref().unwrap()["spec"]["size"], 3);

    p.apply_object(&crd_id, &crd, false).await.unwrap();
    p.wait_ready(&crd_id).await.unwrap();
    let a = p.apply_object(&cr_id, &cr, false).await.unwrap();
    assert_eq!(a.summary, "created");
    let plan = p.plan_object(&cr_id, &cr).await.unwrap();
    assert_eq!(plan.action, Verdict::NoOp, "{:?}", plan.diff);
    let mut bigger = cr.clone();
    bigger["spec"]["size"] = json!(4);
    let plan = p.plan_object(&cr_id, &bigger).await.unwrap();
    assert_eq!(paths(&plan), vec!["spec.size: 3 -> 4"]);

    let plan = p.plan_delete(&cr_id).await.unwrap();
    assert_eq!(plan.action, Verdict::Delete);
    assert_eq!(
        plan.diff[0].before,
        Some(
            json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
            "metadata": {"name": "first"}, "spec": {"size": 3}})
        )
    );
    p.delete_object(&cr_id).await.unwrap();
    assert_eq!(p.plan_delete(&cr_id).await.unwrap().action, Verdict::NoOp);
    p.delete_object(&crd_id).await.unwrap();
    assert_eq!(p.plan_delete(&cr_id).await.unwrap().action, Verdict::NoOp);
    // The kind is gone with its CRD: deleting again is a success.
    p.delete_object(&cr_id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_patch_applied_then_released() {
    let p = provider();
    let ns = unique("mk-patch");
    let _cleanup = support::cleanup("west", &ns);
    make_namespace(&p, "west", &ns).await;
    // A Service mtm does not own, made by someone else.
    kubectl(
        "west",
        &[
            "create",
            "service",
            "clusterip",
            "inventory",
            "-n",
            &ns,
            "--tcp=80:8080",
        ],
    );
    let target = id("west", "v1", "Service", Some(&ns), "inventory");
    let fields = json!({"metadata": {"labels": {"istio.io/use-waypoint": "agw-waypoint"}}});
    let manager = "mtm-patch-inventory";
    let get_labels = || {
        kubectl(
            "west",
            &[
                "get",
                "svc",
                "inventory",
                "-n",
                &ns,
                "-o",
                "jsonpath={.metadata.labels}",
            ],
        )
    };

    let a = p
        .apply_patch(&target, &fields, manager, false)
        .await
        .unwrap();
    assert_eq!(a.summary, "patched");
    let labels: Value = serde_json::from_str(&get_labels()).unwrap();
    assert_eq!(labels["istio.io/use-waypoint"], "agw-waypoint");
    assert_eq!(labels["app"], "inventory");
    let a = p
        .apply_patch(&target, &fields, manager, false)
        .await
        .unwrap();
    assert_eq!(a.summary, "unchanged");

    p.release_patch(&target, manager).await.unwrap();
    let labels: Value = serde_json::from_str(&get_labels()).unwrap();
    assert!(labels.get("istio.io/use-waypoint").is_none(), "{labels}");
    assert_eq!(labels["app"], "inventory", "the rest of the object stays");
    let managers = kubectl(
        "west",
        &[
            "get",
            "svc",
            "inventory",
            "-n",
            &ns,
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ],
    );
    assert!(!managers.contains(manager), "{managers}");
    // Released twice, or on a target that is gone: nothing to do.
    p.release_patch(&target, manager).await.unwrap();
    let missing = id("west", "v1", "Service", Some(&ns), "nowhere");
    p.release_patch(&missing, manager).await.unwrap();
    // A patch never creates its target.
    let err = p
        .apply_patch(&missing, &fields, manager, false)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("west/core/Service/{ns}/nowhere (patch {manager}): not found")
    );
    assert!(kubectl_try("west", &["get", "svc", "nowhere", "-n", &ns]).is_err());

    drop_namespace(&p, "west", &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsatisfiable_waits_time_out_naming_resource_and_condition() {
    let p = provider();
    let ns = unique("mk-wait");
    let _cleanup = support::cleanup("east", &ns);
    make_namespace(&p, "east", &ns).await;
    p.apply_object(
        &id("east", "v1", "ConfigMap", Some(&ns), "plain"),
        &config_map(&ns, "plain", "red"),
        false,
    )
    .await
    .unwrap();

    let spec = WaitSpec {
        name: "nothing-ready".into(),
        api_version: None,
        kind: "Pod".into(),
        namespace: Some(ns.clone()),
        object: None,
        selector: Some("app=never".into()),
        condition: "Ready".into(),
        timeout: Some("3s".into()),
    };
    let err = p.wait("east", &spec).await.unwrap_err();
    eprintln!("wait timeout: {err}");
    assert!(matches!(err, WaitError::Timeout { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "east: wait nothing-ready: Pod in {ns} matching app=never: timed out after 3s \
                 waiting for Ready; last seen: no Pod matches yet"
        )
    );

    // A named condition that this object never reports.
    let spec = WaitSpec {
        name: "plain-programmed".into(),
        api_version: Some("v1".into()),
        kind: "ConfigMap".into(),
        namespace: Some(ns.clone()),
        object: Some("plain".into()),
        selector: None,
        condition: "Programmed".into(),
        timeout: Some("2s".into()),
    };
    let err = p.wait("east", &spec).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "east: wait plain-programmed: ConfigMap in {ns} plain: timed out after 2s \
                 waiting for Programmed; last seen: no Programmed condition reported yet"
        )
    );

    // A satisfiable one returns: the namespace is Active.
    let spec = WaitSpec {
        name: "ns-active".into(),
        api_version: None,
        kind: "Namespace".into(),
        namespace: None,
        object: Some(ns.clone()),
        selector: None,
        condition: "Active".into(),
        timeout: Some("10s".into()),
    };
    p.wait("east", &spec).await.unwrap();

    drop_namespace(&p, "east", &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_deployment_become_ready() {
    let p = provider();
    let ns = unique("mk-pods");
    let _cleanup = support::cleanup("west", &ns);
    make_namespace(&p, "west", &ns).await;
    let did = id("west", "apps/v1", "Deployment", Some(&ns), "dev-ui");
    p.apply_object(&did, &deployment(&ns, "dev-ui", 2), false)
        .await
        .unwrap();
    let spec = WaitSpec {
        name: "dev-ui-ready".into(),
        api_version: None,
        kind: "Pod".into(),
        namespace: Some(ns.clone()),
        object: None,
        selector: Some("app=dev-ui".into()),
        condition: "Ready".into(),
        timeout: Some("120s".into()),
    };
    p.wait("west", &spec).await.unwrap();
    let ready = kubectl(
        "west",
        &[
            "get",
            "pods",
            "-n",
            &ns,
            "-l",
            "app=dev-ui",
            "-o",
            "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
        ],
    );
    assert_eq!(
        ready.split_whitespace().collect::<Vec<_>>(),
        vec!["True", "True"]
    );
    p.wait_ready(&did).await.unwrap();
    drop_namespace(&p, "west", &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirements_present_and_missing() {
    let p = provider();
    let crd = |name: &str| Requirement::Object {
        id: id(
            "east",
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            name,
        ),
        provides: None,
        hint: Some("install it as in the standup lab".into()),
    };
    p.check_requirement("east", &crd("gateways.gateway.networking.k8s.io"))
        .await
        .unwrap();
    let release = Requirement::Release {
        namespace: "agentgateway-system".into(),
        name: "enterprise-agentgateway".into(),
        hint: Some("install it as in the standup lab".into()),
    };
    p.check_requirement("east", &release).await.unwrap();

    let err = p
        .check_requirement("east", &crd("nothere.mtm.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, RequireError::Missing { .. }));
    assert_eq!(
        err.to_string(),
        "cluster east: missing CustomResourceDefinition nothere.mtm.example: it does not exist \
         (install it as in the standup lab)"
    );
    // The stand-in release is installed on east only.
    let err = p.check_requirement("west", &release).await.unwrap_err();
    eprintln!("missing release: {err}");
    assert_eq!(
        err.to_string(),
        "cluster west: missing helm release agentgateway-system/enterprise-agentgateway: no release \
         secret sh.helm.release.v1.enterprise-agentgateway.v* in namespace agentgateway-system \
         (install it as in the standup lab)"
    );
    let gc = Requirement::Object {
        id: id(
            "west",
            "gateway.networking.k8s.io/v1",
            "GatewayClass",
            None,
            "no-such-class",
        ),
        provides: None,
        hint: None,
    };
    let err = p.check_requirement("west", &gc).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster west: missing GatewayClass no-such-class: it does not exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_delete_waits_for_its_finalizers() {
    let p = provider().with_delete_timeout(Duration::from_secs(4));
    let ns = unique("mk-delete");
    let _cleanup = support::cleanup("east", &ns);
    make_namespace(&p, "east", &ns).await;
    // A ConfigMap held by a finalizer nobody removes keeps the namespace Terminating.
    let held = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": ns, "finalizers": ["mtm.example/hold"]}});
    p.apply_object(
        &id("east", "v1", "ConfigMap", Some(&ns), "held"),
        &held,
        false,
    )
    .await
    .unwrap();
    let nid = namespace_id("east", &ns);

    let err = p.delete_object(&nid).await.unwrap_err();
    let text = err.to_string();
    eprintln!("delete timeout: {text}");
    assert!(matches!(err, KubeError::DeleteTimeout { .. }), "{text}");
    assert!(
        text.starts_with(&format!("east/core/Namespace/_/{ns}: still present")),
        "{text}"
    );
    assert!(text.contains("phase Terminating"), "{text}");

    // Once the finalizer goes (3 s from now), a delete returns only when the namespace is gone.
    let release = {
        let ns = ns.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            tokio::task::spawn_blocking(move || {
                kubectl(
                    "east",
                    &[
                        "patch",
                        "cm",
                        "held",
                        "-n",
                        &ns,
                        "--type=merge",
                        "-p",
                        r#"{"metadata":{"finalizers":null}}"#,
                    ],
                )
            })
            .await
            .unwrap()
        })
    };
    let p = provider().with_delete_timeout(Duration::from_secs(120));
    p.delete_object(&nid).await.unwrap();
    // The delete returned only once the object was gone, so after the finalizer was
    // released: the task releasing it has finished.
    assert!(release.is_finished(), "returned before the finalizer went");
    release.await.unwrap();
    let gone = kubectl_try("east", &["get", "namespace", &ns]).unwrap_err();
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "{gone}"
    );
    // Already gone is a success.
    p.delete_object(&nid).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_context_fails_only_its_cluster() {
    let contexts = BTreeMap::from([
        ("east".to_string(), "east-ag".to_string()),
        ("north".to_string(), "north-nowhere".to_string()),
    ]);
    let p = KubeProvider::new(contexts).with_kubeconfig(&support::testbed().kubeconfig);
    let err = p
        .plan_object(&namespace_id("north", "x"), &namespace("x"))
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("missing context: {text}");
    assert!(
        text.starts_with("cluster north: cannot load kube context north-nowhere: "),
        "{text}"
    );
    assert!(err.is_cluster_fault());

    let err = p
        .plan_object(&namespace_id("south", "x"), &namespace("x"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster south: no kube context is bound to it (bound: east, north)"
    );

    // The other cluster of the same provider is unaffected.
    let plan = p
        .plan_object(&namespace_id("east", "default"), &namespace("default"))
        .await
        .unwrap();
    assert_eq!(plan.action, Verdict::NoOp);
}

fn resource(address: &str, spec: Spec) -> Resource {
    Resource {
        address: Address(address.into()),
        spec,
        step: Default::default(),
        stages: vec!["lab1".into()],
        origin: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_trait_applies_and_destroys() {
    let p = provider();
    let ns = unique("mk-trait");
    let _cleanup = support::cleanup("east", &ns);
    let ns_res = resource(
        &format!("lab1/east/core/Namespace/_/{ns}"),
        Spec::Object {
            id: namespace_id("east", &ns),
            manifest: namespace(&ns).into(),
        },
    );
    let dep = resource(
        &format!("lab1/east/apps/Deployment/{ns}/web"),
        Spec::Object {
            id: id("east", "apps/v1", "Deployment", Some(&ns), "web"),
            manifest: deployment(&ns, "web", 1).into(),
        },
    );
    let wait = resource(
        "lab1/east/wait/web-pods",
        Spec::Wait {
            cluster: "east".into(),
            wait: WaitSpec {
                name: "web-pods".into(),
                api_version: None,
                kind: "Pod".into(),
                namespace: Some(ns.clone()),
                object: None,
                selector: Some("app=web".into()),
                condition: "Ready".into(),
                timeout: Some("120s".into()),
            },
        },
    );
    assert_eq!(p.apply(&ns_res, idle()).await.unwrap().summary, "created");
    assert_eq!(p.apply(&dep, idle()).await.unwrap().summary, "created");
    // Apply of a Deployment waited for it: it is Available now.
    let available = kubectl(
        "east",
        &[
            "get",
            "deploy",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
        ],
    );
    assert_eq!(available, "True");
    assert_eq!(p.apply(&wait, idle()).await.unwrap().summary, "Pod Ready");

    let absent = resource(
        &format!("lab2/east/apps/Deployment/{ns}/web"),
        Spec::Absent {
            id: id("east", "apps/v1", "Deployment", Some(&ns), "web"),
        },
    );
    assert_eq!(p.apply(&absent, idle()).await.unwrap().summary, "deleted");
    assert!(kubectl_try("east", &["get", "deploy", "web", "-n", &ns]).is_err());

    let unknown = resource(
        "lab1/mars/core/Namespace/_/x",
        Spec::Object {
            id: namespace_id("mars", "x"),
            manifest: namespace("x").into(),
        },
    );
    let err = p.apply(&unknown, idle()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster mars: no kube context is bound to it (bound: east, west)"
    );

    p.delete(&dep, idle()).await.unwrap();
    p.delete(&ns_res, idle()).await.unwrap();
    assert!(kubectl_try("east", &["get", "namespace", &ns]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_named_once_and_remembered() {
    // A context whose API server does not listen: connections are refused.
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", unique("mk-dead")));
    let config = json!({"apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "dead", "cluster": {"server": "https://127.0.0.1:1",
            "insecure-skip-tls-verify": true}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "dead-ctx", "context": {"cluster": "dead", "user": "u"}}],
        "current-context": "dead-ctx"});
    std::fs::write(&path, config.to_string()).unwrap();
    let retry = mtm_kube::RetryPolicy {
        first: Duration::from_millis(100),
        max: Duration::from_millis(500),
        budget: Duration::from_secs(2),
        connect_budget: Duration::from_secs(1),
    };
    let p = KubeProvider::new(BTreeMap::from([(
        "dead".to_string(),
        "dead-ctx".to_string(),
    )]))
    .with_kubeconfig(&path)
    .with_retry(retry);
    assert!(p.unreachable("dead").is_none());
    let err = p
        .plan_object(&namespace_id("dead", "x"), &namespace("x"))
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("unreachable: {text}");
    assert!(matches!(err, KubeError::Unavailable { .. }), "{text}");
    assert!(err.is_cluster_fault(), "{text}");
    assert!(
        text.starts_with(
            "cluster dead (context dead-ctx, server https://127.0.0.1:1/) unreachable: "
        ),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    // Remembered for the run: the next call on that cluster gets the same error without
    // trying again, whatever object it is about.
    let remembered = p
        .unreachable("dead")
        .expect("the cluster is remembered as down");
    assert_eq!(remembered.to_string(), text);
    let again = p.get_object(&namespace_id("dead", "y")).await.unwrap_err();
    assert_eq!(again.to_string(), text);
    std::fs::remove_file(&path).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_never_show_and_string_data_changes_do() {
    let p = provider();
    let ns = unique("mk-secret");
    let _cleanup = support::cleanup("east", &ns);
    make_namespace(&p, "east", &ns).await;
    let sid = id("east", "v1", "Secret", Some(&ns), "creds");
    let secret = |token: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
               "type": "Opaque", "stringData": {"token": token}})
    };
    let plan = p.plan_object(&sid, &secret("s3cr3t-one")).await.unwrap();
    assert_eq!(plan.action, Verdict::Create);
    assert!(!format!("{plan:?}").contains("s3cr3t"), "{plan:?}");
    p.apply_object(&sid, &secret("s3cr3t-one"), false)
        .await
        .unwrap();
    assert_eq!(
        kubectl(
            "east",
            &[
                "get",
                "secret",
                "creds",
                "-n",
                &ns,
                "-o",
                "jsonpath={.data.token}"
            ]
        ),
        "czNjcjN0LW9uZQ=="
    );
    let plan = p.plan_object(&sid, &secret("s3cr3t-one")).await.unwrap();
    assert_eq!(plan.action, Verdict::NoOp, "{:?}", plan.diff);

    // The object itself, for restoring it, keeps the value.
    let raw = p.get_object(&sid).await.unwrap().unwrap();
    assert_eq!(raw["data"]["token"], "czNjcjN0LW9uZQ==");
    let plan = p.plan_delete(&sid).await.unwrap();
    assert!(!format!("{plan:?}").contains("czNjcjN0"), "{plan:?}");

    let plan = p.plan_object(&sid, &secret("s3cr3t-two")).await.unwrap();
    assert_eq!(plan.action, Verdict::Update);
    assert_eq!(plan.diff.len(), 1, "{:?}", plan.diff);
    assert_eq!(plan.diff[0].path, "data.token");
    let shown = format!("{plan:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("czNjcjN0"),
        "{shown}"
    );
    assert!(shown.contains("(sensitive sha256:"), "{shown}");

    drop_namespace(&p, "east", &ns).await;
}

/// Replaces the plan's `${...}` references with values good enough for the API server.
fn substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .expect("closed ${");
        out.push_str(match &rest[start + 2..end] {
            "CLUSTER1" => "east-ag",
            "CLUSTER2" => "west-ag",
            "MCP_EVERYTHING_VERSION" => "2026.1.26",
            "gen.lab-jwt.jwks" => r#"{"keys":[]}"#,
            _ => "placeholder",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every workshop manifest, applied in stage order into namespaces of this test's own
/// (a later declaration of the same object replaces the earlier), then planned: nothing
/// of ours differs, for Deployments, Services, Gateways and the vendor's custom resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workshop_manifests_plan_noop_right_after_apply() {
    let p = provider();
    let suffix = unique("w");
    let rename = |ns: &str| format!("mk-{suffix}-{ns}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plans/agentic-mcp-lab/manifests");
    let files = [
        ("east", "lab1/namespaces.yaml"),
        ("east", "lab1/mcp-servers.yaml"),
        ("east", "lab1/clients.yaml"),
        ("east", "lab2/waypoint.yaml"),
        ("east", "lab2/waypoint-authz.yaml"),
        ("east", "lab3/mcp-gateway-service.yaml"),
        ("east", "lab3/mcp-backend-route.yaml"),
        ("east", "lab4/mcp-tool-allowlist.yaml"),
        ("east", "lab5/mcp-jwt-auth.yaml"),
        ("east", "lab5/mcp-user-rbac.yaml"),
        ("east", "lab6/namespace.yaml"),
        ("east", "lab6/mock-idp-httpbin.yaml"),
        ("east", "lab6/upstream-sts-jwt.yaml"),
        ("east", "lab6/upstream-waypoint.yaml"),
        ("west", "bonus/west-namespace.yaml"),
        ("west", "bonus/west-orders-mcp.yaml"),
        ("east", "bonus/mcp-be.yaml"),
    ];
    // The fold: identity -> last manifest, in first-declared order.
    let mut objects: Vec<(mtm_provider::ObjectId, Value)> = Vec::new();
    for (cluster, file) in files {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&substitute(&text))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        for mut doc in docs.into_iter().filter(|d| d.is_object()) {
            let kind = doc["kind"].as_str().unwrap().to_string();
            let (ns, name) = if kind == "Namespace" {
                let renamed = rename(doc["metadata"]["name"].as_str().unwrap());
                doc["metadata"]["name"] = json!(renamed);
                (None, renamed)
            } else {
                // bonus/west-orders-mcp.yaml takes its namespace from its step: ai-tools.
                let ns = doc["metadata"]["namespace"].as_str().unwrap_or("ai-tools");
                let renamed = rename(ns);
                doc["metadata"]["namespace"] = json!(renamed);
                (
                    Some(renamed),
                    doc["metadata"]["name"].as_str().unwrap().to_string(),
                )
            };
            let oid = id(
                cluster,
                doc["apiVersion"].as_str().unwrap(),
                &kind,
                ns.as_deref(),
                &name,
            );
            match objects.iter_mut().find(|(o, _)| o.key() == oid.key()) {
                Some(slot) => *slot = (oid, doc),
                None => objects.push((oid, doc)),
            }
        }
    }
    assert!(objects.len() > 30, "{} objects", objects.len());
    let _cleanup: Vec<_> = objects
        .iter()
        .filter(|(o, _)| o.kind == "Namespace")
        .map(|(o, _)| support::cleanup(&o.cluster, &o.name))
        .collect();

    for (oid, doc) in &objects {
        let plan = p
            .plan_object(oid, doc)
            .await
            .unwrap_or_else(|e| panic!("plan {oid}: {e}"));
        assert_eq!(plan.action, Verdict::Create, "{oid}");
        p.apply_object(oid, doc, false)
            .await
            .unwrap_or_else(|e| panic!("apply {oid}: {e}"));
        if oid.kind == "Namespace" {
            p.wait_ready(oid).await.unwrap();
        }
    }
    let mut changed = Vec::new();
    for (oid, doc) in &objects {
        let plan = p
            .plan_object(oid, doc)
            .await
            .unwrap_or_else(|e| panic!("plan {oid}: {e}"));
        if plan.action != Verdict::NoOp {
            changed.push(format!("{oid}: {:?} {:?}", plan.action, plan.diff));
        }
    }
    assert!(
        changed.is_empty(),
        "not a no-op right after apply:\n{}",
        changed.join("\n")
    );

    for (oid, _) in objects.iter().filter(|(o, _)| o.kind == "Namespace") {
        p.delete_object(oid).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_waits_for_a_job_to_complete() {
    let p = provider();
    let ns = unique("mk-job");
    let _cleanup = support::cleanup("west", &ns);
    make_namespace(&p, "west", &ns).await;
    let jid = id("west", "batch/v1", "Job", Some(&ns), "once");
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "once", "namespace": ns},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}}}});
    let r = resource(
        &format!("lab1/west/batch/Job/{ns}/once"),
        Spec::Object {
            id: jid.clone(),
            manifest: job.clone().into(),
        },
    );
    assert_eq!(p.apply(&r, idle()).await.unwrap().summary, "created");
    let complete = kubectl(
        "west",
        &[
            "get",
            "job",
            "once",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}",
        ],
    );
    assert_eq!(complete, "True", "apply returned before the Job completed");
    let plan = p.plan_object(&jid, &job).await.unwrap();
    assert_eq!(plan.action, Verdict::NoOp, "{:?}", plan.diff);
    drop_namespace(&p, "west", &ns).await;
}

/// A cancel signal that never fires.
fn idle() -> mtm_provider::Cancel {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // Kept alive for the test's life: a dropped sender would read as a closed channel.
    std::mem::forget(tx);
    rx
}

/// Creates `name` in `ns` on east-ag from another client (field manager `someone`), as a
/// colleague's kubectl would, bypassing the provider and what it has read.
async fn create_elsewhere(ns: &str, name: &str) {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kubeconfig = Kubeconfig::read_from(&support::testbed().kubeconfig).unwrap();
    let options = KubeConfigOptions {
        context: Some("east-ag".into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, ns);
    let cm = serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns},
        "data": {"owner": "someone"}}))
    .unwrap();
    let params = kube::api::PostParams {
        field_manager: Some("someone".into()),
        ..Default::default()
    };
    api.create(&params, &cm).await.unwrap();
}

/// An object another client creates after mtm listed its kind as absent, and before mtm
/// applies it, is not taken for one mtm created: the apply says `configured` and gives
/// what the other client holds of it as what existed before (so destroy restores it
/// rather than deleting it). The truly new object beside it is `created`, with no prior.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_created_since_its_listing_is_not_taken_for_new() {
    let p = provider();
    let ns = unique("mk-since");
    let _cleanup = support::cleanup("east", &ns);
    make_namespace(&p, "east", &ns).await;
    let cm = |name: &str| {
        resource(
            &format!("lab1/east/core/ConfigMap/{ns}/{name}"),
            Spec::Object {
                id: id("east", "v1", "ConfigMap", Some(&ns), name),
                manifest: config_map(&ns, name, "blue").into(),
            },
        )
    };
    let (theirs, ours) = (cm("theirs"), cm("ours"));
    Provider::prefetch(&p, &[&theirs, &ours]).await.unwrap();
    for r in [&theirs, &ours] {
        assert_eq!(p.observe(r).await.unwrap().verdict, Verdict::Create);
    }
    create_elsewhere(&ns, "theirs").await;

    let done = p.apply(&theirs, idle()).await.unwrap();
    assert_eq!(done.summary, "configured");
    let prior = done.prior.expect("what existed before");
    assert_eq!(prior["data"], json!({"owner": "someone"}), "{prior}");
    assert_eq!(prior["metadata"]["name"], "theirs");
    let done = p.apply(&ours, idle()).await.unwrap();
    assert_eq!((done.summary.as_str(), done.prior), ("created", None));
    drop_namespace(&p, "east", &ns).await;
}
