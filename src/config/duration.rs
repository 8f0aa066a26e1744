//! Durations as the file writes them (`"30s"`, `"7d"`, `"1h 30m"`), read by serde straight
//! into `Duration`: a setting is typed where it is declared, and a bad one is a problem of the
//! reading, named where it stands.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// How a duration's reading error starts: `load` shows such a value (a duration is never a
/// secret) as `key = "value" is not a duration: why`.
pub(super) const NOT_A_DURATION: &str = "is not a duration: ";

/// Reads `"30s"` (an integer from the environment reads as its text, and fails: a unit is
/// needed).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Text::deserialize(d).map(|t| t.0)
}

/// Reads a list of durations; an element's error names its index.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    Vec::<Text>::deserialize(d).map(|v| v.into_iter().map(|t| t.0).collect())
}

/// One duration, parsed from its text.
struct Text(Duration);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text)
            .map(Text)
            .map_err(|e| serde::de::Error::custom(format!("{NOT_A_DURATION}{e}")))
    }
}

/// `humantime`'s reading, with the spaces around trimmed.
pub fn parse(value: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(value.trim())
}

/// A duration as the file writes it: in the largest unit that holds it whole (`90d`, `15m`,
/// `500ms`); humantime's mix of units (with months of 30.44 days) only for the rest.
pub fn shown(d: Duration) -> String {
    let ms = d.as_millis();
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    match units
        .iter()
        .find(|(size, _)| ms > 0 && ms.is_multiple_of(*size))
    {
        Some((size, unit)) if d.subsec_nanos().is_multiple_of(1_000_000) => {
            format!("{}{unit}", ms / size)
        }
        _ => humantime::format_duration(d).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_is_shown_as_it_would_be_written() {
        for (text, shown_as) in [
            ("90d", "90d"),
            ("48h", "2d"),
            ("1h", "1h"),
            ("90s", "90s"),
            ("15m", "15m"),
            ("500ms", "500ms"),
            ("0s", "0s"),
            ("1500us", "1ms 500us"),
        ] {
            assert_eq!(shown(parse(text).unwrap()), shown_as, "{text}");
        }
    }
}
