//! Three relay processes on one PostgreSQL, a Flatchr that fails, throttles and hangs, 500
//! events spread over the replicas, one replica SIGKILLed mid-run and restarted: every event is
//! pushed exactly once and enriched, and nothing is left pending.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hrflow_relay::job::Status;
use serde_json::Value;

use crate::helpers::*;

const EVENTS: usize = 500;

fn config(hrflow: &str, flatchr: &str) -> String {
    base_config(hrflow, flatchr)
        .replace("concurrency = 4", "concurrency = 8")
        .replace(
            r#"retry_schedule = ["100ms", "100ms", "100ms"]"#,
            r#"retry_schedule = ["200ms", "500ms", "1s", "1s", "2s", "2s", "3s", "3s"]"#,
        )
        .replace("poll_interval = \"50ms\"", "poll_interval = \"100ms\"")
}

/// Sends one event like a load balancer: to replica `first`, else to the next one that answers.
async fn deliver(
    http: &reqwest::Client,
    ports: &[std::sync::Mutex<Option<u16>>],
    first: usize,
    body: &str,
) -> u16 {
    let started = Instant::now();
    loop {
        for i in 0..ports.len() {
            let Some(port) = *ports[(first + i) % ports.len()].lock().unwrap() else {
                continue;
            };
            let sent = http
                .post(format!("http://127.0.0.1:{port}/hrflow/events"))
                .header("Content-Type", "application/json")
                .header("HTTP-HRFLOW-SIGNATURE", sign(body))
                .body(body.to_string())
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if let Ok(r) = sent {
                return r.status().as_u16();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no replica answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_deliver_every_event_exactly_once_through_faults_and_a_kill() {
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    {
        let mut s = flatchr.state.lock().unwrap();
        s.push_pattern = vec![
            (7, Fault::Status(503, None)),
            (11, Fault::Status(429, Some(1))),
            (13, Fault::Hang(Duration::from_millis(1500))),
            (17, Fault::CreateThenHang(Duration::from_millis(1500))),
        ];
        s.enrich_pattern = vec![(9, Fault::Status(502, None))];
    }
    let config_path = db.dir.path().join("relay.toml");
    std::fs::write(&config_path, config(&hrflow.url, &flatchr.url)).unwrap();
    // Migrate once before the three start together (they would take the lock in turn anyway).
    hrflow_relay::store::Store::connect(&db.url, 1)
        .await
        .unwrap();

    let mut relays: Vec<Option<Relay>> = Vec::new();
    let ports: Vec<std::sync::Mutex<Option<u16>>> =
        (0..3).map(|_| std::sync::Mutex::new(None)).collect();
    for port in &ports {
        let (relay, p) = start_relay(&config_path, &db.url);
        relays.push(Some(relay));
        *port.lock().unwrap() = Some(p);
    }

    let started = Instant::now();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut stream = futures_util::stream::iter(0..EVENTS)
        .map(|i| {
            let http = http.clone();
            let ports = &ports;
            async move {
                let body = event_body(&format!("p{i:04}"), "s");
                deliver(&http, ports, i % 3, &body).await
            }
        })
        .buffer_unordered(12);
    let mut kills = 0;
    while let Some(status) = stream.next().await {
        statuses.push(status);
        if statuses.len() == EVENTS / 2 {
            // Kill replica 1 mid-run, hard; its leased jobs come back after the lease.
            *ports[1].lock().unwrap() = None;
            drop(relays[1].take());
            kills += 1;
        }
        if statuses.len() == EVENTS * 3 / 4 {
            let (relay, p) = start_relay(&config_path, &db.url);
            relays[1] = Some(relay);
            *ports[1].lock().unwrap() = Some(p);
        }
    }
    drop(stream);
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    let duplicates = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 200),
        "{statuses:?}"
    );
    assert_eq!(accepted + duplicates, EVENTS);
    let ingest = started.elapsed();

    let store = hrflow_relay::store::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let jobs = loop {
        let jobs = store.jobs(None, 10_000).await.unwrap();
        if jobs.len() == EVENTS && jobs.iter().all(|j| j.status != Status::Pending) {
            break jobs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "still pending: {}",
            jobs.iter().filter(|j| j.status == Status::Pending).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let drained = started.elapsed();
    let dead: Vec<_> = jobs
        .iter()
        .filter(|j| j.status != Status::Delivered)
        .collect();
    assert!(dead.is_empty(), "{dead:?}");

    {
        let s = flatchr.state.lock().unwrap();
        let mut per_email: HashMap<String, usize> = HashMap::new();
        for c in &s.candidates {
            *per_email
                .entry(c["email"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let twice: Vec<_> = per_email.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "pushed more than once: {twice:?}");
        assert_eq!(
            per_email.len(),
            EVENTS,
            "every event's candidate exists once"
        );
        let enriched: std::collections::HashSet<&str> = s
            .enriched
            .iter()
            .filter_map(|e| e["reference"].as_str())
            .collect();
        assert_eq!(enriched.len(), EVENTS, "every candidate enriched");
        let reference: Vec<&Value> = s.enriched.iter().take(1).collect();
        assert!(reference[0]["value"]["name"]["given"].is_string());

        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "replica test: {EVENTS} events ({accepted} accepted, {duplicates} redelivered as duplicate) over 3 replicas; \
             {} faults injected ({} push requests, {} enrich requests); {kills} SIGKILL + restart; \
             0 candidates pushed twice; ingest {:.1} s; drained after {:.1} s",
            s.faults_injected,
            s.push_requests,
            s.enrich_requests,
            ingest.as_secs_f64(),
            drained.as_secs_f64()
        );
    }
    for relay in relays.iter().flatten() {
        relay.sigterm();
    }
    hrflow.stop().await;
    flatchr.stop().await;
}
