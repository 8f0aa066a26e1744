//! The CLI commands: `check-config`, `preview` and `probe`.

use std::process::Command;

use serde_json::Value;

use crate::helpers::*;

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
