//! Operating the relay: an expired Flatchr key kills jobs; once it is fixed, one bulk retry
//! delivers every candidate once. Retries keep history and push-once; cancel ends pending jobs.

use hrflow_relay::job::Status;
use serde_json::Value;

use crate::helpers::*;

/// `hrflow-relay jobs ...` against the test's database, as an operator runs it.
fn jobs_cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    relay_cli(app, &[&["jobs"], args].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_then_one_bulk_retry_delivers_every_candidate_once() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // The key expired: Flatchr refuses the first five pushes with 401.
    flatchr.faults(vec![Fault::Status(401, None); 5], vec![]);
    let app = spawn_stepped!(&base_config(&hrflow.url, &flatchr.url));
    for i in 0..5 {
        app.post_event(&event_body(&format!("expired-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    assert!(jobs.iter().all(|j| j.status == Status::Dead), "{jobs:?}");
    assert!(
        jobs.iter()
            .all(|j| j.reason.as_deref().unwrap_or("").contains("401")),
        "{jobs:?}"
    );
    assert!(flatchr.candidates().is_empty());

    // The key is fixed (the fake accepts again); one command sends them all again.
    let (ok, out) = jobs_cli(
        &app,
        &[
            "retry", "--status", "dead", "--reason", "401", "--since", "1h",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["retried"],
        5
    );
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);
    assert_eq!(
        (flatchr.candidates().len(), flatchr.pushes_per_email().len()),
        (5, 5)
    );

    // The history is kept: the refused attempt of run 1, the delivery of run 2.
    let (ok, out) = jobs_cli(&app, &["show", &jobs[0].id.to_string()]);
    assert!(ok, "{out}");
    let shown: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(shown["job"]["run"], 2);
    let runs: Vec<(i64, String)> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["run"].as_i64().unwrap(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [(1, "dead".to_string()), (2, "delivered".to_string())]
    );
    // Nothing is left to retry; a second retry changes nothing.
    let (_, out) = jobs_cli(&app, &["retry", "--status", "dead"]);
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["retried"],
        0
    );
    let (ok, out) = jobs_cli(&app, &["--status", "delivered"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 5, "{out}");
    // A status that is none, or one never retried, is refused with what is allowed.
    let (ok, out) = jobs_cli(&app, &["--status", "lost"]);
    assert!(
        !ok && out.contains("must be pending, delivered, filtered, dead or cancelled"),
        "{out}"
    );
    for word in ["lost", "pending"] {
        let (ok, out) = jobs_cli(&app, &["retry", "--status", word]);
        assert!(
            !ok && out.contains(&format!(
                "--status \"{word}\": only dead, filtered or cancelled jobs are retried"
            )),
            "{out}"
        );
    }
}

#[tokio::test]
async fn a_retried_job_whose_profile_was_pushed_only_enriches() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Pushed, then EnrichProfile refused (403): the job ends dead after the push.
    flatchr.faults(vec![], vec![Fault::Status(403, None)]);
    let app = spawn_stepped!(&base_config(&hrflow.url, &flatchr.url));
    app.post_event(&event_body("pushed-once", SOURCE)).await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Dead, "{jobs:?}");
    assert_eq!(flatchr.candidates().len(), 1);
    assert_eq!(app.store().retry_ids(&[jobs[0].id]).await.unwrap(), 1);
    let jobs = app.dispatch().await;
    assert_all_delivered(&jobs);
    let s = flatchr.state.lock().unwrap();
    assert_eq!(
        (s.push_requests, s.candidates.len(), s.enriched.len()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn cancel_ends_pending_jobs_cancelled_and_nothing_else() {
    // Flatchr is unreachable and the next retry is an hour away: the job stays pending.
    let config = base_config(&FakeHrflow::start().await.url, "http://127.0.0.1:9").replace(
        r#"retry_schedule = ["100ms", "100ms", "100ms"]"#,
        r#"retry_schedule = ["1h"]"#,
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_body("to-cancel", SOURCE)).await;
    let store = app.store();
    // The first attempt, recorded before the CLI below blocks this test's one thread.
    assert_eq!(app.run_due().await.len(), 1);
    let id = store.jobs(None, 10).await.unwrap()[0].id;
    let (ok, out) = jobs_cli(&app, &["cancel", &id.to_string()]);
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["cancelled"],
        1
    );
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (job.status, job.reason.as_deref()),
        (Status::Cancelled, Some("cancelled by an operator"))
    );
    let (ok, out) = jobs_cli(&app, &["list", "--status", "dead"]);
    assert!(
        ok && out.trim().is_empty(),
        "a cancelled job listed as dead: {out}"
    );
    // A job that is not pending is not cancelled; an unknown one neither.
    assert_eq!(store.cancel_ids(&[id, 999_999]).await.unwrap(), 0);
    // Retryable like a dead one.
    let (ok, out) = jobs_cli(&app, &["retry", "--status", "cancelled"]);
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["retried"],
        1
    );
    assert_eq!(
        store.job(id).await.unwrap().unwrap().status,
        Status::Pending
    );
    let (ok, out) = jobs_cli(&app, &["show", "999999"]);
    assert!(!ok && out.contains("no job 999999"), "{out}");
}
