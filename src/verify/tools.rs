//! Judges a `tools/list` answer against the expectations: the exact set of names, the
//! count, and the prefixes (every tool under one of them, and each of them used).

use super::Seen;
use mtm_provider::resource::Expect;

pub(crate) fn judge(names: &[String], expect: &Expect) -> Seen {
    let text = format!("{} tools: [{}]", names.len(), names.join(", "));
    let mut problems = Vec::new();
    if let Some(want) = &expect.tools {
        let mut want = want.clone();
        want.sort();
        let mut got = names.to_vec();
        got.sort();
        if want != got {
            let missing: Vec<&str> = want
                .iter()
                .filter(|w| !got.contains(w))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = got
                .iter()
                .filter(|g| !want.contains(g))
                .map(String::as_str)
                .collect();
            let mut p = format!("expected exactly [{}]", want.join(", "));
            if !missing.is_empty() {
                p.push_str(&format!(", missing [{}]", missing.join(", ")));
            }
            if !extra.is_empty() {
                p.push_str(&format!(", unexpected [{}]", extra.join(", ")));
            }
            if missing.is_empty() && extra.is_empty() {
                p.push_str(", some listed more than once");
            }
            problems.push(p);
        }
    }
    if let Some(n) = expect.tool_count
        && n != names.len()
    {
        problems.push(format!("expected {n} tools, saw {}", names.len()));
    }
    if !expect.tool_prefixes.is_empty() {
        let stray: Vec<&str> = names
            .iter()
            .filter(|n| {
                !expect
                    .tool_prefixes
                    .iter()
                    .any(|p| n.starts_with(p.as_str()))
            })
            .map(String::as_str)
            .collect();
        if !stray.is_empty() {
            problems.push(format!(
                "tools under none of the prefixes: [{}]",
                stray.join(", ")
            ));
        }
        let unused: Vec<&str> = expect
            .tool_prefixes
            .iter()
            .filter(|p| !names.iter().any(|n| n.starts_with(p.as_str())))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            problems.push(format!("no tool starts with {}", unused.join(", ")));
        }
    }
    Seen {
        text,
        mismatch: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_set_in_any_order() {
        let expect = Expect {
            tools: Some(names(&["catalog_echo", "orders_get-sum"])),
            ..Expect::default()
        };
        assert_eq!(
            judge(&names(&["orders_get-sum", "catalog_echo"]), &expect).mismatch,
            None
        );
        assert_eq!(
            judge(&names(&["catalog_echo", "catalog_get-sum"]), &expect)
                .mismatch
                .as_deref(),
            Some(
                "expected exactly [catalog_echo, orders_get-sum], missing [orders_get-sum], \
                 unexpected [catalog_get-sum]"
            )
        );
    }

    #[test]
    fn count_and_prefixes() {
        let expect = Expect {
            tool_count: Some(3),
            tool_prefixes: vec!["catalog_".into(), "orders_".into()],
            ..Expect::default()
        };
        let seen = judge(
            &names(&["catalog_echo", "catalog_get-sum", "echo"]),
            &expect,
        );
        assert_eq!(
            seen.mismatch.as_deref(),
            Some("tools under none of the prefixes: [echo]; no tool starts with orders_")
        );
        assert_eq!(seen.text, "3 tools: [catalog_echo, catalog_get-sum, echo]");
        let seen = judge(&names(&["catalog_echo", "orders_echo"]), &expect);
        assert_eq!(seen.mismatch.as_deref(), Some("expected 3 tools, saw 2"));
    }
}
