//! Failures: permanent ones end dead at once with a reason, transient ones are retried until
//! delivered or the schedule is exhausted, and no error body leaks a token.

use std::time::Duration;

use hrflow_relay::job::Status;
use mockito::Matcher;

use super::{RESUME, hrflow_with, key};
use crate::helpers::*;

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
