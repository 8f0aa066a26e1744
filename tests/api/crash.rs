//! The real binary, killed with SIGKILL while its push is in flight, then restarted: Flatchr
//! must not get a second candidate. Then SIGTERM: a graceful exit.

use std::time::{Duration, Instant};

use hrflow_relay::job::Status;
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
        if jobs[0].status != Status::Pending {
            assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
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
    let status = second
        .exit_within(Duration::from_secs(15), "no exit after SIGTERM")
        .await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_push_hanging_exits_within_the_grace_and_releases_the_job() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = silent_server().await;
    let Some(testdb) = TestDb::fresh().await else {
        return;
    };
    let config = testdb.dir.path().join("relay.toml");
    // The push would hang for 20 s; the grace is 2 s, as a platform's kill timeout demands.
    std::fs::write(
        &config,
        base_config(&hrflow.url, &flatchr)
            .replace("request_timeout = \"500ms\"", "request_timeout = \"20s\"")
            .replace("lease = \"3s\"", "lease = \"100s\"")
            .replace("shutdown_grace = \"5s\"", "shutdown_grace = \"2s\""),
    )
    .unwrap();
    let (relay, port) = start_relay(&config, &testdb.url);
    let http = reqwest::Client::new();
    assert_eq!(send_event(&http, port, "stuck").await, Some(202));
    let store = hrflow_relay::store::Store::connect(&testdb.url, 1)
        .await
        .unwrap();
    let leased = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT lease_until FROM jobs")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let started = Instant::now();
    while leased().await.is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the push get under way, then stop the relay as `docker stop` does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut relay = relay;
    relay.sigterm();
    let stopping = Instant::now();
    let status = relay
        .exit_within(
            Duration::from_secs(6),
            "still running 6 s after SIGTERM with a 2 s grace",
        )
        .await;
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() >= Duration::from_secs(2),
        "it waited for the job first"
    );
    // The job is released for the next start, not held for its 100 s lease.
    let (status, lease): (String, Option<i64>) =
        sqlx::query_as("SELECT status, lease_until FROM jobs")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), lease), ("pending", None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_jobs_come_back_within_the_replica_timeout_not_the_lease() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // The first process's four pushes hang; it is SIGKILLed with them in flight.
    flatchr.faults(vec![Fault::Hang(Duration::from_secs(60)); 4], vec![]);
    let Some(testdb) = TestDb::fresh().await else {
        return;
    };
    let config = testdb.dir.path().join("relay.toml");
    std::fs::write(
        &config,
        base_config(&hrflow.url, &flatchr.url)
            .replace("request_timeout = \"500ms\"", "request_timeout = \"20s\"")
            .replace(
                "lease = \"3s\"",
                "lease = \"100s\"\nreplica_timeout = \"5s\"",
            ),
    )
    .unwrap();
    let (mut first, port) = start_relay(&config, &testdb.url);
    let http = reqwest::Client::new();
    for i in 0..6 {
        let key = format!("crashed-{i}");
        assert_eq!(send_event(&http, port, &key).await, Some(202));
    }
    let started = Instant::now();
    while flatchr.state.lock().unwrap().push_requests < 4 {
        assert!(started.elapsed() < Duration::from_secs(15), "no pushes");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();

    // A new process: the two jobs never claimed go at once; the four leased by the dead one
    // come back once its heartbeat is 5 s old, not after their 100 s lease.
    let restarted = Instant::now();
    let (second, _) = start_relay(&config, &testdb.url);
    let store = hrflow_relay::store::Store::connect(&testdb.url, 1)
        .await
        .unwrap();
    loop {
        let jobs = store.jobs(None, 100).await.unwrap();
        if jobs.iter().all(|j| j.status == Status::Delivered) {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "not all delivered 30 s after the restart: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = restarted.elapsed();
    println!("all 6 delivered {recovered:?} after the restart (lease 100 s, replica timeout 5 s)");
    assert!(
        recovered >= Duration::from_secs(3),
        "{recovered:?}: taken before the owner looked gone"
    );
    // Each candidate once: the hung pushes created nothing, and the slot made the new owner ask.
    assert_eq!(
        (flatchr.candidates().len(), flatchr.pushes_per_email().len()),
        (6, 6)
    );
    drop(second);
}
