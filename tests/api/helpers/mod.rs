//! Spawning the relay on a fresh database (`TestDb`, `TestApp`, `spawn!`, `spawn_stepped!`), the
//! configuration and events the tests start from, and the common asserts. The stand-ins for
//! HrFlow and the file host are in hrflow.rs, Flatchr's in flatchr.rs, the relay as a process
//! in relay.rs.

#![allow(dead_code)]

mod flatchr;
mod hrflow;
mod relay;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hrflow_relay::config::Settings;
use hrflow_relay::job::Status;
use hrflow_relay::startup::{Application, RunningApp};
use hrflow_relay::store::{AttemptView, JobView, now_ms};
use hrflow_relay::worker::Ran;
use serde_json::{Value, json};

pub use flatchr::*;
pub use hrflow::*;
pub use relay::*;

pub const SECRET: &str = "whsec_test_secret";
pub const FLATCHR_KEY: &str = "flatchr-key-123";
pub const HRFLOW_KEY: &str = "hrflow-key-456";
pub const SOURCE: &str = "ae22a26e3b02afe717f49bb77fc221b4e21f700f";

pub fn fixture(n: usize) -> Value {
    let path = format!(
        "{}/tests/fixtures/profiles/profile-{n:03}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Points a profile's file URLs at `files`.
pub fn with_files(mut profile: Value, files: &str) -> Value {
    if let Some(atts) = profile["attachments"].as_array_mut() {
        for a in atts {
            if let Some(u) = a["public_url"].as_str() {
                a["public_url"] = json!(u.replace("https://files.example.test", files));
            }
        }
    }
    profile
}

pub fn event_body(profile_key: &str, source_key: &str) -> String {
    json!({"type": "profile.parsing.success", "origin": "api", "message": "Profile parsed",
           "profile": {"key": profile_key, "source": {"key": source_key}}})
    .to_string()
}

/// The event HrFlow sends for this profile.
pub fn event_for(profile: &Value) -> String {
    event_body(
        profile["key"].as_str().unwrap(),
        profile["source"]["key"].as_str().unwrap(),
    )
}

pub fn sign(body: &str) -> String {
    hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), body.as_bytes())
}

/// The configuration tests start from: everything local, fast retries.
pub fn base_config(hrflow: &str, flatchr: &str) -> String {
    format!(
        r#"
[server]
port = 0
shutdown_grace = "5s"
[hrflow]
api_url = "{hrflow}"
api_key = "{HRFLOW_KEY}"
user_email = "ops@example.org"
webhook_secret = "{SECRET}"
[flatchr]
careers_url = "{flatchr}"
api_url = "{flatchr}"
api_key = "{FLATCHR_KEY}"
company = "LEZBvp5b4LdMoVmg"
[logic]
script = "{script}"
timeout = "500ms"
[worker]
concurrency = 4
request_timeout = "500ms"
retry_schedule = ["100ms", "100ms", "100ms"]
poll_interval = "50ms"
lease = "3s"

[[routes]]
name = "flatchr"
destination = "flatchr"
vacancy = "k0M5O9ylKZnxbQBy"
"#,
        script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/logic.rhai"),
    )
}

/// Which database the suites of this test crate run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the PostgreSQL half uses; `RELAY_TEST_POSTGRES_URL` overrides it.
pub fn postgres_admin_url() -> String {
    std::env::var("RELAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates a fresh PostgreSQL database, or says loudly that the PostgreSQL half is not run.
/// Under CI an unreachable PostgreSQL is a failure, never a silent skip.
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let admin = postgres_admin_url();
    let conn =
        tokio::time::timeout(Duration::from_secs(5), sqlx::AnyConnection::connect(&admin)).await;
    let mut conn = match conn {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return unavailable(&admin, &e.to_string()),
        Err(_) => return unavailable(&admin, "no answer within 5 s"),
    };
    let name = format!("relay_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

fn unavailable(url: &str, why: &str) -> Option<String> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true: the PostgreSQL half of the suites needs PostgreSQL at {url}, which is not reachable: {why}"
        );
    }
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        use std::io::Write;
        // Written past the test harness's capture, so it is always seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** PostgreSQL at {url} is not reachable ({why}): the PostgreSQL half of the suites was NOT run. ***\n"
        );
    });
    None
}

/// A fresh database for one test, on this crate's backend, with a folder for its files.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn fresh() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let url = match crate::BACKEND {
            Backend::Sqlite => format!("sqlite://{}/relay.db", dir.path().display()),
            Backend::Postgres => fresh_postgres().await?,
        };
        Some(Self { url, dir })
    }
}

/// Spawns the relay on a fresh database; returns from the test when the backend is not there.
#[macro_export]
macro_rules! spawn {
    ($config:expr) => {
        match $crate::helpers::TestDb::fresh().await {
            Some(db) => $crate::helpers::TestApp::spawn_on($config, db).await,
            None => return,
        }
    };
}

/// Like `spawn!`, with no worker loop: the test runs the jobs (`TestApp::dispatch`).
#[macro_export]
macro_rules! spawn_stepped {
    ($config:expr) => {
        match $crate::helpers::TestDb::fresh().await {
            Some(db) => $crate::helpers::TestApp::spawn_stepped_on($config, db).await,
            None => return,
        }
    };
}

pub struct TestApp {
    pub address: String,
    pub app: Option<RunningApp>,
    pub db: TestDb,
    pub http: reqwest::Client,
    pub config_path: std::path::PathBuf,
}

impl TestApp {
    /// Starts the relay on `db` (a restart when it already holds data).
    pub async fn spawn_on(config: &str, db: TestDb) -> Self {
        Self::start(config, db, false).await
    }

    /// Like `spawn_on`, with no worker loop: jobs wait for `run_due` or `dispatch`.
    pub async fn spawn_stepped_on(config: &str, db: TestDb) -> Self {
        Self::start(config, db, true).await
    }

    async fn start(config: &str, db: TestDb, stepped: bool) -> Self {
        let config_path = db.dir.path().join("relay.toml");
        std::fs::write(&config_path, config).unwrap();
        let env = HashMap::from([("RELAY__DATABASE__URL".to_string(), db.url.clone())]);
        let settings = Settings::load_from(Some(&config_path), env).unwrap();
        let app = if stepped {
            Application::build_stepped(settings).await
        } else {
            Application::build(settings).await
        };
        let app = app.unwrap().spawn();
        Self {
            address: format!("http://127.0.0.1:{}", app.port),
            app: Some(app),
            db,
            http: reqwest::Client::new(),
            config_path,
        }
    }

    pub fn store(&self) -> &hrflow_relay::store::Store {
        &self.app.as_ref().unwrap().store
    }

    pub async fn post_event(&self, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/hrflow/events", self.address))
            .header("Content-Type", "application/json")
            .header("HTTP-HRFLOW-SIGNATURE", sign(body))
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn jobs(&self) -> Vec<JobView> {
        self.store().jobs(None, 10_000).await.unwrap()
    }

    pub async fn attempts(&self, job: i64) -> Vec<AttemptView> {
        self.store().attempts(job).await.unwrap()
    }

    /// Waits until no job is pending; fails the test after `limit`.
    pub async fn settle(&self, limit: Duration) -> Vec<JobView> {
        let started = Instant::now();
        loop {
            let jobs = self.jobs().await;
            if !jobs.is_empty() && jobs.iter().all(|j| j.status != Status::Pending) {
                return jobs;
            }
            assert!(
                started.elapsed() < limit,
                "jobs still pending after {limit:?}: {jobs:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Runs the jobs due now, one attempt at a time, as the loop would; answers each attempt.
    /// For an app started with `spawn_stepped!`.
    pub async fn run_due(&self) -> Vec<Ran> {
        let worker = self.app.as_ref().and_then(|a| a.stepped.as_ref());
        let worker = worker.expect("run_due needs an app started with spawn_stepped!");
        worker.run_due().await.unwrap()
    }

    /// The stepped app's `settle`: runs the due jobs until no job is pending, sleeping only
    /// until the next attempt is due; fails the test when one is still pending after 30 s.
    pub async fn dispatch(&self) -> Vec<JobView> {
        let limit = Duration::from_secs(30);
        let started = Instant::now();
        loop {
            self.run_due().await;
            let jobs = self.jobs().await;
            let next = jobs
                .iter()
                .filter(|j| j.status == Status::Pending)
                .filter_map(|j| j.next_attempt_at)
                .min();
            let Some(next) = next else {
                assert!(!jobs.is_empty(), "no job to dispatch");
                return jobs;
            };
            // Due yet not claimed (leased elsewhere, or a change made by another process not
            // seen yet by every connection): look again shortly.
            let wait = Duration::from_millis((next - now_ms()).max(10) as u64);
            assert!(
                started.elapsed() + wait < limit,
                "jobs still pending after {limit:?}: {jobs:?}"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Graceful stop; keeps the database for a restart.
    pub async fn stop(mut self) -> TestDb {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        self.db
    }
}

pub fn assert_error_shape(body: &Value) {
    let errors = body
        .get("errors")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no errors object in {body}"));
    let common = errors
        .get("common")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no errors.common in {body}"));
    assert!(
        !common.is_empty() && common.iter().all(Value::is_string),
        "{body}"
    );
    for (_, v) in errors {
        assert!(
            v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "{body}"
        );
    }
}

/// Fails naming the jobs that did not end delivered.
pub fn assert_all_delivered(jobs: &[JobView]) {
    let others: Vec<&JobView> = jobs
        .iter()
        .filter(|j| j.status != Status::Delivered)
        .collect();
    assert!(others.is_empty(), "{others:?}");
}

/// Accepts connections and never answers.
pub async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}
