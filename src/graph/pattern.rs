//! Address patterns: exact addresses or globs, as `--target` and `needs` take them.
//!
//! `*` matches within one `/`-separated segment, `**` across segments; `?`, `[abc]` and
//! `{a,b}` as usual (globset). Knows nothing of the plan.

use globset::{GlobBuilder, GlobMatcher};

#[derive(Debug, thiserror::Error)]
#[error("bad glob `{pattern}`: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct Pattern {
    text: String,
    glob: GlobMatcher,
}

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, PatternError> {
        let glob = GlobBuilder::new(text)
            .literal_separator(true)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map_err(|e| PatternError {
                pattern: text.to_string(),
                reason: e.kind().to_string(),
            })?;
        Ok(Pattern {
            text: text.to_string(),
            glob: glob.compile_matcher(),
        })
    }

    pub fn matches(&self, address: &str) -> bool {
        self.glob.is_match(address)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_stays_in_a_segment() {
        let p = Pattern::new("lab1/east/*/Deployment/*/*").unwrap();
        assert!(p.matches("lab1/east/apps/Deployment/ai-tools/catalog-mcp"));
        assert!(!p.matches("lab1/east/apps/Deployment/ai-tools/x/y"));
        let all = Pattern::new("lab1/**").unwrap();
        assert!(all.matches("lab1/east/core/Namespace/_/ai-tools"));
        assert!(!all.matches("lab2/east/core/Namespace/_/ai-tools"));
        assert!(Pattern::new("lab1/[east").is_err());
    }
}
