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
        .filter(|r| acts_on(r, &event.event_type, means_profile))
        .collect()
}

/// Whether a route acts on this event type (`means_profile`: the type says a profile exists).
fn acts_on(route: &Route, event_type: &str, means_profile: bool) -> bool {
    if route.events.is_empty() {
        means_profile
    } else {
        route.events.iter().any(|e| e == event_type)
    }
}

/// Why a route would not take an event of this type for a profile of this source, in words
/// (`preview` says it); `None` when it would.
pub fn refusal(route: &Route, event_type: &str, source_key: Option<&str>) -> Option<String> {
    let kind = event::kind(event_type);
    if kind == Kind::Error {
        return Some(format!(
            "{event_type:?} is an error event: HrFlow sends it when there is no profile, so no route takes it"
        ));
    }
    match source_key {
        None if !route.sources.is_empty() => {
            return Some(format!(
                "the route takes the sources {:?} and the profile has no source.key",
                route.sources
            ));
        }
        Some(source) if !listens_to(route, source) => {
            return Some(format!(
                "the route takes the sources {:?}, not the profile's source {source:?}",
                route.sources
            ));
        }
        _ => {}
    }
    if !acts_on(route, event_type, kind == Kind::Profile) {
        return Some(if route.events.is_empty() {
            format!(
                "the route acts on the events that mean a profile exists (events = []), and {event_type:?} is not one of them"
            )
        } else {
            format!(
                "the route acts on the events {:?}, not {event_type:?}",
                route.events
            )
        });
    }
    None
}

/// Whether a route takes profiles of this source (the backfill's rule: events do not apply).
pub fn listens_to(route: &Route, source_key: &str) -> bool {
    route.listens_to(source_key)
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
            destination: crate::destination::Destination::Flatchr(
                crate::destination::flatchr::Flatchr {
                    account: String::new(),
                    vacancy: "v".into(),
                    enrich: true,
                },
            ),
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

    #[test]
    fn a_refusal_is_given_exactly_when_a_route_does_not_match() {
        let routes = [
            route("all", &[], &[]),
            route("src", &["s1"], &[]),
            route("ev", &[], &["profile.parsing.success"]),
            route("custom", &[], &["profile.tagging.success"]),
        ];
        for t in [
            "profile.parsing.success",
            "profile.storing.update",
            "profile.tagging.success",
            "job.created",
            "",
        ] {
            for source in ["s1", "s2"] {
                let event = ProfileEvent {
                    event_type: t.into(),
                    profile_key: "k".into(),
                    source_key: source.into(),
                    body_hash: String::new(),
                };
                let matched = matching(&routes, &event);
                for r in &routes {
                    let refused = refusal(r, t, Some(source));
                    assert_eq!(
                        refused.is_none(),
                        matched.iter().any(|m| m.name == r.name),
                        "{} {t} {source}: {refused:?}",
                        r.name
                    );
                }
            }
        }
        let why = refusal(&routes[1], "profile.parsing.success", Some("s9")).unwrap();
        assert!(why.contains("not the profile's source \"s9\""), "{why}");
        let why = refusal(&routes[0], "profile.parsing.error", Some("s1")).unwrap();
        assert!(why.contains("error event"), "{why}");
        assert!(refusal(&routes[1], "profile.parsing.success", None).is_some());
    }
}
