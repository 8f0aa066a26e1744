//! The events HrFlow POSTs, parsed once at the edge: one event object, or a JSON array of them
//! (HrFlow's API reference says each call sends an array of payloads), and what each event
//! type means for the relay (reference/hrflow.md, the event-type table).

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// At most this many events in one array; a larger body is refused whole.
pub const MAX_EVENTS: usize = 1000;

/// Why a body, or one event in it, cannot be used: a message and the fields at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EventError {
    /// What is wrong, for the answer's message.
    pub message: String,
    /// The fields at fault, each with why: the answer's `errors`.
    pub fields: BTreeMap<String, Vec<String>>,
    /// The body holds more events than allowed (413 rather than 400).
    pub too_many: bool,
}

impl EventError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fields: BTreeMap::new(),
            too_many: false,
        }
    }
    fn field(mut self, name: &str, message: &str) -> Self {
        self.fields
            .entry(name.into())
            .or_default()
            .push(message.into());
        self
    }
}

/// What an event type says about the profile it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The profile exists and can be fetched (a success or an update).
    Profile,
    /// HrFlow could not produce the profile: nothing to fetch.
    Error,
    /// Anything else (job and action events, unknown names): only routes listing it act on it.
    Other,
}

/// The success and update types of reference/hrflow.md, under every name HrFlow has used.
const PROFILE_TYPES: [&str; 10] = [
    "profile.parsing.success",
    "profile.parsing.update",
    "profile.storing.success",
    "profile.storing.update",
    "profile.searching.success",
    "profile.searching.update",
    "profile.indexing.success",
    "profile.indexing.update",
    "profile.parse.success",
    "profile.score.success",
];

pub fn kind(event_type: &str) -> Kind {
    if event_type.ends_with(".error") {
        Kind::Error
    } else if PROFILE_TYPES.contains(&event_type) {
        Kind::Profile
    } else {
        Kind::Other
    }
}

/// What the relay needs from an event that carries a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEvent {
    /// `profile.parsing.success` and the like: which routes act on it.
    pub event_type: String,
    /// The profile to fetch.
    pub profile_key: String,
    /// The source it is in: which routes take it.
    pub source_key: String,
    /// SHA-256 of the event's own JSON text: the dedupe key of a redelivery.
    pub body_hash: String,
}

/// One event of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Names a profile that exists (or an event type a route lists): it may make jobs.
    Profile(ProfileEvent),
    /// Carries no profile (a job event, say): acknowledged and ignored.
    NoProfile { event_type: String },
    /// An error event: HrFlow could not produce the profile, so there is nothing to fetch.
    Failed { event_type: String },
    /// Cannot be identified; its neighbours in an array are still taken.
    Rejected(EventError),
}

/// A body: one event object, or an array of them (each answered in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// An object: answered as one event.
    One(Event),
    /// An array: answered element by element, in order.
    Many(Vec<Event>),
}

/// Parses a signed payload. Errors concern the body as a whole: not JSON, neither an object
/// nor an array, an empty array, or more than `MAX_EVENTS` events.
pub fn parse_body(payload: &[u8]) -> Result<Body, EventError> {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let items: Vec<&RawValue> = serde_json::from_slice(payload)
            .map_err(|e| EventError::new(format!("the body is not valid JSON: {e}")))?;
        if items.is_empty() {
            return Err(EventError::new("the body is an empty array of events"));
        }
        if items.len() > MAX_EVENTS {
            let mut e = EventError::new(format!(
                "the body holds {} events; at most {MAX_EVENTS} are taken in one request",
                items.len()
            ));
            e.too_many = true;
            return Err(e);
        }
        return Ok(Body::Many(items.iter().map(|raw| parse_raw(raw)).collect()));
    }
    let raw: &RawValue = serde_json::from_slice(payload)
        .map_err(|e| EventError::new(format!("the event is not valid JSON: {e}")))?;
    match parse_raw(raw) {
        Event::Rejected(e) => Err(e),
        event => Ok(Body::One(event)),
    }
}

/// Parses one event from its JSON text; the hash is of that text as sent.
pub fn parse_raw(raw: &RawValue) -> Event {
    let text = raw.get();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Event::Rejected(EventError::new(format!("not valid JSON: {e}"))),
    };
    let Value::Object(map) = value else {
        return Event::Rejected(EventError::new("an event must be a JSON object"));
    };
    let event_type = match map.get("type") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Event::Rejected(
                EventError::new("invalid event").field("type", "must be a string"),
            );
        }
    };
    // Checked before the profile: an error event may not identify one, and needs none.
    if kind(&event_type) == Kind::Error {
        return Event::Failed { event_type };
    }
    let profile = match map.get("profile") {
        None | Some(Value::Null) => return Event::NoProfile { event_type },
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Event::Rejected(
                EventError::new("invalid event").field("profile", "must be an object"),
            );
        }
    };
    let key = non_empty_string(profile.get("key"));
    let source_key = non_empty_string(profile.get("source").and_then(|s| s.get("key")));
    match (key, source_key) {
        (Some(profile_key), Some(source_key)) => Event::Profile(ProfileEvent {
            event_type,
            profile_key,
            source_key,
            body_hash: hex::encode(Sha256::digest(text.as_bytes())),
        }),
        (key, source_key) => {
            let mut err = EventError::new("the event's profile cannot be identified");
            if key.is_none() {
                err = err.field("profile.key", "is required: a non-empty string");
            }
            if source_key.is_none() {
                err = err.field("profile.source.key", "is required: a non-empty string");
            }
            Event::Rejected(err)
        }
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

    const EVENT: &str = r#"{"type":"profile.parsing.success","origin":"api","profile":{"key":"k","source":{"key":"s"}}}"#;

    fn one(payload: &str) -> Event {
        match parse_body(payload.as_bytes()).unwrap() {
            Body::One(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_profile_events_and_ignores_others() {
        let Event::Profile(e) = one(EVENT) else {
            panic!()
        };
        assert_eq!(
            (
                e.event_type.as_str(),
                e.profile_key.as_str(),
                e.source_key.as_str()
            ),
            ("profile.parsing.success", "k", "s")
        );
        assert_eq!(e.body_hash, hex::encode(Sha256::digest(EVENT.as_bytes())));
        assert_eq!(
            one(r#"{"type":"job.parsing.success","job":{"key":"j"}}"#),
            Event::NoProfile {
                event_type: "job.parsing.success".into()
            }
        );
    }

    #[test]
    fn error_events_carry_nothing_to_fetch() {
        for t in [
            "profile.parsing.error",
            "profile.storing.error",
            "profile.indexing.error",
        ] {
            // With or without an identifiable profile.
            let with = EVENT.replace("profile.parsing.success", t);
            assert_eq!(
                one(&with),
                Event::Failed {
                    event_type: t.into()
                }
            );
            let without = format!(r#"{{"type":"{t}","profile":{{}}}}"#);
            assert_eq!(
                one(&without),
                Event::Failed {
                    event_type: t.into()
                }
            );
        }
    }

    #[test]
    fn event_types_mean_what_the_table_says() {
        for t in PROFILE_TYPES {
            assert_eq!(kind(t), Kind::Profile, "{t}");
        }
        for t in [
            "profile.parsing.error",
            "profile.storing.error",
            "profile.searching.error",
            "job.parsing.error",
        ] {
            assert_eq!(kind(t), Kind::Error, "{t}");
        }
        for t in [
            "",
            "job.storing.success",
            "action.created",
            "profile.tagging.success",
        ] {
            assert_eq!(kind(t), Kind::Other, "{t}");
        }
    }

    #[test]
    fn names_each_missing_field() {
        let err = parse_body(br#"{"type":"x","profile":{"source":{}}}"#).unwrap_err();
        assert!(err.fields.contains_key("profile.key"));
        assert!(err.fields.contains_key("profile.source.key"));
        assert!(parse_body(b"not json").is_err());
        assert!(parse_body(b"3").is_err());
        assert!(parse_body(br#""a string""#).is_err());
        assert!(
            parse_body(br#"{"profile": 3}"#)
                .unwrap_err()
                .fields
                .contains_key("profile")
        );
    }

    #[test]
    fn an_array_answers_each_element_in_order() {
        let other = EVENT.replace("\"k\"", "\"k2\"");
        let body = format!(
            r#"[ {EVENT}, 7, {{"type":"x","profile":{{"key":"k"}}}}, {EVENT},
                {{"type":"profile.storing.error"}}, {{"type":"job.x"}}, {other} ]"#
        );
        let Body::Many(events) = parse_body(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(events.len(), 7);
        let Event::Profile(a) = &events[0] else {
            panic!()
        };
        assert!(matches!(&events[1], Event::Rejected(e) if e.message.contains("object")));
        assert!(
            matches!(&events[2], Event::Rejected(e) if e.fields.contains_key("profile.source.key"))
        );
        // The same event twice has the same hash (the intake stores it once); the hash of an
        // element is the hash of that event sent alone.
        let Event::Profile(d) = &events[3] else {
            panic!()
        };
        assert_eq!(a.body_hash, d.body_hash);
        let Body::One(Event::Profile(alone)) = parse_body(EVENT.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(a.body_hash, alone.body_hash);
        assert!(matches!(&events[4], Event::Failed { .. }));
        assert!(matches!(&events[5], Event::NoProfile { .. }));
        let Event::Profile(g) = &events[6] else {
            panic!()
        };
        assert_eq!(g.profile_key, "k2");
        assert_ne!(g.body_hash, a.body_hash);
    }

    #[test]
    fn arrays_are_capped_and_never_empty() {
        assert!(parse_body(b" [ ] ").unwrap_err().message.contains("empty"));
        assert!(parse_body(b"[1,").is_err());
        let full = format!("[{}]", vec![EVENT; MAX_EVENTS].join(","));
        assert!(matches!(parse_body(full.as_bytes()), Ok(Body::Many(v)) if v.len() == MAX_EVENTS));
        let over = format!("[{}]", vec![EVENT; MAX_EVENTS + 1].join(","));
        let err = parse_body(over.as_bytes()).unwrap_err();
        assert!(err.too_many, "{err:?}");
        // Deeply nested input is refused, never a crash: the one element is rejected.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_body(deep.as_bytes()),
            Ok(Body::Many(v)) if v.len() == 1 && matches!(v[0], Event::Rejected(_))
        ));
        let deep_object = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert!(parse_body(deep_object.as_bytes()).is_err());
    }
}
