//! `hrflow-relay routes list|pause|resume` and `hrflow-relay events list`, on the configured
//! database directly (the service may run or not). Tables on a terminal, JSON lines otherwise.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use crate::config::Settings;
use crate::route_status;
use crate::store::Store;
use crate::store::events_log::{EventFilter, EventOutcome};
use crate::table::{Table, when};

#[derive(Subcommand, Debug)]
pub enum RoutesAction {
    /// Every configured route: destination, account, paused, jobs per status.
    List {
        /// JSON lines, even on a terminal.
        #[arg(long)]
        json: bool,
    },
    /// Hold a route's deliveries: its jobs wait, with no attempt made, until it is resumed
    /// (every replica, and a restart, obeys it).
    Pause {
        /// The route's name.
        name: String,
    },
    /// Let a paused route's jobs go out again, at the route's rate.
    Resume {
        /// The route's name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum EventsAction {
    /// Every event received, whatever became of it, newest first.
    List {
        /// Only this profile's events.
        #[arg(long)]
        profile: Option<String>,
        /// Only this source's events.
        #[arg(long)]
        source: Option<String>,
        /// accepted | duplicate | ignored
        #[arg(long, value_parser = ["accepted", "duplicate", "ignored"])]
        outcome: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON lines, even on a terminal.
        #[arg(long)]
        json: bool,
    },
}

async fn with_store<F, Fut>(settings: &Settings, f: F) -> ExitCode
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let Some(store) = super::open::store(settings, 1).await else {
        return ExitCode::FAILURE;
    };
    let result = f(store.clone()).await;
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

pub async fn routes(settings: &Settings, action: RoutesAction) -> ExitCode {
    with_store(settings, |store| async move {
        match action {
            RoutesAction::List { json } => {
                let routes = route_status::overview(settings, &store)
                    .await
                    .map_err(|e| e.to_string())?;
                if crate::table::json_wanted(json) {
                    for r in routes {
                        crate::out!("{}", json!(r));
                    }
                    return Ok(());
                }
                let mut t = Table::new(&[
                    "NAME",
                    "TO",
                    "STATE",
                    "PENDING",
                    "DELIVERED",
                    "FILTERED",
                    "DEAD",
                    "CANCELLED",
                ]);
                for r in routes {
                    t.row(vec![
                        r.name,
                        r.to,
                        match r.paused_at {
                            Some(at) => format!("paused since {}", when(Some(at))),
                            None => "running".into(),
                        },
                        r.jobs.pending.to_string(),
                        r.jobs.delivered.to_string(),
                        r.jobs.filtered.to_string(),
                        r.jobs.dead.to_string(),
                        r.jobs.cancelled.to_string(),
                    ]);
                }
                t.print();
            }
            RoutesAction::Pause { name } => steer(settings, &store, &name, true).await?,
            RoutesAction::Resume { name } => steer(settings, &store, &name, false).await?,
        }
        Ok(())
    })
    .await
}

async fn steer(settings: &Settings, store: &Store, name: &str, pause: bool) -> Result<(), String> {
    let changed = route_status::set_paused(settings, store, name, pause)
        .await
        .map_err(|e| e.to_string())?;
    crate::out!(
        "{}",
        json!({"route": name, "paused": pause, "changed": changed})
    );
    Ok(())
}

pub async fn events(settings: &Settings, action: EventsAction) -> ExitCode {
    let EventsAction::List {
        profile,
        source,
        outcome,
        limit,
        json,
    } = action;
    with_store(settings, |store| async move {
        let filter = EventFilter {
            profile,
            source,
            event_type: None,
            outcome: outcome.as_deref().and_then(EventOutcome::parse),
        };
        let events = store
            .list_events(&filter, limit.clamp(1, 10_000), 0)
            .await
            .map_err(|e| e.to_string())?;
        if crate::table::json_wanted(json) {
            for e in events {
                crate::out!("{}", json!(e));
            }
            return Ok(());
        }
        let mut t = Table::new(&[
            "RECEIVED", "TYPE", "SOURCE", "PROFILE", "OUTCOME", "JOBS", "REASON",
        ]);
        for e in events {
            t.row(vec![
                when(Some(e.received_at)),
                e.event_type,
                e.source_key.unwrap_or_default(),
                e.profile_key.unwrap_or_default(),
                e.outcome.as_str().to_string(),
                e.jobs
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                e.reason.unwrap_or_default(),
            ]);
        }
        t.print();
        Ok(())
    })
    .await
}
