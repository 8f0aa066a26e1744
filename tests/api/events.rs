//! `POST /hrflow/events`: every answer of the contract, and the error shape of every 4xx.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::*;

/// Nothing is delivered in these tests: upstreams point at a closed port.
fn closed_config() -> String {
    base_config("http://127.0.0.1:9", "http://127.0.0.1:9")
}

#[tokio::test]
async fn accepted_then_duplicate_within_the_window() {
    let app = spawn!(&closed_config());
    let body = event_body("p1", SOURCE);
    let r = app.post_event(&body).await;
    assert_eq!(r.status(), 202);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["jobs"], 1);
    let r = app.post_event(&body).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_eq!(
        second,
        json!({"status": "duplicate", "event_id": first["event_id"]})
    );
    assert_eq!(app.jobs().await.len(), 1, "a redelivery creates no job");
    // A different event type for the same profile is a new event.
    let other = body.replace("parsing.success", "storing.success");
    assert_eq!(app.post_event(&other).await.status(), 202);
    assert_eq!(app.jobs().await.len(), 2);
}

#[tokio::test]
async fn sdk_signature_carries_the_event_in_the_header() {
    let app = spawn!(&closed_config());
    let payload = event_body("p-sdk", SOURCE);
    let header = hrflow_relay::hrflow::signature::sdk_header(SECRET.as_bytes(), payload.as_bytes());
    for name in ["HTTP-HRFLOW-SIGNATURE", "HRFLOW-SIGNATURE"] {
        let r = app
            .http
            .post(format!("{}/hrflow/events", app.address))
            .header("Content-Type", "application/json")
            .header(name, &header)
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(
            status == 202 || body["status"] == "duplicate",
            "{name}: {status} {body}"
        );
    }
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].profile_key, "p-sdk");
    // A payload swapped inside a valid-looking header is refused.
    let (sig, _) = header.split_once('.').unwrap();
    let forged = format!(
        "{sig}.{}",
        base64::engine::general_purpose::URL_SAFE.encode(event_body("evil", SOURCE))
    );
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .header("HTTP-HRFLOW-SIGNATURE", forged)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn ignored_without_profile_or_route() {
    let config = closed_config().replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"k0M5O9ylKZnxbQBy\"\nsources = [\"only-this-source\"]",
    );
    let app = spawn!(&config);
    let r = app
        .post_event(r#"{"type": "job.parsing.success", "job": {"key": "j"}}"#)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ignored");
    assert!(body["reason"].as_str().unwrap().contains("no profile"));
    let r = app.post_event(&event_body("p", "another-source")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ignored");
    assert!(body["reason"].as_str().unwrap().contains("no route"));
    assert!(app.jobs().await.is_empty());
}

#[tokio::test]
async fn every_client_error_has_the_errors_shape() {
    let app = spawn!(&closed_config());
    let url = format!("{}/hrflow/events", app.address);
    let cases: Vec<(u16, reqwest::RequestBuilder)> = vec![
        (
            400,
            app.http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("HTTP-HRFLOW-SIGNATURE", sign("not json"))
                .body("not json"),
        ),
        (400, {
            let b = r#"{"type":"profile.parsing.success","profile":{"source":{}}}"#;
            app.http
                .post(&url)
                .header("HTTP-HRFLOW-SIGNATURE", sign(b))
                .body(b)
        }),
        (401, app.http.post(&url).body(event_body("p", SOURCE))),
        (
            401,
            app.http
                .post(&url)
                .header("HTTP-HRFLOW-SIGNATURE", sign("other"))
                .body(event_body("p", SOURCE)),
        ),
        (
            401,
            app.http
                .post(&url)
                .header("HTTP-HRFLOW-SIGNATURE", "%%%.###")
                .body(event_body("p", SOURCE)),
        ),
        (
            413,
            app.http
                .post(&url)
                .header("Content-Type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
        ),
        (
            415,
            app.http
                .post(&url)
                .header("Content-Type", "text/plain")
                .body(event_body("p", SOURCE)),
        ),
        (405, app.http.get(&url)),
        (404, app.http.get(format!("{}/nowhere", app.address))),
    ];
    for (expected, request) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), expected);
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{expected}: not JSON: {e}"));
        assert_error_shape(&body);
    }
    // The 400 for a profile without keys names both fields.
    let b = r#"{"profile":{"source":{}}}"#;
    let body: Value = app.post_event(b).await.json().await.unwrap();
    assert!(
        body["errors"]["profile.key"].is_array() && body["errors"]["profile.source.key"].is_array(),
        "{body}"
    );
    assert!(app.jobs().await.is_empty());
}

#[tokio::test]
async fn without_a_secret_signatures_are_not_checked() {
    let config = base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
        &format!("webhook_secret = \"{SECRET}\""),
        "webhook_secret = \"\"",
    );
    let app = spawn!(&config);
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .body(event_body("p", SOURCE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}
