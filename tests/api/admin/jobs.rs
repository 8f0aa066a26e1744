//! Jobs over the API: an expired key alerted, then retried in bulk; one job cancelled and
//! retried.

use std::time::{Duration, Instant};

use hrflow_relay::job::Status;
use serde_json::json;

use super::{ADMIN_TOKEN, AlertSink, admin_section, bearer, call};
use crate::helpers::*;

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
