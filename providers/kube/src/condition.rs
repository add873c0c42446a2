//! Readiness read from an object: whether a condition holds, and a one-line account of
//! what was last seen, for timeout messages. Pure: an object in, a verdict out.

use serde_json::Value;

/// The verdict on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub met: bool,
    /// The condition can never become true (a Job that Failed).
    pub failed: bool,
    /// e.g. `Ready=False (ContainersNotReady: containers with unready status: [app])`.
    pub seen: String,
}

fn conditions(obj: &Value) -> impl Iterator<Item = &Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn describe(c: &Value) -> String {
    let ty = c["type"].as_str().unwrap_or("?");
    let status = c["status"].as_str().unwrap_or("?");
    let reason = c["reason"].as_str().unwrap_or("");
    let message = c["message"].as_str().unwrap_or("");
    match (reason.is_empty(), message.is_empty()) {
        (true, true) => format!("{ty}={status}"),
        (false, true) => format!("{ty}={status} ({reason})"),
        (true, false) => format!("{ty}={status} ({message})"),
        (false, false) => format!("{ty}={status} ({reason}: {message})"),
    }
}

/// Whether `condition` holds on `obj`: a condition of that type with status True, or a
/// `status.phase` of that name (`Namespace` is `Active`, a Pod `Running`). A condition with
/// an `observedGeneration` older than the object's generation does not count yet.
pub fn condition(obj: &Value, condition: &str) -> Verdict {
    let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
    if let Some(c) = conditions(obj).find(|c| c["type"].as_str() == Some(condition)) {
        let stale = match (c["observedGeneration"].as_i64(), generation) {
            (Some(seen), Some(current)) => seen < current,
            _ => false,
        };
        let met = c["status"] == "True" && !stale;
        let mut seen = describe(c);
        if stale {
            seen.push_str(" for an older generation");
        }
        return Verdict {
            met,
            failed: false,
            seen,
        };
    }
    let phase = obj.pointer("/status/phase").and_then(Value::as_str);
    if phase == Some(condition) {
        return Verdict {
            met: true,
            failed: false,
            seen: format!("phase {condition}"),
        };
    }
    let mut seen: Vec<String> = conditions(obj).map(describe).collect();
    if let Some(p) = phase {
        seen.insert(0, format!("phase {p}"));
    }
    Verdict {
        met: false,
        failed: false,
        seen: if seen.is_empty() {
            format!("no {condition} condition reported yet")
        } else {
            format!("no {condition} condition; {}", seen.join(", "))
        },
    }
}

/// The readiness condition a kind has, if any: what `apply` waits for.
pub fn readiness_of(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("apps", "Deployment") => Some("Available"),
        ("", "Pod") => Some("Ready"),
        ("", "Namespace") => Some("Active"),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Some("Established"),
        ("batch", "Job") => Some("Complete"),
        _ => None,
    }
}

/// Readiness of an object of a kind with readiness, stricter than one condition where
/// the kind needs it: a Deployment is ready when its controller saw the current spec and
/// every desired replica is updated and available; a Job fails for good when `Failed`.
pub fn ready(obj: &Value, group: &str, kind: &str, wanted: &str) -> Verdict {
    let mut verdict = condition(obj, wanted);
    match (group, kind, wanted) {
        ("apps", "Deployment", "Available") if verdict.met => {
            let num = |p: &str| obj.pointer(p).and_then(Value::as_i64);
            let generation = num("/metadata/generation").unwrap_or(0);
            let observed = num("/status/observedGeneration").unwrap_or(0);
            let desired = num("/spec/replicas").unwrap_or(1);
            let updated = num("/status/updatedReplicas").unwrap_or(0);
            let available = num("/status/availableReplicas").unwrap_or(0);
            if observed < generation {
                verdict.met = false;
                verdict.seen = format!("generation {generation} not yet observed (at {observed})");
            } else if updated < desired || available < desired {
                verdict.met = false;
                verdict.seen =
                    format!("{updated} of {desired} replicas updated, {available} available");
            }
        }
        ("batch", "Job", "Complete") if !verdict.met => {
            if let Some(c) =
                conditions(obj).find(|c| c["type"] == "Failed" && c["status"] == "True")
            {
                verdict.failed = true;
                verdict.seen = describe(c);
            }
        }
        _ => {}
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_ready_and_not() {
        let pod = json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "message": "containers with unready status: [app]"}
        ]}});
        let v = condition(&pod, "Ready");
        assert!(!v.met);
        assert_eq!(
            v.seen,
            "Ready=False (ContainersNotReady: containers with unready status: [app])"
        );
        assert!(condition(&pod, "Running").met);
    }

    #[test]
    fn missing_condition_lists_what_is_there() {
        let gw = json!({"status": {"conditions": [{"type": "Accepted", "status": "True"}]}});
        assert_eq!(
            condition(&gw, "Programmed").seen,
            "no Programmed condition; Accepted=True"
        );
        assert_eq!(
            condition(&json!({}), "Ready").seen,
            "no Ready condition reported yet"
        );
    }

    #[test]
    fn stale_generation_does_not_count() {
        let gw = json!({"metadata": {"generation": 3}, "status": {"conditions": [
            {"type": "Programmed", "status": "True", "observedGeneration": 2}
        ]}});
        let v = condition(&gw, "Programmed");
        assert!(!v.met);
        assert_eq!(v.seen, "Programmed=True for an older generation");
    }

    #[test]
    fn deployment_needs_all_replicas() {
        let d = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 1,
                "conditions": [{"type": "Available", "status": "True"}]}});
        let v = ready(&d, "apps", "Deployment", "Available");
        assert!(!v.met);
        assert_eq!(v.seen, "3 of 3 replicas updated, 1 available");
    }

    #[test]
    fn failed_job_is_final() {
        let j = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        let v = ready(&j, "batch", "Job", "Complete");
        assert!(v.failed);
        assert_eq!(v.seen, "Failed=True (BackoffLimitExceeded)");
    }
}
