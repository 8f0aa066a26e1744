//! The resume on its way from the file host into the push: a failing host retried, a large
//! resume streamed exactly, a download breaking mid-push creating nothing.

use base64::Engine as _;
use hrflow_relay::job::Status;
use mockito::Matcher;

use super::RESUME;
use crate::helpers::*;

#[tokio::test]
async fn a_transient_file_host_failure_is_retried() {
    let mut hrflow = mockito::Server::new_async().await;
    let profile = with_files(fixture(3), &hrflow.url());
    hrflow_serving(&mut hrflow, &profile).await;
    let failing = hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_status(503)
        .create_async()
        .await;
    let flatchr = FakeFlatchr::start().await;
    let config = base_config(&hrflow.url(), &flatchr.url).replace(
        r#"retry_schedule = ["100ms", "100ms", "100ms"]"#,
        r#"retry_schedule = ["1s", "1s"]"#,
    );
    let app = spawn_stepped!(&config);
    app.post_event(&event_for(&profile)).await;
    app.run_due().await;
    assert!(failing.matched_async().await);
    failing.remove_async().await;
    hrflow
        .mock("GET", Matcher::Regex(r"^/sources/.*".into()))
        .with_body(RESUME)
        .create_async()
        .await;
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    assert_eq!(app.attempts(jobs[0].id).await[0].http_status, Some(503));
    assert_eq!(
        flatchr.candidates()[0]["resume"]["data"],
        base64::engine::general_purpose::STANDARD.encode(RESUME)
    );
}

/// A resume of `n` bytes that is not the same byte over and over.
fn big_resume(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7919 % 251) as u8).collect()
}

#[tokio::test]
async fn a_large_resume_is_streamed_into_the_push_exactly() {
    for (len, chunked) in [(1_000_001, false), (300_002, true)] {
        let mut hrflow = mockito::Server::new_async().await;
        let profile = with_files(fixture(4), &hrflow.url());
        hrflow_serving(&mut hrflow, &profile).await;
        let resume = big_resume(len);
        let file = hrflow.mock("GET", Matcher::Regex(r"^/sources/.*".into()));
        // Without a length the relay reads the resume whole; with one it streams it.
        let file = if chunked {
            let body = resume.clone();
            file.with_chunked_body(move |w| w.write_all(&body))
        } else {
            file.with_body(&resume)
        };
        file.create_async().await;
        let flatchr = FakeFlatchr::start().await;
        let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
        assert_eq!(app.post_event(&event_for(&profile)).await.status(), 202);
        let jobs = app.dispatch().await;
        assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
        let candidates = flatchr.candidates();
        assert_eq!(candidates.len(), 1);
        assert_eq!(
            candidates[0]["resume"]["data"].as_str().unwrap(),
            base64::engine::general_purpose::STANDARD.encode(&resume),
            "chunked: {chunked}"
        );
        assert_eq!(candidates[0]["token"], FLATCHR_KEY);
        assert!(candidates[0]["resume"].get("url").is_none());
    }
}

/// A file host that announces `announced` bytes, sends `sent`, and hangs up, once; then serves
/// `resume` properly.
async fn lying_file_host(resume: Vec<u8>, sent: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = vec![0u8; 4096];
            let _ = conn.read(&mut head).await;
            let body: &[u8] = if first { &resume[..sent] } else { &resume };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                resume.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body).await;
            let _ = conn.shutdown().await;
            first = false;
        }
    });
    url
}

#[tokio::test]
async fn a_download_that_breaks_mid_push_creates_nothing_and_is_retried() {
    let resume = big_resume(400_000);
    let files = lying_file_host(resume.clone(), 150_000).await;
    let mut hrflow = mockito::Server::new_async().await;
    let profile = with_files(fixture(6), &files);
    hrflow_serving(&mut hrflow, &profile).await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn_stepped!(&base_config(&hrflow.url(), &flatchr.url));
    assert_eq!(app.post_event(&event_for(&profile)).await.status(), 202);
    let jobs = app.dispatch().await;
    assert_eq!(jobs[0].status, Status::Delivered, "{jobs:?}");
    let attempts = app.attempts(jobs[0].id).await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let first = attempts[0].error.clone().unwrap_or_default();
    // The file host's early end is the reason, not a Flatchr failure.
    assert!(first.starts_with("file host request failed"), "{first}");
    let s = flatchr.state.lock().unwrap();
    // The broken push never reached the handler as a whole body; no search was needed after.
    assert_eq!(s.candidates.len(), 1);
    assert_eq!(s.searches, 0, "the outcome was known: nothing was created");
    assert_eq!(
        s.candidates[0]["resume"]["data"].as_str().unwrap(),
        base64::engine::general_purpose::STANDARD.encode(&resume)
    );
}
