//! Typed settings: built-in defaults, then a file, then `RELAY__SECTION__KEY` variables.
//! Loading never fails half-way on a bad value: `validate` lists every problem at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod checks;
pub mod duration;
mod load;
mod route;
mod said;
mod tree;

use crate::destination::Sections;
use crate::hrflow::signature::SignatureMode;
use crate::http::{parse_http_url, shown_url};
use crate::secret::{self, Secret, Secrets};
pub use route::Route;

const DEFAULTS: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `[server]`: where and how the HTTP server listens.
    pub server: Server,
    /// `[database]`: the store.
    pub database: Database,
    /// `[hrflow]`: the source (API, webhook secrets).
    pub hrflow: Hrflow,
    /// `[logic]`: the script of the routes' logics and formats.
    pub logic: Logic,
    /// `[worker]`: deliveries: how many at once, their timeouts and retries.
    pub worker: Worker,
    /// `[careers]`: the response-platform API Huntflow reads.
    pub careers: Careers,
    /// `[backfill]`: how listings are paced and retried.
    pub backfill: Backfill,
    /// `[sync]`: the passes over sources whose events may be missing.
    pub sync: SyncSettings,
    /// `[admin]`: who may use the operator API and pages.
    pub admin: Admin,
    /// `[retention]`: how long what was done is kept.
    pub retention: Retention,
    /// `[alerts]`: where dead jobs and refused keys are told.
    pub alerts: Alerts,
    /// Each destination's own section (`[flatchr]`), read by its type where it stands.
    #[serde(skip)]
    pub destinations: Sections,
    /// `[[routes]]`: read one by one, each destination reading its own keys.
    #[serde(skip)]
    pub routes: Vec<Route>,
    /// What reading the layers found wrong (unknown keys, values of the wrong type): `check`
    /// lists them with every other problem.
    #[serde(skip)]
    pub read_problems: Vec<String>,
}

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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("the configuration has {} problem(s):\n  - {}", .0.len(), .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: [&str; 7] = [
    "sync.sources",
    "hrflow.webhook_secret",
    "worker.retry_schedule",
    "careers.tokens",
    "careers.basic_users",
    "admin.tokens",
    "admin.basic_users",
];

impl Settings {
    /// Loads the layers; `file` is `--config` or `RELAY_CONFIG`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env = std::env::vars().collect();
        Self::load_from(file, env)
    }

    /// Same as `load`, with the environment given (tests use it to avoid global state).
    pub fn load_from(
        file: Option<&Path>,
        env: std::collections::HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        // The relay's own defaults, then each destination's for its section.
        let mut defaults = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        for (name, values) in Sections::defaults() {
            let section = format!("[{name}]\n{values}");
            defaults =
                defaults.add_source(config::File::from_str(&section, config::FileFormat::Toml));
        }
        let defaults = defaults.build()?;
        let mut builder = config::Config::builder().add_source(defaults.clone());
        if let Some(path) = file {
            builder = builder.add_source(
                config::File::from(PathBuf::from(path))
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let mut environment = config::Environment::with_prefix("RELAY")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .try_parsing(true)
            .source(Some(env.clone()));
        for key in LIST_KEYS {
            environment = environment.with_list_parse_key(key);
        }
        let layers = builder.add_source(environment).build()?;
        let (mut settings, problems) = load::read(layers, &defaults, file, &env)?;
        settings.read_problems = problems;
        if let Some(path) = file {
            settings.resolve_paths(path)?;
        }
        Ok(settings)
    }

    /// Relative paths written in the configuration file (the logic script, an SQLite database)
    /// are relative to that file's folder, wherever the process runs; values from the
    /// environment or the built-in defaults stay relative to the working directory.
    fn resolve_paths(&mut self, file: &Path) -> Result<(), ConfigError> {
        let own = config::Config::builder()
            .add_source(config::File::from(file.to_path_buf()).format(config::FileFormat::Toml))
            .build()?;
        let folder = file.parent().unwrap_or(Path::new(""));
        let from_file = |key: &str, value: &str| own.get_string(key).ok().as_deref() == Some(value);
        if !self.logic.script.is_empty()
            && from_file("logic.script", &self.logic.script)
            && Path::new(&self.logic.script).is_relative()
        {
            self.logic.script = folder.join(&self.logic.script).display().to_string();
        }
        let url = self.database.url.expose().to_string();
        if from_file("database.url", &url)
            && let Some(resolved) = resolve_sqlite_url(&url, folder)
        {
            self.database.url = Secret::new(resolved);
        }
        Ok(())
    }

    /// Every configured secret's value, for scrubbing text that leaves the process.
    pub fn secret_values(&self) -> Vec<String> {
        let mut all = vec![
            self.hrflow.api_key.expose().to_string(),
            self.alerts.webhook_url.expose().to_string(),
        ];
        all.extend(self.destinations.secrets());
        all.extend(
            self.hrflow
                .webhook_secret
                .keys()
                .iter()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
        );
        for s in self
            .careers
            .tokens
            .iter()
            .chain(&self.careers.basic_users)
            .chain(&self.admin.tokens)
            .chain(&self.admin.basic_users)
        {
            all.push(s.expose().to_string());
        }
        all.retain(|s| !s.is_empty());
        all
    }

    /// What destinations take of the settings beyond their own keys.
    pub fn common(&self) -> crate::destination::Common {
        crate::destination::Common {
            request_timeout: self.worker.request_timeout,
            max_resume_bytes: self.worker.max_resume_bytes,
            public_url: self.server.public_url.clone(),
        }
    }

    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// Every problem found, each a sentence a person can act on. Script names are checked by
    /// `logic::Scripts::check`, which needs the compiled script.
    pub fn validate(&self) -> Vec<String> {
        self.check().err().unwrap_or_default()
    }

    /// What is wrong with the durations alone (a value that is not one, bounds between
    /// them): what a command that needs only them (`purge`) refuses, whatever else is wrong.
    pub fn duration_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .read_problems
            .iter()
            .filter(|p| p.contains(duration::NOT_A_DURATION))
            .cloned()
            .collect();
        if problems.is_empty() {
            problems = self.duration_bounds();
        }
        problems
    }

    /// Every problem found, each a sentence a person can act on.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = self.read_problems.clone();
        // Bounds between durations wait until each of them reads as one.
        if !problems
            .iter()
            .any(|p| p.contains(duration::NOT_A_DURATION))
        {
            problems.extend(self.duration_bounds());
        }
        problems.extend(self.problems());
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems),
        }
    }
}

/// `sqlite://relative/path.db` (or `sqlite:relative.db`) made absolute under `folder`; `None`
/// for absolute paths, in-memory databases and other URLs.
fn resolve_sqlite_url(url: &str, folder: &Path) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path.starts_with('/') || path.starts_with(':') {
        return None;
    }
    let absolute = std::path::absolute(folder.join(path)).ok()?;
    let mut out = format!("sqlite://{}", absolute.display());
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod checks_tests;

#[cfg(test)]
mod tests;
