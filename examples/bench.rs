//! The benchmark: the relay binary against local stand-ins for HrFlow, the file host and
//! Flatchr, beside HrFlow's own Python connector on the same stand-ins; prints the figures and
//! whether each target of BENCHMARKS.md holds.
//!
//!     cargo build --release && cargo run --release --example bench -- [OPTIONS] [SCENARIOS]
//!
//! `scripts/bench.sh` does that and readies the reference's Python 3.8 environment first.
//! Scenarios: idle, ingest, latency, memory, careers, backfill, reference (default: all of them).
//! The relay runs as a child process (the release binary next to this example), so that its CPU
//! time and resident memory are its own; the stand-ins and the load run in this process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use clap::Parser;
use futures_util::StreamExt;
use rand::Rng;
use serde_json::{Value, json};

const SECRET: &str = "bench-webhook-secret-5f2c";
const HRFLOW_KEY: &str = "bench-hrflow-key-91ab";
const FLATCHR_KEY: &str = "bench-flatchr-key-77de";
const CAREERS_TOKEN: &str = "bench-careers-token-3c41";

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmarks hrflow-relay against local stand-ins and HrFlow's connector")]
struct Args {
    /// Scenarios to run: idle, ingest, latency, memory, careers, reference, all.
    scenarios: Vec<String>,
    /// Runs of each scenario; figures are reported as min / median / max.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Events sent by the ingest scenario (and the reference comparison's relay side).
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// Concurrent requests from the load generator.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Latency added to every upstream call in the ingest scenario, in ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of Flatchr calls answered with a fault (503, 500 after creating, 429).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Resume size in bytes, for the ingest scenario.
    #[arg(long, default_value_t = 40_000)]
    resume_bytes: usize,
    /// `[worker].concurrency` of the relay in the ingest scenario.
    #[arg(long, default_value_t = 16)]
    worker_concurrency: usize,
    /// Database: `sqlite` or a PostgreSQL server URL (a fresh database is made on it).
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Profiles the reference connector runs (it is slow).
    #[arg(long, default_value_t = 200)]
    reference_profiles: usize,
    /// Python with hrflow-connectors==0.2.0 installed; the reference is skipped without it.
    #[arg(long, env = "REFERENCE_PYTHON")]
    python: Option<PathBuf>,
    /// The relay binary (default: target/release/hrflow-relay).
    #[arg(long)]
    relay: Option<PathBuf>,
    /// Responses in the careers scenario's vacancy.
    #[arg(long, default_value_t = 100_000)]
    responses: usize,
    /// Profiles in the backfill scenario's source.
    #[arg(long, default_value_t = 3000)]
    backfill_profiles: usize,
    /// `[backfill].requests_per_second` in the backfill scenario (the default configuration's).
    #[arg(long, default_value_t = 4.0)]
    backfill_rps: f64,
    /// `[backfill].page_size` in the backfill scenario.
    #[arg(long, default_value_t = 100)]
    backfill_page: u32,
    /// Events the soak scenario sends, at a steady `--soak-rate`.
    #[arg(long, default_value_t = 1_000_000)]
    soak_events: usize,
    /// Events per second in the soak scenario.
    #[arg(long, default_value_t = 2000)]
    soak_rate: usize,
    /// Finished jobs (with their attempts and events) in the store before the soak starts.
    #[arg(long, default_value_t = 100_000)]
    soak_seed: usize,
    /// Seconds between two samples of the soak.
    #[arg(long, default_value_t = 5)]
    soak_every: u64,
    /// Seconds the soak waits, after its last event, for the backlog to be delivered; what is
    /// still undelivered then counts as lost. A machine that delivers fewer than 2,000 a second
    /// ends the 1M run with a backlog of hundreds of thousands.
    #[arg(long, default_value_t = 1800)]
    soak_drain: u64,
    /// Stops the relay (SIGSTOP) for this many ms, `--soak-stall-at` seconds into the soak: a
    /// stall like the disk's worst, which piles requests up on new connections. 0: none.
    #[arg(long, default_value_t = 0)]
    soak_stall_ms: u64,
    /// Seconds into the soak at which `--soak-stall-ms` stops the relay.
    #[arg(long, default_value_t = 25)]
    soak_stall_at: u64,
    /// Events per second sent while the sync scenario's measured pass runs (0: none, for the
    /// pass's own CPU).
    #[arg(long, default_value_t = 200)]
    sync_event_rate: usize,
    /// `[sync].interval` in the sync scenario, in seconds: the measured pass is the second.
    #[arg(long, default_value_t = 40)]
    sync_interval: u64,
}

/// What the stand-ins saw.
#[derive(Default)]
struct Seen {
    /// email -> creations; more than one is a candidate pushed twice.
    created: HashMap<String, usize>,
    /// profile key -> first enrich.
    enriched: HashMap<String, Instant>,
    pushes: usize,
    enriches: usize,
    faults: usize,
    bad_resumes: usize,
}

struct Upstream {
    /// Profiles of the listing stand-in's one source (the backfill scenario).
    listed: usize,
    /// When the listing stand-in answered its last page.
    last_listing: Mutex<Option<Instant>>,
    /// When it answered each page, in order.
    listing_times: Mutex<Vec<Instant>>,
    latency: Duration,
    fault_rate: f64,
    resume: web::Bytes,
    templates: Vec<Value>,
    seen: Mutex<Seen>,
}

impl Upstream {
    fn new(
        latency: Duration,
        fault_rate: f64,
        resume_bytes: usize,
        listed: usize,
    ) -> anyhow::Result<web::Data<Self>> {
        Ok(web::Data::new(Self {
            listed,
            last_listing: Mutex::new(None),
            listing_times: Mutex::new(Vec::new()),
            latency,
            fault_rate,
            resume: web::Bytes::from(vec![b'%'; resume_bytes]),
            templates: templates()?,
            seen: Mutex::default(),
        }))
    }
    async fn delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
    fn roll(&self) -> f64 {
        if self.fault_rate > 0.0 {
            rand::rng().random::<f64>() / self.fault_rate
        } else {
            f64::INFINITY
        }
    }
}

fn key_of(email: &str) -> &str {
    email.split('@').next().unwrap_or_default()
}

async fn profile(
    q: web::Query<HashMap<String, String>>,
    up: web::Data<Upstream>,
    req: HttpRequest,
) -> HttpResponse {
    up.delay().await;
    let key = q.get("key").cloned().unwrap_or_default();
    let n: usize = key
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(0);
    let mut p = up.templates[n % up.templates.len()].clone();
    p["key"] = json!(key);
    if !p["info"].is_object() {
        p["info"] = json!({});
    }
    p["info"]["email"] = json!(format!("{key}@bench.test"));
    let base = format!("http://{}", req.connection_info().host());
    p["attachments"] = json!([{"file_name": "resume", "type": "resume", "extension": ".pdf",
        "public_url": format!("{base}/files/{key}.pdf")}]);
    HttpResponse::Ok().json(json!({"code": 200, "message": "ok", "data": p}))
}

/// `GET /storing/profiles`: `up.listed` profiles `b-0`.. in one source, paged as HrFlow does.
async fn listing(q: web::Query<HashMap<String, String>>, up: web::Data<Upstream>) -> HttpResponse {
    up.delay().await;
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let limit: usize = q
        .get("limit")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .max(1);
    let items: Vec<Value> = ((page - 1) * limit..(page * limit).min(up.listed))
        .map(|i| json!({"key": format!("b-{i}"), "reference": null}))
        .collect();
    *up.last_listing.lock().unwrap() = Some(Instant::now());
    up.listing_times.lock().unwrap().push(Instant::now());
    HttpResponse::Ok().json(json!({"code": 200, "message": "List of profiles",
        "meta": {"page": page, "maxPage": up.listed.div_ceil(limit).max(1), "count": items.len(), "total": up.listed},
        "data": items}))
}

async fn file(up: web::Data<Upstream>) -> HttpResponse {
    up.delay().await;
    HttpResponse::Ok()
        .content_type("application/pdf")
        .body(up.resume.clone())
}

#[derive(serde::Deserialize)]
struct Pushed {
    email: String,
    resume: Option<PushedResume>,
}
#[derive(serde::Deserialize)]
struct PushedResume {
    data: Option<String>,
}

async fn push(body: web::Bytes, up: web::Data<Upstream>) -> HttpResponse {
    up.delay().await;
    let roll = up.roll();
    if roll < 1.0 / 3.0 {
        up.seen.lock().unwrap().faults += 1;
        return HttpResponse::ServiceUnavailable().finish();
    }
    if (2.0 / 3.0..1.0).contains(&roll) {
        up.seen.lock().unwrap().faults += 1;
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "1"))
            .finish();
    }
    let Ok(p) = serde_json::from_slice::<Pushed>(&body) else {
        return HttpResponse::BadRequest().body("not a candidate");
    };
    // The resume must arrive whole: base64 of exactly the bytes served.
    let expected = up.resume.len().div_ceil(3) * 4;
    let whole = p
        .resume
        .and_then(|r| r.data)
        .is_some_and(|d| d.len() == expected);
    let mut seen = up.seen.lock().unwrap();
    seen.pushes += 1;
    if !whole {
        seen.bad_resumes += 1;
    }
    *seen.created.entry(p.email).or_default() += 1;
    if roll < 2.0 / 3.0 {
        // Created, but the answer says otherwise: the relay must check before pushing again.
        seen.faults += 1;
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok().json(json!({"status": 200, "response": "applicant created"}))
}

#[derive(serde::Deserialize)]
struct Enriched {
    reference: Option<String>,
}

async fn enrich(body: web::Json<Enriched>, up: web::Data<Upstream>) -> HttpResponse {
    up.delay().await;
    if up.roll() < 0.5 {
        up.seen.lock().unwrap().faults += 1;
        return HttpResponse::ServiceUnavailable().finish();
    }
    let key = key_of(body.reference.as_deref().unwrap_or_default()).to_string();
    let mut seen = up.seen.lock().unwrap();
    seen.enriches += 1;
    seen.enriched.entry(key).or_insert_with(Instant::now);
    HttpResponse::Ok().json(json!({"statusCode": 200}))
}

#[derive(serde::Deserialize)]
struct Search {
    email: String,
}

async fn search(body: web::Json<Search>, up: web::Data<Upstream>) -> HttpResponse {
    up.delay().await;
    let found = up.seen.lock().unwrap().created.contains_key(&body.email);
    let items = if found {
        json!([{"email": body.email}])
    } else {
        json!([])
    };
    HttpResponse::Ok().json(json!({ "items": items }))
}

async fn stand_ins(up: web::Data<Upstream>) -> anyhow::Result<String> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(up.clone())
            .app_data(web::PayloadConfig::new(64 << 20))
            .route("/profile/indexing", web::get().to(profile))
            .route("/storing/profiles", web::get().to(listing))
            .route("/files/{name}", web::get().to(file))
            .route("/vacancy/candidate/json", web::post().to(push))
            .route("/company/{c}/search/candidate", web::post().to(enrich))
            .route("/company/{c}/search/applicants", web::post().to(search))
    })
    .workers(2)
    .backlog(4096)
    .disable_signals()
    .bind(("127.0.0.1", 0))?;
    let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    tokio::spawn(server.run());
    Ok(url)
}

/// Fixture profiles that 0.2.0 can format (its golden file records no crash), so both sides
/// deliver the same set; keys, emails and attachments are rewritten per generated profile.
fn templates() -> anyhow::Result<Vec<Value>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut out = Vec::new();
    for n in 0..40 {
        let name = format!("profile-{n:03}.json");
        let golden = std::fs::read_to_string(root.join("golden").join(&name))?;
        if golden.contains("\"crash\"") {
            continue;
        }
        let p: Value = serde_json::from_str(&std::fs::read_to_string(
            root.join("fixtures/profiles").join(&name),
        )?)?;
        out.push(p.get("data").cloned().unwrap_or(p));
    }
    Ok(out)
}

struct Relay {
    child: Child,
    port: u16,
    log: PathBuf,
    config: PathBuf,
    db: String,
    binary: PathBuf,
    _dir: tempfile::TempDir,
}

impl Relay {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    /// User + system CPU seconds so far.
    fn cpu(&self) -> f64 {
        cpu_seconds(&self.pid().to_string())
    }
    /// Fields of `/proc/<pid>/status`, in MiB (0 where missing).
    fn status_mib<const N: usize>(&self, names: [&str; N]) -> [f64; N] {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        names.map(|name| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        })
    }
    /// VmRSS and VmHWM (peak), in MiB.
    fn memory(&self) -> (f64, f64) {
        let [rss, peak] = self.status_mib(["VmRSS:", "VmHWM:"]);
        (rss, peak)
    }
    /// RSS split: anonymous memory (heap, stacks) and file pages (the binary's code as it runs).
    fn rss_split(&self) -> (f64, f64) {
        let [anon, file, shmem] = self.status_mib(["RssAnon:", "RssFile:", "RssShmem:"]);
        (anon, file + shmem)
    }
    fn stop(mut self) -> anyhow::Result<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(std::fs::read_to_string(&self.log)?)
    }
}

/// User + system CPU seconds of a process (`self` or a pid) so far, from `/proc`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15; USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The last non-empty line a child printed, as JSON (its report).
fn last_json_line(stdout: &[u8]) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(
        stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_default(),
    )?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn database_url(args: &Args, dir: &Path) -> anyhow::Result<String> {
    if args.database == "sqlite" {
        return Ok(format!("sqlite://{}/relay.db", dir.display()));
    }
    use sqlx::Connection;
    let name = format!("relay_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&args.database).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let mut url = url::Url::parse(&args.database)?;
    url.set_path(&name);
    Ok(url.to_string())
}

struct RelayOptions {
    upstream: String,
    worker_concurrency: usize,
    /// Appended to the configuration file.
    extra: String,
}

async fn start_relay(
    args: &Args,
    options: &RelayOptions,
    prepare: Option<
        &(dyn Fn(String) -> futures_util::future::BoxFuture<'static, anyhow::Result<()>> + Sync),
    >,
) -> anyhow::Result<Relay> {
    let dir = tempfile::tempdir()?;
    let db = database_url(args, dir.path()).await?;
    let port = free_port()?;
    let upstream = &options.upstream;
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
port = {port}
max_body_bytes = 1048576
[database]
url = "{db}"
max_connections = 8
[hrflow]
api_url = "{upstream}"
api_key = "{HRFLOW_KEY}"
user_email = "bench@example.org"
webhook_secret = "{SECRET}"
[flatchr]
careers_url = "{upstream}"
api_url = "{upstream}"
api_key = "{FLATCHR_KEY}"
company = "c"
requests_per_second = 0
[worker]
concurrency = {w}
request_timeout = "10s"
retry_schedule = ["200ms", "500ms", "1s", "1s", "2s", "2s", "5s", "5s"]
poll_interval = "200ms"
[careers]
tokens = ["{CAREERS_TOKEN}"]
[[routes]]
name = "flatchr"
destination = "flatchr"
vacancy = "v"
{extra}
"#,
            w = options.worker_concurrency,
            extra = options.extra,
        ),
    )?;
    if let Some(prepare) = prepare {
        prepare(db.clone()).await?;
    }
    let binary = match &args.relay {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("hrflow-relay"))
            .ok_or_else(|| anyhow::anyhow!("cannot locate the relay binary"))?,
    };
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run `cargo build --release` first",
        binary.display()
    );
    let log = dir.path().join("relay.log");
    let child = Command::new(&binary)
        .args(["--config", &config.display().to_string(), "serve"])
        .env("RELAY__DATABASE__URL", &db)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::inherit())
        .spawn()?;
    let relay = Relay {
        child,
        port,
        log,
        config,
        db,
        binary,
        _dir: dir,
    };
    let http = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/health/ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(&ready).send().await
            && r.status() == 200
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the relay did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(relay)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Figures of one run: name -> value.
type Figures = Vec<(String, f64)>;

struct Load {
    events: usize,
    concurrency: usize,
    latency: Duration,
    fault_rate: f64,
    resume_bytes: usize,
    worker_concurrency: usize,
    key_prefix: &'static str,
    noop: bool,
}

struct LoadResult {
    figures: Figures,
    upstream: web::Data<Upstream>,
    wall: f64,
    cpu: f64,
}

/// POSTs HrFlow's event for profile `key`, signed; answers the status (0: no answer), when it
/// was sent, and how long the answer took, in ms.
async fn post_event(http: &reqwest::Client, url: &str, key: &str) -> (u16, Instant, f64) {
    let body = json!({"type": "profile.parsing.success",
        "profile": {"key": key, "source": {"key": "s"}}})
    .to_string();
    let sig = hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), body.as_bytes());
    let t = Instant::now();
    let status = http
        .post(url)
        .header("HTTP-HRFLOW-SIGNATURE", sig)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, t, t.elapsed().as_secs_f64() * 1e3)
}

/// `n` requests made by `one(i)`, `concurrency` at a time: how many succeeded, and per second.
async fn rate<F, Fut>(n: usize, concurrency: usize, one: F) -> (usize, f64)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let ok = futures_util::stream::iter(0..n)
        .map(one)
        .buffer_unordered(concurrency)
        .filter(|ok| futures_util::future::ready(*ok))
        .count()
        .await;
    (ok, ok as f64 / started.elapsed().as_secs_f64())
}

/// N signed events at concurrency C against a fresh relay; waits for every enrich.
async fn run_load(args: &Args, load: &Load) -> anyhow::Result<LoadResult> {
    let upstream = Upstream::new(load.latency, load.fault_rate, load.resume_bytes, 0)?;
    let url = stand_ins(upstream.clone()).await?;
    let relay = start_relay(
        args,
        &RelayOptions {
            upstream: url,
            worker_concurrency: load.worker_concurrency,
            extra: String::new(),
        },
        None,
    )
    .await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load.concurrency)
        .build()?;
    let base = format!("http://127.0.0.1:{}", relay.port);
    let mut figures = Figures::new();

    if load.noop {
        let n = load.events.max(5000);
        let live = format!("{base}/health/live");
        let (_, noop) = rate(n, load.concurrency, |_| {
            let (http, live) = (http.clone(), live.clone());
            async move {
                http.get(&live)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        figures.push(("noop req/s".into(), noop));
        // The same event, refused for its signature: the request's whole cost but the store's.
        let events = format!("{base}/hrflow/events");
        let relay_cpu = relay.cpu();
        let (refused, per_s) = rate(n, load.concurrency, |i| {
            let (http, events) = (http.clone(), events.clone());
            async move {
                let body = json!({"type": "profile.parsing.success",
                    "profile": {"key": format!("x{i:07}"), "source": {"key": "s"}}})
                .to_string();
                // Signed as `post_event` signs, with another secret: the same client work.
                let sig =
                    hrflow_relay::hrflow::signature::hex_hmac(b"not-the-secret", body.as_bytes());
                http.post(&events)
                    .header("HTTP-HRFLOW-SIGNATURE", sig)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 401)
            }
        })
        .await;
        figures.push(("refused req/s".into(), per_s));
        // What serving such a request costs the relay alone.
        figures.push((
            "refused relay cpu us/req".into(),
            (relay.cpu() - relay_cpu) * 1e6 / refused.max(1) as f64,
        ));
    }

    let cpu0 = relay.cpu();
    let events = format!("{base}/hrflow/events");
    let started = Instant::now();
    let sent = Arc::new(Mutex::new(HashMap::<String, Instant>::new()));
    let acks: Vec<(u16, f64)> = futures_util::stream::iter(0..load.events)
        .map(|i| {
            let http = http.clone();
            let events = events.clone();
            let sent = sent.clone();
            async move {
                let key = format!("{}{i:07}", load.key_prefix);
                let (status, t, ms) = post_event(&http, &events, &key).await;
                sent.lock().unwrap().insert(key, t);
                (status, ms)
            }
        })
        .buffer_unordered(load.concurrency)
        .collect()
        .await;
    let ingest = started.elapsed().as_secs_f64();
    let accepted = acks.iter().filter(|(s, _)| *s == 202).count();
    let mut ack_ms: Vec<f64> = acks.iter().map(|(_, ms)| *ms).collect();
    ack_ms.sort_by(f64::total_cmp);
    figures.push(("ingest req/s".into(), accepted as f64 / ingest));
    figures.push(("ack p50 ms".into(), percentile(&ack_ms, 0.5)));
    figures.push(("ack p99 ms".into(), percentile(&ack_ms, 0.99)));
    if let Some(noop) = figures
        .first()
        .filter(|(n, _)| n == "noop req/s")
        .map(|f| f.1)
    {
        figures.push(("ingest/noop".into(), accepted as f64 / ingest / noop));
    }

    let deadline = Instant::now() + Duration::from_secs(600);
    while upstream.seen.lock().unwrap().enriched.len() < load.events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = relay.cpu() - cpu0;
    let (_, peak) = relay.memory();
    let sent = sent.lock().unwrap().clone();
    let seen = upstream.seen.lock().unwrap();
    let mut e2e: Vec<f64> = seen
        .enriched
        .iter()
        .filter_map(|(k, at)| {
            sent.get(k)
                .map(|s| at.duration_since(*s).as_secs_f64() * 1e3)
        })
        .collect();
    e2e.sort_by(f64::total_cmp);
    let delivered = seen.enriched.len();
    let twice = seen.created.values().filter(|n| **n > 1).count();
    figures.push(("e2e p50 ms".into(), percentile(&e2e, 0.5)));
    figures.push(("e2e p99 ms".into(), percentile(&e2e, 0.99)));
    figures.push(("delivered/s".into(), delivered as f64 / wall));
    figures.push(("cpu ms/profile".into(), cpu * 1e3 / delivered.max(1) as f64));
    figures.push(("peak RSS MiB".into(), peak));
    figures.push(("lost".into(), (load.events - delivered) as f64));
    figures.push(("pushed twice".into(), twice as f64));
    figures.push(("bad resumes".into(), seen.bad_resumes as f64));
    if load.fault_rate > 0.0 {
        figures.push(("faults".into(), seen.faults as f64));
    }
    drop(seen);
    let log = relay.stop()?;
    figures.push((
        "log lines/profile".into(),
        log.lines().count() as f64 / delivered.max(1) as f64,
    ));
    for secret in [SECRET, HRFLOW_KEY, FLATCHR_KEY, CAREERS_TOKEN] {
        anyhow::ensure!(
            !log.contains(secret),
            "a configured secret appears in the relay's log"
        );
    }
    Ok(LoadResult {
        figures,
        upstream,
        wall,
        cpu,
    })
}

/// `hrflow-relay backfill --wait` (the binary, as a user runs it) over a listing of
/// `--backfill-profiles` profiles, while the relay serves and delivers them.
async fn backfill(args: &Args) -> anyhow::Result<Figures> {
    let n = args.backfill_profiles;
    let upstream = Upstream::new(Duration::ZERO, 0.0, args.resume_bytes, n)?;
    let url = stand_ins(upstream.clone()).await?;
    let relay = start_relay(
        args,
        &RelayOptions {
            upstream: url,
            worker_concurrency: args.worker_concurrency,
            extra: format!(
                "[backfill]\npage_size = {}\nrequests_per_second = {}\n",
                args.backfill_page, args.backfill_rps
            ),
        },
        None,
    )
    .await?;
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let mut command = Command::new(&relay.binary);
        command
            .args(["--config", &relay.config.display().to_string(), "backfill"])
            .args(["--source", "bench-source", "--wait"])
            .env("RELAY__DATABASE__URL", &relay.db)
            .stderr(Stdio::null());
        move || command.output()
    })
    .await??;
    let done = started.elapsed().as_secs_f64();
    anyhow::ensure!(out.status.success(), "the backfill failed");
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let listed_at = upstream
        .last_listing
        .lock()
        .unwrap()
        .map_or(done, |t| (t - started).as_secs_f64());
    let seen = upstream.seen.lock().unwrap();
    let twice = seen.created.values().filter(|c| **c > 1).count();
    let lost = n.saturating_sub(seen.enriched.len());
    let figures = vec![
        ("listed".into(), report["listed"].as_f64().unwrap_or(0.0)),
        (
            "delivered".into(),
            report["delivered"].as_f64().unwrap_or(0.0),
        ),
        ("profiles listed/s".into(), n as f64 / listed_at),
        ("s until all listed".into(), listed_at),
        ("s until all delivered".into(), done),
        ("lost".into(), lost as f64),
        ("pushed twice".into(), twice as f64),
    ];
    drop(seen);
    let log = relay.stop()?;
    if let Ok(path) = std::env::var("BENCH_KEEP_LOG") {
        std::fs::write(path, log)?;
    }
    Ok(figures)
}

/// The service's sync over `--backfill-profiles` profiles: its first pass (at start) delivers
/// them, the second (`--sync-interval` later) is measured over them all delivered, while events
/// arrive at `--sync-event-rate` a second: how long it takes, how many listing calls, the
/// relay's CPU, and the events' ack p99 while it runs against the same span just before.
async fn sync(args: &Args) -> anyhow::Result<Figures> {
    let n = args.backfill_profiles;
    let upstream = Upstream::new(Duration::ZERO, 0.0, args.resume_bytes, n)?;
    let url = stand_ins(upstream.clone()).await?;
    let relay = start_relay(
        args,
        &RelayOptions {
            upstream: url,
            worker_concurrency: args.worker_concurrency,
            extra: format!(
                "[backfill]\npage_size = {}\nrequests_per_second = {}\n[sync]\nsources = [\"bench-source\"]\ninterval = \"{}s\"\n",
                args.backfill_page, args.backfill_rps, args.sync_interval
            ),
        },
        None,
    )
    .await?;
    let pages = n.div_ceil(args.backfill_page as usize).max(1);
    // The first pass queues them all (none had an event); the workers deliver them.
    let deadline = Instant::now() + Duration::from_secs(args.sync_interval.max(60) * 5);
    while upstream.seen.lock().unwrap().enriched.len() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the first pass did not deliver them all"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        upstream.listing_times.lock().unwrap().len() == pages,
        "the second pass began before all were delivered: raise --sync-interval"
    );
    // Events at a steady rate until the second pass has listed its last page, and 5 s more.
    let events = format!("http://127.0.0.1:{}/hrflow/events", relay.port);
    let http = reqwest::Client::new();
    let acks: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = tokio::spawn({
        let (acks, stop, rate) = (acks.clone(), stop.clone(), args.sync_event_rate);
        async move {
            // 0: no events, for the pass's own CPU.
            if rate == 0 {
                return;
            }
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let (http, events, acks) = (http.clone(), events.clone(), acks.clone());
                i += 1;
                tokio::spawn(async move {
                    let (status, at, ms) =
                        post_event(&http, &events, &format!("sync-ev-{i}")).await;
                    if status == 202 {
                        acks.lock().unwrap().push((at, ms));
                    }
                });
            }
        }
    });
    let wait_for = |count: usize| {
        let upstream = upstream.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                if let Some(t) = upstream.listing_times.lock().unwrap().get(count - 1) {
                    return Ok::<Instant, anyhow::Error>(*t);
                }
                anyhow::ensure!(Instant::now() < deadline, "the second pass did not come");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let first_page = wait_for(pages + 1).await?;
    let cpu_at_start = relay.cpu();
    let last_page = wait_for(2 * pages).await?;
    // The pass ends with its last page queued: a moment after the last listing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pass_end = Instant::now();
    let cpu_pass = relay.cpu() - cpu_at_start;
    let span = pass_end - first_page;
    // The same span after the pass, events only, for what the events cost by themselves.
    let cpu_after_start = relay.cpu();
    tokio::time::sleep(span.max(Duration::from_secs(2))).await;
    let cpu_events = (relay.cpu() - cpu_after_start) * span.as_secs_f64()
        / span.max(Duration::from_secs(2)).as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender.await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acks = acks.lock().unwrap().clone();
    let p99 = |from: Instant, to: Instant| {
        let mut w: Vec<f64> = acks
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, ms)| *ms)
            .collect();
        w.sort_by(f64::total_cmp);
        w.get(((w.len() as f64 * 0.99) as usize).min(w.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let during = p99(first_page, pass_end);
    let before = p99(
        first_page.checked_sub(span).unwrap_or(first_page),
        first_page,
    );
    let seen = upstream.seen.lock().unwrap();
    let twice = seen.created.values().filter(|c| **c > 1).count();
    let figures = vec![
        ("profiles".into(), n as f64),
        ("pass s".into(), span.as_secs_f64()),
        ("listing calls".into(), pages as f64),
        ("relay cpu s during the pass".into(), cpu_pass),
        ("relay cpu s, events alone".into(), cpu_events),
        (
            "pass cpu ms/profile".into(),
            (cpu_pass - cpu_events).max(0.0) * 1e3 / n as f64,
        ),
        ("ack p99 ms during the pass".into(), during),
        (
            "ack p99 ms after the pass".into(),
            p99(last_page, Instant::now()),
        ),
        ("ack p99 ms before".into(), before),
        ("pushed twice".into(), twice as f64),
    ];
    drop(seen);
    relay.stop()?;
    Ok(figures)
}

async fn idle(args: &Args) -> anyhow::Result<Figures> {
    let upstream = "http://127.0.0.1:9".to_string();
    let relay = start_relay(
        args,
        &RelayOptions {
            upstream,
            worker_concurrency: 16,
            extra: String::new(),
        },
        None,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, _) = relay.memory();
    relay.stop()?;
    Ok(vec![("idle RSS MiB".into(), rss)])
}

async fn careers(args: &Args) -> anyhow::Result<Figures> {
    let responses = args.responses;
    let vacancy = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let v = vacancy.clone();
    let prepare =
        move |db: String| -> futures_util::future::BoxFuture<'static, anyhow::Result<()>> {
            let v = v.clone();
            Box::pin(async move {
                let store = hrflow_relay::store::Store::connect(&db, 2).await?;
                let id = store.publish_vacancy(&json!({"position": "Bench"})).await?;
                v.store(id, Ordering::Relaxed);
                fill(&store, id, responses).await?;
                store.pool().close().await;
                Ok(())
            })
        };
    let relay = start_relay(
        args,
        &RelayOptions {
            upstream: "http://127.0.0.1:9".into(),
            worker_concurrency: 16,
            extra: String::new(),
        },
        Some(&prepare),
    )
    .await?;
    let vacancy = vacancy.load(Ordering::Relaxed);
    let http = reqwest::Client::new();
    let url = format!(
        "http://127.0.0.1:{}/careers/vacancies/{vacancy}/responses?page=1&per_page=20",
        relay.port
    );
    let mut times = Vec::new();
    for i in 0..1100 {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(CAREERS_TOKEN).send().await?;
        anyhow::ensure!(r.status() == 200, "careers page answered {}", r.status());
        let body: Value = r.json().await?;
        anyhow::ensure!(body["items"].as_array().is_some_and(|i| i.len() == 20));
        if i >= 100 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    relay.stop()?;
    times.sort_by(f64::total_cmp);
    Ok(vec![
        ("careers p50 ms".into(), percentile(&times, 0.5)),
        ("careers p99 ms".into(), percentile(&times, 0.99)),
    ])
}

/// Finished jobs, with an attempt and an event each, as months of use leave them.
async fn seed_finished(db: &str, n: usize) -> anyhow::Result<()> {
    let store = hrflow_relay::store::Store::connect(db, 2).await?;
    let old = hrflow_relay::store::now_ms() - 86_400_000;
    let series = if db.starts_with("sqlite") {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) SELECT i FROM n"
        )
    } else {
        format!("SELECT i FROM generate_series(1, {n}) AS i")
    };
    for sql in [
        format!("INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at)
                 SELECT 'seed' || i, 'seedhash' || i, 'profile.parsing.success', 'seed' || i, 's', {old} FROM ({series}) AS s"),
        format!("INSERT INTO jobs (event_id, route, profile_key, source_key, status, step, attempts, next_attempt_at, created_at, updated_at)
                 SELECT 'seed' || i, 'flatchr', 'seed' || i, 's', 'delivered', 'enriched', 1, {old}, {old}, {old} FROM ({series}) AS s"),
        format!("INSERT INTO attempts (job_id, started_at, duration_ms, step, outcome)
                 SELECT id, {old}, 12, 'enriched', 'delivered' FROM jobs"),
    ] {
        sqlx::query(&sql).execute(store.pool()).await?;
    }
    store.pool().close().await;
    Ok(())
}

/// What the soak's requests were answered.
#[derive(Default)]
struct SoakAnswers {
    /// The time of every acknowledgement (ms); drained by the sampler.
    acks: Mutex<Vec<f64>>,
    /// Requests not acknowledged.
    failed: std::sync::atomic::AtomicUsize,
    /// Of those, requests with no answer at all (a connection error on the client's side).
    unanswered: std::sync::atomic::AtomicUsize,
}

impl SoakAnswers {
    fn record(&self, status: u16, ms: f64) {
        if status == 202 {
            self.acks.lock().unwrap().push(ms);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if status == 0 {
                self.unanswered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A long run at a steady rate: `--soak-events` at `--soak-rate` per second into a relay whose
/// store holds `--soak-seed` finished jobs. Every `--soak-every` seconds: the relay's RSS, the
/// window's acknowledgement p99, deliveries per second, and the backlog. Writes the samples to
/// target/soak.csv and draws target/soak.svg.
async fn soak(args: &Args) -> anyhow::Result<Figures> {
    let upstream = Upstream::new(Duration::ZERO, 0.0, args.resume_bytes, 0)?;
    let url = stand_ins(upstream.clone()).await?;
    let seed = args.soak_seed;
    let prepare =
        move |db: String| -> futures_util::future::BoxFuture<'static, anyhow::Result<()>> {
            Box::pin(async move { seed_finished(&db, seed).await })
        };
    let relay = start_relay(
        args,
        &RelayOptions {
            upstream: url,
            worker_concurrency: args.worker_concurrency,
            extra: String::new(),
        },
        Some(&prepare),
    )
    .await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let events = format!("http://127.0.0.1:{}/hrflow/events", relay.port);
    let answers = Arc::new(SoakAnswers::default());
    let total = args.soak_events;
    let rate = args.soak_rate.max(1);
    let sender = {
        let (http, events, answers) = (http.clone(), events.clone(), answers.clone());
        tokio::spawn(async move {
            // 100 ticks a second, each sending its share of the rate.
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let started = Instant::now();
            let mut sent = 0usize;
            let in_flight = Arc::new(tokio::sync::Semaphore::new(512));
            while sent < total {
                tick.tick().await;
                let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
                while sent < due {
                    let permit = in_flight
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("never closed");
                    let (http, events, answers) = (http.clone(), events.clone(), answers.clone());
                    let key = format!("soak{sent:08}");
                    tokio::spawn(async move {
                        let _permit = permit;
                        let (status, _, ms) = post_event(&http, &events, &key).await;
                        answers.record(status, ms);
                    });
                    sent += 1;
                }
            }
        })
    };
    if args.soak_stall_ms > 0 {
        let (pid, at, stall) = (
            relay.pid().to_string(),
            Duration::from_secs(args.soak_stall_at),
            Duration::from_millis(args.soak_stall_ms),
        );
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(at);
            let signal = |s: &str| Command::new("kill").args([s, &pid]).status();
            let _ = signal("-STOP");
            std::thread::sleep(stall);
            let _ = signal("-CONT");
            println!("  the relay was stopped for {} ms", stall.as_millis());
        });
    }
    // t s, RSS MiB, ack p99 ms, delivered/s, backlog, accepted, mean claim ms, FULL-commit p99 ms
    let mut samples: Vec<[f64; 8]> = Vec::new();
    let metrics_url = format!("http://127.0.0.1:{}/metrics", relay.port);
    let mut claims_before = (0.0, 0.0);
    // SQLite's FULL commits: the histogram's buckets at the last sample.
    let mut commits_before = Vec::new();
    let started = Instant::now();
    let (mut accepted, mut delivered_before) = (0usize, 0usize);
    let every = Duration::from_secs(args.soak_every.max(1));
    let deadline_after_send = Duration::from_secs(args.soak_drain);
    let mut sent_done_at: Option<Instant> = None;
    let mut sending_windows = 0;
    // RSS as anonymous and file pages, the part of it SQLite holds (MiB), and the relay's open
    // files (its connections among them).
    let mut splits: Vec<(f64, f64, f64, usize)> = Vec::new();
    loop {
        tokio::time::sleep(every).await;
        let mut window: Vec<f64> = std::mem::take(&mut *answers.acks.lock().unwrap());
        accepted += window.len();
        window.sort_by(f64::total_cmp);
        let delivered = upstream.seen.lock().unwrap().enriched.len();
        let (rss, _) = relay.memory();
        let scraped = scrape(&http, &metrics_url).await;
        let sqlite = scraped.sqlite_bytes / 1048576.0;
        let (anon, file) = relay.rss_split();
        let fds = std::fs::read_dir(format!("/proc/{}/fd", relay.pid())).map_or(0, |d| d.count());
        splits.push((anon, file, sqlite, fds));
        // Past the last finite bucket (0.5 s) it is drawn at 1 s.
        let commit_p99 = commit_p99_ms(&commits_before, &scraped.full_commits).min(1000.0);
        commits_before = scraped.full_commits;
        let claims = scraped.claims;
        let claim_ms = (claims.0 - claims_before.0) * 1e3 / (claims.1 - claims_before.1).max(1.0);
        claims_before = claims;
        let sample = [
            started.elapsed().as_secs_f64(),
            rss,
            if window.is_empty() {
                0.0
            } else {
                percentile(&window, 0.99)
            },
            (delivered - delivered_before) as f64 / every.as_secs_f64(),
            accepted.saturating_sub(delivered) as f64,
            accepted as f64,
            claim_ms,
            commit_p99,
        ];
        delivered_before = delivered;
        println!(
            "  t {:>6.0} s  rss {:>6.1} MiB (anon {anon:.2}, sqlite {:.2}, fds {fds})  ack p99 {:>6.2} ms (commit <= {commit_p99} ms)  delivered {:>6.0}/s  backlog {:>8.0}  accepted {:>8.0}  claim {:>5.2} ms",
            sample[0], sample[1], sqlite, sample[2], sample[3], sample[4], sample[5], sample[6]
        );
        samples.push(sample);
        if sender.is_finished() && sent_done_at.is_none() {
            sent_done_at = Some(Instant::now());
            // This window holds the last acknowledgements; the ones after it, none.
            sending_windows = samples.len();
        }
        let all_in = delivered >= total - answers.failed.load(Ordering::Relaxed);
        if sender.is_finished()
            && (all_in || sent_done_at.is_some_and(|t| t.elapsed() > deadline_after_send))
        {
            break;
        }
    }
    let log = relay.stop()?;
    for secret in [SECRET, HRFLOW_KEY, FLATCHR_KEY, CAREERS_TOKEN] {
        anyhow::ensure!(
            !log.contains(secret),
            "a configured secret appears in the relay's log"
        );
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&out)?;
    let mut csv = String::from(
        "seconds,rss_mib,ack_p99_ms,delivered_per_s,backlog,accepted,claim_mean_ms,full_commit_p99_ms,anon_mib,sqlite_mib,open_fds\n",
    );
    for (s, split) in samples.iter().zip(&splits) {
        csv.push_str(&format!(
            "{:.0},{:.1},{:.2},{:.0},{:.0},{:.0},{:.3},{},{:.2},{:.2},{}\n",
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], split.0, split.2, split.3
        ));
    }
    std::fs::write(out.join("soak.csv"), csv)?;
    std::fs::write(out.join("soak.svg"), soak_svg(&samples, args))?;
    // RSS once ~10k events were in, against the end.
    let early_at = samples
        .iter()
        .position(|s| s[5] >= 10_000.0)
        .unwrap_or_default();
    let early = samples.get(early_at).map(|s| s[1]).unwrap_or(f64::NAN);
    let gone = (f64::NAN, f64::NAN, f64::NAN, 0);
    let (anon_early, file_early, sqlite_early, _) = splits.get(early_at).copied().unwrap_or(gone);
    let (anon_last, file_last, sqlite_last, _) = splits.last().copied().unwrap_or(gone);
    let most_fds = splits.iter().map(|s| s.3).max().unwrap_or_default();
    let mut claim_ms: Vec<f64> = samples.iter().map(|s| s[6]).collect();
    claim_ms.sort_by(f64::total_cmp);
    let sending = &samples[..sending_windows.min(samples.len())];
    let mut p99s: Vec<f64> = sending.iter().map(|s| s[2]).collect();
    let mut commit_p99s_sending: Vec<f64> = sending.iter().map(|s| s[7]).collect();
    commit_p99s_sending.sort_by(f64::total_cmp);
    p99s.sort_by(f64::total_cmp);
    let last = samples.last().map(|s| s[1]).unwrap_or(f64::NAN);
    let delivered = upstream.seen.lock().unwrap().enriched.len();
    let twice = upstream
        .seen
        .lock()
        .unwrap()
        .created
        .values()
        .filter(|n| **n > 1)
        .count();
    Ok(vec![
        ("soak RSS MiB at 10k events".into(), early),
        ("soak RSS MiB at the end".into(), last),
        ("soak RSS end / at 10k".into(), last / early),
        ("soak anonymous MiB at 10k events".into(), anon_early),
        ("soak anonymous MiB at the end".into(), anon_last),
        ("soak file-backed MiB at 10k events".into(), file_early),
        ("soak file-backed MiB at the end".into(), file_last),
        ("soak SQLite's MiB at 10k events".into(), sqlite_early),
        ("soak SQLite's MiB at the end".into(), sqlite_last),
        (
            "soak relay's open files, most at a sample".into(),
            most_fds as f64,
        ),
        (
            "soak worst window ack p99 ms".into(),
            p99s.last().copied().unwrap_or(f64::NAN),
        ),
        (
            "soak median window ack p99 ms".into(),
            percentile(&p99s, 0.5),
        ),
        (
            "soak median window FULL commit p99 ms (bucket bound)".into(),
            percentile(&commit_p99s_sending, 0.5),
        ),
        (
            "soak lost".into(),
            (total - answers.failed.load(Ordering::Relaxed)).saturating_sub(delivered) as f64,
        ),
        (
            "soak refused".into(),
            answers.failed.load(Ordering::Relaxed) as f64,
        ),
        (
            "soak refused: no answer (client's connection error)".into(),
            answers.unanswered.load(Ordering::Relaxed) as f64,
        ),
        (
            "soak worst window claim ms (mean)".into(),
            claim_ms.last().copied().unwrap_or(f64::NAN),
        ),
        ("pushed twice".into(), twice as f64),
    ])
}

/// What the soak reads from `/metrics` at each sample (zeros, or no buckets, if unreadable).
struct Scraped {
    /// The claim histogram's sum (seconds) and count.
    claims: (f64, f64),
    /// Bytes SQLite holds in the relay.
    sqlite_bytes: f64,
    /// `relay_sqlite_commit_seconds{sync="full"}`: (bucket bound in seconds, cumulative count).
    full_commits: Vec<(f64, f64)>,
}

async fn scrape(http: &reqwest::Client, url: &str) -> Scraped {
    let text = match http.get(url).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |l: &str| l.split_whitespace().last()?.parse::<f64>().ok();
    let read = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(value)
            .unwrap_or(0.0)
    };
    let full_commits = text
        .lines()
        .filter(|l| {
            l.starts_with("relay_sqlite_commit_seconds_bucket{") && l.contains("sync=\"full\"")
        })
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, value(l)?))
        })
        .collect();
    Scraped {
        claims: (
            read("relay_claim_seconds_sum"),
            read("relay_claim_seconds_count"),
        ),
        sqlite_bytes: read("relay_sqlite_memory_bytes"),
        full_commits,
    }
}

/// The bound of the first bucket holding 99% of the commits made between two scrapes, in ms
/// (0 when there were none).
fn commit_p99_ms(before: &[(f64, f64)], now: &[(f64, f64)]) -> f64 {
    let delta = |i: usize| now[i].1 - before.get(i).map_or(0.0, |b| b.1);
    let Some(total) = (!now.is_empty()).then(|| delta(now.len() - 1)) else {
        return 0.0;
    };
    if total <= 0.0 {
        return 0.0;
    }
    (0..now.len())
        .find(|&i| delta(i) >= 0.99 * total)
        .map_or(f64::INFINITY, |i| now[i].0 * 1e3)
}

/// The soak's samples drawn as five stacked panels (RSS, ack p99, deliveries/s, claim time,
/// commit p99), by hand:
/// plain SVG, no plotting dependency for one picture.
fn soak_svg(samples: &[[f64; 8]], args: &Args) -> String {
    const W: f64 = 900.0;
    const PANEL: f64 = 170.0;
    const LEFT: f64 = 70.0;
    let t_max = samples.last().map(|s| s[0]).unwrap_or(1.0).max(1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"14\">soak: {} events at {}/s, {} finished jobs seeded ({})</text>",
        args.soak_events,
        args.soak_rate,
        args.soak_seed,
        if args.database == "sqlite" {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        h = 5.0 * PANEL + 60.0,
    );
    for (i, (column, label, color)) in [
        (1, "RSS MiB", "#1f6feb"),
        (2, "ack p99 ms (window)", "#cf222e"),
        (3, "delivered / s", "#1a7f37"),
        (6, "claim ms (window mean)", "#8250df"),
        (7, "FULL commit p99 ms (window, bucket bound)", "#bf8700"),
    ]
    .into_iter()
    .enumerate()
    {
        let top = 30.0 + i as f64 * PANEL;
        let bottom = top + PANEL - 30.0;
        let max = samples
            .iter()
            .map(|s| s[column])
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.1;
        let points: Vec<String> = samples
            .iter()
            .map(|s| {
                let x = LEFT + s[0] / t_max * (W - LEFT - 20.0);
                let y = bottom - s[column] / max * (bottom - top);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{x2}\" y2=\"{bottom}\" stroke=\"#999\"/>\
             <line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#999\"/>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{max:.1}</text>\
             <text x=\"{lx}\" y=\"{bottom}\" text-anchor=\"end\">0</text>\
             <text x=\"{tx}\" y=\"{ty}\" fill=\"{color}\">{label}</text>\
             <text x=\"{x2}\" y=\"{by}\" text-anchor=\"end\">{t_max:.0} s</text>\
             <polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.join(" "),
            x2 = W - 20.0,
            lx = LEFT - 6.0,
            ty = top + 10.0,
            tx = LEFT + 8.0,
            by = bottom + 14.0,
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// The vacancy's responses, written in one transaction as the worker would write them.
async fn fill(store: &hrflow_relay::store::Store, vacancy: i64, n: usize) -> anyhow::Result<()> {
    let item = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "phone": "+33100000000",
        "resumes": [{"files": [{"name": "resume.pdf", "url": "https://files.example.test/r.pdf"}], "data": {"body": "Summary"}}]})
    .to_string();
    let mut tx = store.pool().begin().await?;
    let start = 1_700_000_000_000i64;
    let sqlite = store.backend() == hrflow_relay::store::Backend::Sqlite;
    let sql = match sqlite {
        true => {
            "INSERT INTO responses (vacancy_id, profile_key, item, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)"
        }
        false => {
            "INSERT INTO responses (vacancy_id, profile_key, item, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
        }
    };
    for i in 0..n as i64 {
        sqlx::query(sql)
            .bind(vacancy)
            .bind(format!("p{i}"))
            .bind(&item)
            .bind(start + (i / 3) * 1000)
            .execute(&mut *tx)
            .await?;
    }
    let sql = match sqlite {
        true => "UPDATE vacancies SET responses_count = ?2 WHERE id = ?1",
        false => "UPDATE vacancies SET responses_count = $2 WHERE id = $1",
    };
    sqlx::query(sql)
        .bind(vacancy)
        .bind(n as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The same profiles through the relay and through 0.2.0, on the same stand-ins.
async fn reference(args: &Args, python: &Path) -> anyhow::Result<Figures> {
    let n = args.reference_profiles;
    let relay = run_load(
        args,
        &Load {
            events: n,
            concurrency: args.concurrency,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            resume_bytes: args.resume_bytes,
            worker_concurrency: args.worker_concurrency,
            key_prefix: "c",
            noop: false,
        },
    )
    .await?;
    let up = relay.upstream.clone();
    *up.seen.lock().unwrap() = Seen::default();
    let url = stand_ins(up.clone()).await?;
    let dir = tempfile::tempdir()?;
    let keys = dir.path().join("keys");
    std::fs::write(
        &keys,
        (0..n).map(|i| format!("r{i:07}\n")).collect::<String>(),
    )?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference.py");
    let started = Instant::now();
    let out = Command::new(python)
        .arg(&script)
        .args([&url, &url, &keys.display().to_string()])
        .stderr(Stdio::inherit())
        .output()?;
    let wall_outer = started.elapsed().as_secs_f64();
    anyhow::ensure!(out.status.success(), "the reference script failed");
    let report = last_json_line(&out.stdout)?;
    let ok = report["ok"].as_f64().unwrap_or(0.0).max(1.0);
    let ref_cpu = report["cpu_s"].as_f64().unwrap_or(f64::NAN) * 1e3 / ok;
    let ref_wall = report["wall_s"].as_f64().unwrap_or(f64::NAN);
    let relay_cpu = relay.cpu * 1e3 / n as f64;
    let mut figures = vec![
        ("relay cpu ms/profile".into(), relay_cpu),
        ("relay wall s".into(), relay.wall),
        ("reference cpu ms/profile".into(), ref_cpu),
        (
            "reference cpu+startup ms/profile".into(),
            report["cpu_total_s"].as_f64().unwrap_or(f64::NAN) * 1e3 / ok,
        ),
        ("reference wall s".into(), ref_wall),
        ("reference process wall s".into(), wall_outer),
        (
            "reference delivered".into(),
            up.seen.lock().unwrap().enriched.len() as f64,
        ),
        ("cpu ratio reference/relay".into(), ref_cpu / relay_cpu),
        ("wall ratio reference/relay".into(), ref_wall / relay.wall),
    ];
    figures.retain(|(_, v)| !v.is_nan());
    Ok(figures)
}

/// The machine's floor, with no relay in between: how many durable writes a second the disk
/// takes, and what the four HTTP exchanges of a delivery cost a bare client. A child process
/// (this program with `BENCH_FLOOR_CLIENT`) makes them per profile, W at a time, against the
/// same stand-ins: the profile, the resume, the push with the resume in base64, the enrich.
async fn floor(args: &Args) -> anyhow::Result<Figures> {
    // 1. fsyncs per second: 4 KiB appended and fdatasync'd, as a WAL commit does, for 2 s;
    // and how long one takes (an acknowledgement waits for at least one).
    let dir = tempfile::tempdir_in(Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))?;
    let (fsyncs, mut fsync_ms) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.path().join("fsync"))?;
        let page = [7u8; 4096];
        let (started, mut took) = (Instant::now(), Vec::new());
        while started.elapsed() < Duration::from_secs(2) {
            let one = Instant::now();
            f.write_all(&page)?;
            f.sync_data()?;
            took.push(one.elapsed().as_secs_f64() * 1e3);
        }
        Ok((took.len() as f64 / started.elapsed().as_secs_f64(), took))
    })
    .await??;
    fsync_ms.sort_by(f64::total_cmp);

    // 2. The store alone.
    let store_dir = tempfile::tempdir_in(Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))?;
    let n = args.events;
    let (intake_cpu, bookkeeping_cpu, store_rate) =
        tokio::task::spawn_blocking(move || store_floor(store_dir.path(), n)).await??;

    // 3. The four exchanges alone.
    let up = Upstream::new(Duration::ZERO, 0.0, args.resume_bytes, 0)?;
    let url = stand_ins(up.clone()).await?;
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .env(
            "BENCH_FLOOR_CLIENT",
            format!("{url},{n},{}", args.worker_concurrency),
        )
        .stderr(Stdio::inherit())
        .output()
        .await?;
    anyhow::ensure!(out.status.success(), "the floor client failed");
    let report = last_json_line(&out.stdout)?;
    let seen = up.seen.lock().unwrap();
    anyhow::ensure!(
        seen.enriched.len() == n && seen.bad_resumes == 0,
        "the floor client delivered {} of {n}",
        seen.enriched.len()
    );
    Ok(vec![
        ("fsyncs/s".into(), fsyncs),
        ("fsync ms p50".into(), percentile(&fsync_ms, 0.5)),
        ("fsync ms p99".into(), percentile(&fsync_ms, 0.99)),
        ("store intake cpu us/event".into(), intake_cpu * 1e6),
        (
            "store bookkeeping cpu us/profile".into(),
            bookkeeping_cpu * 1e6,
        ),
        ("store profiles/s".into(), store_rate),
        (
            "four exchanges cpu ms/profile".into(),
            report["cpu_s"].as_f64().unwrap_or(f64::NAN) * 1e3 / n as f64,
        ),
        (
            "four exchanges profiles/s".into(),
            n as f64 / report["wall_s"].as_f64().unwrap_or(f64::NAN),
        ),
    ])
}

/// On-CPU seconds of the calling thread, to the nanosecond (`/proc/thread-self/schedstat`).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

/// The store's floor: what a profile's writes cost SQLite on this disk at best, with no relay
/// around them. The relay's schema (its migrations) on a bare rusqlite connection in one thread,
/// statements prepared once, and batches as large as the ingest scenario allows: the events of
/// C = 64 requests in one FULL commit; for W = 16 jobs, their claims and push slots in one FULL
/// commit (the slot must outlive a power cut before the push), then their pushed marks and
/// attempts in one NORMAL commit. Answers (intake CPU s/event, bookkeeping CPU s/profile,
/// profiles/s).
fn store_floor(dir: &Path, n: usize) -> anyhow::Result<(f64, f64, f64)> {
    const EVENTS: usize = 64;
    const JOBS: usize = 16;
    let db = rusqlite::Connection::open(dir.join("floor.db"))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )?;
    let mut migrations: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
    migrations.sort();
    for m in migrations {
        db.execute_batch(&std::fs::read_to_string(m)?)?;
    }
    let commit = |sync: &str| -> rusqlite::Result<()> {
        db.execute_batch(&format!("PRAGMA synchronous = {sync}"))?;
        db.execute_batch("BEGIN IMMEDIATE")
    };
    let now = || chrono::Utc::now().timestamp_millis();

    // 1. Intake: the dedupe key, the event, its job.
    let started = Instant::now();
    let cpu0 = thread_cpu_seconds();
    for chunk in (0..n).collect::<Vec<_>>().chunks(EVENTS) {
        commit("FULL")?;
        let t = now();
        for i in chunk {
            let (id, hash, key) = (
                format!("e{i:08}"),
                format!(
                    "{:064x}",
                    (*i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                ),
                format!("p{i:07}"),
            );
            db.prepare_cached("INSERT INTO event_dedupe (body_hash, event_id, received_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (body_hash) DO UPDATE SET event_id = excluded.event_id, received_at = excluded.received_at
                 WHERE event_dedupe.received_at < ?4 RETURNING event_id")?
                .query((&hash, &id, t, t - 60_000))?
                .next()?;
            db.prepare_cached("INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at) VALUES (?1, ?2, 'profile.parsing.success', ?3, 's', ?4)")?
                .execute((&id, &hash, &key, t))?;
            db.prepare_cached("INSERT INTO jobs (event_id, route, profile_key, source_key, next_attempt_at, created_at, updated_at) VALUES (?1, 'r', ?2, 's', ?3, ?3, ?3)")?
                .execute((&id, &key, t))?;
        }
        db.execute_batch("COMMIT")?;
    }
    let intake = (thread_cpu_seconds() - cpu0) / n as f64;

    // 2. Delivery's bookkeeping, W jobs at a time.
    let cpu1 = thread_cpu_seconds();
    let mut claimed: Vec<(i64, String)> = Vec::with_capacity(JOBS);
    loop {
        claimed.clear();
        commit("FULL")?;
        let t = now();
        for _ in 0..JOBS {
            let job = db
                .prepare_cached("UPDATE jobs SET lease_until = ?2, lease_owner = 'w', attempts = attempts + 1, updated_at = ?1
                     WHERE id = (SELECT id FROM jobs INDEXED BY jobs_due WHERE status = 'pending' AND paused = 0 AND next_attempt_at <= ?1
                                 AND (lease_until IS NULL OR lease_until < ?1) ORDER BY next_attempt_at, id LIMIT 1)
                     RETURNING id, profile_key")?
                .query_row((t, t + 60_000), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)));
            match job {
                Ok(job) => claimed.push(job),
                Err(rusqlite::Error::QueryReturnedNoRows) => break,
                Err(e) => return Err(e.into()),
            }
        }
        for (id, key) in &claimed {
            db.prepare_cached("INSERT INTO pushes (route, profile_key, state, job_id, updated_at) VALUES ('r', ?1, 'sending', ?2, ?3)
                 ON CONFLICT (route, profile_key) DO NOTHING RETURNING job_id")?
                .query((key, id, t))?
                .next()?;
        }
        db.execute_batch("COMMIT")?;
        if claimed.is_empty() {
            break;
        }
        commit("NORMAL")?;
        let t = now();
        for (id, key) in &claimed {
            db.prepare_cached("UPDATE pushes SET state = 'pushed', job_id = ?2, updated_at = ?3 WHERE route = 'r' AND profile_key = ?1")?
                .execute((key, id, t))?;
            db.prepare_cached("UPDATE jobs SET status = 'delivered', next_attempt_at = ?2, reason = NULL, lease_until = NULL, lease_owner = NULL,
                     updated_at = ?2, step = 'enriched', profile = NULL WHERE id = ?1 AND lease_owner = 'w' RETURNING id")?
                .query((id, t))?
                .next()?;
            db.prepare_cached("INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error, run)
                 VALUES (?1, ?2, 3, 'enriched', 200, 'delivered', NULL, (SELECT run FROM jobs WHERE id = ?1))")?
                .execute((id, t))?;
        }
        db.execute_batch("COMMIT")?;
    }
    let bookkeeping = (thread_cpu_seconds() - cpu1) / n as f64;
    let delivered: i64 = db.query_row(
        "SELECT COUNT(*) FROM jobs WHERE status = 'delivered'",
        [],
        |r| r.get(0),
    )?;
    anyhow::ensure!(
        delivered as usize == n,
        "the store floor delivered {delivered} of {n}"
    );
    Ok((
        intake,
        bookkeeping,
        n as f64 / started.elapsed().as_secs_f64(),
    ))
}

/// The floor's client: `url,n,w` from `BENCH_FLOOR_CLIENT`; prints its CPU and wall seconds.
async fn floor_client(spec: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = spec.split(',').collect();
    anyhow::ensure!(parts.len() == 3, "BENCH_FLOOR_CLIENT is url,n,w");
    let (url, n, w): (String, usize, usize) =
        (parts[0].into(), parts[1].parse()?, parts[2].parse()?);
    let http = reqwest::Client::new();
    let one = |i: usize| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            use base64::Engine;
            let key = format!("f{i:07}");
            let profile: Value = http
                .get(format!("{url}/profile/indexing"))
                .query(&[("source_key", "s"), ("key", key.as_str())])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let p = &profile["data"];
            let resume_url = p["attachments"][0]["public_url"]
                .as_str()
                .unwrap_or_default();
            let resume = http
                .get(resume_url)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            let email = p["info"]["email"].as_str().unwrap_or_default();
            let push = json!({"vacancy": "v", "firstname": p["info"]["first_name"], "lastname": p["info"]["last_name"],
                "email": email, "phone": p["info"]["phone"], "type": "document",
                "resume": {"fileName": "resume.pdf", "contentType": "application/pdf",
                    "data": base64::engine::general_purpose::STANDARD.encode(&resume)}});
            http.post(format!("{url}/vacancy/candidate/json"))
                .json(&push)
                .send()
                .await?
                .error_for_status()?;
            http.post(format!("{url}/company/c/search/candidate"))
                .json(&json!({"reference": email, "profile": p}))
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(())
        }
    };
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..n)
        .map(one)
        .buffer_unordered(w)
        .collect()
        .await;
    let wall = started.elapsed().as_secs_f64();
    anyhow::ensure!(results.iter().all(Result::is_ok), "an exchange failed");
    println!("{}", json!({"cpu_s": cpu_seconds("self"), "wall_s": wall}));
    Ok(())
}

fn summarize(runs: &[Figures]) -> Vec<(String, f64, f64, f64)> {
    let mut names: Vec<String> = Vec::new();
    for run in runs {
        for (n, _) in run {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mut v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.iter().find(|(n, _)| *n == name).map(|f| f.1))
                .collect();
            v.sort_by(f64::total_cmp);
            let (min, med, max) = (v[0], v[(v.len() - 1) / 2], v[v.len() - 1]);
            (name, min, med, max)
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Ok(spec) = std::env::var("BENCH_FLOOR_CLIENT") {
        return floor_client(&spec).await;
    }
    let args = Args::parse();
    let all = [
        "idle",
        "ingest",
        "latency",
        "memory",
        "careers",
        "backfill",
        "reference",
    ];
    let scenarios: Vec<String> =
        if args.scenarios.is_empty() || args.scenarios.iter().any(|s| s == "all") {
            all.iter().map(|s| s.to_string()).collect()
        } else {
            args.scenarios.clone()
        };
    println!(
        "machine: {} cores, {:.0} GiB; database: {}; {} run(s) per scenario",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        mem_total_gib(),
        if args.database == "sqlite" {
            "sqlite"
        } else {
            "postgresql"
        },
        args.runs
    );
    let mut medians: HashMap<String, f64> = HashMap::new();
    let mut maxima: HashMap<String, f64> = HashMap::new();
    for scenario in &scenarios {
        let mut runs = Vec::new();
        for _ in 0..args.runs.max(1) {
            let figures = match scenario.as_str() {
                "idle" => idle(&args).await?,
                "ingest" => {
                    run_load(
                        &args,
                        &Load {
                            events: args.events,
                            concurrency: args.concurrency,
                            latency: Duration::from_millis(args.latency_ms),
                            fault_rate: args.fault_rate,
                            resume_bytes: args.resume_bytes,
                            worker_concurrency: args.worker_concurrency,
                            key_prefix: "i",
                            noop: true,
                        },
                    )
                    .await?
                    .figures
                }
                "latency" => {
                    run_load(
                        &args,
                        &Load {
                            events: 1000,
                            concurrency: 64,
                            latency: Duration::from_millis(50),
                            fault_rate: 0.0,
                            resume_bytes: args.resume_bytes,
                            worker_concurrency: 64,
                            key_prefix: "l",
                            noop: false,
                        },
                    )
                    .await?
                    .figures
                }
                "memory" => {
                    run_load(
                        &args,
                        &Load {
                            events: 1000,
                            concurrency: 64,
                            latency: Duration::ZERO,
                            fault_rate: 0.0,
                            resume_bytes: 1 << 20,
                            worker_concurrency: 64,
                            key_prefix: "m",
                            noop: false,
                        },
                    )
                    .await?
                    .figures
                }
                "careers" => careers(&args).await?,
                "backfill" => backfill(&args).await?,
                "sync" => sync(&args).await?,
                "soak" => soak(&args).await?,
                "floor" => floor(&args).await?,
                "reference" => match &args.python {
                    Some(python) => reference(&args, python).await?,
                    None => {
                        println!(
                            "reference: skipped (no --python / REFERENCE_PYTHON; see scripts/bench.sh)"
                        );
                        break;
                    }
                },
                other => anyhow::bail!("unknown scenario {other:?}"),
            };
            runs.push(figures);
        }
        if runs.is_empty() {
            continue;
        }
        println!("\n{scenario}:");
        println!("  {:<34} {:>10} {:>10} {:>10}", "", "min", "median", "max");
        for (name, min, med, max) in summarize(&runs) {
            println!("  {name:<34} {min:>10.2} {med:>10.2} {max:>10.2}");
            medians.insert(format!("{scenario}/{name}"), med);
            maxima.insert(format!("{scenario}/{name}"), max);
        }
    }

    println!("\ntargets (medians; losses: the worst run):");
    let target = |label: &str, value: Option<f64>, holds: fn(f64) -> bool, shown: &str| match value
    {
        Some(v) => println!(
            "  {label:<62} {v:>9.2} {shown:<10} {}",
            if holds(v) { "HOLDS" } else { "DOES NOT HOLD" }
        ),
        None => println!("  {label:<62} {:>9} {shown:<10} not measured", "-"),
    };
    let m = |k: &str| medians.get(k).copied();
    target(
        "durable ingest / no-op route req/s, same concurrency",
        m("ingest/ingest/noop"),
        |v| v >= 0.5,
        ">= 0.5",
    );
    target(
        "reference CPU per profile / relay CPU per profile",
        m("reference/cpu ratio reference/relay"),
        |v| v >= 20.0,
        ">= 20",
    );
    target(
        "profiles/s end to end, +50 ms per upstream call, W=64",
        m("latency/delivered/s"),
        |v| v >= 150.0,
        ">= 150",
    );
    target(
        "idle RSS MiB",
        m("idle/idle RSS MiB"),
        |v| v <= 20.0,
        "<= 20",
    );
    target(
        "peak RSS MiB, 1,000 events with 1 MB resumes",
        m("memory/peak RSS MiB"),
        |v| v <= 100.0,
        "<= 100",
    );
    target(
        "careers page p99 ms, 100,000 responses",
        m("careers/careers p99 ms"),
        |v| v <= 5.0,
        "<= 5",
    );
    // Any run that lost or doubled a candidate fails this, whatever the median says.
    let losses: Vec<f64> = maxima
        .iter()
        .filter(|(k, _)| {
            k.ends_with("/lost") || k.ends_with("/pushed twice") || k.ends_with("/bad resumes")
        })
        .map(|(_, v)| *v)
        .collect();
    target(
        "events lost + candidates pushed twice + bad resumes",
        (!losses.is_empty()).then(|| losses.iter().sum::<f64>() + 0.0),
        |v| v == 0.0,
        "== 0",
    );
    Ok(())
}

fn mem_total_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
        / 1024.0
}
