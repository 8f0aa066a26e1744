//! `check-config --online`: every upstream asked with the configured credentials, one line per
//! check, against fakes that take them and fakes that refuse them; nothing created anywhere.

use crate::admin::AlertSink;
use crate::helpers::*;

/// `check-config --online [extra]` on `config` beside the test's database: (exit 0, stdout,
/// stderr). Run with tokio's Command: the fakes share this test's runtime.
async fn online(app: &TestApp, config: &str, extra: &[&str]) -> (bool, String, String) {
    let path = app.db.dir.path().join("online.toml");
    std::fs::write(&path, config).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .args([
            "--config",
            path.to_str().unwrap(),
            "check-config",
            "--online",
        ])
        .args(extra)
        .env("RELAY__DATABASE__URL", &app.db.url)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        format!("{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr)),
    )
}

/// The online check's line about `what` (the summary before it names some of the same).
fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .skip_while(|l| !l.starts_with("online checks"))
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line for {what:?} in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_that_takes_the_keys_is_ok_and_nothing_is_created() {
    let hrflow = FakeHrflow::start().await;
    hrflow.source(SOURCE, vec!["p1".into(), "p2".into()]);
    let flatchr = FakeFlatchr::start().await;
    let hook = AlertSink::start().await;
    let config = format!(
        "{}sources = [\"{SOURCE}\"]\n[alerts]\nwebhook_url = \"{}\"\n",
        base_config(&hrflow.url, &flatchr.url),
        hook.url
    );
    let app = spawn!(&config);
    let (ok, out, err) = online(&app, &config, &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        line(&out, &format!("hrflow source \"{SOURCE}\"")).starts_with("  ok"),
        "{out}"
    );
    assert!(line(&out, &format!("hrflow source \"{SOURCE}\"")).contains("2 profile(s)"));
    assert!(
        line(&out, "flatchr account \"default\"").starts_with("  ok"),
        "{out}"
    );
    assert!(line(&out, "database").starts_with("  ok"), "{out}");
    assert!(
        line(&out, "database").contains("migrations applied"),
        "{out}"
    );
    assert!(line(&out, "alerts").contains("resolves"), "{out}");
    // One listing page of one profile; a search; no candidate, no message, no job.
    assert_eq!(
        hrflow.listing.lock().unwrap().requests,
        [(SOURCE.to_string(), 1, 1)]
    );
    assert_eq!(flatchr.state.lock().unwrap().searches, 1);
    assert!(flatchr.candidates().is_empty());
    assert!(
        hook.texts().is_empty(),
        "a message without --send-test-alert"
    );
    assert!(app.jobs().await.is_empty());
    for secret in [HRFLOW_KEY, FLATCHR_KEY, SECRET] {
        assert!(!out.contains(secret) && !err.contains(secret));
    }
    // Asked to, it sends one message, which says it is a test.
    let (ok, out, _) = online(&app, &config, &["--send-test-alert"]).await;
    assert!(ok, "{out}");
    assert!(
        line(&out, "alerts").contains("took the test message"),
        "{out}"
    );
    let texts = hook.texts();
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("test message"), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_that_refuses_the_keys_fails_its_line_and_the_command() {
    let mut refusing = mockito::Server::new_async().await;
    refusing
        .mock("GET", mockito::Matcher::Any)
        .with_status(401)
        .with_body(r#"{"code": 401, "message": "Unauthorized"}"#)
        .create_async()
        .await;
    refusing
        .mock("POST", mockito::Matcher::Any)
        .with_status(401)
        .with_body(format!(r#"{{"error": "bad token {FLATCHR_KEY}"}}"#))
        .create_async()
        .await;
    let config = base_config(&refusing.url(), &refusing.url());
    let app = spawn!(&config);
    let (ok, out, err) = online(&app, &config, &[]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("online check(s) failed"), "{err}");
    // The route takes every source and none is named: a profile that cannot exist is asked.
    assert!(line(&out, "hrflow key").starts_with("  FAIL"), "{out}");
    assert!(line(&out, "hrflow key").contains("refused"), "{out}");
    assert!(
        line(&out, "flatchr account \"default\"").starts_with("  FAIL"),
        "{out}"
    );
    assert!(
        line(&out, "flatchr account \"default\"").contains("401"),
        "{out}"
    );
    assert!(line(&out, "database").starts_with("  ok"), "{out}");
    // The upstream echoed the key: it is not printed.
    assert!(
        !out.contains(FLATCHR_KEY) && !err.contains(FLATCHR_KEY),
        "{out}"
    );
    // A source named by a route is listed instead; the same refusal fails it.
    let sourced = format!("{config}sources = [\"{SOURCE}\"]\n");
    let (ok, out, _) = online(&app, &sourced, &[]).await;
    assert!(!ok);
    assert!(
        line(&out, &format!("hrflow source \"{SOURCE}\"")).starts_with("  FAIL"),
        "{out}"
    );
    assert!(!out.contains("hrflow key"), "{out}");
}

#[tokio::test]
async fn a_key_that_cannot_be_refuted_because_hrflow_fails_is_a_failure_too() {
    let silent = silent_server().await;
    let config = base_config(&silent, &silent)
        .replace("request_timeout = \"500ms\"", "request_timeout = \"300ms\"")
        .replace("lease = \"3s\"", "lease = \"2s\"");
    let app = spawn!(&config);
    let started = std::time::Instant::now();
    let (ok, out, _) = online(&app, &config, &[]).await;
    assert!(!ok, "{out}");
    assert!(line(&out, "hrflow key").starts_with("  FAIL"), "{out}");
    assert!(line(&out, "flatchr account").starts_with("  FAIL"), "{out}");
    // Each check is bounded by the request timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
