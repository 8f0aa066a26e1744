//! Times as people and programs read them. The store keeps Unix milliseconds (UTC); every JSON
//! answer, of the CLI and the HTTP API alike, says them as RFC 3339 UTC strings
//! (`2026-12-02T03:33:33.120Z`), and tables as `2026-12-02 03:33:33Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `2026-12-02T03:33:33.120Z`.
pub fn rfc3339(ms: i64) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2026-12-02 03:33:33Z`: a table's column, to the second.
pub fn short(ms: i64) -> String {
    utc(ms).format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// For `#[serde(serialize_with = "crate::time::ser")]` on a Unix-ms field.
pub fn ser<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ms))
}

/// The same, for an optional field (with `skip_serializing_if = "Option::is_none"`: a time
/// that does not apply is absent).
pub fn ser_opt<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&rfc3339(*ms)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(
            super::rfc3339(1_796_182_216_490),
            "2026-12-02T03:30:16.490Z"
        );
        assert_eq!(super::short(1_796_182_216_490), "2026-12-02 03:30:16Z");
    }
}
