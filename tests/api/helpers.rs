//! Spawning the relay on a fresh database, fakes for HrFlow, the file host and Flatchr.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use hrflow_relay::config::Settings;
use hrflow_relay::job::Status;
use hrflow_relay::startup::{Application, RunningApp};
use hrflow_relay::store::{AttemptView, JobView, now_ms};
use hrflow_relay::worker::Ran;
use serde_json::{Value, json};

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

/// HrFlow's answer for a profile.
pub fn hrflow_answer(profile: &Value) -> String {
    json!({"code": 200, "message": "Profile retrieved", "data": profile}).to_string()
}

/// A mockito HrFlow that serves `profile` and a file host serving its resume.
pub async fn hrflow_serving(server: &mut mockito::ServerGuard, profile: &Value) -> mockito::Mock {
    server
        .mock("GET", "/profile/indexing")
        .match_query(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("key".into(), profile["key"].as_str().unwrap().into()),
            mockito::Matcher::UrlEncoded(
                "source_key".into(),
                profile["source"]["key"].as_str().unwrap().into(),
            ),
        ]))
        .match_header("X-API-KEY", HRFLOW_KEY)
        .match_header("X-USER-EMAIL", "ops@example.org")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(hrflow_answer(profile))
        .create_async()
        .await
}

/// What the fake Flatchr does with the next push.
#[derive(Clone, Debug)]
pub enum Fault {
    Status(u16, Option<u64>),
    /// Answers after this long (past the relay's timeout: a hang).
    Hang(Duration),
    /// Creates the candidate, then hangs: the relay cannot know it succeeded.
    CreateThenHang(Duration),
}

#[derive(Default)]
pub struct FlatchrState {
    pub candidates: Vec<Value>,
    pub enriched: Vec<Value>,
    pub searches: usize,
    pub push_requests: usize,
    pub push_faults: VecDeque<Fault>,
    pub enrich_faults: VecDeque<Fault>,
    pub authorizations: Vec<String>,
    pub push_times: Vec<Instant>,
    /// Once the queues are empty: every n-th push (enrich) gets this fault.
    pub push_pattern: Vec<(usize, Fault)>,
    pub enrich_pattern: Vec<(usize, Fault)>,
    pub enrich_requests: usize,
    pub faults_injected: usize,
    /// (call, company in the path, Authorization) of every enrich and search.
    pub api_calls: Vec<(&'static str, String, String)>,
}

fn from_pattern(pattern: &[(usize, Fault)], n: usize) -> Option<Fault> {
    pattern
        .iter()
        .find(|(every, _)| n.is_multiple_of(*every))
        .map(|(_, f)| f.clone())
}

/// A stateful Flatchr stand-in: candidates are created by push and found by search.
pub struct FakeFlatchr {
    pub url: String,
    pub state: Arc<Mutex<FlatchrState>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeFlatchr {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FlatchrState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::JsonConfig::default().limit(64 << 20))
                .route("/vacancy/candidate/json", web::post().to(push))
                .route(
                    "/company/{company}/search/candidate",
                    web::post().to(enrich),
                )
                .route(
                    "/company/{company}/search/applicants",
                    web::post().to(search),
                )
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    pub fn faults(&self, push: Vec<Fault>, enrich: Vec<Fault>) {
        let mut s = self.state.lock().unwrap();
        s.push_faults = push.into();
        s.enrich_faults = enrich.into();
    }

    pub fn candidates(&self) -> Vec<Value> {
        self.state.lock().unwrap().candidates.clone()
    }

    pub fn enriched(&self) -> Vec<Value> {
        self.state.lock().unwrap().enriched.clone()
    }

    /// Each candidate's email, and how many times Flatchr received it.
    pub fn pushes_per_email(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for c in self.candidates() {
            *counts
                .entry(c["email"].as_str().unwrap_or("").to_string())
                .or_insert(0) += 1;
        }
        counts
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn fault_answer(fault: Option<Fault>) -> Option<HttpResponse> {
    match fault? {
        Fault::Status(code, retry_after) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap());
            if let Some(s) = retry_after {
                r.insert_header(("Retry-After", s.to_string()));
            }
            Some(r.json(json!({"error": "injected"})))
        }
        Fault::Hang(d) | Fault::CreateThenHang(d) => {
            tokio::time::sleep(d).await;
            Some(HttpResponse::GatewayTimeout().finish())
        }
    }
}

async fn push(
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<FlatchrState>>,
) -> HttpResponse {
    let fault = {
        let mut s = state.lock().unwrap();
        s.push_requests += 1;
        s.push_times.push(Instant::now());
        if let Some(a) = req.headers().get("authorization") {
            s.authorizations.push(a.to_str().unwrap_or("").to_string());
        }
        let n = s.push_requests;
        let fault = s
            .push_faults
            .pop_front()
            .or_else(|| from_pattern(&s.push_pattern, n));
        s.faults_injected += usize::from(fault.is_some());
        if matches!(fault, None | Some(Fault::CreateThenHang(_))) {
            s.candidates.push(body.0.clone());
        }
        fault
    };
    if let Some(r) = fault_answer(fault).await {
        return r;
    }
    HttpResponse::Ok().json(json!({"status": 200, "response": "applicant created"}))
}

/// The company in the path and the Authorization header of an API call.
fn api_call(req: &actix_web::HttpRequest) -> (String, String) {
    (
        req.match_info()
            .get("company")
            .unwrap_or_default()
            .to_string(),
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    )
}

async fn enrich(
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<FlatchrState>>,
) -> HttpResponse {
    let fault = {
        let mut s = state.lock().unwrap();
        let (company, auth) = api_call(&req);
        s.api_calls.push(("enrich", company, auth));
        s.enrich_requests += 1;
        let n = s.enrich_requests;
        let fault = s
            .enrich_faults
            .pop_front()
            .or_else(|| from_pattern(&s.enrich_pattern, n));
        s.faults_injected += usize::from(fault.is_some());
        if fault.is_none() {
            s.enriched.push(body.0.clone());
        }
        fault
    };
    if let Some(r) = fault_answer(fault).await {
        return r;
    }
    HttpResponse::Ok().json(
        json!({"statusCode": 200, "message": {"resource_type": "attribute", "action": "created"}}),
    )
}

async fn search(
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<FlatchrState>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.searches += 1;
    let (company, auth) = api_call(&req);
    s.api_calls.push(("search", company, auth));
    let email = body.get("email").and_then(Value::as_str).unwrap_or("");
    let found: Vec<Value> = s
        .candidates
        .iter()
        .filter(|c| c["email"] == email)
        .map(|c| json!({"applicant": "a1", "vacancy": c["vacancy"], "firstname": c["firstname"], "lastname": c["lastname"], "email": c["email"]}))
        .collect();
    HttpResponse::Ok().json(found)
}

/// The listing side of the HrFlow stand-in (`GET /storing/profiles`).
#[derive(Default)]
pub struct Listing {
    /// Profile keys per source, oldest first.
    pub sources: HashMap<String, Vec<String>>,
    /// Pages that fail (503) the next time they are asked for, once per entry.
    pub fail_once: Vec<u64>,
    /// A page that fails every time (a lasting outage), until cleared.
    pub fail_always: Option<u64>,
    /// When this page is served, these profiles join the source (they arrive while it runs).
    pub add_on_page: Option<(u64, String, Vec<String>)>,
    /// Each listing request waits this long (so a test can interrupt a backfill mid-run).
    pub delay: Duration,
    /// (source, page, limit) of every listing request, in order.
    pub requests: Vec<(String, u64, u64)>,
    /// Requests that did not carry the right credentials.
    pub unauthorized: usize,
    /// The `created_at_min` of every listing request, in order.
    pub created_after: Vec<Option<String>>,
}

/// An HrFlow stand-in serving a profile for any key (fixture 0's shape, the key's own email),
/// the resume files it names, and a paged listing of sources.
pub struct FakeHrflow {
    pub url: String,
    pub listing: Arc<Mutex<Listing>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeHrflow {
    pub async fn start() -> Self {
        let template = web::Data::new(fixture(0));
        let listing = Arc::new(Mutex::new(Listing::default()));
        let listing_data = web::Data::from(listing.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(template.clone())
                .app_data(listing_data.clone())
                .route("/profile/indexing", web::get().to(hrflow_profile))
                .route("/storing/profiles", web::get().to(hrflow_listing))
                .route(
                    "/files/{name}",
                    web::get().to(|| async { HttpResponse::Ok().body(&b"%PDF-1.4 resume"[..]) }),
                )
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            listing,
            handle,
        }
    }

    /// Puts `keys` in `source`'s listing.
    pub fn source(&self, source: &str, keys: Vec<String>) {
        self.listing
            .lock()
            .unwrap()
            .sources
            .insert(source.to_string(), keys);
    }

    pub fn list_requests(&self) -> usize {
        self.listing.lock().unwrap().requests.len()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn hrflow_profile(
    req: actix_web::HttpRequest,
    q: web::Query<HashMap<String, String>>,
    template: web::Data<Value>,
) -> HttpResponse {
    let key = q.get("key").cloned().unwrap_or_default();
    let mut p = template.get_ref().clone();
    p["key"] = json!(key);
    p["info"]["email"] = json!(format!("{key}@example.org"));
    let base = format!("http://{}", req.connection_info().host());
    p["attachments"] = json!([{"file_name": "resume", "type": "resume", "extension": ".pdf", "public_url": format!("{base}/files/{key}.pdf")}]);
    HttpResponse::Ok().json(json!({"code": 200, "message": "ok", "data": p}))
}

async fn hrflow_listing(
    req: actix_web::HttpRequest,
    q: web::Query<HashMap<String, String>>,
    listing: web::Data<Mutex<Listing>>,
) -> HttpResponse {
    let authorized = req.headers().get("X-API-KEY").and_then(|v| v.to_str().ok())
        == Some(HRFLOW_KEY)
        && req
            .headers()
            .get("X-USER-EMAIL")
            .and_then(|v| v.to_str().ok())
            == Some("ops@example.org");
    let sources: Vec<String> = q
        .get("source_keys")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let limit: u64 = q.get("limit").and_then(|p| p.parse().ok()).unwrap_or(30);
    let delay = listing.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut l = listing.lock().unwrap();
    if !authorized {
        l.unauthorized += 1;
        return HttpResponse::Unauthorized().json(json!({"code": 401, "message": "Unauthorized"}));
    }
    let [source] = sources.as_slice() else {
        return HttpResponse::BadRequest().json(json!({"code": 400, "message": "one source"}));
    };
    let ordered = q.get("order_by").map(String::as_str) == Some("asc")
        && q.get("sort_by").map(String::as_str) == Some("created_at")
        && q.get("return_profile").map(String::as_str) == Some("false");
    if !ordered {
        return HttpResponse::BadRequest()
            .json(json!({"code": 400, "message": "unexpected order"}));
    }
    l.requests.push((source.clone(), page, limit));
    l.created_after.push(q.get("created_at_min").cloned());
    if let Some(i) = l.fail_once.iter().position(|p| *p == page) {
        l.fail_once.remove(i);
        return HttpResponse::ServiceUnavailable().json(json!({"code": 503, "message": "busy"}));
    }
    if l.fail_always == Some(page) {
        return HttpResponse::ServiceUnavailable().json(json!({"code": 503, "message": "down"}));
    }
    if let Some((p, s, _)) = &l.add_on_page
        && *p == page
        && s == source
        && let Some((_, s, keys)) = l.add_on_page.take()
    {
        l.sources.entry(s).or_default().extend(keys);
    }
    let Some(keys) = l.sources.get(source) else {
        return HttpResponse::Ok().json(json!({"code": 400, "message": "unknown source"}));
    };
    let total = keys.len() as u64;
    let max_page = total.div_ceil(limit).max(1);
    let items: Vec<Value> = keys
        .iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .map(|k| json!({"key": k, "reference": null, "created_at": "2026-01-01T00:00:00", "updated_at": "2026-01-01T00:00:00"}))
        .collect();
    HttpResponse::Ok().json(json!({"code": 200, "message": "List of profiles",
        "meta": {"page": page, "maxPage": max_page, "count": items.len(), "total": total},
        "data": items}))
}

/// A relay process; killed (SIGKILL) when dropped, so none outlives a failing test.
pub struct Relay(pub std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Relay {
    /// Waits for the process to exit; fails the test, saying `what`, after `limit`.
    pub async fn exit_within(&mut self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn sigterm(&self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
    }
}

/// Starts `hrflow-relay serve` and waits for the port it logs.
pub fn start_relay(config: &std::path::Path, db: &str) -> (Relay, u16) {
    start_relay_logged(config, db, &Log::default())
}

/// Everything a relay process printed, stdout and stderr, for the secrets check.
pub type Log = Arc<Mutex<String>>;

/// Like `start_relay`, but keeps every line the process prints in `log`.
pub fn start_relay_logged(config: &std::path::Path, db: &str, log: &Log) -> (Relay, u16) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("RELAY__DATABASE__URL", db)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out_log = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let port = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v["fields"]["port"].as_u64());
            if let Some(port) = port {
                let _ = tx.send(port as u16);
            }
            let mut log = out_log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let err_log = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut log = err_log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let relay = Relay(child);
    let port = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "the relay did not report its port:\n{}",
                log.lock().unwrap()
            )
        });
    (relay, port)
}

/// Fails when any of `secrets` appears in `log`, naming which (never printing the log around it).
pub fn assert_no_secret(log: &Log, secrets: &[String]) {
    let log = log.lock().unwrap();
    assert!(!log.is_empty(), "nothing was logged");
    for s in secrets {
        assert!(
            !log.contains(s),
            "a configured secret of {} chars appears in the logs",
            s.len()
        );
    }
}

/// Sends one signed event; `None` when the relay did not answer (it was killed).
pub async fn send_event(http: &reqwest::Client, port: u16, key: &str) -> Option<u16> {
    let body = event_body(key, SOURCE);
    let r = http
        .post(format!("http://127.0.0.1:{port}/hrflow/events"))
        .header("Content-Type", "application/json")
        .header("HTTP-HRFLOW-SIGNATURE", sign(&body))
        .body(body)
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

/// `hrflow-relay <args>` against the test's configuration and database, as an operator runs
/// it beside the service: (exit 0, stdout then stderr).
pub fn relay_cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(args)
        .env("RELAY_CONFIG", &app.config_path)
        .env("RELAY__DATABASE__URL", &app.db.url)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
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
