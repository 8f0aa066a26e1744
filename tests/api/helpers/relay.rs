//! The relay as a process: `hrflow-relay serve` (killed when dropped) and what it logged,
//! signed events sent to it, and the CLI run beside a test's app.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{SOURCE, TestApp, event_body, sign};

/// A relay process; killed (SIGKILL) when dropped, so none outlives a failing test.
pub struct Relay(pub std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Relay {
    /// Waits for the process to exit; fails the test, saying `what`, after `limit`.
    pub async fn exit_within(&mut self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn sigterm(&self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
    }
}

/// Starts `hrflow-relay serve` and waits for the port it logs.
pub fn start_relay(config: &std::path::Path, db: &str) -> (Relay, u16) {
    start_relay_logged(config, db, &Log::default())
}

/// Everything a relay process printed, stdout and stderr, for the secrets check.
pub type Log = Arc<Mutex<String>>;

/// Like `start_relay`, but keeps every line the process prints in `log`.
pub fn start_relay_logged(config: &std::path::Path, db: &str, log: &Log) -> (Relay, u16) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("RELAY__DATABASE__URL", db)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out_log = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let port = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v["fields"]["port"].as_u64());
            if let Some(port) = port {
                let _ = tx.send(port as u16);
            }
            let mut log = out_log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let err_log = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut log = err_log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let relay = Relay(child);
    let port = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "the relay did not report its port:\n{}",
                log.lock().unwrap()
            )
        });
    (relay, port)
}

/// Fails when any of `secrets` appears in `log`, naming which (never printing the log around it).
pub fn assert_no_secret(log: &Log, secrets: &[String]) {
    let log = log.lock().unwrap();
    assert!(!log.is_empty(), "nothing was logged");
    for s in secrets {
        assert!(
            !log.contains(s),
            "a configured secret of {} chars appears in the logs",
            s.len()
        );
    }
}

/// Sends one signed event; `None` when the relay did not answer (it was killed).
pub async fn send_event(http: &reqwest::Client, port: u16, key: &str) -> Option<u16> {
    let body = event_body(key, SOURCE);
    let r = http
        .post(format!("http://127.0.0.1:{port}/hrflow/events"))
        .header("Content-Type", "application/json")
        .header("HTTP-HRFLOW-SIGNATURE", sign(&body))
        .body(body)
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

/// `hrflow-relay <args>` against the test's configuration and database, as an operator runs
/// it beside the service: (exit 0, stdout then stderr).
pub fn relay_cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(args)
        .env("RELAY_CONFIG", &app.config_path)
        .env("RELAY__DATABASE__URL", &app.db.url)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
