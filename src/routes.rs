//! Which configured routes an event concerns: the job plan.

use crate::config::Route;
use crate::hrflow::event::{self, Kind, ProfileEvent};

/// A route matches when its `sources` list is empty or holds the event's source, and its
/// `events` list holds the event's type; an empty `events` list means every type that says the
/// profile exists (reference/hrflow.md). Error events never reach here.
pub fn matching<'a>(routes: &'a [Route], event: &ProfileEvent) -> Vec<&'a Route> {
    let means_profile = event::kind(&event.event_type) == Kind::Profile;
    routes
        .iter()
        .filter(|r| listens_to(r, &event.source_key))
        .filter(|r| {
            if r.events.is_empty() {
                means_profile
            } else {
                r.events.iter().any(|e| e == &event.event_type)
            }
        })
        .collect()
}

/// Whether a route takes profiles of this source (the backfill's rule: events do not apply).
pub fn listens_to(route: &Route, source_key: &str) -> bool {
    route.sources.is_empty() || route.sources.iter().any(|s| s == source_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, sources: &[&str], events: &[&str]) -> Route {
        Route {
            name: name.into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            events: events.iter().map(|s| s.to_string()).collect(),
            logics: vec![],
            format: String::new(),
            destination: crate::config::Destination::Flatchr {
                account: String::new(),
                vacancy: "v".into(),
                enrich: true,
            },
            problems: vec![],
        }
    }

    #[test]
    fn matches_on_sources_and_events() {
        let routes = [
            route("all", &[], &[]),
            route("src", &["s1"], &[]),
            route("ev", &[], &["profile.parsing.success"]),
            route("both", &["s2"], &["profile.parsing.success"]),
            route("custom", &[], &["profile.tagging.success"]),
        ];
        let event = |t: &str| ProfileEvent {
            event_type: t.into(),
            profile_key: "k".into(),
            source_key: "s1".into(),
            body_hash: String::new(),
        };
        let names = |t: &str| -> Vec<String> {
            matching(&routes, &event(t))
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        assert_eq!(names("profile.parsing.success"), ["all", "src", "ev"]);
        // An empty list takes every type meaning a profile exists, under its older names too.
        assert_eq!(names("profile.indexing.update"), ["all", "src"]);
        // A type outside the table reaches only the routes that list it.
        assert_eq!(names("profile.tagging.success"), ["custom"]);
        assert!(names("").is_empty());
    }
}
