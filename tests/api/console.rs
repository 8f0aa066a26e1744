//! The operator's console: the events log (every event, whatever its outcome), finding a
//! candidate (by email through a keyed hash, by job or event id), their timeline, paused
//! routes, and the CLI's tables and JSON.

use std::time::{Duration, Instant};

use hrflow_relay::job::Status;
use serde_json::{Value, json};

use crate::admin::{ADMIN_TOKEN, admin_section};
use crate::helpers::*;

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}{path}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn app_with(extra: &str) -> Option<(TestApp, FakeHrflow, FakeFlatchr)> {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // The route takes one source: an event from another is ignored.
    let config = format!(
        "{}sources = [\"{SOURCE}\"]\n{}\n{extra}",
        base_config(&hrflow.url, &flatchr.url),
        admin_section()
    );
    let db = TestDb::fresh().await?;
    Some((
        TestApp::spawn_stepped_on(&config, db).await,
        hrflow,
        flatchr,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_in_the_log_whatever_its_outcome() {
    let Some((app, _h, _f)) = app_with("").await else {
        return;
    };
    let accepted = event_body("ada", SOURCE);
    assert_eq!(app.post_event(&accepted).await.status(), 202);
    assert_eq!(
        app.post_event(&accepted).await.status(),
        200,
        "a redelivery"
    );
    let unknown = event_body("bob", "some-other-source");
    let r: Value = app.post_event(&unknown).await.json().await.unwrap();
    assert_eq!(r["status"], "ignored");
    let error = json!({"type": "profile.parsing.error", "profile": {"key": "x"}}).to_string();
    assert_eq!(app.post_event(&error).await.status(), 200);

    let (status, page) = get(&app, "/admin/api/events").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["found"], 4, "{page}");
    let items = page["items"].as_array().unwrap();
    // Newest first.
    assert_eq!(items[0]["outcome"], "ignored");
    assert!(
        items[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("error event")
    );
    assert!(items[0].get("profile_key").is_none(), "{}", items[0]);
    assert_eq!(items[1]["outcome"], "ignored");
    assert_eq!(
        items[1]["reason"],
        "no route takes source \"some-other-source\""
    );
    assert_eq!(items[2]["outcome"], "duplicate");
    assert_eq!(items[2]["original_id"], items[3]["id"]);
    assert_eq!(items[3]["outcome"], "accepted");
    assert_eq!(items[3]["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(items[3]["profile_key"], "ada");
    // RFC 3339 UTC times, never epoch numbers.
    let received = items[3]["received_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(received).is_ok() && received.ends_with('Z'));

    let (_, ignored) = get(&app, "/admin/api/events?outcome=ignored&per_page=1").await;
    assert_eq!(
        (ignored["found"].clone(), ignored["pages"].clone()),
        (json!(2), json!(2))
    );
    let (_, by_profile) = get(&app, "/admin/api/events?profile=ada").await;
    assert_eq!(by_profile["found"], 2);
    let (status, body) = get(&app, "/admin/api/events?outcom=ignored").await;
    assert_eq!(status, 400);
    assert_error_shape(&body);
    assert!(body["errors"]["outcom"].is_array(), "{body}");
    let (status, _) = get(&app, "/admin/api/events?outcome=lost").await;
    assert_eq!(status, 400);

    // The CLI, piped: JSON lines.
    let (ok, out) = relay_cli(&app, &["events", "list", "--outcome", "duplicate"]);
    assert!(ok, "{out}");
    let lines: Vec<Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["profile_key"], "ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_is_found_by_email_job_or_event_and_their_timeline_told() {
    let Some((app, _h, _f)) = app_with("").await else {
        return;
    };
    let r: Value = app
        .post_event(&event_body("ada", SOURCE))
        .await
        .json()
        .await
        .unwrap();
    let event_id = r["event_id"].as_str().unwrap().to_string();
    assert_eq!(
        app.post_event(&event_body("bob", SOURCE)).await.status(),
        202
    );
    let jobs = app.dispatch().await;
    let ada_job = jobs.iter().find(|j| j.profile_key == "ada").unwrap().id;

    // The email, in any case: a keyed hash looked up, never the email kept.
    for q in [
        "ADA@Example.org",
        "ada@example.org",
        &ada_job.to_string(),
        &event_id,
        "ada",
    ] {
        let (status, found) = get(&app, &format!("/admin/api/search?q={}", urlencode(q))).await;
        assert_eq!(status, 200, "{found}");
        let items = found["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{q}: {found}");
        assert_eq!(items[0]["profile_key"], "ada", "{q}");
        assert_eq!(items[0]["jobs"][0]["status"], "delivered");
    }
    let (_, none) = get(&app, "/admin/api/search?q=nobody%40example.org").await;
    assert_eq!(none["items"], json!([]));
    let (status, _) = get(&app, "/admin/api/search").await;
    assert_eq!(status, 400);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT email_hash FROM jobs WHERE email_hash IS NOT NULL")
            .fetch_all(app.store().pool())
            .await
            .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|h| !h.contains('@') && h.len() == 64));

    // The jobs of a search, and a strict query.
    let (_, listed) = get(&app, "/admin/api/jobs?q=ADA%40example.org").await;
    assert_eq!(listed["found"], 1, "{listed}");
    let (status, body) = get(&app, "/admin/api/jobs?stauts=dead").await;
    assert_eq!(status, 400);
    assert!(body["errors"]["stauts"].is_array(), "{body}");
    let (ok, out) = relay_cli(&app, &["jobs", "list", "--q", "Ada@example.org"]);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("\"ada\"")).count(),
        1,
        "{out}"
    );

    // The timeline, oldest first: the event, the job with its attempts.
    let (status, t) = get(&app, "/admin/api/profiles/ada").await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["events"][0]["id"], event_id.as_str());
    assert_eq!(t["jobs"][0]["id"], ada_job);
    assert_eq!(t["jobs"][0]["attempts"][0]["outcome"], "delivered");
    assert_eq!(t["jobs"][0]["attempts"][0]["run"], 1);
    assert!(
        t["jobs"][0].get("next_attempt_at").is_none(),
        "no next attempt on a delivered job"
    );
    assert!(t["jobs"][0]["created_at"].as_str().unwrap().ends_with('Z'));
    let (status, _) = get(&app, "/admin/api/profiles/nobody").await;
    assert_eq!(status, 404);

    // Erased: the hash goes with the jobs.
    let r = app
        .http
        .delete(format!("{}/admin/api/profiles/ada", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, gone) = get(&app, "/admin/api/search?q=ada%40example.org").await;
    assert_eq!(gone["items"], json!([]));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_route_keeps_its_jobs_waiting_across_a_restart_until_resumed() {
    let Some((app, hrflow, flatchr)) = app_with("").await else {
        return;
    };
    let (status, r) = post(&app, "/admin/api/routes/flatchr/pause").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["paused"].clone(), r["changed"].clone()),
        (json!(true), json!(true))
    );
    let (status, _) = post(&app, "/admin/api/routes/nope/pause").await;
    assert_eq!(status, 404);
    // Still takes events and makes jobs, which wait with no attempt made.
    assert_eq!(
        app.post_event(&event_body("ada", SOURCE)).await.status(),
        202
    );
    assert_eq!(app.run_due().await, [], "a paused route's job was claimed");
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, Status::Pending);
    assert!(jobs[0].paused);
    assert_eq!(jobs[0].attempts, 0, "no attempt counted");
    assert!(app.attempts(jobs[0].id).await.is_empty());
    let (_, routes) = get(&app, "/admin/api/routes").await;
    assert_eq!(routes["items"][0]["name"], "flatchr");
    assert_eq!(routes["items"][0]["paused"], true);
    assert_eq!(routes["items"][0]["jobs"]["pending"], 1);
    let (_, stats) = get(&app, "/admin/api/stats").await;
    assert_eq!(stats["paused_routes"], json!(["flatchr"]));
    assert_eq!(
        (stats["paused"].clone(), stats["due"].clone()),
        (json!(1), json!(0))
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let started = Instant::now();
    let mut metrics = metrics;
    while !metrics.contains("relay_route_paused{route=\"flatchr\"} 1") {
        assert!(started.elapsed() < Duration::from_secs(10), "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        metrics = app
            .http
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }

    // A restart obeys it; the CLI says so.
    let db = app.stop().await;
    let config = format!(
        "{}sources = [\"{SOURCE}\"]\n{}\n",
        base_config(&hrflow.url, &flatchr.url),
        admin_section()
    );
    let app = TestApp::spawn_stepped_on(&config, db).await;
    assert_eq!(app.run_due().await, [], "a paused route's job was claimed");
    assert!(flatchr.candidates().is_empty());
    let (ok, out) = relay_cli(&app, &["routes", "list"]);
    assert!(ok, "{out}");
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["name"].clone(), line["paused"].clone()),
        (json!("flatchr"), json!(true))
    );

    // Resumed from the CLI: delivered, once.
    let (ok, out) = relay_cli(&app, &["routes", "resume", "flatchr"]);
    assert!(ok, "{out}");
    assert!(out.contains("\"changed\":true"), "{out}");
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(flatchr.candidates().len(), 1);
    let (ok, out) = relay_cli(&app, &["routes", "pause", "nope"]);
    assert!(!ok && out.contains("no route named \"nope\""), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_log_is_forgotten_after_its_period_unless_a_job_needs_it() {
    let Some((app, _h, _f)) = app_with("[retention]\nevents = \"1s\"\n").await else {
        return;
    };
    let (status, _) = post(&app, "/admin/api/routes/flatchr/pause").await;
    assert_eq!(status, 200);
    assert_eq!(
        app.post_event(&event_body("ada", SOURCE)).await.status(),
        202
    );
    let ignored = event_body("bob", "elsewhere");
    assert_eq!(app.post_event(&ignored).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (ok, out) = relay_cli(&app, &["purge"]);
    assert!(ok, "{out}");
    let (_, page) = get(&app, "/admin/api/events").await;
    assert_eq!(page["found"], 1, "the pending job's event stays: {page}");
    assert_eq!(page["items"][0]["profile_key"], "ada");
}
