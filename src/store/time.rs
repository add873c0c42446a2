//! RFC 3339 UTC timestamps for state records, revisions and the lock, to whole seconds,
//! formatted by jiff. Only formatting: nothing here parses a time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `time` as `YYYY-MM-DDTHH:MM:SSZ`; times before 1970 are written as 1970-01-01.
pub fn rfc3339(time: SystemTime) -> String {
    let time = time.max(UNIX_EPOCH);
    let stamp = jiff::Timestamp::try_from(time).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    stamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> String {
        rfc3339(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(at(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(at(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(at(1_795_941_612), "2026-11-29T08:40:12Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(at(4_107_456_000), "2100-02-28T00:00:00Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
        // Sub-second parts are dropped, not rounded.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_941_612_999)),
            "2026-11-29T08:40:12Z"
        );
    }

    #[test]
    fn before_the_epoch_is_the_epoch() {
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(10)),
            "1970-01-01T00:00:00Z"
        );
    }
}
