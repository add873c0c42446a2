//! A property test of the loader: plan directories made by breaking the mini plan at
//! random (bytes replaced, files cut short, lines repeated, paths and references pasted
//! in) never make it panic, every problem comes back located and in mtm's words, and no
//! file outside the plan directory reaches a message.
//!
//! The number of cases is fixed, so the run is bounded; no failure file is written.

use crate::support::{MINI_APP, MINI_BASE, MINI_MANIFEST, MINI_NS, MINI_PLAN};
use mtm::plan::{LoadOptions, load};
use proptest::prelude::*;
use proptest::test_runner::Config;

const FILES: [(&str, &str); 5] = [
    ("plan.yaml", MINI_PLAN),
    ("stages/base.yaml", MINI_BASE),
    ("stages/app.yaml", MINI_APP),
    ("manifests/ns.yaml", MINI_NS),
    ("manifests/app.yaml", MINI_MANIFEST),
];

/// Pieces that exercise the loader's edges when pasted anywhere.
const PIECES: [&str; 16] = [
    "../outside.yaml",
    "/etc/passwd",
    "${",
    "${gen.jwt.token.a}",
    "${NOPE}",
    "yes",
    "999",
    "0s",
    "---\n",
    "[[[[",
    "}}",
    ": :",
    "\n  - ",
    "&a [*a, *a]",
    "needs: [\"**\"]\n",
    "\t",
];

/// One way to break a file.
#[derive(Clone, Debug)]
enum Break {
    /// Replace the bytes at `at` (a fraction of the length) with `bytes`.
    Replace { at: f64, bytes: Vec<u8> },
    /// Keep only the first fraction of the file.
    Cut { at: f64 },
    /// Repeat the line at `at`.
    Repeat { at: f64 },
    /// Paste one of [`PIECES`] at `at`.
    Paste { at: f64, piece: usize },
}

fn a_break() -> impl Strategy<Value = Break> {
    let fraction = 0.0..1.0f64;
    let byte = prop_oneof![
        proptest::sample::select(b"[]{}:,-'\"\n #&*!|>%@?$.".to_vec()),
        any::<u8>(),
        proptest::char::range('a', 'z').prop_map(|c| c as u8),
    ];
    prop_oneof![
        (fraction.clone(), proptest::collection::vec(byte, 1..6))
            .prop_map(|(at, bytes)| Break::Replace { at, bytes }),
        fraction.clone().prop_map(|at| Break::Cut { at }),
        fraction.clone().prop_map(|at| Break::Repeat { at }),
        (fraction, 0..PIECES.len()).prop_map(|(at, piece)| Break::Paste { at, piece }),
    ]
}

fn apply(text: &[u8], b: &Break) -> Vec<u8> {
    let pos = |at: f64| ((text.len() as f64) * at) as usize;
    let mut out = text.to_vec();
    match b {
        Break::Replace { at, bytes } => {
            let p = pos(*at);
            let end = (p + bytes.len()).min(out.len());
            out.splice(p..end, bytes.iter().copied());
        }
        Break::Cut { at } => out.truncate(pos(*at)),
        Break::Repeat { at } => {
            let p = pos(*at);
            let start = out[..p]
                .iter()
                .rposition(|c| *c == b'\n')
                .map_or(0, |i| i + 1);
            let end = out[p..]
                .iter()
                .position(|c| *c == b'\n')
                .map_or(out.len(), |i| p + i + 1);
            let line = out[start..end].to_vec();
            out.splice(end..end, line);
        }
        Break::Paste { at, piece } => {
            let p = pos(*at);
            out.splice(p..p, PIECES[*piece].bytes());
        }
    }
    out
}

fn breaks() -> impl Strategy<Value = Vec<(usize, Break)>> {
    proptest::collection::vec((0..FILES.len(), a_break()), 1..4)
}

proptest! {
    #![proptest_config(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn broken_plans_never_panic_and_are_reported_located(breaks in breaks()) {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::write(root.path().join("outside.yaml"), "kind: canary-outside-the-plan\n")
            .expect("canary");
        let dir = root.path().join("plan");
        let mut texts: Vec<Vec<u8>> = FILES.iter().map(|(_, t)| t.as_bytes().to_vec()).collect();
        for (file, b) in &breaks {
            texts[*file] = apply(&texts[*file], b);
        }
        for ((path, _), text) in FILES.iter().zip(&texts) {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        }
        let opts = LoadOptions { cli_vars: Vec::new(), env: &|_| None };
        match load(&dir, &opts) {
            Ok(plan) => {
                let names: Vec<String> = plan.stage_names().iter().map(|s| s.to_string()).collect();
                let _ = mtm::plan::fold(&plan, &names);
                let _ = mtm::graph::select(&plan, &[]);
            }
            Err(diags) => {
                prop_assert!(!diags.is_empty());
                for d in &diags.0 {
                    let shown = d.to_string();
                    prop_assert!(!d.file.is_empty(), "{}", shown);
                    prop_assert!(!d.message.is_empty(), "{}", shown);
                    prop_assert!(!shown.contains("canary-outside-the-plan"), "{}", shown);
                    for words in ["DuplicateKeyPolicy", "in Options", "from_str", "budget breached", "Option<"] {
                        prop_assert!(!shown.contains(words), "{}", shown);
                    }
                }
            }
        }
    }
}
