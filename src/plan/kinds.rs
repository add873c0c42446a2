//! What mtm knows offline about Kubernetes kinds: which built-in kinds are cluster-scoped,
//! which API groups are built in, which kinds run pods, and the name rules of the common
//! built-in kinds.
//!
//! Custom kinds are learnt from the plan itself (CRDs it declares, CRDs the standup
//! requires with `provides`); this module holds only the fixed facts of Kubernetes.

/// API groups served by every Kubernetes API server (`""` is the core group).
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

/// Built-in kinds that are cluster-scoped, by (group, kind).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
];

/// Kinds whose spec holds a pod template (or is a pod).
const POD_KINDS: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "ReplicationController"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// Built-in kinds whose names are DNS-1123 labels (at most 63 characters, no dots).
const LABEL_NAMED: &[(&str, &str)] = &[("", "Namespace"), ("", "Service")];

/// Built-in kinds whose names are DNS-1123 subdomains (at most 253 characters). Kinds not
/// listed here (RBAC's `system:...`, custom kinds) are left to the API server.
const SUBDOMAIN_NAMED: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "Pod"),
    ("", "PersistentVolumeClaim"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// Why `name` cannot name an object of this built-in kind, if it cannot (`None` for a
/// valid name or a kind whose rules this module does not hold).
pub fn name_problem(group: &str, kind: &str, name: &str) -> Option<String> {
    let is = |list: &[(&str, &str)]| list.iter().any(|(g, k)| *g == group && *k == kind);
    if is(LABEL_NAMED) {
        dns_problem(name, 63, false)
    } else if is(SUBDOMAIN_NAMED) {
        dns_problem(name, 253, true)
    } else {
        None
    }
}

/// Why `name` is not a namespace name (a DNS-1123 label), if it is not.
pub fn namespace_problem(name: &str) -> Option<String> {
    dns_problem(name, 63, false)
}

fn dns_problem(name: &str, max: usize, dots: bool) -> Option<String> {
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars = if dots {
        "lowercase letters, digits, '-' and '.'"
    } else {
        "lowercase letters, digits and '-'"
    };
    if name.len() > max {
        Some(format!("is longer than {max} characters"))
    } else if !name.chars().all(allowed) {
        Some(format!("may hold only {chars}"))
    } else if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        Some("must start and end with a lowercase letter or a digit".to_string())
    } else {
        None
    }
}

pub fn is_builtin_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}

/// `Some(true)` cluster-scoped, `Some(false)` namespaced, `None` not a built-in group.
pub fn builtin_cluster_scoped(group: &str, kind: &str) -> Option<bool> {
    is_builtin_group(group).then(|| CLUSTER_SCOPED.contains(&(group, kind)))
}

pub fn runs_pods(group: &str, kind: &str) -> bool {
    POD_KINDS.contains(&(group, kind))
}
