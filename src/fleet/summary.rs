//! The fleet's results: one row per instance, and one exit code for the run.
//!
//! The exit code is the worst of the instances': an error (1) over changes or drift (2)
//! over success (0). The table names each instance, its result, what it found (changes,
//! drift, checks: counts only, never a value) and how long it took; the detail of an
//! instance that did not succeed is what its command printed, already redacted.

use serde::Serialize;

/// How one instance's command ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceResult {
    pub instance: String,
    /// The command's exit code (1 also for an instance not started: cancelled).
    #[serde(rename = "exitCode")]
    pub code: u8,
    /// ok, changes, drift, error, not started.
    pub result: String,
    /// What the command found, in counts ("3 to change", "2 drifted"), if it said.
    pub found: Option<String>,
    pub seconds: f64,
    /// What the command printed, for an instance that did not succeed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Every instance's result, in the order they were listed.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub command: String,
    pub instances: Vec<InstanceResult>,
    #[serde(rename = "exitCode")]
    pub exit_code: u8,
}

/// The worst exit code: 1 over 2 over 0 (and any other non-zero counts as 1).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes
        .into_iter()
        .fold(0, |worst, code| match (worst, code) {
            (1, _) | (_, 1) => 1,
            (w, 0) => w,
            (_, 2) => 2,
            _ => 1,
        })
}

impl Summary {
    pub fn new(command: &str, instances: Vec<InstanceResult>) -> Summary {
        let exit_code = worst(instances.iter().map(|i| i.code));
        Summary {
            command: command.to_string(),
            instances,
            exit_code,
        }
    }

    /// The table, then one line of totals.
    pub fn table(&self) -> String {
        let head = ["INSTANCE", "RESULT", "FOUND", "SECONDS"];
        let rows: Vec<[String; 4]> = self
            .instances
            .iter()
            .map(|i| {
                [
                    i.instance.clone(),
                    i.result.clone(),
                    i.found.clone().unwrap_or_else(|| "-".into()),
                    format!("{:.1}", i.seconds),
                ]
            })
            .collect();
        let width = |c: usize| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([head[c].len()])
                .max()
                .unwrap_or(0)
        };
        let w = [width(0), width(1), width(2), width(3)];
        let line = |r: [&str; 4]| {
            format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3]
            )
        };
        let mut out = line(head);
        for r in &rows {
            out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
        }
        out.push_str(&self.totals());
        out
    }

    /// `Fleet apply: 3 instances: 2 ok, 1 error; exit 1.`
    fn totals(&self) -> String {
        let mut by: Vec<(&str, usize)> = Vec::new();
        for i in &self.instances {
            match by.iter_mut().find(|(r, _)| *r == i.result) {
                Some((_, n)) => *n += 1,
                None => by.push((&i.result, 1)),
            }
        }
        let parts: Vec<String> = by.iter().map(|(r, n)| format!("{n} {r}")).collect();
        format!(
            "Fleet {}: {} instance{}: {}; exit {}.\n",
            self.command,
            self.instances.len(),
            if self.instances.len() == 1 { "" } else { "s" },
            parts.join(", "),
            self.exit_code
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        name: &str,
        code: u8,
        result: &str,
        found: Option<&str>,
        seconds: f64,
    ) -> InstanceResult {
        InstanceResult {
            instance: name.into(),
            code,
            result: result.into(),
            found: found.map(str::to_string),
            seconds,
            detail: String::new(),
        }
    }

    #[test]
    fn the_worst_exit_wins() {
        assert_eq!(worst([]), 0);
        assert_eq!(worst([0, 0]), 0);
        assert_eq!(worst([0, 2, 0]), 2);
        assert_eq!(worst([2, 1, 0]), 1);
        assert_eq!(worst([1, 2]), 1);
        assert_eq!(worst([0, 3]), 1);
        assert_eq!(worst([2, 2]), 2);
    }

    #[test]
    fn a_table_with_totals() {
        let s = Summary::new(
            "drift",
            vec![
                row("alice", 0, "ok", Some("0 drifted"), 1.24),
                row("bob-the-long", 2, "drift", Some("1 drifted"), 12.0),
                row("carol", 1, "error", None, 0.5),
            ],
        );
        assert_eq!(s.exit_code, 1);
        assert_eq!(
            s.table(),
            "INSTANCE      RESULT  FOUND      SECONDS\n\
             alice         ok      0 drifted      1.2\n\
             bob-the-long  drift   1 drifted     12.0\n\
             carol         error   -              0.5\n\
             Fleet drift: 3 instances: 1 ok, 1 drift, 1 error; exit 1.\n"
        );
    }
}
