//! Every configured route as an operator sees it: where it delivers, whether it is paused, its
//! jobs per status. One reading for `routes list`, `/admin/api/routes` and the status page.

use serde::Serialize;

use crate::config::Settings;
use crate::store::stats::RouteCounts;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct RouteStatus {
    /// The route's name.
    pub name: String,
    /// `flatchr`, `careers`, `webhook`; `unconfigured` for a route that only has jobs left.
    pub destination: &'static str,
    /// The destination's account (`default` for its section itself); absent for destinations
    /// without accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Where it delivers, in words: `Flatchr, account acme`, `webhook hooks.example.com`.
    pub to: String,
    /// HrFlow source keys it takes; empty: every source.
    pub sources: Vec<String>,
    /// Paused by an operator: its jobs wait, no attempt made.
    pub paused: bool,
    /// Since when (Unix ms; RFC 3339 in JSON).
    #[serde(
        serialize_with = "crate::time::ser_opt",
        skip_serializing_if = "Option::is_none"
    )]
    /// When an operator paused it; `None`: running.
    pub paused_at: Option<i64>,
    /// Its jobs, per status.
    pub jobs: Counts,
}

/// Jobs per status.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    /// Waiting for an attempt (or in one).
    pub pending: i64,
    /// Ended delivered.
    pub delivered: i64,
    /// Dropped by a logic.
    pub filtered: i64,
    /// Ended failed.
    pub dead: i64,
    /// Ended by an operator.
    pub cancelled: i64,
}

impl From<&RouteCounts> for Counts {
    fn from(c: &RouteCounts) -> Self {
        Self {
            pending: c.pending,
            delivered: c.delivered,
            filtered: c.filtered,
            dead: c.dead,
            cancelled: c.cancelled,
        }
    }
}

/// Every configured route, in the configuration's order, then any route that is no longer
/// configured but still has jobs. `counts` are the stats' per-route counts.
pub fn assemble(
    settings: &Settings,
    counts: &[RouteCounts],
    pauses: &[crate::store::pauses::Pause],
) -> Vec<RouteStatus> {
    let paused_at = |name: &str| pauses.iter().find(|p| p.route == name).map(|p| p.paused_at);
    let jobs = |name: &str| {
        counts
            .iter()
            .find(|c| c.route == name)
            .map(Counts::from)
            .unwrap_or_default()
    };
    let mut out: Vec<RouteStatus> = settings
        .routes
        .iter()
        .map(|r| RouteStatus {
            name: r.name.clone(),
            destination: r.destination.kind(),
            account: r.destination.account(),
            to: r.destination.describe(),
            sources: r.sources.clone(),
            paused: paused_at(&r.name).is_some(),
            paused_at: paused_at(&r.name),
            jobs: jobs(&r.name),
        })
        .collect();
    for c in counts {
        if settings.route(&c.route).is_none() {
            out.push(RouteStatus {
                name: c.route.clone(),
                destination: "unconfigured",
                account: None,
                to: "no longer configured".into(),
                sources: Vec::new(),
                paused: paused_at(&c.route).is_some(),
                paused_at: paused_at(&c.route),
                jobs: Counts::from(c),
            });
        }
    }
    out
}

/// Reads what `assemble` needs.
pub async fn overview(settings: &Settings, store: &Store) -> Result<Vec<RouteStatus>, StoreError> {
    let stats = store.stats().await?;
    let pauses = store.pauses().await?;
    Ok(assemble(settings, &stats.routes, &pauses))
}

/// Pauses or resumes a configured route; an unknown name is an error naming the routes.
pub async fn set_paused(
    settings: &Settings,
    store: &Store,
    name: &str,
    pause: bool,
) -> Result<bool, SteerError> {
    if settings.route(name).is_none() {
        return Err(SteerError::Unknown {
            name: name.to_string(),
            known: settings.routes.iter().map(|r| r.name.clone()).collect(),
        });
    }
    let changed = if pause {
        store.pause_route(name).await?
    } else {
        store.resume_route(name).await?
    };
    tracing::info!(
        route = name,
        paused = pause,
        changed,
        "route steered by an operator"
    );
    Ok(changed)
}

#[derive(Debug, thiserror::Error)]
pub enum SteerError {
    /// No route by that name is configured: said with the names that are.
    #[error("no route named {name:?} (configured: {})", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}
