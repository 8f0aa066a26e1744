//! `hrflow-relay check-config`: every configuration problem at once, or a summary of a valid
//! configuration (where it listens, what it talks to, never a secret); with `--online`, each
//! upstream asked whether it takes the configured credentials.

use std::process::ExitCode;

use super::problems;
use crate::config::Settings;
use crate::config::duration::shown;
use crate::http::shown_url;

pub async fn run(settings: &Settings, online: bool, send_test_alert: bool) -> ExitCode {
    if let Err(refused) = crate::startup::check(settings) {
        problems::print(&refused);
        return ExitCode::FAILURE;
    }
    print_summary(settings);
    if !online {
        return ExitCode::SUCCESS;
    }
    crate::out!(
        "online checks (each within worker.request_timeout, {}):",
        shown(settings.worker.request_timeout)
    );
    let checks = crate::online::run(settings, send_test_alert).await;
    for c in &checks {
        crate::out!("{}", c.line());
    }
    if checks.iter().all(crate::online::Check::passed) {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{} of {} online check(s) failed",
            checks.iter().filter(|c| !c.passed()).count(),
            checks.len()
        );
        ExitCode::FAILURE
    }
}

/// What `check-config` prints of a valid configuration, section by section, in this order.
fn print_summary(settings: &Settings) {
    crate::out!("configuration OK");
    print_edges(settings);
    print_worker(settings);
    print_access(settings);
    print_upkeep(settings);
    print_routes(settings);
}

fn set(secret: &crate::secret::Secret) -> &'static str {
    if secret.is_empty() { "not set" } else { "set" }
}

/// Where it listens, its database, HrFlow, and each destination's section.
fn print_edges(settings: &Settings) {
    crate::out!(
        "  listen: {}:{}",
        settings.server.host,
        settings.server.port
    );
    let db = settings.database.url.expose();
    crate::out!(
        "  database: {}",
        // A PostgreSQL URL may carry a password: only a file path is shown.
        if db.starts_with("sqlite") {
            db
        } else {
            "postgres (url hidden)"
        }
    );
    crate::out!(
        "  hrflow: {} (api key {}, {} webhook secret(s) configured, signature {})",
        shown_url(&settings.hrflow.api_url),
        set(&settings.hrflow.api_key),
        settings.hrflow.webhook_secret.len(),
        settings.hrflow.signature.as_str()
    );
    for line in settings.destinations.summary() {
        crate::out!("  {line}");
    }
}

/// The workers, and a warning when events are taken unsigned.
fn print_worker(settings: &Settings) {
    crate::out!(
        "  worker: concurrency {}, timeout {}, retries {:?}",
        settings.worker.concurrency,
        shown(settings.worker.request_timeout),
        settings
            .worker
            .retry_schedule
            .iter()
            .map(|d| shown(*d))
            .collect::<Vec<_>>()
    );
    if settings.hrflow.signature == crate::hrflow::signature::SignatureMode::None {
        crate::out!("  warning: hrflow.signature = \"none\", so event signatures are not checked");
    } else if settings.hrflow.webhook_secret.is_empty() {
        crate::out!(
            "  warning: hrflow.webhook_secret is empty, so event signatures are not checked"
        );
    }
}

/// Who may read what: the careers API and the admin area (counts of credentials only).
fn print_access(settings: &Settings) {
    if !crate::careers::auth::configured(&settings.careers.tokens, &settings.careers.basic_users) {
        crate::out!(
            "  warning: the careers API ({}) has no tokens or basic_users, so it refuses every request",
            settings.careers.path
        );
    } else {
        crate::out!(
            "  careers: {} ({} token(s), {} basic user(s))",
            settings.careers.path,
            settings.careers.tokens.len(),
            settings.careers.basic_users.len()
        );
    }
    let admin = &settings.admin;
    if crate::api::credentials::configured(&admin.tokens, &admin.basic_users) {
        crate::out!(
            "  admin: /admin ({} token(s), {} basic user(s))",
            admin.tokens.iter().filter(|s| !s.is_empty()).count(),
            admin.basic_users.iter().filter(|s| !s.is_empty()).count()
        );
    } else {
        crate::out!("  admin: /admin is closed ([admin] has no tokens or basic_users)");
    }
}

/// What runs by itself: alerts, retention, sync.
fn print_upkeep(settings: &Settings) {
    crate::out!(
        "  alerts: {}",
        if settings.alerts.webhook_url.is_empty() {
            "none ([alerts].webhook_url is empty)".to_string()
        } else {
            format!(
                "webhook set (url hidden), at most one message per {}",
                shown(settings.alerts.min_interval)
            )
        }
    );
    crate::out!(
        "  retention: finished jobs {}, dead jobs {}, purged every {}",
        shown(settings.retention.finished),
        shown(settings.retention.dead),
        shown(settings.retention.interval)
    );
    if settings.sync.sources.is_empty() {
        crate::out!("  sync: off ([sync].sources is empty)");
    } else {
        crate::out!(
            "  sync: {} source(s) {:?}, a pass every {} (the first lists {} back)",
            settings.sync.sources.len(),
            settings.sync.sources,
            shown(settings.sync.interval),
            shown(settings.sync.lookback)
        );
    }
}

/// Every route, one line each.
fn print_routes(settings: &Settings) {
    crate::out!("  routes: {}", settings.routes.len());
    for r in &settings.routes {
        let to = r.destination.summary();
        crate::out!(
            "    - {} -> {to}; sources {:?}; events {:?}; logics {:?}; format {:?}",
            r.name,
            r.sources,
            r.events,
            r.logics,
            r.format
        );
    }
}
