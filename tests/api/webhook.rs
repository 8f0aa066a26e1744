//! The webhook destination against a local receiver: Standard Webhooks signatures checked by
//! an implementation written here from the specification, retries on 5xx and 429 with the
//! same message id, dead on 410, and `preview` showing the body.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hrflow_relay::job::{Ended, Status};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

const KEY: &[u8] = b"a receiver's shared key, 32 bytes";

fn whsec() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    )
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    timestamp: String,
    signature: String,
    tenant: String,
    content_type: String,
    body: String,
}

#[derive(Default)]
struct Receiver {
    seen: Vec<Seen>,
    /// Statuses to answer, in order; then 204.
    answers: VecDeque<(u16, Option<&'static str>)>,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<Receiver>>,
) -> HttpResponse {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut s = state.lock().unwrap();
    s.seen.push(Seen {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        tenant: header("x-tenant"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    match s.answers.pop_front() {
        Some((status, retry_after)) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if let Some(seconds) = retry_after {
                r.insert_header(("Retry-After", seconds));
            }
            r.body(format!("receiver says {status}"))
        }
        None => HttpResponse::NoContent().finish(),
    }
}

async fn receiver() -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver::default()));
    let data = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/ats/candidates", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/ats/candidates"), state)
}

/// Standard Webhooks verification, from the specification: HMAC-SHA256 over
/// "{id}.{timestamp}.{body}" keyed with the secret's base64 part, base64, "v1," prefixed; the
/// header may hold several space-separated signatures; the timestamp must be recent.
fn verify(secret: &str, seen: &Seen) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let ts: i64 = seen.timestamp.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", seen.id, seen.timestamp, seen.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    seen.signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

fn webhook_config(hrflow: &str, url: &str, extra: &str) -> String {
    let base = base_config(hrflow, "http://127.0.0.1:9");
    let head = base.split("[[routes]]").next().unwrap();
    format!(
        "{head}\n[[routes]]\nname = \"ats\"\ndestination = \"webhook\"\nurl = \"{url}\"\nsecret = \"{}\"\nheaders = {{ \"X-Tenant\" = \"acme\" }}\n{extra}\n",
        whsec()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_post_retried_on_5xx_and_429_with_one_message_id() {
    let hrflow = FakeHrflow::start().await;
    let (url, receiver) = receiver().await;
    receiver.lock().unwrap().answers = VecDeque::from([(503, None), (429, Some("0")), (200, None)]);
    let app = spawn_stepped!(&webhook_config(&hrflow.url, &url, ""));
    assert_eq!(
        app.post_event(&event_body("hooked-1", SOURCE))
            .await
            .status(),
        202
    );
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);
    let seen = receiver.lock().unwrap().seen.clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for s in &seen {
        assert!(verify(&whsec(), s), "signature does not verify: {s:?}");
        assert_eq!(
            s.id,
            format!("msg_{}_ats", jobs[0].event_id.replace('-', "")),
            "the event's UUID and the route, on every try"
        );
        assert_ne!(s.id, jobs[0].id.to_string(), "never a bare row number");
        assert_eq!(
            (s.tenant.as_str(), s.content_type.as_str()),
            ("acme", "application/json")
        );
    }
    // A tampered body does not verify: the check can fail.
    let mut tampered = seen[2].clone();
    tampered.body = tampered.body.replace("hooked-1", "hooked-2");
    assert!(!verify(&whsec(), &tampered));
    let body: Value = serde_json::from_str(&seen[2].body).unwrap();
    assert_eq!(body["type"], "profile.parsing.success");
    assert_eq!(body["profile"]["key"], "hooked-1");
    assert_eq!(body["profile"]["info"]["email"], "hooked-1@example.org");
    let attempts: Vec<(Option<i64>, Ended)> = app
        .attempts(jobs[0].id)
        .await
        .into_iter()
        .map(|a| (a.http_status, a.outcome))
        .collect();
    assert_eq!(
        attempts,
        [
            (Some(503), Ended::Retry),
            (Some(429), Ended::Retry),
            (None, Ended::Delivered)
        ]
    );
}

#[tokio::test]
async fn gone_is_dead_and_a_format_sets_the_body() {
    let hrflow = FakeHrflow::start().await;
    let (url, receiver) = receiver().await;
    receiver.lock().unwrap().answers = VecDeque::from([(410, None)]);
    let app = spawn_stepped!(&webhook_config(
        &hrflow.url,
        &url,
        "format = \"ats_candidate\""
    ));
    app.post_event(&event_body("gone-1", SOURCE)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Dead);
    let reason = jobs[0].reason.clone().unwrap();
    assert!(
        reason.contains("HTTP 410") && reason.contains("receiver says 410"),
        "{reason}"
    );
    app.post_event(&event_body("formatted-1", SOURCE)).await;
    let jobs = app.dispatch().await;
    assert_eq!(
        jobs.iter()
            .filter(|j| j.status == Status::Delivered)
            .count(),
        1
    );
    let seen = receiver.lock().unwrap().seen.clone();
    let body: Value = serde_json::from_str(&seen.last().unwrap().body).unwrap();
    assert_eq!(
        body,
        json!({"candidate": {"email": "formatted-1@example.org", "name": "Dijkstra"}, "source": "hrflow"})
    );
    assert!(verify(&whsec(), seen.last().unwrap()));
}

#[test]
fn preview_shows_the_body_and_check_config_the_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        webhook_config("http://127.0.0.1:9", "https://ats.example.com/in", ""),
    )
    .unwrap();
    let profile = format!(
        "{}/tests/fixtures/profiles/profile-000.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(["preview", "--profile", &profile, "--route", "ats"])
        .env("RELAY_CONFIG", &config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["destination"].as_str()),
        (Some("send"), Some("webhook"))
    );
    assert_eq!(v["url"], "https://ats.example.com/in");
    assert_eq!(v["body"]["profile"]["info"]["last_name"], "Dijkstra");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&whsec()));

    let bad = webhook_config("http://127.0.0.1:9", "ftp://nowhere", "")
        .replace(&whsec(), "not-a-secret")
        .replace("\"X-Tenant\" = \"acme\"", "\"webhook-id\" = \"mine\"");
    std::fs::write(&config, bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .arg("check-config")
        .env("RELAY_CONFIG", &config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    for needle in [
        "url \"ftp://nowhere\" is not an http(s) URL",
        "not \"whsec_\" followed by base64",
        "\"webhook-id\", which the relay sets itself",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(!text.contains("not-a-secret"), "{text}");
}
