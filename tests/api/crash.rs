//! The real binary, killed with SIGKILL while its push is in flight, then restarted: Flatchr
//! must not get a second candidate. Then SIGTERM: a graceful exit.

use std::time::{Duration, Instant};

use mockito::Matcher;

use crate::helpers::*;

#[tokio::test]
async fn a_crash_between_push_and_checkpoint_does_not_push_twice() {
    let mut hrflow = mockito::Server::new_async().await;
    let profile = with_files(fixture(10), &hrflow.url());
    hrflow_serving(&mut hrflow, &profile).await;
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_body("resume")
        .create_async()
        .await;
    let flatchr = FakeFlatchr::start().await;
    // The first push creates the candidate and never answers.
    flatchr.faults(vec![Fault::CreateThenHang(Duration::from_secs(30))], vec![]);

    let Some(testdb) = TestDb::fresh().await else {
        return;
    };
    let config = testdb.dir.path().join("relay.toml");
    std::fs::write(
        &config,
        base_config(&hrflow.url(), &flatchr.url)
            .replace("request_timeout = \"500ms\"", "request_timeout = \"20s\"")
            .replace("lease = \"3s\"", "lease = \"2m\""),
    )
    .unwrap();
    let db = testdb.url.clone();

    let (mut first, port) = start_relay(&config, &db);
    let http = reqwest::Client::new();
    let body = event_for(&profile);
    let r = http
        .post(format!("http://127.0.0.1:{port}/hrflow/events"))
        .header("HTTP-HRFLOW-SIGNATURE", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let started = Instant::now();
    while flatchr.candidates().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the push never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.0.kill().unwrap(); // SIGKILL: no chance to record anything
    first.0.wait().unwrap();

    // Restart with a short lease so the orphaned job comes back quickly.
    std::fs::write(&config, base_config(&hrflow.url(), &flatchr.url)).unwrap();
    let store = hrflow_relay::store::Store::connect(&db, 1).await.unwrap();
    sqlx::query("UPDATE jobs SET lease_until = 0")
        .execute(store.pool())
        .await
        .unwrap();
    let (mut second, port) = start_relay(&config, &db);
    let started = Instant::now();
    loop {
        let jobs = store.jobs(None, 10).await.unwrap();
        if jobs[0].status != "pending" {
            assert_eq!(jobs[0].status, "delivered", "{jobs:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let s = flatchr.state.lock().unwrap();
        assert_eq!(s.candidates.len(), 1, "a second candidate was created");
        assert_eq!(s.push_requests, 1);
        assert_eq!(s.searches, 1);
        assert_eq!(s.enriched.len(), 1);
    }

    // SIGTERM: graceful, exit code 0.
    let live = http
        .get(format!("http://127.0.0.1:{port}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    second.sigterm();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = second.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}
