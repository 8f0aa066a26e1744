//! The pipeline of a job, from event to Flatchr, against fakes.

use std::time::Duration;

use base64::Engine as _;
use hrflow_relay::job::{Status, Step};
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
    assert_eq!(attempts[0].outcome, "delivered");
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
async fn permanent_failures_end_dead_at_once_with_a_reason() {
    let mut hrflow = mockito::Server::new_async().await;
    let no_email = with_files(fixture(16), &hrflow.url());
    hrflow_serving(&mut hrflow, &no_email).await;
    let refused = with_files(fixture(4), &hrflow.url());
    hrflow_serving(&mut hrflow, &refused).await;
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_body(RESUME)
        .create_async()
        .await;
    hrflow
        .mock("GET", "/profile/indexing")
        .match_query(Matcher::UrlEncoded("key".into(), "missing".into()))
        .with_header("content-type", "application/json")
        .with_body(r#"{"code": 400, "message": "Profile not found"}"#)
        .create_async()
        .await;
    let flatchr = FakeFlatchr::start().await;
    flatchr.faults(vec![Fault::Status(400, None)], vec![]);
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
    app.post_event(&event_for(&refused)).await;
    app.dispatch().await;
    app.post_event(&event_for(&no_email)).await;
    app.post_event(&event_body("missing", SOURCE)).await;
    let jobs = app.dispatch().await;
    let reason = |k: &str| {
        let j = jobs.iter().find(|j| j.profile_key == k).unwrap();
        assert_eq!(j.status, Status::Dead);
        assert_eq!(j.attempts, 1, "permanent: no retry");
        j.reason.clone().unwrap()
    };
    assert!(reason(key(&no_email)).contains("no email"));
    assert!(reason(key(&refused)).contains("HTTP 400"));
    assert!(reason("missing").contains("Profile not found"));
    assert!(flatchr.candidates().is_empty());
}

#[tokio::test]
async fn a_script_error_is_permanent_and_names_the_function() {
    let (hrflow, profile) = hrflow_with(1).await;
    let flatchr = FakeFlatchr::start().await;
    let config = base_config(&hrflow.url(), &flatchr.url).replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"k0M5O9ylKZnxbQBy\"\nlogics = [\"broken\"]",
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_for(&profile)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Dead);
    assert!(
        jobs[0].reason.as_deref().unwrap().contains("broken"),
        "{jobs:?}"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_until_delivered() {
    let (hrflow, profile) = hrflow_with(2).await;
    let flatchr = FakeFlatchr::start().await;
    // 503, then 429 asking for 1 s, then a hang past the 500 ms timeout, then success.
    flatchr.faults(
        vec![
            Fault::Status(503, None),
            Fault::Status(429, Some(1)),
            Fault::Hang(Duration::from_secs(2)),
        ],
        vec![Fault::Status(502, None)],
    );
    let config = base_config(&hrflow.url(), &flatchr.url).replace(
        r#"retry_schedule = ["100ms", "100ms", "100ms"]"#,
        r#"retry_schedule = ["100ms", "100ms", "100ms", "100ms", "100ms"]"#,
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_for(&profile)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    let attempts = app.attempts(jobs[0].id).await;
    let statuses: Vec<_> = attempts.iter().map(|a| a.http_status).collect();
    assert_eq!(
        statuses,
        [Some(503), Some(429), None, Some(502), None],
        "{attempts:?}"
    );
    assert!(
        attempts[2].error.as_deref().unwrap().contains("timed out"),
        "{attempts:?}"
    );
    {
        let s = flatchr.state.lock().unwrap();
        // Retry-After: 1 was honoured although the schedule said 100 ms.
        assert!(
            s.push_times[2] - s.push_times[1] >= Duration::from_millis(950),
            "{:?}",
            s.push_times[2] - s.push_times[1]
        );
        // After the hang, the relay searched before pushing again; one candidate in all.
        assert!(s.searches >= 1);
        assert_eq!(s.candidates.len(), 1);
        assert_eq!(s.enriched.len(), 1);
        // The enrich retry did not push again.
        assert_eq!(s.push_requests, 4);
    }
    // The profile was kept between attempts, and the delivered job keeps no copy of it.
    let kept: Option<String> = sqlx::query_scalar("SELECT profile FROM jobs WHERE id = $1")
        .bind(jobs[0].id)
        .fetch_one(app.store().pool())
        .await
        .unwrap();
    assert_eq!(kept, None);
}

#[tokio::test]
async fn a_retry_takes_the_profile_it_kept_instead_of_fetching_it_again() {
    let mut hrflow = mockito::Server::new_async().await;
    let profile = with_files(fixture(2), &hrflow.url());
    let fetch = hrflow_serving(&mut hrflow, &profile).await.expect(1);
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_status(200)
        .with_body(RESUME)
        .create_async()
        .await;
    let flatchr = FakeFlatchr::start().await;
    flatchr.faults(
        vec![Fault::Status(503, None), Fault::Status(503, None)],
        vec![],
    );
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
    app.post_event(&event_for(&profile)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    assert_eq!(app.attempts(jobs[0].id).await.len(), 3);
    // Three attempts, one fetch: the first attempt's profile was kept for the next two.
    fetch.assert_async().await;
    assert_eq!(flatchr.state.lock().unwrap().candidates.len(), 1);
}

#[tokio::test]
async fn a_transient_file_host_failure_is_retried() {
    let mut hrflow = mockito::Server::new_async().await;
    let profile = with_files(fixture(3), &hrflow.url());
    hrflow_serving(&mut hrflow, &profile).await;
    let failing = hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_status(503)
        .create_async()
        .await;
    let flatchr = FakeFlatchr::start().await;
    let config = base_config(&hrflow.url(), &flatchr.url).replace(
        r#"retry_schedule = ["100ms", "100ms", "100ms"]"#,
        r#"retry_schedule = ["1s", "1s"]"#,
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_for(&profile)).await;
    app.run_due().await;
    assert!(failing.matched_async().await);
    failing.remove_async().await;
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_body(RESUME)
        .create_async()
        .await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    assert_eq!(app.attempts(jobs[0].id).await[0].http_status, Some(503));
    assert_eq!(
        flatchr.candidates()[0]["resume"]["data"],
        base64::engine::general_purpose::STANDARD.encode(RESUME)
    );
}

#[tokio::test]
async fn an_exhausted_schedule_ends_dead() {
    let (hrflow, profile) = hrflow_with(5).await;
    let flatchr = FakeFlatchr::start().await;
    flatchr.faults(vec![Fault::Status(500, None); 4], vec![]);
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
    app.post_event(&event_for(&profile)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Dead);
    assert_eq!(jobs[0].attempts, 4);
    assert!(
        jobs[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("retry schedule exhausted after 4 attempts"),
        "{jobs:?}"
    );
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

#[tokio::test]
async fn an_error_body_echoing_the_token_does_not_leak_it() {
    let (hrflow, profile) = hrflow_with(12).await;
    let mut flatchr = mockito::Server::new_async().await;
    flatchr
        .mock("POST", "/vacancy/candidate/json")
        .with_status(422)
        .with_body_from_request(|req| req.body().unwrap().clone())
        .create_async()
        .await;
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url()));
    app.post_event(&event_for(&profile)).await;
    let jobs = app.dispatch().await;
    let reason = jobs[0].reason.clone().unwrap();
    assert!(
        reason.contains("HTTP 422") && reason.contains("***"),
        "{reason}"
    );
    assert!(!reason.contains(FLATCHR_KEY), "{reason}");
}

/// A resume of `n` bytes that is not the same byte over and over.
fn big_resume(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7919 % 251) as u8).collect()
}

#[tokio::test]
async fn a_large_resume_is_streamed_into_the_push_exactly() {
    for (len, chunked) in [(1_000_001, false), (300_002, true)] {
        let mut hrflow = mockito::Server::new_async().await;
        let profile = with_files(fixture(4), &hrflow.url());
        hrflow_serving(&mut hrflow, &profile).await;
        let resume = big_resume(len);
        let file = hrflow.mock("GET", Matcher::Regex(r"^/sources/.*".into()));
        // Without a length the relay reads the resume whole; with one it streams it.
        let file = if chunked {
            let body = resume.clone();
            file.with_chunked_body(move |w| w.write_all(&body))
        } else {
            file.with_body(&resume)
        };
        file.create_async().await;
        let flatchr = FakeFlatchr::start().await;
        let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
        assert_eq!(app.post_event(&event_for(&profile)).await.status(), 202);
        let jobs = app.dispatch().await;
        assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
        let candidates = flatchr.candidates();
        assert_eq!(candidates.len(), 1);
        assert_eq!(
            candidates[0]["resume"]["data"].as_str().unwrap(),
            base64::engine::general_purpose::STANDARD.encode(&resume),
            "chunked: {chunked}"
        );
        assert_eq!(candidates[0]["token"], FLATCHR_KEY);
        assert!(candidates[0]["resume"].get("url").is_none());
    }
}

/// A file host that announces `announced` bytes, sends `sent`, and hangs up, once; then serves
/// `resume` properly.
async fn lying_file_host(resume: Vec<u8>, sent: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = vec![0u8; 4096];
            let _ = conn.read(&mut head).await;
            let body: &[u8] = if first { &resume[..sent] } else { &resume };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                resume.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body).await;
            let _ = conn.shutdown().await;
            first = false;
        }
    });
    url
}

#[tokio::test]
async fn a_download_that_breaks_mid_push_creates_nothing_and_is_retried() {
    let resume = big_resume(400_000);
    let files = lying_file_host(resume.clone(), 150_000).await;
    let mut hrflow = mockito::Server::new_async().await;
    let profile = with_files(fixture(6), &files);
    hrflow_serving(&mut hrflow, &profile).await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
    assert_eq!(app.post_event(&event_for(&profile)).await.status(), 202);
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    let attempts = app.attempts(jobs[0].id).await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let first = attempts[0].error.clone().unwrap_or_default();
    // The file host's early end is the reason, not a Flatchr failure.
    assert!(first.starts_with("file host request failed"), "{first}");
    let s = flatchr.state.lock().unwrap();
    // The broken push never reached the handler as a whole body; no search was needed after.
    assert_eq!(s.candidates.len(), 1);
    assert_eq!(s.searches, 0, "the outcome was known: nothing was created");
    assert_eq!(
        s.candidates[0]["resume"]["data"].as_str().unwrap(),
        base64::engine::general_purpose::STANDARD.encode(&resume)
    );
}
