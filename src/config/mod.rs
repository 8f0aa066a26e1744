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
mod sections;
mod tree;

use crate::destination::Sections;
use crate::hrflow::signature::SignatureMode;
use crate::http::{parse_http_url, shown_url};
use crate::secret::Secret;
pub use route::Route;
pub use sections::*;

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
