//! `check-config --online`: asks each configured upstream, with the configured credentials,
//! whether it takes them, one check per line. Nothing is created anywhere: HrFlow is asked for
//! one listing page (or a profile that cannot exist), each destination what its
//! `Kind::online` asks (Flatchr: an applicant no one has), the database for its migrations
//! without migrating, the alert hook's host to resolve (a message goes out only with
//! `--send-test-alert`, and says it is a test).

use std::collections::BTreeSet;
use std::time::Duration;

pub mod check;

pub use check::Check;
pub(crate) use check::{failed, within};

use crate::config::Settings;
use crate::hrflow::client::{HrflowClient, ListQuery};
use crate::job::Failure;

/// Every check, in a stable order. Each is bounded by `worker.request_timeout`.
pub async fn run(settings: &Settings, send_test_alert: bool) -> Vec<Check> {
    let http = match crate::http::client() {
        Ok(h) => h,
        Err(e) => return vec![Check::new("HTTP client", Err(format!("{e:#}")))],
    };
    let timeout = settings.worker.request_timeout;
    let secrets = settings.secret_values();
    let mut checks = hrflow(settings, &http, timeout).await;
    let destinations: Vec<_> = settings.routes.iter().map(|r| &r.destination).collect();
    let sections = &settings.destinations;
    checks.extend(crate::destination::online(&destinations, sections, &http, timeout).await);
    checks.push(database(settings, timeout).await);
    if let Some(c) = alerts(settings, &http, timeout, send_test_alert).await {
        checks.push(c);
    }
    // An upstream may echo what it was sent: no configured secret leaves in a line.
    for c in &mut checks {
        match &mut c.outcome {
            Ok(text) | Err(text) => *text = crate::alert::redact(std::mem::take(text), &secrets),
        }
    }
    checks
}

/// The sources a route or `[sync]` names, and whether a route takes every source.
fn sources(settings: &Settings) -> (BTreeSet<String>, bool) {
    let named = settings
        .routes
        .iter()
        .flat_map(|r| r.sources.iter().cloned())
        .chain(settings.sync.sources.iter().cloned())
        .filter(|s| !s.trim().is_empty())
        .collect();
    let any_source = settings.routes.iter().any(|r| r.sources.is_empty());
    (named, any_source)
}

/// HrFlow: each named source listed (one profile), or the key alone proved when a route takes
/// every source and none is named.
async fn hrflow(settings: &Settings, http: &reqwest::Client, timeout: Duration) -> Vec<Check> {
    let (named, any_source) = sources(settings);
    if named.is_empty() && !any_source {
        return vec![Check::new(
            "hrflow",
            Ok("no route uses it: not asked".into()),
        )];
    }
    let client = HrflowClient::new(
        http.clone(),
        &settings.hrflow.api_url,
        settings.hrflow.api_key.clone(),
        settings.hrflow.user_email.clone(),
    );
    let mut checks = Vec::new();
    for source in &named {
        let outcome = listing(&client, source, timeout).await;
        checks.push(Check::new(format!("hrflow source {source:?}"), outcome));
    }
    // A route taking every source names none to list: a profile that cannot exist proves the
    // key (not found) or refutes it (refused), unless a listing above proved it already.
    if any_source && named.is_empty() {
        checks.push(Check::new("hrflow key", key(&client, timeout).await));
    }
    checks
}

/// One profile of `source` listed: the key, the user email and the source are taken.
async fn listing(client: &HrflowClient, source: &str, timeout: Duration) -> Result<String, String> {
    let query = ListQuery {
        source_key: source,
        page: 1,
        limit: 1,
        created_after: None,
        created_before: None,
    };
    within(timeout, async {
        client
            .list_profiles(&query, timeout)
            .await
            .map(|page| {
                format!(
                    "the key, user email and source are taken ({} profile(s))",
                    page.total
                )
            })
            .map_err(|f| failed(&f))
    })
    .await
}

/// A profile that cannot exist asked for: not found proves the key, a refusal refutes it.
async fn key(client: &HrflowClient, timeout: Duration) -> Result<String, String> {
    within(timeout, async {
        let answered = client.probe(timeout).await.map_err(|f| failed(&f))?;
        let code = answered.code.unwrap_or(i64::from(answered.status));
        if answered.refused() {
            Err(format!(
                "the key or user email was refused (HTTP {}, code {code}): {}",
                answered.status, answered.message
            ))
        } else if answered.status >= 500 || code >= 500 {
            Err(format!(
                "HrFlow could not answer (HTTP {}, code {code}): {}",
                answered.status, answered.message
            ))
        } else {
            Ok(format!(
                "the key and user email are taken (a profile that cannot exist: HTTP {}, code {code})",
                answered.status
            ))
        }
    })
    .await
}

async fn database(settings: &Settings, timeout: Duration) -> Check {
    let url = settings.database.url.expose();
    let shown = if url.starts_with("sqlite") {
        crate::http::shown_url(url)
    } else {
        "postgres (url hidden)".to_string()
    };
    let outcome = within(timeout, async {
        match crate::store::Store::schema_version(url).await {
            Ok((applied, known)) if applied == known => {
                Ok(format!("reachable, {applied} of {known} migrations applied"))
            }
            Ok((applied, known)) if applied < known => Ok(format!(
                "reachable, {applied} of {known} migrations applied: `serve` applies the rest when it starts"
            )),
            Ok((applied, known)) => Err(format!(
                "{applied} migrations applied, this version knows {known}: a newer version migrated it"
            )),
            Err(crate::store::StoreError::Missing(path)) => Ok(format!(
                "not created yet ({path}): `serve` creates it"
            )),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    Check::new(format!("database {shown}"), outcome)
}

async fn alerts(
    settings: &Settings,
    http: &reqwest::Client,
    timeout: Duration,
    send_test_alert: bool,
) -> Option<Check> {
    let url = settings.alerts.webhook_url.expose();
    if url.is_empty() {
        return send_test_alert.then(|| {
            Check::new(
                "alerts",
                Err("--send-test-alert, but alerts.webhook_url is empty".into()),
            )
        });
    }
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(_) => {
            return Some(Check::new(
                "alerts",
                Err("the webhook URL is not a URL".into()),
            ));
        }
    };
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let outcome = within(timeout, async {
        let found = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("{host} does not resolve: {e}"))?
            .count();
        if !send_test_alert {
            return Ok(format!(
                "{host} resolves ({found} address(es)); nothing sent (--send-test-alert sends a test message)"
            ));
        }
        let text = "hrflow-relay: this is a test message from `check-config --online --send-test-alert`: alerts reach this channel.";
        let answer = http
            .post(url)
            .json(&serde_json::json!({ "text": text }))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| failed(&Failure::from_reqwest("alert webhook", &e)))?;
        if answer.status().is_success() {
            Ok(format!("{host} took the test message (HTTP {})", answer.status().as_u16()))
        } else {
            Err(format!("{host} answered the test message with HTTP {}", answer.status().as_u16()))
        }
    })
    .await;
    Some(Check::new("alerts", outcome))
}
