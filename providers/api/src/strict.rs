//! Strict scalars for the declaration types: a boolean is a YAML/JSON boolean and a
//! number a plain number, never a string that looks like one (`"yes"`, `"200"`).
//!
//! Used with `#[serde(deserialize_with = ...)]` on the few boolean and numeric fields of
//! the plan's schema. This module knows nothing of YAML beyond what serde hands it.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use std::fmt;

struct Bool;

impl Visitor<'_> for Bool {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true or false")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

/// A whole number of at most `max`, described as `what`.
struct Whole {
    max: u64,
    what: &'static str,
}

impl Visitor<'_> for Whole {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v > self.max {
            return Err(E::invalid_value(Unexpected::Unsigned(v), &self));
        }
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

/// A boolean, `true` or `false` only.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(Bool)
}

struct Some16;

impl<'de> Visitor<'de> for Some16 {
    type Value = Option<u16>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number from 0 to 65535, unquoted")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let v = d.deserialize_any(Whole {
            max: u16::MAX.into(),
            what: "a whole number from 0 to 65535, unquoted",
        })?;
        Ok(Some(u16::try_from(v).expect("checked against u16::MAX")))
    }
}

struct SomeCount;

impl<'de> Visitor<'de> for SomeCount {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number, unquoted")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        let v = d.deserialize_any(Whole {
            max,
            what: "a whole number, unquoted",
        })?;
        Ok(Some(usize::try_from(v).unwrap_or(usize::MAX)))
    }
}

/// An optional `u16`, as a plain number.
pub fn opt_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    d.deserialize_option(Some16)
}

/// An optional count, as a plain number.
pub fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    d.deserialize_option(SomeCount)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::bool")]
        b: bool,
        #[serde(default, deserialize_with = "super::opt_u16")]
        n: Option<u16>,
        #[serde(default, deserialize_with = "super::opt_count")]
        c: Option<usize>,
    }

    #[test]
    fn plain_values_only() {
        let t: T = serde_json::from_str(r#"{"b": true, "n": 200, "c": 3}"#).unwrap();
        assert!(t.b);
        assert_eq!((t.n, t.c), (Some(200), Some(3)));
        let t: T = serde_json::from_str(r#"{"n": null}"#).unwrap();
        assert_eq!(t.n, None);
        for bad in [
            r#"{"b": "true"}"#,
            r#"{"n": "200"}"#,
            r#"{"n": 70000}"#,
            r#"{"n": 2.5}"#,
            r#"{"c": -1}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
