//! Routes: the keys every route has, then the destination's own keys read by the destination
//! (`load` reads both where they stand), with the problems found on the way kept for `validate`
//! to list.

use serde::Deserialize;

use super::Settings;
use crate::destination::Destination;
use crate::logic::Transform;

/// The keys every route has, whatever its destination; the destination reads the rest of the
/// route's table as its own `Kind::Keys`. Every key has a default, so a missing one is a
/// problem of the route (listed), not a stop of the reading.
#[derive(Deserialize)]
pub(super) struct Common {
    /// How jobs, pages and commands name the route.
    #[serde(default)]
    pub name: String,
    /// Which destination reads the rest (`destination::NAMES`).
    #[serde(default)]
    pub destination: String,
    /// HrFlow source keys it takes; empty: every source.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Event types it takes; empty: the profile events.
    #[serde(default)]
    pub events: Vec<String>,
    /// Script functions run in order before delivering.
    #[serde(default)]
    pub logics: Vec<String>,
    /// The script function making the body; empty: the destination's mapping.
    #[serde(default)]
    pub format: String,
}

/// One route: which events it takes, what it does to a profile, and where the profile goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// How jobs, pages and commands name it.
    pub name: String,
    /// HrFlow source keys it takes; empty: every source.
    pub sources: Vec<String>,
    /// HrFlow event types it takes; empty: every profile event.
    pub events: Vec<String>,
    /// Script functions that keep, drop or rewrite a profile, in order.
    pub logics: Vec<String>,
    /// The script function that makes the body; empty: the destination's mapping.
    pub format: String,
    /// Where its candidates go, with that destination's keys.
    pub destination: Destination,
    /// What the file got wrong about this route: `validate` lists them.
    pub problems: Vec<String>,
}

impl Route {
    /// The route's keys common to every destination, with the destination read from the rest.
    pub(super) fn new(common: Common, destination: Destination, problems: Vec<String>) -> Self {
        Self {
            name: common.name,
            sources: common.sources,
            events: common.events,
            logics: common.logics,
            format: common.format,
            destination,
            problems,
        }
    }

    /// What the route asks of the script.
    pub fn transform(&self) -> Transform<'_> {
        Transform {
            name: &self.name,
            logics: &self.logics,
            format: &self.format,
        }
    }

    /// Whether it takes profiles of this source (the backfill's rule: events do not apply).
    pub fn listens_to(&self, source_key: &str) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|s| s == source_key)
    }
}

/// Every problem of the routes: names, destinations, accounts, event types, script use.
pub(super) fn problems(settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, route) in settings.routes.iter().enumerate() {
        let label = if route.name.is_empty() {
            format!("routes[{i}]")
        } else {
            format!("route {:?}", route.name)
        };
        if route.name.is_empty() {
            problems.push(format!("{label} has no name"));
        } else if !names.insert(route.name.as_str()) {
            problems.push(format!("{label} is defined twice"));
        }
        problems.extend(route.problems.iter().map(|p| format!("{label} {p}")));
        problems.extend(
            route
                .destination
                .problems(&settings.destinations)
                .into_iter()
                .map(|p| format!("{label} {p}")),
        );
        for t in &route.events {
            if crate::hrflow::event::kind(t) == crate::hrflow::event::Kind::Error {
                problems.push(format!(
                        "{label} lists the event type {t:?}: HrFlow sends it when it could not produce the profile, so it never becomes a job"
                    ));
            }
        }
        let uses_script = !route.logics.is_empty() || !route.format.is_empty();
        if uses_script && settings.logic.script.is_empty() {
            problems.push(format!(
                "{label} names script functions but logic.script is empty"
            ));
        }
    }
    problems
}
