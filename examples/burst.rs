//! A burst of signed events through the relay to local stand-ins for HrFlow, the file host and
//! Flatchr, all in this process; prints the ingest rate and the time until all are delivered.
//!
//!     cargo run --release --example burst -- [EVENTS] [CONCURRENCY]
//!
//! The relay runs on a fresh SQLite database in a temporary folder, with its default settings
//! but for the stand-in URLs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use hrflow_relay::config::Settings;
use hrflow_relay::startup::Application;
use serde_json::{Value, json};

const SECRET: &str = "bench-secret";

#[derive(Default)]
struct Counts {
    pushes: AtomicUsize,
    enriches: AtomicUsize,
}

async fn stand_ins(template: Value, counts: Arc<Counts>) -> anyhow::Result<String> {
    let data = web::Data::new((template, counts));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::JsonConfig::default().limit(64 << 20))
            .route("/profile/indexing", web::get().to(|q: web::Query<HashMap<String, String>>, d: web::Data<(Value, Arc<Counts>)>, req: actix_web::HttpRequest| async move {
                let key = q.get("key").cloned().unwrap_or_default();
                let mut p = d.0.clone();
                p["key"] = json!(key);
                p["info"]["email"] = json!(format!("{key}@example.org"));
                let base = format!("http://{}", req.connection_info().host());
                p["attachments"] = json!([{"file_name": "resume", "type": "resume", "extension": ".pdf", "public_url": format!("{base}/files/{key}.pdf")}]);
                HttpResponse::Ok().json(json!({"code": 200, "message": "ok", "data": p}))
            }))
            .route("/files/{name}", web::get().to(|| async { HttpResponse::Ok().body(vec![b'%'; 40_000]) }))
            .route("/vacancy/candidate/json", web::post().to(|_b: web::Json<Value>, d: web::Data<(Value, Arc<Counts>)>| async move {
                d.1.pushes.fetch_add(1, Ordering::Relaxed);
                HttpResponse::Ok().json(json!({"status": 200, "response": "applicant created"}))
            }))
            .route("/company/{c}/search/candidate", web::post().to(|_b: web::Json<Value>, d: web::Data<(Value, Arc<Counts>)>| async move {
                d.1.enriches.fetch_add(1, Ordering::Relaxed);
                HttpResponse::Ok().json(json!({"statusCode": 200}))
            }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))?;
    let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    tokio::spawn(server.run());
    Ok(url)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(500);
    let concurrency = args.get(1).copied().unwrap_or(16);
    let template: Value =
        serde_json::from_str(include_str!("../tests/fixtures/profiles/profile-000.json"))?;
    let counts = Arc::new(Counts::default());
    let upstream = stand_ins(template, counts.clone()).await?;

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
port = 0
[database]
url = "sqlite://{db}/relay.db"
[hrflow]
api_url = "{upstream}"
api_key = "k"
user_email = "bench@example.org"
webhook_secret = "{SECRET}"
[flatchr]
careers_url = "{upstream}"
api_url = "{upstream}"
api_key = "k"
company = "c"
[[routes]]
name = "flatchr"
destination = "flatchr"
vacancy = "v"
"#,
            db = dir.path().display()
        ),
    )?;
    let settings = Settings::load_from(Some(&config), HashMap::new())?;
    let app = Application::build(settings).await?.spawn();
    let url = format!("http://127.0.0.1:{}/hrflow/events", app.port);
    let http = reqwest::Client::new();

    let started = Instant::now();
    let statuses: Vec<u16> = futures_util::stream::iter(0..events)
        .map(|i| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let body = json!({"type": "profile.parsing.success", "profile": {"key": format!("p{i:06}"), "source": {"key": "s"}}}).to_string();
                let sig = hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), body.as_bytes());
                http.post(&url).header("HTTP-HRFLOW-SIGNATURE", sig).header("Content-Type", "application/json").body(body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let ingest = started.elapsed();
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    while counts.enriches.load(Ordering::Relaxed) < accepted
        && started.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = started.elapsed();
    println!("events sent:            {events} at concurrency {concurrency}");
    println!("accepted (202):         {accepted}");
    println!(
        "ingest:                 {:.0} events/s ({:.2} s)",
        accepted as f64 / ingest.as_secs_f64(),
        ingest.as_secs_f64()
    );
    println!("all delivered after:    {:.2} s", delivered.as_secs_f64());
    println!(
        "pushes / enriches:      {} / {}",
        counts.pushes.load(Ordering::Relaxed),
        counts.enriches.load(Ordering::Relaxed)
    );
    println!(
        "profiles delivered/s:   {:.0}",
        accepted as f64 / delivered.as_secs_f64()
    );
    app.stop().await;
    Ok(())
}
