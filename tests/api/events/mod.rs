//! `POST /hrflow/events`: every answer of the contract, and the error shape of every 4xx.

mod arrays;
mod signatures;
mod slow_bodies;

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Nothing is delivered in these tests: upstreams point at a closed port.
fn closed_config() -> String {
    base_config("http://127.0.0.1:9", "http://127.0.0.1:9")
}

/// Posts `body` with `header: value` (no other signature header).
async fn post_signed(app: &TestApp, header: &str, value: &str, body: &str) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/hrflow/events", app.address))
        .header("Content-Type", "application/json")
        .header(header, value)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn typed(profile_key: &str, event_type: &str) -> String {
    event_body(profile_key, SOURCE).replace("profile.parsing.success", event_type)
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
async fn event_types_decide_which_routes_act() {
    let config = format!(
        "{}\n[[routes]]\nname = \"stored-only\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nevents = [\"profile.storing.success\"]\n",
        closed_config()
    );
    let app = spawn!(&config);
    // Error events are ignored, saying why, alone or in an array, and never become jobs.
    for t in [
        "profile.parsing.error",
        "profile.storing.error",
        "profile.indexing.error",
    ] {
        let r = app.post_event(&typed("p-err", t)).await;
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["status"], "ignored");
        assert!(
            answer["reason"]
                .as_str()
                .unwrap()
                .contains("could not produce the profile")
        );
    }
    assert!(app.jobs().await.is_empty());
    // The default route (empty `events`) takes the types meaning a profile exists, under
    // every name; the explicit route takes exactly what it lists.
    let expect = [
        ("profile.parsing.success", vec!["flatchr"]),
        ("profile.storing.success", vec!["flatchr", "stored-only"]),
        ("profile.indexing.update", vec!["flatchr"]),
        ("profile.parse.success", vec!["flatchr"]),
        ("profile.tagging.success", vec![]),
    ];
    for (i, (t, routes)) in expect.iter().enumerate() {
        let key = format!("p-{i}");
        let r = app.post_event(&typed(&key, t)).await;
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer["jobs"].as_u64().unwrap_or(0) as usize,
            routes.len(),
            "{t}: {answer}"
        );
        let mut got: Vec<String> = app
            .jobs()
            .await
            .into_iter()
            .filter(|j| j.profile_key == key)
            .map(|j| j.route)
            .collect();
        got.sort();
        assert_eq!(got, *routes, "{t}");
    }
}

#[tokio::test]
async fn a_profile_parsed_then_stored_creates_one_candidate() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn!(&base_config(&hrflow.url, &flatchr.url));
    // HrFlow sends both events, here even in one array, for one profile.
    let both = format!(
        "[{}, {}]",
        typed("parsed-stored", "profile.parsing.success"),
        typed("parsed-stored", "profile.storing.success")
    );
    let answer: Value = app.post_event(&both).await.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], "accepted");
    assert_eq!(answer["results"][1]["status"], "accepted");
    // And again separately, later.
    app.post_event(&typed("parsed-stored", "profile.storing.update"))
        .await;
    let jobs = app.settle(Duration::from_secs(10)).await;
    assert_eq!(jobs.len(), 3);
    assert_all_delivered(&jobs);
    let candidates = flatchr.candidates();
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    assert_eq!(candidates[0]["email"], "parsed-stored@example.org");
}

#[tokio::test]
async fn a_captured_event_replayed_an_hour_later_is_still_a_duplicate() {
    let app = spawn!(&base_config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    let body = event_body("replayed", SOURCE);
    assert_eq!(app.post_event(&body).await.status(), 202);
    let ago = |ms: i64| {
        let sql = if crate::BACKEND == Backend::Sqlite {
            "UPDATE event_dedupe SET received_at = received_at - ?"
        } else {
            "UPDATE event_dedupe SET received_at = received_at - $1"
        };
        sqlx::query(sql).bind(ms).execute(app.store().pool())
    };
    // HrFlow's signature carries no time: the window is the replay guard. An hour is well past
    // the old ten minutes, well within the week.
    ago(3_600_000).await.unwrap();
    let r = app.post_event(&body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "duplicate");
    // Past the window (a week), the same body is an event again.
    ago(7 * 86_400_000).await.unwrap();
    assert_eq!(app.post_event(&body).await.status(), 202);
    assert_eq!(app.jobs().await.len(), 2);
}
