//! The hostile corpus and lying frames sent raw to the real binary: 4xx with the errors shape,
//! never a 5xx, and the service ready throughout.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::corpus::corpus;
use super::{TOKEN, config, secrets};
use crate::helpers::*;

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
