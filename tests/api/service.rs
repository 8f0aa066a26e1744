//! Health, readiness, metrics, OpenAPI, and the CLI commands.

use std::process::Command;

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

fn relay(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(args)
        .env("RELAY_CONFIG", config)
        .env("RELAY__FLATCHR__API_KEY", "sk_live_very_secret")
        .output()
        .unwrap()
}

#[test]
fn check_config_lists_every_problem_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        base_config("http://127.0.0.1:9", "http://127.0.0.1:9"),
    )
    .unwrap();
    let out = relay(&["check-config"], &good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("configuration OK") && stdout.contains("flatchr -> flatchr"));
    // A rotated secret: how many are configured, never which.
    let out = Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args(["check-config"])
        .env("RELAY_CONFIG", &good)
        .env(
            "RELAY__HRFLOW__WEBHOOK_SECRET",
            "whsec_rotated_new,whsec_rotated_old",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 webhook secret(s) configured"),
        "{stdout}"
    );
    assert!(!stdout.contains("whsec_rotated"), "{stdout}");

    let bad = dir.path().join("bad.toml");
    let config = base_config("not-a-url", "http://127.0.0.1:9").replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "logics = [\"nope\"]\n[[routes]]\nname = \"x\"\ndestination = \"ftp\"",
    );
    std::fs::write(&bad, config).unwrap();
    let out = relay(&["check-config"], &bad);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "hrflow.api_url",
        "has no vacancy",
        "\"nope\"",
        "unknown destination \"ftp\"",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
    let all = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        !all.contains("sk_live_very_secret") && !all.contains(SECRET) && !all.contains(HRFLOW_KEY)
    );
}

#[test]
fn preview_prints_bodies_or_the_dropping_logic() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let toml = base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
        "vacancy = \"k0M5O9ylKZnxbQBy\"",
        "vacancy = \"k0M5O9ylKZnxbQBy\"\nlogics = [\"shout\", \"senior_only\"]",
    );
    std::fs::write(&config, toml).unwrap();
    let profile = format!(
        "{}/tests/fixtures/profiles/profile-000.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = relay(
        &["preview", "--profile", &profile, "--route", "flatchr"],
        &config,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "send");
    assert_eq!(v["push"]["lastname"], "DIJKSTRA");
    assert_eq!(v["push"]["token"], "<flatchr.api_key>");
    assert!(
        v["push"]["resume"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://files.example.test/")
    );
    assert_eq!(v["enrich"]["value"]["name"]["family"], "DIJKSTRA");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sk_live_very_secret"));

    let junior = format!(
        "{}/tests/fixtures/profiles/profile-011.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = relay(&["preview", "--profile", &junior], &config);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "filtered");
    assert_eq!(v["logic"], "senior_only");

    let out = relay(
        &["preview", "--profile", &junior, "--route", "nope"],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn probe_answers_for_the_health_check() {
    let app = spawn!(&base_config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    let port = app.address.rsplit(':').next().unwrap().to_string();
    // tokio's Command: a blocking wait would stall the server sharing this test's runtime.
    let run = |port: String| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
            .arg("probe")
            .env("RELAY__SERVER__PORT", port)
            .env("RELAY__SERVER__HOST", "0.0.0.0")
            .status()
            .await
            .unwrap()
    };
    assert!(run(port).await.success());
    assert!(!run("9".into()).await.success());
}

/// What the Dockerfile relies on: configuration by environment alone, 0.0.0.0, an absolute
/// SQLite path under the data volume, `probe` as the health check, SIGTERM to stop.
#[tokio::test]
async fn runs_as_the_container_does() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .env("RELAY__SERVER__HOST", "0.0.0.0")
        .env("RELAY__SERVER__PORT", &port)
        .env(
            "RELAY__DATABASE__URL",
            format!("sqlite://{}/data/relay.db", dir.path().display()),
        )
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let probe = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
            .args(["probe", "--path", "/health/ready"])
            .env("RELAY__SERVER__PORT", &port)
            .env("RELAY__SERVER__HOST", "0.0.0.0")
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .unwrap();
        if probe.success() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(dir.path().join("data/relay.db").exists());
    tokio::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// A data folder the relay's user cannot write (a root-owned bind mount on /data): one clear
/// error naming the folder and the uid, at once, instead of a minute of retries.
#[test]
fn an_unwritable_data_folder_is_one_clear_error_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut command;
    let uid;
    // Root writes anywhere: as root (CI), run the relay as another user, as the image does.
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(env!("CARGO_BIN_EXE_hrflow-relay"));
        uid = "65534".to_string();
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
        command = Command::new(env!("CARGO_BIN_EXE_hrflow-relay"));
        uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap())
            .to_string();
    }
    let started = std::time::Instant::now();
    let out = command
        .arg("serve")
        .env("RELAY__SERVER__PORT", "0")
        .env(
            "RELAY__DATABASE__URL",
            format!("sqlite://{}/relay.db", data.display()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot write the SQLite database in {}",
            data.display()
        )) && stderr.contains(&format!("runs as uid {uid}")),
        "{stderr}"
    );
}

/// Runs `openssl` with `args` in `dir`; fails the test with its output when it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The relay trusts the platform's certificate store, so an operator behind a TLS-inspecting
/// proxy can add their CA (mount a bundle, point SSL_CERT_FILE at it): a server whose
/// certificate comes from a private CA is refused without it and reached with it.
#[tokio::test]
async fn outbound_tls_trusts_a_ca_bundle_given_by_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Relay Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &port.to_string(),
            "-cert",
            "srv.pem",
            "-key",
            "srv.key",
            "-www",
            "-quiet",
        ])
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "s_server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A backfill's listing request is an outbound call any user can make on demand.
    let config = d.join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[hrflow]\napi_url = \"https://127.0.0.1:{port}\"\napi_key = \"k\"\nuser_email = \"e@example.org\"\nwebhook_secret = \"s\"\n\
             [backfill]\nretries = 0\n[[routes]]\nname = \"c\"\ndestination = \"careers\"\nvacancy = \"1\"\n"
        ),
    )
    .unwrap();
    // The service made the database: a backfill never creates one.
    hrflow_relay::store::Store::connect(&format!("sqlite://{}/relay.db", d.display()), 1)
        .await
        .unwrap()
        .close()
        .await;
    let backfill = |ca: Option<&std::path::Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hrflow-relay"));
        c.args([
            "--config",
            config.to_str().unwrap(),
            "backfill",
            "--source",
            "s",
        ])
        .env(
            "RELAY__DATABASE__URL",
            format!("sqlite://{}/relay.db", d.display()),
        )
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
        if let Some(ca) = ca {
            c.env("SSL_CERT_FILE", ca);
        }
        String::from_utf8_lossy(&c.output().unwrap().stderr).to_string()
    };
    let untrusted = backfill(None);
    assert!(
        untrusted.to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    // With the CA: the TLS handshake succeeds; s_server's HTML page is then no listing.
    let trusted = backfill(Some(&d.join("ca.pem")));
    assert!(!trusted.to_lowercase().contains("certificate"), "{trusted}");
    assert!(trusted.contains("unreadable"), "{trusted}");
    server.kill().await.unwrap();
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
