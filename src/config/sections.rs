//! The relay's own sections of the configuration, typed where they are declared (durations
//! as `Duration`, the signature mode as an enum); each destination's section lives with it.

use std::time::Duration;

use serde::Deserialize;

use super::duration;
use crate::hrflow::signature::SignatureMode;
use crate::secret::{self, Secret, Secrets};

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    /// The address the server binds (0.0.0.0 in a container).
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// The largest request body read; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// How long a request's body may take to arrive whole.
    #[serde(with = "duration")]
    pub body_timeout: Duration,
    /// Open HTTP connections the server holds at once; more wait in the kernel's queue.
    pub max_connections: usize,
    /// How long a stop lets jobs in flight finish before their leases are released.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// How people reach this service (links in alerts); may be empty.
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Database {
    /// `sqlite:` or `postgres:`; may hold a password, so a secret.
    pub url: Secret,
    /// The pool's size (PostgreSQL; SQLite's writes go through one thread).
    pub max_connections: u32,
    /// How long the start waits for the database to answer.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Hrflow {
    /// Where profiles are fetched and sources listed.
    pub api_url: String,
    /// HrFlow's `X-API-KEY`.
    pub api_key: Secret,
    /// HrFlow's `X-USER-EMAIL`, sent with the key.
    pub user_email: String,
    /// The webhook's signing secrets; several during a rotation.
    pub webhook_secret: Secrets,
    /// Which of HrFlow's signature forms are read.
    pub signature: SignatureMode,
    /// How long an event's id is remembered to refuse its replay.
    #[serde(with = "duration")]
    pub dedupe_window: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Logic {
    /// The Rhai file holding the functions routes name; empty: none.
    pub script: String,
    /// Whether a script's print() and debug() reach the log (as a debug-level line).
    pub print: bool,
    /// A script call's operation budget, so a loop cannot hold a worker.
    pub max_operations: u64,
    /// How long one script call may run.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Worker {
    /// Deliveries run at once by this process.
    pub concurrency: usize,
    /// Each upstream request's limit, whole answer included.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// The wait before each next attempt of a failed job; its length is the attempts allowed.
    #[serde(deserialize_with = "duration::list")]
    pub retry_schedule: Vec<Duration>,
    /// How often an idle worker looks for due jobs.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// How long a claimed job stays this process's without a word from it.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// After how long without a heartbeat a replica counts as gone.
    #[serde(with = "duration")]
    pub replica_timeout: Duration,
    /// The largest resume downloaded for a push.
    pub max_resume_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Careers {
    /// Where the API is mounted (`/careers`).
    pub path: String,
    /// Accepted as `Bearer` or `Token`.
    #[serde(deserialize_with = "secret::list")]
    pub tokens: Vec<Secret>,
    /// `user:password` entries accepted as HTTP Basic.
    #[serde(deserialize_with = "secret::list")]
    pub basic_users: Vec<Secret>,
}

/// The operator API and status page: closed when both lists are empty.
#[derive(Debug, Clone, Deserialize)]
pub struct Admin {
    /// Accepted as `Bearer`; at least 16 characters.
    #[serde(deserialize_with = "secret::list")]
    pub tokens: Vec<Secret>,
    /// `user:password` entries accepted as HTTP Basic (the pages' login).
    #[serde(deserialize_with = "secret::list")]
    pub basic_users: Vec<Secret>,
}

/// How long finished jobs stay, and how often the service purges.
#[derive(Debug, Clone, Deserialize)]
pub struct Retention {
    /// Delivered, filtered and cancelled jobs.
    #[serde(with = "duration")]
    pub finished: Duration,
    /// Dead jobs, kept longer: a person may still retry them.
    #[serde(with = "duration")]
    pub dead: Duration,
    /// The events log (every event received, whatever its outcome).
    #[serde(with = "duration")]
    pub events: Duration,
    /// How often the service purges.
    #[serde(with = "duration")]
    pub interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Alerts {
    /// Holds a token in its path for Slack-style hooks: a secret.
    pub webhook_url: Secret,
    /// The least time between two messages (more are gathered into the next).
    #[serde(with = "duration")]
    pub min_interval: Duration,
}

/// `hrflow-relay backfill`: how it lists HrFlow sources.
#[derive(Debug, Clone, Deserialize)]
pub struct Backfill {
    /// Profiles per listing page.
    pub page_size: u32,
    /// Listing requests per second at most, so a backfill never floods HrFlow.
    pub requests_per_second: f64,
    /// How many times a failed page is tried again before the command stops.
    pub retries: u32,
    /// The first wait before trying a failed page again; it doubles each time.
    #[serde(with = "duration")]
    pub retry_delay: Duration,
}

/// `[sync]`: the service lists these sources every `interval` and queues what has no job.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncSettings {
    /// HrFlow source keys; empty: sync is off.
    pub sources: Vec<String>,
    /// How often a pass is made, for the whole deployment.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How far back the first pass lists.
    #[serde(with = "duration")]
    pub lookback: Duration,
}
