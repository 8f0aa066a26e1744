//! Typed settings: built-in defaults, then a file, then `RELAY__SECTION__KEY` variables.
//! Loading never fails half-way on a bad value: `validate` lists every problem at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod account;
mod load;
mod route;
mod secret;

pub use account::{Account, AccountFile};
pub use route::{Destination, Route, RouteKeys};
pub use secret::{Secret, Secrets, shown_url};

const DEFAULTS: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub hrflow: Hrflow,
    pub flatchr: Flatchr,
    pub huntflow: crate::destination::huntflow::settings::Section,
    pub logic: Logic,
    pub worker: Worker,
    pub careers: Careers,
    pub backfill: Backfill,
    pub sync: SyncSettings,
    pub admin: Admin,
    pub retention: Retention,
    pub alerts: Alerts,
    #[serde(default)]
    pub routes: Vec<Route>,
    /// What reading the layers found wrong (unknown keys, values of the wrong type): `check`
    /// lists them with every other problem.
    #[serde(skip)]
    pub read_problems: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    /// How long a request's body may take to arrive whole.
    pub body_timeout: String,
    /// Open HTTP connections the server holds at once; more wait in the kernel's queue.
    pub max_connections: usize,
    pub shutdown_grace: String,
    /// How people reach this service (links in alerts); may be empty.
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Database {
    pub url: Secret,
    pub max_connections: u32,
    pub connect_timeout: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Hrflow {
    pub api_url: String,
    pub api_key: Secret,
    pub user_email: String,
    pub webhook_secret: Secrets,
    pub signature: String,
    pub dedupe_window: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Flatchr {
    pub careers_url: String,
    pub api_url: String,
    pub api_key: Secret,
    pub company: String,
    pub requests_per_second: u32,
    /// More companies, by name: `[flatchr.accounts.NAME]`; each key falls back to the above.
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, AccountFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Logic {
    pub script: String,
    /// Whether a script's print() and debug() reach the log (as a debug-level line).
    pub print: bool,
    pub max_operations: u64,
    pub timeout: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Worker {
    pub concurrency: usize,
    pub request_timeout: String,
    pub retry_schedule: Vec<String>,
    pub poll_interval: String,
    pub lease: String,
    pub replica_timeout: String,
    pub max_resume_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Careers {
    pub path: String,
    #[serde(deserialize_with = "secret::list")]
    pub tokens: Vec<Secret>,
    #[serde(deserialize_with = "secret::list")]
    pub basic_users: Vec<Secret>,
}

/// The operator API and status page: closed when both lists are empty.
#[derive(Debug, Clone, Deserialize)]
pub struct Admin {
    #[serde(deserialize_with = "secret::list")]
    pub tokens: Vec<Secret>,
    #[serde(deserialize_with = "secret::list")]
    pub basic_users: Vec<Secret>,
}

/// How long finished jobs stay, and how often the service purges.
#[derive(Debug, Clone, Deserialize)]
pub struct Retention {
    pub finished: String,
    pub dead: String,
    /// The events log (every event received, whatever its outcome).
    pub events: String,
    pub interval: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Alerts {
    /// Holds a token in its path for Slack-style hooks: a secret.
    pub webhook_url: Secret,
    pub min_interval: String,
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
    pub retry_delay: String,
}

/// `[sync]`: the service lists these sources every `interval` and queues what has no job.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncSettings {
    /// HrFlow source keys; empty: sync is off.
    pub sources: Vec<String>,
    pub interval: String,
    /// How far back the first pass lists.
    pub lookback: String,
}

/// How the webhook signature header is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMode {
    Auto,
    Sdk,
    SdkRaw,
    BodyHex,
    None,
}

impl SignatureMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "sdk" => Some(Self::Sdk),
            "sdk-raw" => Some(Self::SdkRaw),
            "body-hex" => Some(Self::BodyHex),
            "none" => Some(Self::None),
            _ => None,
        }
    }
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
        let defaults = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()?;
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
            self.flatchr.api_key.expose().to_string(),
            self.alerts.webhook_url.expose().to_string(),
        ];
        all.extend(
            self.flatchr
                .all_accounts()
                .into_iter()
                .map(|a| a.api_key.expose().to_string()),
        );
        for a in self.huntflow.all_accounts() {
            all.push(a.access_token.expose().to_string());
            all.push(a.refresh_token.expose().to_string());
        }
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

    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// Every problem found, each a sentence a person can act on. Script names are checked by
    /// `logic::Scripts::check`, which needs the compiled script.
    pub fn validate(&self) -> Vec<String> {
        self.check().err().unwrap_or_default()
    }

    /// The durations alone, or the problems with them: what a command that needs only them
    /// (`purge`) takes, whatever else is wrong.
    pub fn timings(&self) -> Result<Timings, Vec<String>> {
        let mut problems = Vec::new();
        Timings::read(self, &mut problems).ok_or(problems)
    }

    /// What the settings mean, parsed once (durations, the signature mode), or every problem
    /// found, each a sentence a person can act on.
    pub fn check(&self) -> Result<Checked, Vec<String>> {
        let mut problems = self.read_problems.clone();
        let timings = Timings::read(self, &mut problems);
        let signature = SignatureMode::parse(&self.hrflow.signature).unwrap_or_else(|| {
            problems.push(format!(
                "hrflow.signature = {:?} must be one of auto, sdk, sdk-raw, body-hex, none",
                self.hrflow.signature
            ));
            SignatureMode::Auto
        });
        problems.extend(self.problems());
        match timings {
            Some(timings) if problems.is_empty() => Ok(Checked { timings, signature }),
            _ => Err(problems),
        }
    }

    /// The problems beyond the durations and the signature mode.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = parse_http_url(&self.hrflow.api_url) {
            problems.push(format!(
                "hrflow.api_url = {:?} is not an http(s) URL: {e}",
                shown_url(&self.hrflow.api_url)
            ));
        }
        for account in self.flatchr.all_accounts() {
            let section = if account.name.is_empty() {
                "flatchr".to_string()
            } else {
                format!("flatchr.accounts.{}", account.name)
            };
            for (key, value) in [
                ("careers_url", &account.careers_url),
                ("api_url", &account.api_url),
            ] {
                if let Err(e) = parse_http_url(value) {
                    problems.push(format!(
                        "{section}.{key} = {:?} is not an http(s) URL: {e}",
                        shown_url(value)
                    ));
                }
            }
        }
        for (key, value) in [
            ("server.public_url", self.server.public_url.as_str()),
            ("alerts.webhook_url", self.alerts.webhook_url.expose()),
        ] {
            if !value.is_empty()
                && let Err(e) = parse_http_url(value)
            {
                // The alert URL carries a token: name the key, never the value.
                let shown = if key == "alerts.webhook_url" {
                    "(hidden)".to_string()
                } else {
                    shown_url(value)
                };
                problems.push(format!("{key} = {shown:?} is not an http(s) URL: {e}"));
            }
        }
        let db = self.database.url.expose();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres:")
            || db.starts_with("postgresql:"))
        {
            problems.push("database.url must start with sqlite: or postgres:".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".into());
        }
        if self.worker.concurrency == 0 {
            problems.push("worker.concurrency must be at least 1".into());
        }
        if self.worker.retry_schedule.is_empty() {
            problems.push("worker.retry_schedule must hold at least one delay".into());
        }
        if self.backfill.page_size == 0 || self.backfill.page_size > 1000 {
            problems.push(format!(
                "backfill.page_size = {} must be between 1 and 1000",
                self.backfill.page_size
            ));
        }
        if !(self.backfill.requests_per_second > 0.0 && self.backfill.requests_per_second <= 100.0)
        {
            problems.push(format!(
                "backfill.requests_per_second = {} must be above 0 and at most 100",
                self.backfill.requests_per_second
            ));
        }
        if self.server.max_body_bytes == 0 {
            problems.push("server.max_body_bytes must be at least 1".into());
        }
        if self.server.max_connections == 0 {
            problems.push("server.max_connections must be at least 1".into());
        }
        if !self.routes.is_empty() {
            if self.hrflow.webhook_secret.is_empty() && self.hrflow.signature != "none" {
                problems.push(
                    "hrflow.webhook_secret is empty while routes are configured, so anyone could send events: set it to the secret of HrFlow's webhook (an empty RELAY__HRFLOW__WEBHOOK_SECRET counts as empty and overrides the file), or set hrflow.signature = \"none\" if something in front of the relay authenticates HrFlow".into(),
                );
            }
            if self.hrflow.api_key.is_empty() {
                problems.push("hrflow.api_key is empty: profiles cannot be fetched".into());
            }
            if self.hrflow.user_email.is_empty() {
                problems.push("hrflow.user_email is empty: profiles cannot be fetched".into());
            }
        }
        let path = &self.careers.path;
        if !path.starts_with('/')
            || path.trim_end_matches('/').is_empty()
            || path.contains(['?', '#', '{', '}'])
        {
            problems.push(format!(
                "careers.path = {path:?} must be a path such as \"/careers\""
            ));
        }
        let reserved = ["/admin", "/hrflow", "/health", "/metrics", "/openapi.json"];
        if reserved
            .iter()
            .any(|r| path.trim_end_matches('/') == *r || path.starts_with(&format!("{r}/")))
        {
            problems.push(format!(
                "careers.path = {path:?} is taken by the relay's own routes ({})",
                reserved.join(", ")
            ));
        }
        problems.extend(credential_problems(
            "admin",
            &self.admin.tokens,
            &self.admin.basic_users,
            true,
        ));
        problems.extend(credential_problems(
            "careers",
            &self.careers.tokens,
            &self.careers.basic_users,
            false,
        ));
        problems.extend(route::problems(self));
        for (i, source) in self.sync.sources.iter().enumerate() {
            if source.trim().is_empty() {
                problems.push(format!("sync.sources[{i}] is empty"));
            } else if !self
                .routes
                .iter()
                .any(|r| crate::routes::listens_to(r, source))
            {
                problems.push(format!(
                    "sync.sources[{i}] = {source:?}: no route takes this source (a route takes it when its sources list is empty or holds it)"
                ));
            }
        }
        problems
    }
}

/// The shortest admin token taken: shorter ones are guessed.
const MIN_TOKEN_CHARS: usize = 16;

/// Credentials that would let in more than meant: a Basic entry without a colon or with an
/// empty user or password; for `[admin]`, a token shorter than `MIN_TOKEN_CHARS`. Entries are
/// named by position, never shown. Empty entries (an empty environment variable) are nothing,
/// not a problem: they never match.
fn credential_problems(
    section: &str,
    tokens: &[Secret],
    basic_users: &[Secret],
    short_tokens: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, user) in basic_users
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.is_empty())
    {
        match user.expose().split_once(':') {
            None => problems.push(format!(
                "{section}.basic_users[{i}] has no colon: write it as \"user:password\""
            )),
            Some((name, _)) if name.trim().is_empty() => {
                problems.push(format!("{section}.basic_users[{i}] has an empty user name"))
            }
            Some((_, password)) if password.trim().is_empty() => problems.push(format!(
                "{section}.basic_users[{i}] has an empty password: anyone knowing the user name would get in"
            )),
            Some(_) => {}
        }
    }
    if short_tokens {
        for (i, token) in tokens.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            let chars = token.expose().chars().count();
            if chars < MIN_TOKEN_CHARS {
                problems.push(format!(
                    "{section}.tokens[{i}] has {chars} character(s); a token needs at least {MIN_TOKEN_CHARS} (make one with `head -c 24 /dev/urandom | base64`)"
                ));
            }
        }
    }
    problems
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

pub fn parse_duration(value: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(value.trim())
}

pub fn parse_http_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(url),
        _ => Err("the scheme must be http or https, with a host".into()),
    }
}

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
    fn read(s: &Settings, problems: &mut Vec<String>) -> Option<Self> {
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

#[cfg(test)]
#[path = "checks_tests.rs"]
mod checks_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_default_shutdown_fits_the_platforms_kill_timeouts() {
        // docker/podman stop send SIGKILL after 10 s, Kubernetes after 30 s: the grace, plus a
        // second to release leases and exit, must come in under the shortest.
        let s = Settings::load_from(None, HashMap::new()).unwrap();
        let grace = s.check().unwrap().timings.shutdown_grace;
        assert!(
            grace + Duration::from_secs(1) < Duration::from_secs(10),
            "{grace:?}"
        );
    }

    #[test]
    fn operating_keys_are_checked_without_showing_the_alert_url() {
        let s = Settings::load_from(
            None,
            env(&[
                ("RELAY__RETENTION__FINISHED", "a month"),
                (
                    "RELAY__ALERTS__WEBHOOK_URL",
                    "hooks.slack.com/services/T0/B0/SECRETPART",
                ),
                ("RELAY__ALERTS__MIN_INTERVAL", "5m"),
                ("RELAY__SERVER__PUBLIC_URL", "relay.example.com"),
                ("RELAY__CAREERS__PATH", "/admin"),
                ("RELAY__ADMIN__TOKENS", "t1,t2"),
            ]),
        )
        .unwrap();
        let problems = s.validate().join("\n");
        for expected in [
            "retention.finished",
            "alerts.webhook_url = \"(hidden)\"",
            "server.public_url",
            "careers.path = \"/admin\" is taken",
        ] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        assert!(!problems.contains("SECRETPART"), "{problems}");
        assert_eq!(s.admin.tokens.len(), 2);
        assert!(s.secret_values().contains(&"t2".to_string()));
        let d = Settings::load_from(None, HashMap::new()).unwrap();
        let t = d.check().unwrap().timings;
        assert_eq!(t.retention_finished, Duration::from_secs(30 * 86400));
        assert_eq!(t.retention_dead, Duration::from_secs(90 * 86400));
    }

    #[test]
    fn the_typed_configuration_lists_every_error_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            r#"
[hrflow]
signature = "md5"
api_key = "k"
user_email = "u@x.org"
[worker]
lease = "10s"
request_timeout = "30s"
poll_interval = "soon"
retry_schedule = ["5s", "forever"]
[flatchr]
api_key = "fk"
company = "C"
[flatchr.accounts.agency]
api_url = "not a url"
[[routes]]
name = "hook"
destination = "webhook"
url = "mailto:x@y.z"
secret = "whsec_!!"
headers = { "Bad Header" = "x" }
[[routes]]
name = "tagged"
destination = "careers"
vacancy = "seven"
vacancy_tag = "t"
[[routes]]
name = "typo"
destination = "flatchr"
account = "agnecy"
vacancy = "v"
"#,
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        let problems = s.check().unwrap_err();
        for needle in [
            "hrflow.signature = \"md5\"",
            "worker.poll_interval = \"soon\" is not a duration",
            "worker.retry_schedule[1] = \"forever\" is not a duration",
            "flatchr.accounts.agency.api_url = \"not a url\"",
            "route \"hook\" sends to webhook but its url \"mailto:x@y.z\"",
            "route \"hook\" has a webhook secret that is not \"whsec_\"",
            "route \"hook\" has a header \"Bad Header\"",
            "route \"tagged\" sends to careers but its vacancy \"seven\" is not a vacancy id",
            "route \"typo\" names the Flatchr account \"agnecy\"",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "missing {needle:?} in {problems:#?}"
            );
        }
        // The lease is checked against the timeout once both parse; here one duration is bad,
        // so that bound waits for the next run rather than adding noise.
        assert!(!problems.iter().any(|p| p.contains("worker.lease")));
    }

    #[test]
    fn checked_settings_are_typed() {
        let s = Settings::load_from(
            None,
            env(&[
                ("RELAY__HRFLOW__SIGNATURE", "sdk-raw"),
                ("RELAY__WORKER__RETRY_SCHEDULE", "1s,2m"),
                ("RELAY__FLATCHR__ACCOUNTS__AGENCY__API_KEY", "agency-key"),
                ("RELAY__FLATCHR__ACCOUNTS__AGENCY__COMPANY", "AG"),
                ("RELAY__FLATCHR__API_KEY", "own-key"),
                ("RELAY__FLATCHR__REQUESTS_PER_SECOND", "4"),
            ]),
        )
        .unwrap();
        let c = s.check().unwrap();
        assert_eq!(c.signature, SignatureMode::SdkRaw);
        assert_eq!(
            c.timings.retry_schedule,
            [Duration::from_secs(1), Duration::from_secs(120)]
        );
        let agency = s.flatchr.account("agency").unwrap();
        assert_eq!(
            (
                agency.api_key.expose(),
                agency.company.as_str(),
                agency.requests_per_second
            ),
            ("agency-key", "AG", 4),
            "unset keys fall back to [flatchr]"
        );
        assert_eq!(agency.api_url, s.flatchr.api_url);
        assert!(s.flatchr.account("nobody").is_none());
        assert_eq!(s.flatchr.all_accounts().len(), 2);
    }

    #[test]
    fn defaults_load_and_are_valid() {
        let s = Settings::load_from(None, HashMap::new()).unwrap();
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.worker.retry_schedule.len(), 7);
        assert!(s.validate().is_empty(), "{:?}", s.validate());
    }

    #[test]
    fn environment_overrides_file_and_parses_lists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[server]\nport = 9001\n[flatchr]\napi_key = \"from-file\"\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&path),
            env(&[
                ("RELAY__SERVER__PORT", "9002"),
                ("RELAY__WORKER__RETRY_SCHEDULE", "1s,2s"),
                ("RELAY__FLATCHR__API_KEY", "12345"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9002);
        assert_eq!(s.worker.retry_schedule, vec!["1s", "2s"]);
        assert_eq!(s.flatchr.api_key.expose(), "12345");
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            r#"
[hrflow]
api_url = "not a url"
dedupe_window = "ten minutes"
[[routes]]
name = "a"
destination = "flatchr"
logics = ["x"]
events = ["profile.parsing.success", "profile.parsing.error"]
[[routes]]
name = "b"
destination = "ftp"
[[routes]]
name = "c"
destination = "careers"
vacancy = "abc"
[careers]
path = "careers"
"#,
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        let problems = s.validate().join("\n");
        for needle in [
            "hrflow.api_url",
            "hrflow.dedupe_window",
            "route \"a\" sends to flatchr but has no vacancy",
            "flatchr.api_key is empty",
            "flatchr.company is empty",
            "logic.script is empty",
            "unknown destination \"ftp\"",
            "hrflow.api_key is empty",
            "route \"c\" sends to careers but has neither a vacancy id",
            "careers.path = \"careers\"",
            "lists the event type \"profile.parsing.error\"",
        ] {
            assert!(
                problems.contains(needle),
                "missing {needle:?} in:\n{problems}"
            );
        }
    }

    #[test]
    fn relative_paths_in_the_file_resolve_against_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("etc");
        std::fs::create_dir(&conf).unwrap();
        let path = conf.join("relay.toml");
        std::fs::write(
            &path,
            "[logic]\nscript = \"rules/logic.rhai\"\n[database]\nurl = \"sqlite://data/relay.db?mode=rwc\"\n",
        )
        .unwrap();
        let folder = std::path::absolute(&conf).unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        assert_eq!(
            s.logic.script,
            conf.join("rules/logic.rhai").display().to_string()
        );
        assert_eq!(
            s.database.url.expose(),
            format!("sqlite://{}/data/relay.db?mode=rwc", folder.display())
        );
        // What the environment says stays as it is (relative to the working directory).
        let s = Settings::load_from(
            Some(&path),
            env(&[
                ("RELAY__LOGIC__SCRIPT", "other.rhai"),
                ("RELAY__DATABASE__URL", "sqlite://here.db"),
            ]),
        )
        .unwrap();
        assert_eq!(s.logic.script, "other.rhai");
        assert_eq!(s.database.url.expose(), "sqlite://here.db");
        // Absolute paths, PostgreSQL and the built-in default are left alone.
        std::fs::write(
            &path,
            "[logic]\nscript = \"/etc/x.rhai\"\n[database]\nurl = \"postgres://u@h/db\"\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        assert_eq!(s.logic.script, "/etc/x.rhai");
        assert_eq!(s.database.url.expose(), "postgres://u@h/db");
        std::fs::write(&path, "[server]\nport = 1\n").unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        assert_eq!(s.database.url.expose(), "sqlite://data/relay.db");
        assert_eq!(resolve_sqlite_url("sqlite::memory:", Path::new("/x")), None);
    }

    #[test]
    fn the_webhook_secret_is_one_or_a_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[hrflow]\nwebhook_secret = \"one\"\n").unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        assert_eq!(s.hrflow.webhook_secret.keys(), [b"one".as_slice()]);
        std::fs::write(
            &path,
            "[hrflow]\nwebhook_secret = [\"new\", \"\", \"old\"]\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
        assert_eq!(
            s.hrflow.webhook_secret.len(),
            2,
            "empty entries are dropped"
        );
        // The environment gives a comma-separated list, and overrides the file.
        let s = Settings::load_from(
            Some(&path),
            env(&[("RELAY__HRFLOW__WEBHOOK_SECRET", "a-new,an-old")]),
        )
        .unwrap();
        assert_eq!(
            s.hrflow.webhook_secret.keys(),
            [b"a-new".as_slice(), b"an-old".as_slice()]
        );
        let s = Settings::load_from(None, env(&[("RELAY__HRFLOW__WEBHOOK_SECRET", "")])).unwrap();
        assert!(s.hrflow.webhook_secret.is_empty());
        let s = Settings::load_from(None, HashMap::new()).unwrap();
        assert!(s.hrflow.webhook_secret.is_empty());
        assert!(!format!("{s:?}").contains("a-new"));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Settings::load_from(
            None,
            env(&[
                ("RELAY__FLATCHR__API_KEY", "sk_live_abcdef"),
                ("RELAY__HRFLOW__WEBHOOK_SECRET", "whsec_1"),
            ]),
        )
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("sk_live_abcdef") && !printed.contains("whsec_1"));
        assert!(s.flatchr.api_key.matches(b"sk_live_abcdef"));
        assert!(!s.flatchr.api_key.matches(b"sk_live_abcdeX"));
    }
}
