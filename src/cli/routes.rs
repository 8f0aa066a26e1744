//! `hrflow-relay routes list|pause|resume`, on the configured database directly (the service
//! may run or not). A table on a terminal, JSON lines otherwise.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::open;
use crate::config::Settings;
use crate::route_status::{self, RouteStatus};
use crate::store::Store;
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

pub async fn run(settings: &Settings, action: RoutesAction) -> ExitCode {
    open::with_store(settings, |store| async move {
        match action {
            RoutesAction::List { json } => list(settings, &store, json).await?,
            RoutesAction::Pause { name } => steer(settings, &store, &name, true).await?,
            RoutesAction::Resume { name } => steer(settings, &store, &name, false).await?,
        }
        Ok(())
    })
    .await
}

async fn list(settings: &Settings, store: &Store, json: bool) -> Result<(), String> {
    let routes = route_status::overview(settings, store)
        .await
        .map_err(|e| e.to_string())?;
    if crate::table::json_wanted(json) {
        for r in routes {
            crate::out!("{}", json!(r));
        }
    } else {
        table(routes);
    }
    Ok(())
}

fn table(routes: Vec<RouteStatus>) {
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
