//! `hrflow-relay events list`: the events log, newest first, on the configured database
//! directly (the service may run or not). A table on a terminal, JSON lines otherwise.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::open;
use crate::config::Settings;
use crate::store::events_log::{EventFilter, EventOutcome, EventView};
use crate::table::{Table, when};

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

pub async fn run(settings: &Settings, action: EventsAction) -> ExitCode {
    let EventsAction::List {
        profile,
        source,
        outcome,
        limit,
        json,
    } = action;
    open::with_store(settings, |store| async move {
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
        } else {
            table(events);
        }
        Ok(())
    })
    .await
}

fn table(events: Vec<EventView>) {
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
}
