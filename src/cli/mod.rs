//! The command line: `serve` (default), `check-config`, `preview`, `jobs`, `routes`, `events`,
//! `erase`, `purge`, `backfill`, `sync`, `probe`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::config::Settings;
use crate::config::duration::shown;
use crate::http::shown_url;
use crate::startup::{self, Application};

mod console;
mod jobs;
mod open;

#[derive(Parser, Debug)]
#[command(
    name = "hrflow-relay",
    version,
    about = "Relays HrFlow.ai profiles to Flatchr, to Huntflow (as its response platform) and to your own webhook, durably.",
    long_about = "Relays HrFlow.ai profiles to applicant tracking systems: HrFlow sends an event for each parsed profile; the relay stores it, fetches the profile, runs the route's logics and format, and delivers the candidate to Flatchr (push, then enrich), to Huntflow (which pulls candidates from the relay's response-platform API) or to your own webhook. Never loses or duplicates a candidate, and says what it did with each one.\n\nStart: `hrflow-relay --config relay.toml` (serve). Check a setup first: `hrflow-relay check-config --online`."
)]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults.
    #[arg(long, global = true, env = "RELAY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server and the delivery workers (the default).
    Serve,
    /// Check the configuration and the logic script; exit 1 listing every problem.
    CheckConfig {
        /// Then ask each configured upstream (HrFlow, Flatchr), the database and the alert
        /// hook's host whether they take the configured credentials; nothing is created.
        #[arg(long)]
        online: bool,
        /// With --online: post one message, saying it is a test, to the alert webhook.
        #[arg(long, requires = "online")]
        send_test_alert: bool,
    },
    /// Run a route's logics and format on a profile offline and print what would be sent.
    Preview {
        /// A profile as JSON (or HrFlow's `{"data": profile}` answer).
        #[arg(long)]
        profile: PathBuf,
        /// The route to use; default: every route.
        #[arg(long)]
        route: Option<String>,
        /// The event type the profile arrives with: a route that does not act on it says
        /// "unmatched".
        #[arg(long = "event", default_value = "profile.parsing.success")]
        event_type: String,
    },
    /// See and fix jobs: list (the default), show, retry, cancel. Works on the database
    /// directly, whether the service runs or not.
    #[command(args_conflicts_with_subcommands = true)]
    Jobs {
        #[command(subcommand)]
        action: Option<jobs::Action>,
        #[command(flatten)]
        list: jobs::ListArgs,
    },
    /// Routes: list them (destination, paused, jobs per status), pause or resume one.
    Routes {
        #[command(subcommand)]
        action: console::RoutesAction,
    },
    /// The events log: every event received, whatever became of it.
    Events {
        #[command(subcommand)]
        action: console::EventsAction,
    },
    /// Delete everything the relay holds about one candidate (jobs, attempts, events, push
    /// records, careers responses and letters) so none of it stays readable in the database
    /// files. Prints the counts deleted.
    Erase {
        /// The candidate's HrFlow profile key.
        #[arg(long)]
        profile: String,
    },
    /// Apply [retention] now: delete finished and dead jobs past their period. Prints counts.
    Purge,
    /// Queue the profiles already in HrFlow sources, as if an event had arrived for each.
    /// Idempotent: a (route, profile) that already has a job is skipped.
    Backfill(crate::backfill::Options),
    /// Run one sync pass now: list the `[sync].sources` (or these) and queue what has no job,
    /// as a backfill would; waits for a pass in progress first. Prints {"listed", "queued",
    /// "skipped", "found"}.
    Sync {
        /// A source to pass over (repeatable); default: `[sync].sources`.
        #[arg(long = "source")]
        sources: Vec<String>,
    },
    /// Exit 0 when the running service answers /health/live (for container health checks).
    Probe {
        /// The path to ask for.
        #[arg(long, default_value = "/health/live")]
        path: String,
    },
}

pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if matches!(
        cli.command,
        Some(
            Command::Jobs { .. }
                | Command::Routes { .. }
                | Command::Events { .. }
                | Command::Probe { .. }
        )
    ) {
        // These read the database only: a mistake elsewhere is told, not a reason to refuse.
        for p in &settings.read_problems {
            eprintln!("warning: the configuration has a problem: {p}");
        }
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::CheckConfig {
            online,
            send_test_alert,
        } => check_config(&settings, online, send_test_alert).await,
        Command::Preview {
            profile,
            route,
            event_type,
        } => preview(&settings, &profile, route.as_deref(), &event_type),
        Command::Jobs { action, list } => {
            let action = action.unwrap_or(jobs::Action::List(list));
            jobs::run(&settings, action).await
        }
        Command::Routes { action } => console::routes(&settings, action).await,
        Command::Events { action } => console::events(&settings, action).await,
        Command::Probe { path } => probe(&settings, &path).await,
        Command::Backfill(options) => backfill(&settings, &options).await,
        Command::Sync { sources } => sync(settings, sources).await,
        Command::Erase { profile } => forget(&settings, Some(&profile)).await,
        Command::Purge => forget(&settings, None).await,
    }
}

/// `erase --profile KEY` (Some) or `purge` (None): prints `{"deleted": {table: count}}`.
async fn forget(settings: &Settings, profile: Option<&str>) -> ExitCode {
    if profile.is_some_and(|p| p.trim().is_empty()) {
        eprintln!("--profile must be a profile key");
        return ExitCode::FAILURE;
    }
    // Erasing a candidate or applying retention needs only the database and the periods: a
    // mistake elsewhere (an unset secret in the operator's shell) is told, and does not stop it.
    let problems = settings.duration_problems();
    if !problems.is_empty() {
        print_problems(&problems);
        return ExitCode::FAILURE;
    }
    for p in settings.validate() {
        eprintln!("warning: the configuration has a problem: {p}");
    }
    let Some(store) = open::store(settings, 2).await else {
        return ExitCode::FAILURE;
    };
    let result = match profile {
        Some(key) => store.erase_profile(key).await.map(Some),
        None => {
            crate::retention::purge_now(&store, &settings.retention, settings.hrflow.dedupe_window)
                .await
        }
    };
    store.close().await;
    match result {
        Ok(Some(deleted)) => {
            crate::out!("{}", serde_json::json!({ "deleted": deleted }));
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("another process is purging right now; nothing done");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn backfill(settings: &Settings, options: &crate::backfill::Options) -> ExitCode {
    if let Err(problems) = startup::check(settings) {
        print_problems(&problems);
        return ExitCode::FAILURE;
    }
    let Some(store) = open::store(settings, 2).await else {
        return ExitCode::FAILURE;
    };
    let progress = crate::backfill::Progress::for_stderr();
    let result = crate::backfill::run_with(settings, &store, options, &progress).await;
    store.close().await;
    match result {
        Ok(report) => {
            crate::out!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err((report, e)) => {
            eprintln!("backfill stopped: {e}");
            if report.pages > 0 {
                eprintln!("what was queued stays queued; run the same command again to go on");
                crate::out!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            ExitCode::FAILURE
        }
    }
}

async fn sync(settings: Settings, sources: Vec<String>) -> ExitCode {
    if let Err(problems) = startup::check(&settings) {
        print_problems(&problems);
        return ExitCode::FAILURE;
    }
    let sources = if sources.is_empty() {
        settings.sync.sources.clone()
    } else {
        sources
    };
    if sources.is_empty() {
        eprintln!("no source to pass over: set [sync].sources, or name one with --source KEY");
        return ExitCode::FAILURE;
    }
    for s in &sources {
        if !settings
            .routes
            .iter()
            .any(|r| crate::routes::listens_to(r, s))
        {
            eprintln!("no configured route takes source {s:?}: nothing would be queued");
            return ExitCode::FAILURE;
        }
    }
    let Some(store) = open::store(&settings, 2).await else {
        return ExitCode::FAILURE;
    };
    let syncer = crate::sync::Syncer {
        settings: std::sync::Arc::new(settings),
        store: store.clone(),
        // The command prints what it found; alerts are the service's.
        alerts: crate::alert::Alerts::default(),
        owner: format!(
            "cli-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ),
    };
    let progress = crate::backfill::Progress::for_stderr();
    let report = syncer.now(&sources, &progress).await;
    store.close().await;
    match report {
        Ok(report) => {
            crate::out!("{}", serde_json::to_string(&report).unwrap_or_default());
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                for f in &report.failed {
                    eprintln!("sync stopped early for {f}; its watermark stays, run it again");
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("sync: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    crate::telemetry::init_logs();
    crate::telemetry::metrics();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot start");
            eprintln!("cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every configuration problem, one per line, on standard error.
fn print_problems(problems: &[String]) {
    eprintln!("the configuration has {} problem(s):", problems.len());
    for p in problems {
        eprintln!("  - {p}");
    }
}

fn set(secret: &crate::secret::Secret) -> &'static str {
    if secret.is_empty() { "not set" } else { "set" }
}

async fn check_config(settings: &Settings, online: bool, send_test_alert: bool) -> ExitCode {
    if let Err(problems) = startup::check(settings) {
        print_problems(&problems);
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

/// What `check-config` prints of a valid configuration: where it listens, what it talks to,
/// never a secret.
fn print_summary(settings: &Settings) {
    crate::out!("configuration OK");
    crate::out!(
        "  listen: {}:{}",
        settings.server.host,
        settings.server.port
    );
    let db = settings.database.url.expose();
    crate::out!(
        "  database: {}",
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

fn preview(
    settings: &Settings,
    path: &std::path::Path,
    route: Option<&str>,
    event_type: &str,
) -> ExitCode {
    let scripts = match startup::check(settings) {
        Ok(s) => s,
        Err(problems) => {
            print_problems(&problems);
            return ExitCode::FAILURE;
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let mut profile: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{} is not JSON: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    if profile.get("data").is_some_and(Value::is_object) && profile.get("info").is_none() {
        profile = profile["data"].take();
    }
    let routes: Vec<_> = settings
        .routes
        .iter()
        .filter(|r| route.is_none_or(|n| r.name == n))
        .collect();
    if routes.is_empty() {
        eprintln!(
            "{}",
            match route {
                Some(n) => format!("no route named {n:?}"),
                None => "no route is configured".into(),
            }
        );
        return ExitCode::FAILURE;
    }
    let source = profile["source"]["key"].as_str();
    let results: Vec<Value> = routes
        .iter()
        .map(
            |r| match crate::routes::refusal(r, event_type, source.filter(|s| !s.is_empty())) {
                Some(reason) => {
                    serde_json::json!({"route": r.name, "destination": r.destination.kind(),
                    "outcome": "unmatched", "event": event_type, "reason": reason})
                }
                None => crate::destination::preview(
                    r.transform(),
                    &r.destination,
                    &scripts,
                    profile.clone(),
                ),
            },
        )
        .collect();
    let out = if results.len() == 1 {
        results[0].clone()
    } else {
        Value::Array(results)
    };
    crate::out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    ExitCode::SUCCESS
}

async fn probe(settings: &Settings, path: &str) -> ExitCode {
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1",
        h => h,
    };
    let url = format!("http://{host}:{}{path}", settings.server.port);
    let ok = match reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(3))
        .send()
        .await
    {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("{url} is not healthy");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every subcommand and every argument says in a line what it is for.
    #[test]
    fn every_command_and_argument_has_a_line_of_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let cli = super::Cli::command();
        assert!(cli.get_about().is_some_and(
            |a| a.to_string().contains("Flatchr") && a.to_string().contains("webhook")
        ));
        let mut missing = Vec::new();
        walk(&cli, "hrflow-relay", &mut missing);
        assert!(missing.is_empty(), "no help: {missing:?}");
    }
}
