//! What the platform gives the relay: configuration by environment alone as in the container,
//! a data folder it may not be able to write, a CA bundle to trust.

use std::process::Command;

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
