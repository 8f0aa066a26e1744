//! The program's edges as a newcomer meets them: what `preview` says of a route that will
//! never take a profile, commands whose output is closed early, reading commands on a database
//! that is not there, the files the relay makes, and URLs printed without their secrets.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
}

fn cli(config: &std::path::Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("RELAY_CONFIG", config)
        .output()
        .unwrap()
}

fn fixture_path(n: usize) -> String {
    format!(
        "{}/tests/fixtures/profiles/profile-{n:03}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A configuration in a fresh folder; its database is `relay.db` beside it.
fn config_in(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("relay.toml");
    std::fs::write(
        &path,
        format!("{text}\n[database]\nurl = \"sqlite://relay.db\"\n"),
    )
    .unwrap();
    path
}

#[test]
fn preview_says_unmatched_for_a_route_that_would_never_take_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        &dir,
        &base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
            "vacancy = \"k0M5O9ylKZnxbQBy\"",
            "vacancy = \"k0M5O9ylKZnxbQBy\"\n\n[[routes]]\nname = \"other-source\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nsources = [\"someone-else\"]\n\n[[routes]]\nname = \"tagging\"\ndestination = \"flatchr\"\nvacancy = \"v\"\nevents = [\"profile.tagging.success\"]\n",
        ),
    );
    let profile = fixture_path(0);
    let outcomes = |args: &[&str]| -> Vec<(String, String, String)> {
        let mut all = vec!["preview", "--profile", profile.as_str()];
        all.extend_from_slice(args);
        let out = cli(&config, &all);
        assert!(out.status.success(), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["route"].as_str().unwrap().to_string(),
                    r["outcome"].as_str().unwrap().to_string(),
                    r["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let by_default = outcomes(&[]);
    assert_eq!(by_default[0].1, "send", "{by_default:?}");
    assert_eq!(by_default[1].1, "unmatched");
    assert!(
        by_default[1]
            .2
            .contains("not the profile's source \"ae22a26e3b02afe717f49bb77fc221b4e21f700f\""),
        "{by_default:?}"
    );
    assert_eq!(by_default[2].1, "unmatched");
    assert!(
        by_default[2].2.contains("not \"profile.parsing.success\""),
        "{by_default:?}"
    );
    let tagged = outcomes(&["--event", "profile.tagging.success"]);
    assert_eq!(
        tagged.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
        ["unmatched", "unmatched", "send"],
        "{tagged:?}"
    );
    let failed = outcomes(&["--event", "profile.parsing.error"]);
    assert!(
        failed
            .iter()
            .all(|t| t.1 == "unmatched" && t.2.contains("error event"))
    );
}

/// Runs `args` with standard output a pipe whose reader is gone before the first line.
fn closed_pipe(
    config: &std::path::Path,
    db: &str,
    args: &[&str],
) -> (std::process::ExitStatus, String) {
    let mut child = bin()
        .args(args)
        .env("RELAY_CONFIG", config)
        .env("RELAY__DATABASE__URL", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn every_command_stops_quietly_when_its_output_goes_away() {
    let app = spawn!(&base_config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    assert_eq!(
        app.post_event(&event_body("p-pipe", SOURCE)).await.status(),
        202
    );
    let job = app.jobs().await[0].id.to_string();
    let profile = fixture_path(0);
    for args in [
        vec!["check-config"],
        vec!["preview", "--profile", profile.as_str()],
        vec!["jobs"],
        vec!["jobs", "list", "--limit", "5"],
        vec!["jobs", "show", job.as_str()],
        vec!["jobs", "retry", "--status", "dead"],
        vec!["purge"],
        vec!["erase", "--profile", "nobody"],
        vec!["--help"],
        vec!["--version"],
    ] {
        let (status, stderr) = tokio::task::spawn_blocking({
            let config = app.config_path.clone();
            let db = app.db.url.clone();
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                closed_pipe(&config, &db, &args)
            }
        })
        .await
        .unwrap();
        assert!(
            !stderr.contains("panicked") && status.code() != Some(101),
            "{status:?}: {stderr}"
        );
        // It stops there, quietly: nothing left to say that anyone could read.
        assert!(status.success(), "{args:?}: {status:?}: {stderr}");
        assert!(stderr.is_empty() || args[0] == "jobs", "{args:?}: {stderr}");
    }
}

#[test]
fn reading_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(&dir, "");
    let db = dir.path().join("relay.db");
    for args in [
        vec!["jobs"],
        vec!["jobs", "show", "1"],
        vec!["jobs", "retry", "--status", "dead"],
        vec!["purge"],
        vec!["erase", "--profile", "p"],
        vec!["backfill", "--source", "s", "--dry-run"],
    ] {
        let out = cli(&config, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("there is no database at {}", db.display()))
                && stderr.contains("--config"),
            "{args:?}: {stderr}"
        );
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
    // Without any configuration, in a fresh folder: no ./data appears either.
    let out = bin()
        .arg("jobs")
        .current_dir(dir.path())
        .env_remove("RELAY_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("data").exists());
}

/// The modes of `path` and what is in it, as `ls` would print them.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Starts `serve` under `umask`, in `dir`, until it listens; returns what it logged.
fn serve_under_umask(dir: &std::path::Path, umask: &str) -> String {
    use std::io::BufRead;
    std::fs::write(dir.join("relay.toml"), "[server]\nport = 0\n").unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask}; exec {} --config relay.toml serve",
            env!("CARGO_BIN_EXE_hrflow-relay")
        ))
        .current_dir(dir)
        .env("RELAY__DATABASE__URL", "sqlite://state/relay.db")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // The files are made (and a shared one warned about) before the service listens.
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.contains("hrflow-relay listening") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the relay did not listen:\n{log}"));
        log.push_str(&line);
        log.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    log
}

#[test]
fn the_database_is_readable_by_its_own_user_only_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    serve_under_umask(dir.path(), "000");
    let state = dir.path().join("state");
    assert_eq!(mode(&state), 0o700);
    for file in ["relay.db", "relay.db-wal", "relay.db-shm"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    // A database someone made readable to others is used, and warned about.
    use std::os::unix::fs::PermissionsExt;
    let db = state.join("relay.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = serve_under_umask(dir.path(), "022");
    assert!(
        log.contains("the database file is readable by other users"),
        "{log}"
    );
}

#[test]
fn urls_are_printed_without_their_password_or_query() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        &dir,
        &base_config("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
            "vacancy = \"k0M5O9ylKZnxbQBy\"",
            "vacancy = \"k0M5O9ylKZnxbQBy\"\n\n[[routes]]\nname = \"hook\"\ndestination = \"webhook\"\nurl = \"http://user:PASSWORD@hooks.example/hook?token=BEARER\"\n",
        ),
    );
    let check = cli(&config, &["check-config"]);
    let preview = cli(
        &config,
        &["preview", "--profile", &fixture_path(0), "--route", "hook"],
    );
    for out in [check, preview] {
        assert!(out.status.success(), "{out:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains("http://user:***@hooks.example/hook?***"),
            "{all}"
        );
        assert!(
            !all.contains("PASSWORD") && !all.contains("BEARER"),
            "{all}"
        );
    }
}

const NOISY: &str = r#"
fn noisy(p) {
    print("\n{\"level\":\"ERROR\",\"fields\":{\"message\":\"forged\"}}\n" + p.info.email);
    debug(p.info.email);
    true
}
"#;

/// Delivers one candidate through a logic that prints; returns every line the relay wrote.
async fn run_noisy(print: bool) -> (String, String) {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("noisy.rhai");
    std::fs::write(&script, NOISY).unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        base_config(&hrflow.url, &flatchr.url)
            .replace(
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/logic.rhai"),
                script.to_str().unwrap(),
            )
            .replace("[logic]\n", &format!("[logic]\nprint = {print}\n"))
            .replace(
                "vacancy = \"k0M5O9ylKZnxbQBy\"",
                "vacancy = \"k0M5O9ylKZnxbQBy\"\nlogics = [\"noisy\"]",
            ),
    )
    .unwrap();
    let log = Log::default();
    let db = format!("sqlite://{}/relay.db", dir.path().display());
    let (_relay, port) = start_relay_logged(&config, &db, &log);
    let http = reqwest::Client::new();
    assert_eq!(send_event(&http, port, "noisy-1").await, Some(202));
    let started = Instant::now();
    while !log.lock().unwrap().contains("candidate delivered") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = log.lock().unwrap().clone();
    (text, "noisy-1@example.org".to_string())
}

#[tokio::test]
async fn a_script_prints_nothing_unless_asked_and_never_forges_a_log_line() {
    let (log, email) = run_noisy(false).await;
    assert!(!log.contains("forged") && !log.contains(&email), "{log}");
    let (log, email) = run_noisy(true).await;
    for line in log.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|_| panic!("a line that is not a JSON log line: {line:?}"));
        assert_ne!(v["fields"]["message"], "forged", "a forged line: {line}");
        if line.contains(&email) {
            assert_eq!(v["level"], "DEBUG", "{line}");
            assert!(
                v["fields"]["output"].as_str().unwrap().contains(&email),
                "{line}"
            );
        }
    }
    assert!(
        log.contains("script print") && log.contains("script debug"),
        "{log}"
    );
}

#[tokio::test]
async fn erasing_a_candidate_is_not_stopped_by_a_mistake_elsewhere_in_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // The service made the database; the operator's configuration has a typo, and no secret.
    let config = config_in(&dir, "[server]\nprot = 9000\n");
    let url = format!("sqlite://{}/relay.db", dir.path().display());
    hrflow_relay::store::Store::connect(&url, 1)
        .await
        .unwrap()
        .close()
        .await;
    for args in [vec!["erase", "--profile", "p"], vec!["purge"]] {
        let out = cli(&config, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("warning: the configuration has a problem: server.prot"),
            "{stderr}"
        );
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(printed["deleted"].is_object(), "{printed}");
    }
    // Not check-config, nor serve: they stop on it.
    assert_eq!(cli(&config, &["check-config"]).status.code(), Some(1));
}
