//! The event HrFlow POSTs for a profile, parsed once at the edge.

use serde_json::Value;

use crate::error::ApiError;

/// What the relay needs from an event that carries a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEvent {
    pub event_type: String,
    pub profile_key: String,
    pub source_key: String,
}

/// An event either concerns a profile or is acknowledged and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Profile(ProfileEvent),
    NoProfile { event_type: String },
}

/// Parses the event JSON. A `profile` without `key` or `source.key` is a client error; an
/// event without `profile` (e.g. a job event) is valid and carries nothing for the relay.
pub fn parse(payload: &[u8]) -> Result<Event, ApiError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| ApiError::bad_request(format!("the event is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("the event must be a JSON object"));
    };
    let event_type = match map.get("type") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApiError::bad_request("invalid event").field("type", "must be a string"));
        }
    };
    let profile = match map.get("profile") {
        None | Some(Value::Null) => return Ok(Event::NoProfile { event_type }),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err(
                ApiError::bad_request("invalid event").field("profile", "must be an object")
            );
        }
    };
    let key = non_empty_string(profile.get("key"));
    let source_key = non_empty_string(profile.get("source").and_then(|s| s.get("key")));
    let mut err = ApiError::bad_request("the event's profile cannot be identified");
    if key.is_none() {
        err = err.field("profile.key", "is required: a non-empty string");
    }
    if source_key.is_none() {
        err = err.field("profile.source.key", "is required: a non-empty string");
    }
    match (key, source_key) {
        (Some(profile_key), Some(source_key)) => Ok(Event::Profile(ProfileEvent {
            event_type,
            profile_key,
            source_key,
        })),
        _ => Err(err),
    }
}

fn non_empty_string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profile_events_and_ignores_others() {
        let e = parse(br#"{"type":"profile.parsing.success","origin":"api","profile":{"key":"k","source":{"key":"s"}}}"#).unwrap();
        assert_eq!(
            e,
            Event::Profile(ProfileEvent {
                event_type: "profile.parsing.success".into(),
                profile_key: "k".into(),
                source_key: "s".into()
            })
        );
        assert_eq!(
            parse(br#"{"type":"job.parsing.success","job":{"key":"j"}}"#).unwrap(),
            Event::NoProfile {
                event_type: "job.parsing.success".into()
            }
        );
    }

    #[test]
    fn names_each_missing_field() {
        let err = parse(br#"{"type":"x","profile":{"source":{}}}"#).unwrap_err();
        assert!(err.fields.contains_key("profile.key"));
        assert!(err.fields.contains_key("profile.source.key"));
        assert!(parse(b"not json").is_err());
        assert!(parse(b"[1]").is_err());
        assert!(
            parse(br#"{"profile": 3}"#)
                .unwrap_err()
                .fields
                .contains_key("profile")
        );
    }
}
