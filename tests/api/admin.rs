//! The operator's HTTP side: `/admin/api` behind `[admin]` credentials (never the careers
//! ones), bulk retry after an expired key, cancel, alerts, purge and erase.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use hrflow_relay::job::Status;
use serde_json::{Value, json};

use crate::helpers::*;

pub const ADMIN_TOKEN: &str = "admin-token-789-long-enough";
pub const ADMIN_USER: &str = "ops:admin-pass-012";

pub fn admin_section() -> String {
    format!("[admin]\ntokens = [\"{ADMIN_TOKEN}\"]\nbasic_users = [\"{ADMIN_USER}\"]\n")
}

pub fn basic(user: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user)
    )
}

/// A request to the admin area with `auth` (an Authorization value, or none).
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.http.request(method, format!("{}{path}", app.address));
    if let Some(a) = auth {
        r = r.header("Authorization", a);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn bearer() -> String {
    format!("Bearer {ADMIN_TOKEN}")
}

/// An incoming-webhook stand-in that records every message.
pub struct AlertSink {
    pub url: String,
    pub messages: Arc<Mutex<Vec<Value>>>,
}

impl AlertSink {
    pub async fn start() -> Self {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::from(messages.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route(
                "/hooks/T000/B000/XXXX",
                web::post().to(
                    |body: web::Json<Value>, m: web::Data<Mutex<Vec<Value>>>| async move {
                        m.lock().unwrap().push(body.0);
                        HttpResponse::Ok().body("ok")
                    },
                ),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hooks/T000/B000/XXXX"),
            messages,
        }
    }

    pub fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

#[tokio::test]
async fn the_admin_api_needs_its_own_credentials() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // No [admin] credentials: closed to everyone, even with the careers token.
    let closed = format!(
        "{}\n[careers]\ntokens = [\"careers-token\"]\n",
        base_config(&hrflow.url, &flatchr.url)
    );
    let app = spawn!(&closed);
    for auth in [None, Some("Bearer careers-token"), Some("Bearer ")] {
        let (status, body) = call(&app, reqwest::Method::GET, "/admin/api/jobs", auth, None).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert_error_shape(&body);
    }
    let r = app
        .http
        .get(format!("{}/admin", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"),
        "a browser must be asked for Basic credentials"
    );
    drop(app);

    let open = format!(
        "{}\n[careers]\ntokens = [\"careers-token\"]\nbasic_users = [\"hf:hf-pass\"]\n{}",
        base_config(&hrflow.url, &flatchr.url),
        admin_section()
    );
    let app = spawn!(&open);
    for (auth, want) in [
        (None, 401),
        (Some("Bearer wrong".to_string()), 401),
        (Some("Bearer careers-token".to_string()), 401),
        (Some(basic("hf:hf-pass")), 401),
        (Some(basic("ops:wrong")), 401),
        (Some("Digest abc".to_string()), 401),
        (Some(bearer()), 200),
        (Some(basic(ADMIN_USER)), 200),
    ] {
        let (status, body) = call(
            &app,
            reqwest::Method::GET,
            "/admin/api/jobs",
            auth.as_deref(),
            None,
        )
        .await;
        assert_eq!(status, want, "{auth:?}: {body}");
        if want == 401 {
            assert_error_shape(&body);
        } else {
            assert_eq!(
                body,
                json!({"items": [], "page": 1, "pages": 1, "per_page": 20, "found": 0})
            );
        }
    }
    // Bad input: clear errors in the usual shape.
    let b = bearer();
    for (method, path, body, want, field) in [
        (
            reqwest::Method::GET,
            "/admin/api/jobs?status=lost",
            None,
            400,
            Some("status"),
        ),
        (
            reqwest::Method::GET,
            "/admin/api/jobs?page=-1",
            None,
            400,
            Some("page"),
        ),
        (
            reqwest::Method::GET,
            "/admin/api/jobs/12345",
            None,
            404,
            None,
        ),
        (reqwest::Method::GET, "/admin/api/jobs/abc", None, 404, None),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/12345/retry",
            None,
            404,
            None,
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/12345/cancel",
            None,
            404,
            None,
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": "pending"})),
            400,
            Some("status"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": "dead", "rout": "x"})),
            400,
            Some("rout"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": "dead", "since": "yesterday"})),
            400,
            Some("since"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!({"status": 3})),
            400,
            Some("status"),
        ),
        (
            reqwest::Method::POST,
            "/admin/api/jobs/retry",
            Some(json!([1])),
            400,
            None,
        ),
        (reqwest::Method::PUT, "/admin/api/stats", None, 405, None),
    ] {
        let (status, got) = call(&app, method.clone(), path, Some(&b), body.clone()).await;
        assert_eq!(status, want, "{method} {path} {body:?}: {got}");
        assert_error_shape(&got);
        if let Some(f) = field {
            assert!(got["errors"][f].is_array(), "{path}: {got}");
        }
    }
    // The wrong status is answered with the ones that are right.
    let (_, got) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/jobs?status=lost",
        Some(&b),
        None,
    )
    .await;
    assert_eq!(
        got["errors"]["status"],
        json!(["must be pending, delivered, filtered, dead or cancelled"])
    );
    let (_, got) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/retry",
        Some(&b),
        Some(json!({"status": "pending"})),
    )
    .await;
    assert_eq!(
        got["errors"]["status"],
        json!(["\"pending\": only dead, filtered or cancelled jobs are retried"])
    );
    // Not JSON at all.
    let r = app
        .http
        .post(format!("{}/admin/api/jobs/retry", app.address))
        .header("Authorization", &b)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error_shape(&r.json().await.unwrap());
    // A browser's Basic credentials alone do not make changes: the page's CSRF token is needed.
    let (status, got) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/retry",
        Some(&basic(ADMIN_USER)),
        Some(json!({"status": "dead"})),
    )
    .await;
    assert_eq!(status, 403, "{got}");
    assert_error_shape(&got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_alerted_then_retried_in_bulk_over_the_api() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let alerts = AlertSink::start().await;
    flatchr.faults(vec![Fault::Status(401, None); 6], vec![]);
    let config = format!(
        "{}\n{}\n[alerts]\nwebhook_url = \"{}\"\nmin_interval = \"3s\"\n",
        base_config(&hrflow.url, &flatchr.url).replace(
            "[server]\n",
            "[server]\npublic_url = \"https://relay.example.com/\"\n"
        ),
        admin_section(),
        alerts.url
    );
    let app = spawn_stepped!(&config);
    for i in 0..6 {
        app.post_event(&event_body(&format!("expired-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert!(jobs.iter().all(|j| j.status == Status::Dead), "{jobs:?}");

    // One message for the whole burst, within seconds; no secret in it.
    let started = Instant::now();
    while alerts.texts().is_empty() && started.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let texts = alerts.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let text = &texts[0];
    assert!(
        text.contains("refused the credentials (HTTP 401) on route \"flatchr\", 6 time(s)"),
        "{text}"
    );
    assert!(
        text.contains("6 job(s) went dead on route \"flatchr\""),
        "{text}"
    );
    assert!(text.contains("https://relay.example.com/admin"), "{text}");
    for secret in [
        FLATCHR_KEY,
        HRFLOW_KEY,
        SECRET,
        ADMIN_TOKEN,
        "admin-pass-012",
        "XXXX",
    ] {
        assert!(!text.contains(secret), "a secret in the alert: {text}");
    }
    // Metrics say the same.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The recorder is the process's: other tests add to the same counters.
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {metrics}"))
    };
    assert!(value("relay_upstream_refused_total{route=\"flatchr\",status=\"401\"}") >= 6.0);
    assert!(value("relay_alerts_total{result=\"sent\"}") >= 1.0);
    assert!(value("relay_jobs_dead") >= 0.0);

    // The status numbers.
    let (status, stats) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/stats",
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["routes"][0]["dead"], 6, "{stats}");
    assert_eq!(stats["hours"].as_array().unwrap().len(), 24);
    let dead_this_hour: i64 = stats["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["dead"].as_i64().unwrap())
        .sum();
    assert_eq!(dead_this_hour, 6);
    assert_eq!(stats["dead_causes"][0]["jobs"], 6, "{stats}");

    // The key is fixed; one call sends them all again, each candidate once.
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/retry",
        Some(&bearer()),
        Some(json!({"status": "dead", "route": "flatchr", "reason": "401", "since": "1h"})),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"retried": 6})));
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);
    assert_eq!(
        (flatchr.candidates().len(), flatchr.pushes_per_email().len()),
        (6, 6)
    );

    // Listing and paging, newest first; a job with both runs' attempts.
    let (_, page) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/jobs?status=delivered&per_page=4&page=2",
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!(
        (
            page["found"].as_i64(),
            page["pages"].as_i64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(6), Some(2), 2),
        "{page}"
    );
    assert!(page["items"][0]["id"].as_i64() > page["items"][1]["id"].as_i64());
    let id = jobs[0].id;
    let (_, shown) = call(
        &app,
        reqwest::Method::GET,
        &format!("/admin/api/jobs/{id}"),
        Some(&bearer()),
        None,
    )
    .await;
    let runs: Vec<(i64, &str)> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["run"].as_i64().unwrap(), a["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(runs, [(1, "dead"), (2, "delivered")], "{shown}");
    // Retrying a delivered job changes nothing.
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        &format!("/admin/api/jobs/{id}/retry"),
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({"retried": 0})));
}

#[tokio::test]
async fn cancel_and_retry_one_job_over_the_api() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Flatchr is down: the job stays pending, retrying in an hour.
    flatchr.faults(vec![Fault::Status(503, None); 3], vec![]);
    let config = format!(
        "{}\n{}",
        base_config(&hrflow.url, &flatchr.url)
            .replace("[\"100ms\", \"100ms\", \"100ms\"]", "[\"1h\"]"),
        admin_section()
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_body("to-cancel", SOURCE)).await;
    app.run_due().await;
    assert!(!app.attempts(1).await.is_empty());
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/1/cancel",
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
    let job = app.store().job(1).await.unwrap().unwrap();
    assert_eq!(
        (job.status, job.reason.as_deref()),
        (Status::Cancelled, Some("cancelled by an operator"))
    );
    // An operator's own action is no failure: nothing dead, the cancelled counted apart.
    let (_, stats) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/stats",
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!(
        (
            stats["routes"][0]["dead"].as_i64(),
            stats["routes"][0]["cancelled"].as_i64()
        ),
        (Some(0), Some(1)),
        "{stats}"
    );
    let (_, listed) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/jobs?status=cancelled",
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!(listed["found"], 1, "{listed}");
    // Cancelled by mistake: retried, it is delivered (Flatchr is back).
    flatchr.faults(vec![], vec![]);
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/jobs/1/retry",
        Some(&bearer()),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({"retried": 1})));
    assert_all_delivered(&app.dispatch().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_alert_endpoint_never_slows_delivery() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Every message would wait for its 10 s timeout.
    let hook = silent_server().await;
    flatchr.faults(vec![Fault::Status(401, None); 10], vec![]);
    let config = format!(
        "{}\n[alerts]\nwebhook_url = \"{hook}/hook\"\nmin_interval = \"1s\"\n",
        base_config(&hrflow.url, &flatchr.url)
    );
    let app = spawn_stepped!(&config);
    let started = Instant::now();
    for i in 0..10 {
        app.post_event(&event_body(&format!("dead-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert!(jobs.iter().all(|j| j.status == Status::Dead));
    for i in 0..10 {
        app.post_event(&event_body(&format!("alive-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert_eq!(
        jobs.iter()
            .filter(|j| j.status == Status::Delivered)
            .count(),
        10
    );
    // Twenty deliveries, ten of them with an alert each stuck: far less than one alert timeout.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn guessing_logins_is_refused_for_a_minute_after_ten_failures() {
    let config = format!(
        "{}\n{}[careers]\ntokens = [\"careers-token-for-guessing\"]\n",
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9"),
        admin_section()
    );
    let app = spawn!(&config);
    // A browser's first request carries no credentials: no guess, never counted.
    for _ in 0..20 {
        let (status, _) = call(&app, reqwest::Method::GET, "/admin/api/stats", None, None).await;
        assert_eq!(status, 401);
    }
    for i in 0..10 {
        let (status, _) = call(
            &app,
            reqwest::Method::GET,
            "/admin/api/stats",
            Some(&basic(&format!("ops:guess-{i}"))),
            None,
        )
        .await;
        assert_eq!(status, 401, "guess {i}");
    }
    // The eleventh is not even looked at, nor are the right credentials now.
    for auth in [basic("ops:guess-10"), basic(ADMIN_USER), bearer()] {
        let r = app
            .http
            .get(format!("{}/admin/api/stats", app.address))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["Retry-After"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_error_shape(&r.json().await.unwrap());
    }
    // The careers credentials are counted apart: Huntflow is not locked out by the admin's.
    let r = app
        .http
        .get(format!("{}/careers/version", app.address))
        .bearer_auth("careers-token-for-guessing")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for i in 0..10 {
        let r = app
            .http
            .get(format!("{}/careers/version", app.address))
            .bearer_auth(format!("wrong-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .http
        .get(format!("{}/careers/version", app.address))
        .bearer_auth("careers-token-for-guessing")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}
