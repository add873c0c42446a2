//! Durations as people write them in plans and flags: a number and a unit, `500ms`, `30s`,
//! `5m`, `24h`, or several, `1h30m` (jiff's friendly format). One parser for the whole
//! program; negative or empty durations are refused.

use std::time::Duration;

/// `text` as a duration, if it is one (surrounding blanks ignored).
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    // A bare number has no unit: refused rather than guessed.
    if text.is_empty() || text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let signed: jiff::SignedDuration = text.parse().ok()?;
    Duration::try_from(signed).ok()
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn units_and_combinations() {
        for (text, ms) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("5m", 300_000),
            ("24h", 86_400_000),
            ("1h30m", 5_400_000),
            (" 2h ", 7_200_000),
        ] {
            assert_eq!(parse(text), Some(Duration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn no_unit_negative_or_words_are_refused() {
        for text in ["", "30", "-5s", "soon", "5 parsecs"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
