//! Bodies sent a byte at a time: 408 once `server.body_timeout` passes, the connection closed.

use std::time::Duration;

use crate::helpers::*;

/// Sends a request head announcing a body (a 100-byte one, or chunked) and then one byte of it
/// every 300 ms; returns what the relay answered once it closed the connection, or `None` when
/// it kept the connection open past `wait`.
async fn trickle(address: &str, head: &str, chunked: bool, wait: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let socket = tokio::net::TcpStream::connect(host).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
    } else {
        "Content-Length: 100\r\n\r\n{"
    };
    write
        .write_all(
            format!("{head}Host: {host}\r\nContent-Type: application/json\r\n{framing}").as_bytes(),
        )
        .await
        .unwrap();
    // A byte every 300 ms, for as long as the connection takes them.
    let sender = tokio::spawn(async move {
        let byte: &[u8] = if chunked { b"1\r\na\r\n" } else { b"a" };
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if write.write_all(byte).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, read.read_to_end(&mut answer)).await;
    sender.abort();
    read.ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_body_not_received_whole_in_time_is_408_and_the_connection_closed() {
    let config = format!(
        "{}\n[careers]\ntokens = [\"careers-token-for-slow-bodies\"]\n[admin]\ntokens = [\"admin-token-for-slow-bodies\"]\n",
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9")
            .replace("port = 0", "port = 0\nbody_timeout = \"1s\"")
    );
    let app = spawn!(&config);
    let heads = [
        "POST /hrflow/events HTTP/1.1\r\n".to_string(),
        "POST /careers/publish HTTP/1.1\r\nAuthorization: Bearer careers-token-for-slow-bodies\r\n".into(),
        "POST /admin/api/jobs/retry HTTP/1.1\r\nAuthorization: Bearer admin-token-for-slow-bodies\r\n".into(),
    ];
    for (head, chunked) in heads.iter().flat_map(|h| [(h, false), (h, true)]) {
        let started = std::time::Instant::now();
        let answer = trickle(&app.address, head, chunked, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{head:?} (chunked: {chunked}): still open after 5 s"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{head:?}: {answer}");
        assert!(answer.contains("server.body_timeout"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert_error_shape(&serde_json::from_str(body).unwrap());
        assert!(started.elapsed() >= Duration::from_millis(900), "{head:?}");
    }
    // A route that reads no body answers at once, and the connection does not stay open either.
    for (head, status) in [
        ("GET /health/live HTTP/1.1\r\n", "HTTP/1.1 200"),
        ("POST /health/live HTTP/1.1\r\n", "HTTP/1.1 405"),
    ] {
        for chunked in [false, true] {
            let answer = trickle(&app.address, head, chunked, Duration::from_secs(5)).await;
            assert!(
                answer.as_deref().is_some_and(|a| a.starts_with(status)),
                "{head:?} (chunked: {chunked}): {answer:?}"
            );
        }
    }
}
