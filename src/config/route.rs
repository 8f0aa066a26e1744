//! Routes: read from the file as text, then into what they mean (a typed destination), with
//! the problems found on the way kept for `validate` to list.

use std::fmt;

use serde::Deserialize;

use super::{Secret, Settings, parse_http_url};

/// A route as the file writes it: every key as text. `Route` is what it means. Every key has
/// a default, so a missing one is a problem of the route (listed), not a stop of the reading.
#[derive(Deserialize)]
struct RouteFile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    logics: Vec<String>,
    #[serde(default)]
    format: String,
    #[serde(default)]
    vacancy: String,
    #[serde(default)]
    vacancy_tag: String,
    #[serde(default = "yes")]
    enrich: bool,
    #[serde(default)]
    account: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: Secret,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

/// One route: which events it takes, what it does to a profile, and where the profile goes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(from = "RouteFile")]
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

/// Where a route's candidates go, with what only that destination needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// PushProfile then EnrichProfile, on `account` (empty: `[flatchr]` itself).
    Flatchr {
        account: String,
        vacancy: String,
        enrich: bool,
    },
    /// A response on a vacancy Huntflow published here: `vacancy`, or the profile tag
    /// `vacancy_tag` when set.
    Careers {
        vacancy: Option<i64>,
        vacancy_tag: String,
    },
    /// A signed POST to a URL of the user's.
    Webhook(WebhookTarget),
    /// A destination the relay does not know (the route's `problems` say which).
    Unknown,
}

impl Destination {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Flatchr { .. } => "flatchr",
            Self::Careers { .. } => "careers",
            Self::Webhook(_) => "webhook",
            Self::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub url: String,
    /// The Standard Webhooks key (the base64 after `whsec_`), decoded; `None`: unsigned.
    pub key: Option<SigningKey>,
    pub headers: Vec<(String, String)>,
}

/// Key bytes that never print.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(pub Vec<u8>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Headers a webhook route may not set: the relay sets them.
const OWN_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

impl From<RouteFile> for Route {
    fn from(f: RouteFile) -> Self {
        let mut problems = Vec::new();
        let destination = match f.destination.as_str() {
            "flatchr" => {
                if f.vacancy.is_empty() {
                    problems.push("sends to flatchr but has no vacancy".to_string());
                } else if let Some(problem) = vacancy_slug_problem(&f.vacancy) {
                    problems.push(problem);
                } else if f.vacancy.trim() != f.vacancy {
                    problems.push(format!(
                        "has spaces around its vacancy {:?}: write vacancy = {:?}",
                        f.vacancy,
                        f.vacancy.trim()
                    ));
                }
                Destination::Flatchr {
                    account: f.account,
                    vacancy: f.vacancy,
                    enrich: f.enrich,
                }
            }
            "careers" => {
                let written = f.vacancy.trim();
                let vacancy = written.parse::<i64>().ok();
                if vacancy.is_none() && f.vacancy_tag.is_empty() {
                    problems.push(
                        "sends to careers but has neither a vacancy id (an integer) nor a vacancy_tag"
                            .to_string(),
                    );
                } else if vacancy.is_none() && !written.is_empty() {
                    problems.push(format!(
                        "sends to careers but its vacancy {written:?} is not a vacancy id (an integer)"
                    ));
                }
                Destination::Careers {
                    vacancy,
                    vacancy_tag: f.vacancy_tag,
                }
            }
            "webhook" => {
                if let Err(e) = parse_http_url(&f.url) {
                    problems.push(format!(
                        "sends to webhook but its url {:?} is not an http(s) URL: {e}",
                        super::shown_url(&f.url)
                    ));
                }
                let key = match f.secret.expose() {
                    "" => None,
                    secret => {
                        use base64::Engine as _;
                        let decoded = secret
                            .strip_prefix("whsec_")
                            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                            .filter(|k| !k.is_empty());
                        if decoded.is_none() {
                            problems.push(
                                "has a webhook secret that is not \"whsec_\" followed by base64 (Standard Webhooks)"
                                    .to_string(),
                            );
                        }
                        decoded.map(SigningKey)
                    }
                };
                for (name, value) in &f.headers {
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                        || reqwest::header::HeaderValue::from_str(value).is_err()
                    {
                        problems.push(format!(
                            "has a header {name:?} that is not a valid HTTP header"
                        ));
                    } else if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        problems.push(format!(
                            "sets the header {name:?}, which the relay sets itself"
                        ));
                    }
                }
                Destination::Webhook(WebhookTarget {
                    url: f.url,
                    key,
                    headers: f.headers.into_iter().collect(),
                })
            }
            other => {
                problems.push(format!(
                    "has unknown destination {other:?} (expected flatchr, careers or webhook)"
                ));
                Destination::Unknown
            }
        };
        Self {
            name: f.name,
            sources: f.sources,
            events: f.events,
            logics: f.logics,
            format: f.format,
            destination,
            problems,
        }
    }
}

/// A Flatchr vacancy is its slug (`k0M5O9ylKZnxbQBy`); a whole URL, or anything with a path's
/// characters, would be sent as is and refused by Flatchr. The problem names the slug to use.
fn vacancy_slug_problem(vacancy: &str) -> Option<String> {
    let written = vacancy.trim();
    if !written.contains(['/', '?', '#', ':', ' ']) {
        return None;
    }
    let path = url::Url::parse(written)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| written.split(['?', '#']).next().unwrap_or("").to_string());
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let slug = parts
        .iter()
        .position(|p| *p == "vacancy")
        .and_then(|i| parts.get(i + 1))
        .or(parts.last())
        .copied()
        .filter(|s| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    Some(match slug {
        Some(slug) => format!(
            "has vacancy {written:?}, which is a URL, not a vacancy slug: write vacancy = {slug:?}"
        ),
        None => format!(
            "has vacancy {written:?}, which is not a vacancy slug (the last part of the vacancy's Flatchr URL, e.g. \"k0M5O9ylKZnxbQBy\")"
        ),
    })
}

fn yes() -> bool {
    true
}

/// The keys a route may hold, for naming the nearest one to a misspelt key.
pub(super) fn keys() -> &'static [&'static str] {
    super::load::fields_of::<RouteFile>()
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
        match &route.destination {
                Destination::Flatchr { account, .. } => match settings.flatchr.account(account) {
                    None => problems.push(format!(
                        "{label} names the Flatchr account {account:?}, which is not configured (add [flatchr.accounts.{account}])"
                    )),
                    Some(a) => {
                        let key = if a.name.is_empty() {
                            "flatchr".to_string()
                        } else {
                            format!("flatchr.accounts.{}", a.name)
                        };
                        if a.api_key.is_empty() {
                            problems.push(format!(
                                "{label} sends to flatchr but {key}.api_key is empty"
                            ));
                        }
                        if a.company.is_empty() {
                            problems.push(format!(
                                "{label} sends to flatchr but {key}.company is empty (EnrichProfile and the duplicate check need it)"
                            ));
                        }
                    }
                },
                Destination::Careers { .. } | Destination::Webhook(_) | Destination::Unknown => {}
            }
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
