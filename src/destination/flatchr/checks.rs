//! What `check-config` says of Flatchr routes and accounts, and what `--online` asks Flatchr.

use std::collections::BTreeSet;
use std::time::Duration;

use super::Flatchr;
use crate::flatchr::{FlatchrClient, Section};
use crate::http::{parse_http_url, shown_url};
use crate::online::check::{Check, failed, within};

/// The route's account exists and holds what a delivery needs.
pub(super) fn route(route: &Flatchr, section: &Section) -> Vec<String> {
    let account = &route.account;
    let Some(a) = section.account(account) else {
        return vec![format!(
            "names the Flatchr account {account:?}, which is not configured (add [flatchr.accounts.{account}])"
        )];
    };
    let key = key(&a.name);
    let mut problems = Vec::new();
    if a.api_key.is_empty() {
        problems.push(format!("sends to flatchr but {key}.api_key is empty"));
    }
    if a.company.is_empty() {
        problems.push(format!(
            "sends to flatchr but {key}.company is empty (EnrichProfile and the duplicate check need it)"
        ));
    }
    problems
}

/// Where an account is written: `flatchr` or `flatchr.accounts.NAME`.
fn key(name: &str) -> String {
    match name {
        "" => "flatchr".to_string(),
        named => format!("flatchr.accounts.{named}"),
    }
}

/// Every account's URLs are http(s), whatever the routes.
pub(super) fn section(section: &Section) -> Vec<String> {
    let mut problems = Vec::new();
    for account in section.all_accounts() {
        let key = key(&account.name);
        for (name, value) in [
            ("careers_url", &account.careers_url),
            ("api_url", &account.api_url),
        ] {
            if let Err(e) = parse_http_url(value) {
                problems.push(format!(
                    "{key}.{name} = {:?} is not an http(s) URL: {e}",
                    shown_url(value)
                ));
            }
        }
    }
    problems
}

/// One line per account, never its key.
pub(super) fn summary(section: &Section) -> Vec<String> {
    let line = |a: &crate::flatchr::Account| {
        format!(
            "flatchr account {}: push {} / api {} (api key {}, company {:?}, {})",
            a.label(),
            shown_url(&a.careers_url),
            shown_url(&a.api_url),
            if a.api_key.is_empty() { "not set" } else { "set" },
            a.company,
            match a.requests_per_second {
                0 => "no rate limit".to_string(),
                n => format!("{n} requests/s"),
            }
        )
    };
    section.all_accounts().iter().map(line).collect()
}

/// A Flatchr vacancy is its slug (`k0M5O9ylKZnxbQBy`); a whole URL, or anything with a path's
/// characters, would be sent as is and refused by Flatchr. The problem names the slug to use.
pub(super) fn vacancy_slug_problem(vacancy: &str) -> Option<String> {
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


/// Each account a route uses: a duplicate search for an address no one has.
pub(super) async fn online(
    routes: Vec<&Flatchr>,
    section: &Section,
    http: &reqwest::Client,
    timeout: Duration,
) -> Vec<Check> {
    let used: BTreeSet<&str> = routes.iter().map(|r| r.account.as_str()).collect();
    let mut checks = Vec::new();
    for name in used {
        let Some(account) = section.account(name) else {
            continue;
        };
        // A search downloads no resume.
        let client = FlatchrClient::new(http.clone(), &account, timeout, 0);
        let nobody = format!(
            "hrflow-relay-check-{}@invalid.example",
            uuid::Uuid::new_v4().simple()
        );
        let outcome = within(timeout, async {
            client
                .applicant_exists(&nobody)
                .await
                .map(|_| format!("the key and company {:?} are taken", account.company))
                .map_err(|f| failed(&f))
        })
        .await;
        checks.push(Check::new(
            format!("flatchr account {:?}", account.label()),
            outcome,
        ));
    }
    checks
}
