//! Routes: read from the file as text, then into what they mean (a typed destination, read by
//! the destination itself), with the problems found on the way kept for `validate` to list.

use serde::Deserialize;

use super::{Secret, Settings};
pub use crate::destination::Destination;

/// A route as the file writes it: every key as text, for every destination. `Route` is what it
/// means. Every key has a default, so a missing one is a problem of the route (listed), not a
/// stop of the reading.
#[derive(Deserialize)]
pub struct RouteKeys {
    #[serde(default)]
    pub name: String,
    /// Which destination reads the rest (`destination::NAMES`).
    #[serde(default)]
    pub destination: String,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub logics: Vec<String>,
    #[serde(default)]
    pub format: String,
    /// flatchr: the vacancy's slug; careers, huntflow: the vacancy id.
    #[serde(default)]
    pub vacancy: String,
    /// careers: the profile tag holding the vacancy id.
    #[serde(default)]
    pub vacancy_tag: String,
    /// flatchr: EnrichProfile after PushProfile.
    #[serde(default = "yes")]
    pub enrich: bool,
    /// flatchr, huntflow: a name under `[<destination>.accounts]`.
    #[serde(default)]
    pub account: String,
    /// huntflow: the vacancy status id the applicant is put at; 0: none.
    #[serde(default)]
    pub status: i64,
    /// webhook: where to POST.
    #[serde(default)]
    pub url: String,
    /// webhook: the Standard Webhooks key.
    #[serde(default)]
    pub secret: Secret,
    /// webhook: sent with every message.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// One route: which events it takes, what it does to a profile, and where the profile goes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(from = "RouteKeys")]
pub struct Route {
    pub name: String,
    pub sources: Vec<String>,
    pub events: Vec<String>,
    pub logics: Vec<String>,
    pub format: String,
    pub destination: Destination,
    /// What the file got wrong about this route: `validate` lists them.
    pub problems: Vec<String>,
}

impl From<RouteKeys> for Route {
    fn from(keys: RouteKeys) -> Self {
        let mut problems = Vec::new();
        let destination = Destination::from_keys(&keys, &mut problems);
        Self {
            name: keys.name,
            sources: keys.sources,
            events: keys.events,
            logics: keys.logics,
            format: keys.format,
            destination,
            problems,
        }
    }
}

impl Route {
    /// Whether it takes profiles of this source (the backfill's rule: events do not apply).
    pub fn listens_to(&self, source_key: &str) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|s| s == source_key)
    }
}

fn yes() -> bool {
    true
}

/// The keys a route may hold, for naming the nearest one to a misspelt key.
pub(super) fn keys() -> &'static [&'static str] {
    super::fields::of::<RouteKeys>()
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
                .problems(settings)
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
