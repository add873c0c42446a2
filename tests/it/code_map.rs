//! ARCHITECTURE.md's code map names every module of `src/`: a module is named by its file
//! (`yaml.rs`), its path (`src/verify/`, `src/duration.rs`) or, for a command of `src/cli/`,
//! by the command in backticks. A new module without a line there fails this test.

use std::path::{Path, PathBuf};

fn modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                modules(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// The "Code map" section of ARCHITECTURE.md.
fn code_map(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text.find("## Code map").expect("a Code map section");
    let rest = &text[start + 2..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i);
    rest[..end].to_string()
}

#[test]
fn every_module_of_src_is_in_the_code_map() {
    let root = crate::support::repo();
    let map = code_map(&root);
    let mut files = Vec::new();
    modules(&root.join("src"), &mut files);
    let mut missing = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).expect("under the repo");
        let rel_text = rel.display().to_string();
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let stem = name.trim_end_matches(".rs");
        // `src/sched.rs` beside `src/sched/`: the module root, named by its directory.
        let root_of_dir = file.with_extension("").is_dir()
            && map.contains(&format!("{}/", rel_text.trim_end_matches(".rs")));
        let named = root_of_dir
            || if name == "mod.rs" {
                let dir = rel.parent().expect("a directory").display().to_string();
                map.contains(&format!("{dir}/")) || map.contains(&format!("`{}/`", last(&dir)))
            } else {
                map.contains(&format!("`{name}`"))
                    || map.contains(&rel_text)
                    || (rel_text.starts_with("src/cli/") && map.contains(&format!("`{stem}`")))
            };
        if !named {
            missing.push(rel_text);
        }
    }
    assert!(
        missing.is_empty(),
        "modules missing from ARCHITECTURE.md's code map: {missing:?}"
    );
}

fn last(dir: &str) -> &str {
    dir.rsplit('/').next().unwrap_or(dir)
}
