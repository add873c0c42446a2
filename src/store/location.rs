//! Where state lives: a directory (the default, kept by sled) or a Kubernetes namespace,
//! written `kube://CONTEXT/NAMESPACE[/NAME][?lease=DURATION]`.
//!
//! Pure parsing and display: this module does not open anything, and does not know
//! what a backend keeps where.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCHEME: &str = "kube://";
/// The name of the state within its namespace when the location names none.
pub const DEFAULT_NAME: &str = "mtm";
/// How long a lease holder that stops renewing keeps the state, when the location does
/// not say.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Where `--state` points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    Kube(KubeLocation),
}

/// State kept in a cluster: Secrets and a Lease in `namespace` of the cluster `context`
/// names, all named after `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeLocation {
    pub context: String,
    pub namespace: String,
    pub name: String,
    /// How long the lock lasts without renewal (it is renewed every third of it).
    pub lease: Duration,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error(
        "state location {given} is not kube://CONTEXT/NAMESPACE[/NAME]: {problem}\n  help: e.g. --state kube://east-ag/mtm-state"
    )]
    Shape { given: String, problem: String },
}

impl Location {
    /// `text` as a location: `kube://…` is a cluster, anything else a directory.
    pub fn parse(text: &Path) -> Result<Location, LocationError> {
        match text.to_str().and_then(|t| t.strip_prefix(SCHEME)) {
            Some(rest) => KubeLocation::parse(rest)
                .map(Location::Kube)
                .map_err(|problem| LocationError::Shape {
                    given: text.display().to_string(),
                    problem,
                }),
            None => Ok(Location::Dir(text.to_path_buf())),
        }
    }
}

impl KubeLocation {
    fn parse(rest: &str) -> Result<KubeLocation, String> {
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let (context, namespace, name) = match parts.as_slice() {
            [context, namespace] => (*context, *namespace, DEFAULT_NAME),
            [context, namespace, name] => (*context, *namespace, *name),
            _ => return Err("expected a context, a namespace and an optional name".into()),
        };
        if context.is_empty() {
            return Err("the context is empty".into());
        }
        for (what, value) in [("namespace", namespace), ("name", name)] {
            if !dns_label(value) {
                return Err(format!(
                    "the {what} {value:?} is not a DNS label (lower-case letters, digits, '-')"
                ));
            }
        }
        let lease = match query {
            None => DEFAULT_LEASE,
            Some(query) => lease(query)?,
        };
        Ok(KubeLocation {
            context: context.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            lease,
        })
    }
}

fn lease(query: &str) -> Result<Duration, String> {
    let Some(value) = query.strip_prefix("lease=") else {
        return Err(format!(
            "unknown option {query:?} (only lease=DURATION is known)"
        ));
    };
    match crate::duration::parse(value) {
        Some(d) if d >= Duration::from_secs(1) => Ok(d),
        _ => Err(format!(
            "lease={value} is not a duration of a second or more"
        )),
    }
}

/// Names of the state's objects get a suffix, so the name stays well below 63.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl fmt::Display for KubeLocation {
    /// Without the lease: the location as the state's objects are found.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}{}/{}/{}",
            self.context, self.namespace, self.name
        )
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(dir) => write!(f, "{}", dir.display()),
            Location::Kube(kube) => kube.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kube(text: &str) -> KubeLocation {
        match Location::parse(Path::new(text)).unwrap() {
            Location::Kube(k) => k,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kube_locations_name_context_namespace_and_name() {
        let k = kube("kube://east-ag/mtm-state");
        assert_eq!(
            (
                k.context.as_str(),
                k.namespace.as_str(),
                k.name.as_str(),
                k.lease
            ),
            ("east-ag", "mtm-state", "mtm", DEFAULT_LEASE)
        );
        let k = kube("kube://kind-a.b_c/ns/team-1?lease=3s");
        assert_eq!(k.context, "kind-a.b_c");
        assert_eq!(k.name, "team-1");
        assert_eq!(k.lease, Duration::from_secs(3));
        assert_eq!(k.to_string(), "kube://kind-a.b_c/ns/team-1");
    }

    #[test]
    fn anything_else_is_a_directory() {
        for dir in ["state", "/tmp/kube:/x", "kube:/x", "./kube://x"] {
            assert_eq!(
                Location::parse(Path::new(dir)).unwrap(),
                Location::Dir(PathBuf::from(dir))
            );
        }
    }

    #[test]
    fn malformed_kube_locations_say_what_is_wrong() {
        for (text, problem) in [
            ("kube://east-ag", "expected a context"),
            ("kube://east-ag/a/b/c", "expected a context"),
            ("kube:///ns", "the context is empty"),
            (
                "kube://east-ag/Upper",
                "the namespace \"Upper\" is not a DNS label",
            ),
            (
                "kube://east-ag/ns/x_y",
                "the name \"x_y\" is not a DNS label",
            ),
            ("kube://east-ag/ns?lease=0s", "lease=0s is not a duration"),
            ("kube://east-ag/ns?ttl=3s", "unknown option \"ttl=3s\""),
        ] {
            let err = Location::parse(Path::new(text)).unwrap_err().to_string();
            assert!(err.contains(problem), "{text}: {err}");
            assert!(err.starts_with(&format!("state location {text} ")), "{err}");
        }
    }
}
