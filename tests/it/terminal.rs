//! Apply on a terminal: every resource's outcome line stays on screen above the live
//! progress bar, and no line is lost when stdout and stderr go to different places.
//!
//! mtm runs under a pseudo-terminal (script(1)); what it wrote is replayed on a small
//! terminal model ([`Screen`]) that understands the cursor and erase sequences a progress
//! bar uses, and the final screen is searched for every outcome line.

use crate::support::{Fixture, bin, kubectl, need_testbed, unique};
use std::process::Command;

/// The terminal's width (`stty cols`).
const WIDTH: usize = 200;

/// The final text of a terminal after `bytes`: cursor moves, erases, carriage returns.
struct Screen {
    rows: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    fn replay(bytes: &[u8]) -> Vec<String> {
        let mut s = Screen {
            rows: vec![Vec::new()],
            row: 0,
            col: 0,
        };
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => s.col = 0,
                '\n' => s.down(1),
                // A CSI sequence; two-character escapes need nothing here.
                '\x1b' => {
                    if chars.next() == Some('[') {
                        let mut params = String::new();
                        let mut last = None;
                        for p in chars.by_ref() {
                            if p.is_ascii_alphabetic() || p == '@' || p == '~' {
                                last = Some(p);
                                break;
                            }
                            params.push(p);
                        }
                        s.csi(&params, last);
                    }
                }
                c if c.is_control() => {}
                c => s.put(c),
            }
        }
        s.rows
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    fn down(&mut self, n: usize) {
        self.row += n;
        while self.rows.len() <= self.row {
            self.rows.push(Vec::new());
        }
    }

    fn put(&mut self, c: char) {
        // A full line wraps when the next character comes, as terminals do.
        if self.col >= WIDTH {
            self.down(1);
            self.col = 0;
        }
        let line = &mut self.rows[self.row];
        while line.len() <= self.col {
            line.push(' ');
        }
        line[self.col] = c;
        self.col += 1;
    }

    fn csi(&mut self, params: &str, last: Option<char>) {
        let digits = params.trim_start_matches('?');
        let n: usize = digits
            .split(';')
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let line = &mut self.rows[self.row];
        match last {
            Some('A') => self.row = self.row.saturating_sub(n.max(1)),
            Some('B') => self.down(n.max(1)),
            Some('C') => self.col += n.max(1),
            Some('D') => self.col = self.col.saturating_sub(n.max(1)),
            Some('G') => self.col = n.max(1) - 1,
            Some('K') => match n {
                0 => line.truncate(self.col),
                1 => line.iter_mut().take(self.col + 1).for_each(|c| *c = ' '),
                _ => line.clear(),
            },
            Some('J') => {
                line.truncate(self.col);
                self.rows.truncate(self.row + 1);
            }
            _ => {} // colours, cursor visibility
        }
    }
}

/// Runs `command` (a shell line) under a pseudo-terminal of [`WIDTH`] columns in `dir`;
/// returns what the terminal received.
pub(crate) fn under_terminal(dir: &std::path::Path, command: &str) -> Vec<u8> {
    let line = format!("stty cols {WIDTH} rows 50; {command}");
    let out = Command::new("script")
        .args(["-q", "-e", "-f", "-c", &line, "/dev/null"])
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("script(1) on PATH");
    assert!(
        out.status.success(),
        "{command}: exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

/// A namespace and `n` ConfigMaps on each cluster; the addresses of everything created.
fn plan(ns: &str, n: usize) -> (Fixture, Vec<String>) {
    let mut objects = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {ns} }}\n");
    let mut addresses = Vec::new();
    for key in ["east", "west"] {
        addresses.push(format!("base/{key}/core/Namespace/_/{ns}"));
        for i in 0..n {
            addresses.push(format!("base/{key}/core/ConfigMap/{ns}/cm-{i}"));
        }
    }
    for i in 0..n {
        objects.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cm-{i}, namespace: {ns} }}\n"
        ));
    }
    let stage = "title: Base\nsteps:\n  - name: east\n    title: East\n    cluster: east\n    \
                 manifests: [manifests/objects.yaml]\n  - name: west\n    title: West\n    \
                 cluster: west\n    manifests: [manifests/objects.yaml]\n";
    let f = Fixture::empty()
        .file(
            "plan.yaml",
            "plan: tty\nclusters:\n  east: { context: east-ag }\n  west: { context: west-ag }\nstages: [base]\n",
        )
        .file("stages/base.yaml", stage)
        .file("manifests/objects.yaml", &objects);
    (f, addresses)
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for cluster in ["east-ag", "west-ag"] {
            let _ = kubectl(
                cluster,
                &[
                    "delete",
                    "namespace",
                    &self.0,
                    "--ignore-not-found",
                    "--wait=false",
                ],
            );
        }
    }
}

fn has_every_outcome(lines: &[String], addresses: &[String], shown: &str) {
    for a in addresses {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with("created") && l.contains(&format!("{a} ("))),
            "no `created {a}` line in:\n{shown}"
        );
    }
}

#[test]
fn every_outcome_line_stays_on_screen_above_the_bar() {
    need_testbed();
    let ns = unique("tty", "apply");
    let _cleanup = Cleanup(ns.clone());
    let (f, addresses) = plan(&ns, 6);
    let mtm = bin().display().to_string();
    let raw = under_terminal(
        f.path(),
        &format!("{mtm} -vv --plan . --state state apply --auto-approve"),
    );
    let screen = Screen::replay(&raw);
    let shown = screen.join("\n");
    // Log lines (-vv) came on the same terminal, around the bar, not over it.
    assert!(
        screen.iter().any(|l| l.contains("DEBUG")),
        "no log line on screen:\n{shown}"
    );
    has_every_outcome(&screen, &addresses, &shown);
    assert!(
        screen.iter().any(|l| l == "applied revision 1"),
        "no `applied revision 1` on screen:\n{shown}"
    );
}

#[test]
fn no_outcome_line_is_lost_when_stdout_and_stderr_part() {
    need_testbed();
    let ns = unique("tty", "split");
    let _cleanup = Cleanup(ns.clone());
    let (f, addresses) = plan(&ns, 3);
    let mtm = bin().display().to_string();
    // stdout on the terminal, stderr to a file: the bar and the lines on the terminal.
    let raw = under_terminal(
        f.path(),
        &format!("{mtm} --plan . --state state apply --auto-approve 2>err.txt"),
    );
    let screen = Screen::replay(&raw);
    has_every_outcome(&screen, &addresses, &screen.join("\n"));

    // stdout to a file, stderr on the terminal: no bar, every line in the file.
    let f = f.edit(
        "manifests/objects.yaml",
        "name: cm-0,",
        "name: cm-0, labels: { v: b },",
    );
    let raw = under_terminal(
        f.path(),
        &format!("{mtm} --plan . --state state apply --auto-approve >out.txt"),
    );
    let out = std::fs::read_to_string(f.path().join("out.txt")).expect("out.txt");
    for key in ["east", "west"] {
        let line = format!("updated  base/{key}/core/ConfigMap/{ns}/cm-0 (");
        assert!(out.contains(&line), "no {line:?} in:\n{out}");
    }
    assert!(out.contains("applied revision 2"), "{out}");
    assert!(
        !String::from_utf8_lossy(&raw).contains("updated "),
        "outcome lines went to the terminal, not stdout"
    );
}
