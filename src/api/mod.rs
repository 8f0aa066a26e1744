//! HTTP handlers, each file one concern.

pub mod body;
pub mod credentials;
pub mod events;
pub mod gauges;
pub mod service;
pub mod throttle;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Settings;
use crate::store::Store;
use crate::store::group_commit::GroupCommit;
use crate::worker::Heartbeat;

/// What handlers share.
pub struct AppState {
    /// True once the schema is migrated: until then events answer 503 and readiness fails.
    pub schema: Arc<std::sync::atomic::AtomicBool>,
    /// For the reads the handlers make (the admin area, the careers API).
    pub store: Store,
    /// The event endpoint's way into the store: events arriving together share a commit.
    pub intake: GroupCommit,
    /// What the handlers check against (secrets, limits, routes).
    pub settings: Arc<Settings>,
    /// Wakes idle workers when jobs become due now (events stored, jobs retried, a route
    /// resumed) instead of their next poll.
    pub wake: Arc<Notify>,
    /// When the worker last looked for work: readiness fails when it stops.
    pub heartbeat: Arc<Heartbeat>,
    /// The queue's gauges, as last read by their refresher: what `/metrics` shows.
    pub gauges: gauges::Gauges,
    /// Failed logins per client address, for the admin area and the careers API.
    pub logins: throttle::Throttle,
    /// Told when an operator pauses or resumes a route.
    pub alerts: crate::alert::Alerts,
}
