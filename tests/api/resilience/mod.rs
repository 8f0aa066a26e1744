//! Evidence that the relay holds under faults, crashes and hostile input, on the real binary
//! and SQLite: no accepted event lost, no candidate pushed twice, no 5xx for anything a client
//! sends, and no configured secret in the logs.

mod corpus;
mod hostile;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hrflow_relay::job::Status;

use crate::helpers::*;

const TOKEN: &str = "careers-token-7f3a9c";
const BASIC: &str = "huntflow:b4sic-pa55word";

fn basic_header(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

/// Every secret the configuration holds, and the forms they travel in.
fn secrets() -> Vec<String> {
    vec![
        SECRET.into(),
        FLATCHR_KEY.into(),
        HRFLOW_KEY.into(),
        TOKEN.into(),
        "b4sic-pa55word".into(),
        basic_header(BASIC).trim_start_matches("Basic ").into(),
    ]
}

fn config(hrflow: &str, flatchr: &str, concurrency: usize, lease: &str) -> String {
    format!(
        "{}\n[careers]\ntokens = [\"{TOKEN}\"]\nbasic_users = [\"{BASIC}\"]\n",
        base_config(hrflow, flatchr)
            .replace("concurrency = 4", &format!("concurrency = {concurrency}"))
            .replace("lease = \"3s\"", &format!("lease = \"{lease}\""))
            .replace("request_timeout = \"500ms\"", "request_timeout = \"400ms\"")
            .replace(
                "retry_schedule = [\"100ms\", \"100ms\", \"100ms\"]",
                "retry_schedule = [\"100ms\", \"100ms\", \"200ms\", \"200ms\", \"300ms\", \"300ms\", \"500ms\", \"500ms\"]",
            )
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_a_sigkill_lose_no_event_and_push_no_candidate_twice() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    {
        // Refusals, rate limits, and pushes that create the candidate but never answer.
        let mut s = flatchr.state.lock().unwrap();
        s.push_pattern = vec![
            (3, Fault::Status(503, None)),
            (5, Fault::CreateThenHang(Duration::from_secs(2))),
            (7, Fault::Status(429, Some(1))),
        ];
        s.enrich_pattern = vec![(4, Fault::Status(500, None))];
    }
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let path = db.dir.path().join("relay.toml");
    std::fs::write(&path, config(&hrflow.url, &flatchr.url, 8, "2s")).unwrap();
    let log: Log = Default::default();
    let http = reqwest::Client::new();
    let keys: Vec<String> = (0..60).map(|i| format!("resilience-{i:03}")).collect();

    // First life: events arrive 4 at a time; the process is SIGKILLed mid-delivery.
    let (mut first, port) = start_relay_logged(&path, &db.url, &log);
    let sender = {
        let http = http.clone();
        let keys = keys.clone();
        tokio::spawn(async move {
            let mut answers = HashMap::new();
            // Paced, so that the kill falls while events are still arriving.
            for chunk in keys.chunks(4) {
                let sent = chunk.iter().map(|k| send_event(&http, port, k));
                for (k, a) in chunk.iter().zip(futures_util::future::join_all(sent).await) {
                    answers.insert(k.clone(), a);
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            answers
        })
    };
    let started = Instant::now();
    while flatchr.state.lock().unwrap().candidates.len() < 12 {
        assert!(started.elapsed() < Duration::from_secs(20), "no pushes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let answers = sender.await.unwrap();
    eprintln!(
        "killed after {} pushes; {} of {} events acknowledged",
        flatchr.state.lock().unwrap().push_requests,
        answers.values().filter(|a| **a == Some(202)).count(),
        answers.len()
    );
    let acked: HashSet<&String> = answers
        .iter()
        .filter(|(_, a)| **a == Some(202))
        .map(|(k, _)| k)
        .collect();
    assert!(acked.len() >= 8, "the kill came too early: {answers:?}");
    assert!(
        answers.values().all(|a| matches!(a, None | Some(202))),
        "{answers:?}"
    );

    // Second life: HrFlow redelivers everything not acknowledged; acknowledged ones come back
    // as duplicates if redelivered too.
    let (second, port) = start_relay_logged(&path, &db.url, &log);
    for key in &keys {
        let answer = send_event(&http, port, key).await;
        if acked.contains(key) {
            assert_eq!(answer, Some(200), "{key} was accepted before the kill");
        } else {
            assert!(matches!(answer, Some(202 | 200)), "{key}: {answer:?}");
        }
    }
    let store = hrflow_relay::store::Store::connect(&db.url, 1)
        .await
        .unwrap();
    let started = Instant::now();
    let jobs = loop {
        let jobs = store.jobs(None, 1000).await.unwrap();
        if jobs.len() >= keys.len() && jobs.iter().all(|j| j.status != Status::Pending) {
            break jobs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still pending: {:?}",
            jobs.iter()
                .filter(|j| j.status == Status::Pending)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(second);

    // One job per profile, each delivered; one candidate per profile; each enriched.
    let job_keys: Vec<&str> = jobs.iter().map(|j| j.profile_key.as_str()).collect();
    let unique: HashSet<&str> = job_keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "an event was lost");
    assert_eq!(job_keys.len(), keys.len(), "an event made two jobs");
    assert_all_delivered(&jobs);
    {
        let s = flatchr.state.lock().unwrap();
        assert!(
            s.faults_injected >= 10,
            "too few faults: {}",
            s.faults_injected
        );
        let mut per_email: HashMap<&str, usize> = HashMap::new();
        for c in &s.candidates {
            *per_email.entry(c["email"].as_str().unwrap()).or_default() += 1;
        }
        for key in &keys {
            let email = format!("{key}@example.org");
            assert_eq!(per_email.get(email.as_str()), Some(&1), "{email}");
            assert!(
                s.enriched
                    .iter()
                    .any(|e| e["reference"] == email.as_str() || e.to_string().contains(&email)),
                "{email} not enriched"
            );
        }
        eprintln!(
            "{} pushes, {} faults injected, {} candidates",
            s.push_requests,
            s.faults_injected,
            s.candidates.len()
        );
    }
    assert_no_secret(&log, &secrets());
    hrflow.stop().await;
    flatchr.stop().await;
}
