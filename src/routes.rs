//! Which configured routes an event concerns: the job plan.

use crate::config::Route;
use crate::hrflow::event::ProfileEvent;

/// A route matches when its `sources` and `events` lists are empty or hold the event's value.
pub fn matching<'a>(routes: &'a [Route], event: &ProfileEvent) -> Vec<&'a Route> {
    routes
        .iter()
        .filter(|r| r.sources.is_empty() || r.sources.iter().any(|s| s == &event.source_key))
        .filter(|r| r.events.is_empty() || r.events.iter().any(|e| e == &event.event_type))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, sources: &[&str], events: &[&str]) -> Route {
        Route {
            name: name.into(),
            destination: "flatchr".into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            events: events.iter().map(|s| s.to_string()).collect(),
            logics: vec![],
            format: String::new(),
            vacancy: "v".into(),
            vacancy_tag: String::new(),
            enrich: true,
        }
    }

    #[test]
    fn matches_on_sources_and_events() {
        let routes = [
            route("all", &[], &[]),
            route("src", &["s1"], &[]),
            route("ev", &[], &["profile.parsing.success"]),
            route("both", &["s2"], &["profile.parsing.success"]),
        ];
        let e = ProfileEvent {
            event_type: "profile.parsing.success".into(),
            profile_key: "k".into(),
            source_key: "s1".into(),
        };
        let names: Vec<_> = matching(&routes, &e)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["all", "src", "ev"]);
    }
}
