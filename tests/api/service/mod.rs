//! Health, readiness, metrics, OpenAPI, and the CLI commands.

mod cli;
mod platform;

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn health_metrics_and_openapi() {
    let app = spawn!(&base_config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    let live = app
        .http
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = app
        .http
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let report: Value = ready.json().await.unwrap();
    assert_eq!(report["database"]["status"], "ok");
    assert_eq!(report["worker"]["status"], "ok");

    app.post_event(&event_body("metrics-profile", SOURCE)).await;
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "relay_events_total",
        "relay_jobs_pending",
        "relay_oldest_pending_job_age_seconds",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    // SQLite's part: the event's durable commit was timed, and what SQLite holds is reported.
    let sqlite_bytes = text
        .lines()
        .find(|l| l.starts_with("relay_sqlite_memory_bytes "))
        .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok());
    let full_commits = text
        .lines()
        .find(|l| l.starts_with("relay_sqlite_commit_seconds_count{sync=\"full\"}"))
        .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok());
    if crate::BACKEND == Backend::Sqlite {
        assert!(sqlite_bytes.is_some_and(|b| b > 0.0), "{text}");
        assert!(full_commits.is_some_and(|n| n >= 1.0), "{text}");
    } else {
        assert_eq!((sqlite_bytes, full_commits), (None, None), "{text}");
    }

    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/hrflow/events",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
        // Every documented path is served (no 404 from the router).
        let method = doc["paths"][path]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .to_uppercase();
        let r = app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn losing_the_database_fails_readiness_and_refuses_events() {
    let app = spawn!(&base_config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    let address = app.address.clone();
    let store = app.store().clone();
    let http = app.http.clone();
    store.close().await;
    let r = http
        .get(format!("{address}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["database"]["status"], "down");
    // And the event endpoint refuses with 503 rather than a 202 it cannot keep.
    let r = app.post_event(&event_body("p", SOURCE)).await;
    assert_eq!(r.status(), 503);
    assert_error_shape(&r.json().await.unwrap());
}

/// `server.max_connections` bounds the connections held open at once: one more waits in the
/// kernel's queue, unanswered, until a held one closes.
#[tokio::test]
async fn a_connection_past_the_limit_waits_until_one_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let config = base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replacen(
        "port = 0\n",
        "port = 0\nmax_connections = 1\n",
        1,
    );
    let app = spawn!(&config);
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    // The total is shared out among actix's workers, rounded up: one each here.
    let limit = std::thread::available_parallelism().map_or(2, |n| n.get());
    let answer = |mut s: TcpStream, wait: u64| async move {
        let mut buf = [0u8; 12];
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(wait), s.read_exact(&mut buf))
                .await;
        (
            read.is_ok_and(|r| r.is_ok()) && buf.starts_with(b"HTTP/1.1 200"),
            s,
        )
    };
    let mut held = Vec::new();
    for _ in 0..=limit {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: relay\r\n\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    let mut answered = Vec::new();
    let mut waiting = Vec::new();
    for s in held {
        let (ok, s) = answer(s, 1).await;
        if ok {
            answered.push(s)
        } else {
            waiting.push(s)
        }
    }
    assert_eq!(
        (answered.len(), waiting.len()),
        (limit, 1),
        "connections answered and waiting, with a limit of {limit}"
    );
    // Closing one held connection lets the waiting one in.
    drop(answered.pop());
    let (ok, _) = answer(waiting.pop().unwrap(), 5).await;
    assert!(
        ok,
        "the waiting connection was not answered after one closed"
    );
}

/// The value of the metric line that starts with `name ` in a scrape of the relay on `port`.
async fn gauge(http: &reqwest::Client, port: u16, name: &str) -> Option<f64> {
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
}

#[tokio::test]
async fn a_scrape_reads_no_job_its_gauges_are_kept_by_a_refresher() {
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let config = db.dir.path().join("relay.toml");
    std::fs::write(
        &config,
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9"),
    )
    .unwrap();
    let (_relay, port) = start_relay(&config, &db.url);
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    while gauge(&http, port, "relay_jobs_dead").await != Some(0.0) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no relay_jobs_dead"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Jobs appear behind the relay's back: dead ones, and a cancelled one.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let job = |status: &str| {
        format!(
            "INSERT INTO jobs (event_id, route, profile_key, source_key, status, next_attempt_at, created_at, updated_at) VALUES ('e-1', 'flatchr', 'p', 's', '{status}', 1, 1, 1)"
        )
    };
    for statement in [
        "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at) VALUES ('e-1', 'h-1', 't', 'p', 's', 1)".to_string(),
        job("dead"),
        job("cancelled"),
    ] {
        sqlx::query(&statement).execute(&pool).await.unwrap();
    }
    // The refresher reads them within a few seconds; the cancelled job is not dead.
    let refreshed = |want: f64| {
        let http = http.clone();
        async move {
            let started = std::time::Instant::now();
            while gauge(&http, port, "relay_jobs_dead").await != Some(want) {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(15),
                    "the gauge was not refreshed to {want}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    refreshed(1.0).await;
    assert_eq!(gauge(&http, port, "relay_jobs_cancelled").await, Some(1.0));
    // It just read the table; another dead job now is not seen by the scrapes that follow
    // (a scrape that counted the jobs itself would see it at once, and cost more with every
    // job), until the next reading, seconds later.
    sqlx::query(&job("dead")).execute(&pool).await.unwrap();
    for _ in 0..5 {
        assert_eq!(gauge(&http, port, "relay_jobs_dead").await, Some(1.0));
    }
    refreshed(2.0).await;
    pool.close().await;
}
