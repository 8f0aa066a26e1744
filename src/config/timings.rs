//! The configuration's durations, parsed once into `Timings`, and `Checked`: the only way to
//! get them, so nothing parses a duration twice or falls back to a default in silence.

use std::time::Duration;

use super::*;

/// What the settings mean, once checked: the only way to get durations and the signature
/// mode, so nothing parses them a second time or falls back to a default in silence.
#[derive(Debug, Clone)]
pub struct Checked {
    pub timings: Timings,
    pub signature: SignatureMode,
}

/// The configuration's durations, parsed once.
#[derive(Debug, Clone)]
pub struct Timings {
    pub body_timeout: Duration,
    pub dedupe_window: Duration,
    pub request_timeout: Duration,
    pub retry_schedule: Vec<Duration>,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub replica_timeout: Duration,
    pub logic_timeout: Duration,
    pub shutdown_grace: Duration,
    pub connect_timeout: Duration,
    pub backfill_retry_delay: Duration,
    pub retention_finished: Duration,
    pub retention_dead: Duration,
    pub retention_events: Duration,
    pub retention_interval: Duration,
    pub alerts_min_interval: Duration,
    pub sync_interval: Duration,
    pub sync_lookback: Duration,
}

impl Timings {
    /// Parses every duration, adding a problem for each that is not one (and for bounds
    /// between them); `None` when any is wrong.
    pub(super) fn read(s: &Settings, problems: &mut Vec<String>) -> Option<Self> {
        let before = problems.len();
        let mut d = |key: &str, value: &str| match parse_duration(value) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{key} = {value:?} is not a duration: {e}"));
                Duration::ZERO
            }
        };
        let t = Self {
            shutdown_grace: d("server.shutdown_grace", &s.server.shutdown_grace),
            body_timeout: d("server.body_timeout", &s.server.body_timeout),
            dedupe_window: d("hrflow.dedupe_window", &s.hrflow.dedupe_window),
            connect_timeout: d("database.connect_timeout", &s.database.connect_timeout),
            logic_timeout: d("logic.timeout", &s.logic.timeout),
            request_timeout: d("worker.request_timeout", &s.worker.request_timeout),
            poll_interval: d("worker.poll_interval", &s.worker.poll_interval),
            lease: d("worker.lease", &s.worker.lease),
            replica_timeout: d("worker.replica_timeout", &s.worker.replica_timeout),
            backfill_retry_delay: d("backfill.retry_delay", &s.backfill.retry_delay),
            retention_finished: d("retention.finished", &s.retention.finished),
            retention_dead: d("retention.dead", &s.retention.dead),
            retention_events: d("retention.events", &s.retention.events),
            retention_interval: d("retention.interval", &s.retention.interval),
            alerts_min_interval: d("alerts.min_interval", &s.alerts.min_interval),
            sync_interval: d("sync.interval", &s.sync.interval),
            sync_lookback: d("sync.lookback", &s.sync.lookback),
            retry_schedule: s
                .worker
                .retry_schedule
                .iter()
                .enumerate()
                .map(|(i, v)| d(&format!("worker.retry_schedule[{i}]"), v))
                .collect(),
        };
        if problems.len() > before {
            return None;
        }
        if t.lease < t.request_timeout * 5 {
            problems.push(format!(
                "worker.lease = {:?} must be at least 5 x worker.request_timeout ({:?}): a job makes up to five calls",
                s.worker.lease, s.worker.request_timeout
            ));
        }
        if t.replica_timeout < Duration::from_secs(5) {
            problems.push(format!(
                "worker.replica_timeout = {:?} must be at least 5s: processes heartbeat every 2 s, and a live one must never look gone",
                s.worker.replica_timeout
            ));
        }
        if t.sync_interval < Duration::from_secs(1) {
            problems.push(format!(
                "sync.interval = {:?} must be at least 1s",
                s.sync.interval
            ));
        }
        if t.body_timeout < Duration::from_millis(100) {
            problems.push(format!(
                "server.body_timeout = {:?} must be at least 100ms",
                s.server.body_timeout
            ));
        }
        if t.retention_interval < Duration::from_secs(1) {
            problems.push(format!(
                "retention.interval = {:?} must be at least 1s",
                s.retention.interval
            ));
        }
        (problems.len() == before).then_some(t)
    }
}
