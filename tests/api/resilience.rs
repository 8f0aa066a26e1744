//! Evidence that the relay holds under faults, crashes and hostile input, on the real binary
//! and SQLite: no accepted event lost, no candidate pushed twice, no 5xx for anything a client
//! sends, and no configured secret in the logs.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hrflow_relay::job::Status;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// One hostile request: method, path, headers, body.
struct Hostile {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

fn req(method: &'static str, path: impl Into<String>) -> Hostile {
    Hostile {
        method,
        path: path.into(),
        headers: vec![],
        body: vec![],
    }
}

impl Hostile {
    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        let mut s = self.header("Content-Type", "application/json");
        s.body = body.into();
        s
    }
    fn token(self) -> Self {
        self.header("Authorization", format!("Bearer {TOKEN}"))
    }
    fn signed(self) -> Self {
        let sig = hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), &self.body);
        self.header("HTTP-HRFLOW-SIGNATURE", sig)
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = "[".repeat(depth);
    v.push_str(&"]".repeat(depth));
    v.into_bytes()
}

fn nested_object(depth: usize) -> Vec<u8> {
    let mut v = String::from("{\"type\":\"profile.parsing.success\",\"profile\":");
    v.push_str(&"{\"a\":".repeat(depth));
    v.push('1');
    v.push_str(&"}".repeat(depth + 1));
    v.into_bytes()
}

/// The corpus: every public route, with what an attacker or a broken client sends.
fn corpus() -> Vec<Hostile> {
    let mut c = Vec::new();
    let event = event_body("hostile-ok", SOURCE).into_bytes();
    let huge = vec![b'x'; 3 << 20];
    // The event endpoint.
    for body in [
        b"{".to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"profile\"".to_vec(),
        b"1e999999".to_vec(),
        b"{\"profile\": 1}".to_vec(),
        b"{\"profile\": {\"key\": 1, \"source\": {\"key\": []}}}".to_vec(),
        b"{\"profile\": {\"key\": \"\", \"source\": {\"key\": \"\"}}}".to_vec(),
        b"{\"profile\": {\"key\": \"k\", \"source\": {}}}".to_vec(),
        b"\xff\xfe\x00{".to_vec(),
        b"{\"a\": \"\\ud800\"}".to_vec(),
        nested(100_000),
        nested_object(5_000),
        huge.clone(),
    ] {
        c.push(req("POST", "/hrflow/events").json(body.clone()).signed());
        c.push(req("POST", "/hrflow/events").json(body));
    }
    let long_key = "k".repeat(100_000);
    c.push(
        req("POST", "/hrflow/events")
            .json(event_body(&long_key, SOURCE))
            .signed(),
    );
    c.push(
        req("POST", "/hrflow/events")
            .json(event_body(
                "../../etc/passwd\u{0}'; DROP TABLE jobs;--",
                "\u{202e}",
            ))
            .signed(),
    );
    for sig in [
        b"".to_vec(),
        b"zz".to_vec(),
        "0".repeat(64).into_bytes(),
        "0".repeat(63).into_bytes(),
        "a".repeat(10_000).into_bytes(),
        b"\xff\xfe\x80".to_vec(),
        b"Bearer x".to_vec(),
        hrflow_relay::hrflow::signature::hex_hmac(b"wrong-secret", &event).into_bytes(),
        hrflow_relay::hrflow::signature::hex_hmac(SECRET.as_bytes(), b"another body").into_bytes(),
    ] {
        c.push(
            req("POST", "/hrflow/events")
                .json(event.clone())
                .header("HTTP-HRFLOW-SIGNATURE", sig),
        );
    }
    c.push(
        req("POST", "/hrflow/events")
            .header("Content-Type", "text/plain")
            .json(event.clone())
            .signed(),
    );
    c.push(
        req("POST", "/hrflow/events")
            .header("Content-Type", "multipart/form-data; boundary=x")
            .json(b"--x--".to_vec()),
    );
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        c.push(req(method, "/hrflow/events"));
    }
    // The service routes.
    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
        c.push(req("POST", path).json(huge.clone()));
        c.push(req("DELETE", path));
        c.push(req("GET", format!("{path}?page=-1&x=%ff%00")));
    }
    // The careers API: broken Authorization first.
    let v = "/careers/vacancies/1/responses";
    for auth in [
        b"".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        format!("Bearer {}", "t".repeat(20_000)).into_bytes(),
        format!("Bearer {TOKEN}x").into_bytes(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]).into_bytes(),
        b"Token".to_vec(),
        b"Basic".to_vec(),
        b"Basic !!!not-base64!!!".to_vec(),
        basic_header("no-colon").into_bytes(),
        basic_header(":").into_bytes(),
        basic_header("huntflow:wrong").into_bytes(),
        b"Basic \xff\xfe".to_vec(),
        [
            b"Basic ".to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(b"\xff:\xfe")
                .into_bytes(),
        ]
        .concat(),
        b"Digest username=\"x\"".to_vec(),
        b"\xc3\x28 \xa0\xa1".to_vec(),
    ] {
        c.push(req("GET", v).header("Authorization", auth.clone()));
        c.push(
            req("POST", "/careers/vacancies")
                .json(b"{}".to_vec())
                .header("Authorization", auth),
        );
    }
    c.push(req("GET", v));
    // Hostile ids, on both forms.
    for id in [
        "0",
        "-1",
        "99999999999999999999999999",
        "9223372036854775807",
        "1e3",
        "abc",
        "%00",
        "%F0%9F%92%A9",
        "1%20OR%201=1",
        "..%2F..%2Fetc%2Fpasswd",
        &"9".repeat(5_000),
    ] {
        for path in [
            format!("/careers/vacancies/{id}"),
            format!("/careers/vacancies/{id}/responses"),
            format!("/careers/vacancies/1/responses/{id}/letters"),
            format!("/careers/vacancy/{id}/response"),
            format!("/careers/vacancy/1/response/{id}"),
        ] {
            c.push(req("GET", path.clone()).token());
        }
        c.push(
            req("PUT", format!("/careers/vacancies/{id}"))
                .json(b"{}".to_vec())
                .token(),
        );
        c.push(req("DELETE", format!("/careers/vacancies/{id}")).token());
        c.push(
            req("PUT", format!("/careers/vacancy/{id}"))
                .json(b"{}".to_vec())
                .token(),
        );
        c.push(req("DELETE", format!("/careers/vacancy/{id}")).token());
    }
    // Hostile paging.
    for q in [
        "page=-1",
        "page=abc",
        "page=99999999999999999999",
        "page=9223372036854775807",
        "page=1&page=2",
        "per_page=0",
        "per_page=-5",
        "per_page=1000000",
        "per_page=99999999999999999999",
        "count=abc",
        "count=-1&per_page=5",
        "page=NaN&per_page=Infinity",
        "page[]=1",
        "page=%00",
        "page=1%20",
        "=&&&=",
        "since=yesterday",
    ] {
        c.push(req("GET", format!("{v}?{q}")).token());
        c.push(req("GET", format!("/careers/vacancy/1/response?{q}")).token());
    }
    // Hostile bodies for publishing and editing.
    for body in [
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"id\": []}".to_vec(),
        b"{\"id\": 1e400, \"position\": {}}".to_vec(),
        b"{\"id\": -1, \"position\": \"x\"}".to_vec(),
        b"{\"id\": \"\\u0000\", \"position\": \"x\"}".to_vec(),
        b"{\"id\": 99999999999999999999999, \"position\": \"x\"}".to_vec(),
        b"{\"id\": 1, \"position\": \"x\", \"account\": {\"id\": \"x\"}, \"money\": [1, {}]}"
            .to_vec(),
        nested(100_000),
        nested_object(5_000),
        huge.clone(),
        b"\xff\xfe".to_vec(),
    ] {
        c.push(req("POST", "/careers/vacancies").json(body.clone()).token());
        c.push(req("POST", "/careers/publish").json(body.clone()).token());
        c.push(
            req("PUT", "/careers/vacancies/1")
                .json(body.clone())
                .token(),
        );
        c.push(req("PUT", "/careers/vacancy/1").json(body).token());
    }
    c.push(
        req("POST", "/careers/vacancies")
            .header("Content-Type", "text/xml")
            .token(),
    );
    c.push(req("PATCH", "/careers/vacancies/1").token());
    c.push(req("GET", "/careers/version?x=%ff").token());
    // Unknown paths.
    for path in [
        "/",
        "/careers",
        "/careers/../../etc/passwd",
        "/%ff%fe",
        "/hrflow/events/1",
    ] {
        c.push(req("GET", path));
    }
    c
}

async fn ready(http: &reqwest::Client, port: u16) -> bool {
    http.get(format!("http://127.0.0.1:{port}/health/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// One raw HTTP/1.1 exchange; the status and body of the first answer, if any came. The body
/// is written while the answer is read, so an early answer (a 413) is not lost to a reset.
async fn raw(port: u16, head: &[u8], body: &[u8], close_write: bool) -> Option<(u16, Vec<u8>)> {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut r, mut w) = s.into_split();
    let out = [head, body].concat();
    let writer = tokio::spawn(async move {
        let _ = w.write_all(&out).await;
        if close_write {
            let _ = w.shutdown().await;
        }
        w
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    buf.truncate(end + 4 + len);
                    break;
                }
            }
        }
    })
    .await;
    writer.abort();
    assert!(
        read.is_ok(),
        "no answer within 10s to {:?}",
        String::from_utf8_lossy(head)
    );
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((status, buf[end + 4..].to_vec()))
}

fn check_answer(what: &str, status: u16, body: &[u8]) {
    assert!(
        status < 500,
        "{what}: {status} {}",
        String::from_utf8_lossy(body)
    );
    if status >= 400 {
        let json: Value = serde_json::from_slice(body).unwrap_or_else(|_| {
            panic!(
                "{what}: {status} without a JSON body: {:?}",
                String::from_utf8_lossy(body)
            )
        });
        assert_error_shape(&json);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_4xx_with_the_errors_shape_and_the_service_stays_ready() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let Some(db) = TestDb::fresh().await else {
        return;
    };
    let path = db.dir.path().join("relay.toml");
    std::fs::write(&path, config(&hrflow.url, &flatchr.url, 4, "3s")).unwrap();
    let log: Log = Default::default();
    let (relay, port) = start_relay_logged(&path, &db.url, &log);
    let http = reqwest::Client::new();
    assert!(ready(&http, port).await);

    // A publish that works, so that ids exist beside the hostile ones.
    let r = http
        .post(format!("http://127.0.0.1:{port}/careers/vacancies"))
        .header("Authorization", format!("Token {TOKEN}"))
        .json(&json!({"id": "1", "position": "Welder"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let corpus = corpus();
    assert!(corpus.len() > 250, "{}", corpus.len());
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (i, h) in corpus.iter().enumerate() {
        let mut bytes = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n",
            h.method,
            h.path,
            h.body.len()
        )
        .into_bytes();
        for (name, value) in &h.headers {
            bytes.extend_from_slice(name.as_bytes());
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(value);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        // Headers may hold bytes that are not UTF-8: they go out as they are.
        let what = format!(
            "#{i} {} {}",
            h.method,
            h.path.chars().take(80).collect::<String>()
        );
        let answer = raw(port, &bytes, &h.body, false).await;
        match answer {
            Some((status, body)) => {
                check_answer(&what, status, &body);
                *statuses.entry(status).or_default() += 1;
                if status < 300 && std::env::var("SHOW_2XX").is_ok() {
                    eprintln!("{what}: {status}");
                }
            }
            None => panic!("{what}: no answer"),
        }
        if i % 25 == 0 {
            assert!(ready(&http, port).await, "not ready after {what}");
        }
    }

    eprintln!(
        "hostile corpus: {} requests, answers {statuses:?}",
        corpus.len()
    );
    for refusal in [400, 401, 404, 405, 413, 415] {
        assert!(
            statuses.contains_key(&refusal),
            "no {refusal} in {statuses:?}"
        );
    }

    // Lying Content-Length: more than the cap, more than is sent, less than is sent.
    let event = event_body("lying-length", SOURCE);
    let sig = sign(&event);
    let post = |len: &str| {
        format!(
            "POST /hrflow/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nHTTP-HRFLOW-SIGNATURE: {sig}\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let (status, body) = raw(
        port,
        post("999999999999").as_bytes(),
        event.as_bytes(),
        false,
    )
    .await
    .expect("an answer to an announced body over the cap");
    assert_eq!(status, 413);
    check_answer("announced 1 TB", status, &body);
    if let Some((status, body)) = raw(port, post("4096").as_bytes(), event.as_bytes(), true).await {
        check_answer("announced more than sent", status, &body);
    }
    let (status, body) = raw(port, post("10").as_bytes(), event.as_bytes(), false)
        .await
        .expect("an answer to a body shorter than sent");
    assert_eq!(status, 401, "the signature covers the whole body");
    check_answer("announced less than sent", status, &body);
    for len in ["-1", "abc", "1, 2"] {
        if let Some((status, _)) = raw(port, post(len).as_bytes(), event.as_bytes(), false).await {
            // A malformed frame is refused by the HTTP layer before any route sees it.
            assert_eq!(status, 400, "Content-Length: {len}");
        }
    }
    let smuggle = format!(
        "POST /hrflow/events HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nHTTP-HRFLOW-SIGNATURE: {sig}\r\n\r\n"
    );
    if let Some((status, _)) = raw(port, smuggle.as_bytes(), b"0\r\n\r\n", false).await {
        assert!((400..500).contains(&status), "{status}");
    }

    // A wrong method names the right ones (RFC 9110; schemathesis checks it).
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/metrics", "GET"),
        (reqwest::Method::GET, "/hrflow/events", "POST"),
        (
            reqwest::Method::PATCH,
            "/careers/vacancies/1",
            "GET, PUT, DELETE",
        ),
        (reqwest::Method::TRACE, "/careers/publish", "POST"),
    ] {
        let r = http
            .request(method, format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], allow, "{path}");
    }

    assert!(ready(&http, port).await, "not ready after the corpus");
    // The valid event in the corpus was accepted and is still delivered.
    let store = hrflow_relay::store::Store::connect(&db.url, 1)
        .await
        .unwrap();
    let jobs = store.jobs(None, 1000).await.unwrap();
    assert!(jobs.iter().all(|j| !j.profile_key.is_empty()), "{jobs:?}");
    drop(relay);
    assert_no_secret(&log, &secrets());
    hrflow.stop().await;
    flatchr.stop().await;
}
