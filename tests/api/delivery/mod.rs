//! The pipeline of a job, from event to Flatchr, against fakes.

mod failures;
mod resume;

use std::time::Duration;

use base64::Engine as _;
use hrflow_relay::job::{Ended, Status, Step};
use mockito::Matcher;
use serde_json::{Value, json};

use crate::helpers::*;

const RESUME: &[u8] = b"%PDF-1.4 a resume";

/// An HrFlow + file host serving the profile `n`; returns the server and the profile.
async fn hrflow_with(n: usize) -> (mockito::ServerGuard, Value) {
    let mut server = mockito::Server::new_async().await;
    let profile = with_files(fixture(n), &server.url());
    hrflow_serving(&mut server, &profile).await;
    server
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_status(200)
        .with_body(RESUME)
        .create_async()
        .await;
    (server, profile)
}

fn key(p: &Value) -> &str {
    p["key"].as_str().unwrap()
}

#[tokio::test]
async fn accepted_pushed_and_enriched_field_for_field() {
    let (hrflow, profile) = hrflow_with(0).await;
    let mut flatchr = mockito::Server::new_async().await;
    let push = flatchr
        .mock("POST", "/vacancy/candidate/json")
        .match_header("authorization", format!("Bearer {FLATCHR_KEY}").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "vacancy": "k0M5O9ylKZnxbQBy", "firstname": "Margaret", "lastname": "Dijkstra", "type": "document",
            "email": "ded23fd432@example.org",
            "resume": {"fileName": "resume.pdf", "contentType": "application/pdf", "data": base64::engine::general_purpose::STANDARD.encode(RESUME)},
            "token": FLATCHR_KEY,
        })))
        .with_status(200)
        .with_body(r#"{"status": 200, "response": "applicant created"}"#)
        .expect(1)
        .create_async()
        .await;
    let enrich = flatchr
        .mock("POST", "/company/LEZBvp5b4LdMoVmg/search/candidate")
        .match_header("authorization", format!("Bearer {FLATCHR_KEY}").as_str())
        .match_body(Matcher::PartialJson(json!({
            "app_name": "HRMatch", "reference": "ded23fd432@example.org", "name": "parsing", "type": "applicants",
            "value": {"name": {"formattedName": "Margaret Dijkstra", "given": "Margaret", "family": "Dijkstra"},
                      "experience": 22, "position": ["Backend Engineer", "Разработчик", "Data Scientist"]}
        })))
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url()));
    assert_eq!(app.post_event(&event_for(&profile)).await.status(), 202);
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    assert_eq!(jobs[0].step, Step::reached("enriched"));
    push.assert_async().await;
    enrich.assert_async().await;
    let attempts = app.attempts(jobs[0].id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, Ended::Delivered);
}

#[tokio::test]
async fn a_filtered_profile_names_its_logic_and_sends_nothing() {
    let (hrflow, profile) = hrflow_with(11).await; // 2.26 years of experience
    let flatchr = FakeFlatchr::start().await;
    let config = base_config(&hrflow.url(), &flatchr.url).replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"k0M5O9ylKZnxbQBy\"\nlogics = [\"has_email\", \"senior_only\"]",
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_for(&profile)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Filtered);
    assert!(
        jobs[0].reason.as_deref().unwrap().contains("senior_only"),
        "{jobs:?}"
    );
    assert!(flatchr.candidates().is_empty() && flatchr.enriched().is_empty());
}

#[tokio::test]
async fn a_profile_is_pushed_once_per_route_and_enriched_again() {
    let (hrflow, profile) = hrflow_with(6).await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn!(&base_config(&hrflow.url(), &flatchr.url));
    let body = event_for(&profile);
    app.post_event(&body).await;
    app.post_event(&body.replace("parsing.success", "storing.update"))
        .await;
    app.post_event(&body.replace("parsing.success", "parsing.update"))
        .await;
    let jobs = app.settle(Duration::from_secs(10)).await;
    assert_all_delivered(&jobs);
    assert_eq!(flatchr.candidates().len(), 1);
    assert_eq!(flatchr.enriched().len(), 3);
}

#[tokio::test]
async fn a_restart_resumes_pending_jobs() {
    let silent = silent_server().await;
    let flatchr = FakeFlatchr::start().await;
    // First life: HrFlow never answers, and shutdown does not wait for it.
    let config = base_config(&silent, &flatchr.url)
        .replace("request_timeout = \"500ms\"", "request_timeout = \"30s\"")
        .replace("lease = \"3s\"", "lease = \"5m\"")
        .replace("shutdown_grace = \"5s\"", "shutdown_grace = \"200ms\"");
    let app = spawn!(&config);
    for n in [7, 8, 9] {
        assert_eq!(app.post_event(&event_for(&fixture(n))).await.status(), 202);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = app.stop().await;

    // Second life on the same database, HrFlow back.
    let mut hrflow = mockito::Server::new_async().await;
    for n in [7, 8, 9] {
        let profile = with_files(fixture(n), &hrflow.url());
        hrflow_serving(&mut hrflow, &profile).await;
    }
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_body(RESUME)
        .create_async()
        .await;
    let app = TestApp::spawn_on(&base_config(&hrflow.url(), &flatchr.url), db).await;
    let jobs = app.settle(Duration::from_secs(10)).await;
    assert_eq!(jobs.len(), 3);
    assert_all_delivered(&jobs);
    assert_eq!(flatchr.candidates().len(), 3);
}
