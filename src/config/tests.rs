//! The settings as a file and the environment make them: defaults, overrides, every problem
//! listed at once, secrets never shown.

use super::*;
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_default_shutdown_fits_the_platforms_kill_timeouts() {
    // docker/podman stop send SIGKILL after 10 s, Kubernetes after 30 s: the grace, plus a
    // second to release leases and exit, must come in under the shortest.
    let s = Settings::load_from(None, HashMap::new()).unwrap();
    s.check().unwrap();
    let grace = s.server.shutdown_grace;
    assert!(
        grace + Duration::from_secs(1) < Duration::from_secs(10),
        "{grace:?}"
    );
}

#[test]
fn operating_keys_are_checked_without_showing_the_alert_url() {
    let s = Settings::load_from(
        None,
        env(&[
            ("RELAY__RETENTION__FINISHED", "a month"),
            (
                "RELAY__ALERTS__WEBHOOK_URL",
                "hooks.slack.com/services/T0/B0/SECRETPART",
            ),
            ("RELAY__ALERTS__MIN_INTERVAL", "5m"),
            ("RELAY__SERVER__PUBLIC_URL", "relay.example.com"),
            ("RELAY__CAREERS__PATH", "/admin"),
            ("RELAY__ADMIN__TOKENS", "t1,t2"),
        ]),
    )
    .unwrap();
    let problems = s.validate().join("\n");
    for expected in [
        "retention.finished",
        "alerts.webhook_url = \"(hidden)\"",
        "server.public_url",
        "careers.path = \"/admin\" is taken",
    ] {
        assert!(problems.contains(expected), "{expected}: {problems}");
    }
    assert!(!problems.contains("SECRETPART"), "{problems}");
    assert_eq!(s.admin.tokens.len(), 2);
    assert!(s.secret_values().contains(&"t2".to_string()));
    let d = Settings::load_from(None, HashMap::new()).unwrap();
    d.check().unwrap();
    assert_eq!(d.retention.finished, Duration::from_secs(30 * 86400));
    assert_eq!(d.retention.dead, Duration::from_secs(90 * 86400));
}

#[test]
fn the_typed_configuration_lists_every_error_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        r#"
[hrflow]
signature = "md5"
api_key = "k"
user_email = "u@x.org"
[worker]
lease = "10s"
request_timeout = "30s"
poll_interval = "soon"
retry_schedule = ["5s", "forever"]
[flatchr]
api_key = "fk"
company = "C"
[flatchr.accounts.agency]
api_url = "not a url"
[[routes]]
name = "hook"
destination = "webhook"
url = "mailto:x@y.z"
secret = "whsec_!!"
headers = { "Bad Header" = "x" }
[[routes]]
name = "tagged"
destination = "careers"
vacancy = "seven"
vacancy_tag = "t"
[[routes]]
name = "typo"
destination = "flatchr"
account = "agnecy"
vacancy = "v"
"#,
    )
    .unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    let problems = s.check().unwrap_err();
    for needle in [
        "hrflow.signature = \"md5\"",
        "worker.poll_interval = \"soon\" is not a duration",
        "worker.retry_schedule[1] = \"forever\" is not a duration",
        "flatchr.accounts.agency.api_url = \"not a url\"",
        "route \"hook\" sends to webhook but its url \"mailto:x@y.z\"",
        "route \"hook\" has a webhook secret that is not \"whsec_\"",
        "route \"hook\" has a header \"Bad Header\"",
        "route \"tagged\" sends to careers but its vacancy \"seven\" is not a vacancy id",
        "route \"typo\" names the Flatchr account \"agnecy\"",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "missing {needle:?} in {problems:#?}"
        );
    }
    // The lease is checked against the timeout once both parse; here one duration is bad,
    // so that bound waits for the next run rather than adding noise.
    assert!(!problems.iter().any(|p| p.contains("worker.lease")));
}

#[test]
fn checked_settings_are_typed() {
    let s = Settings::load_from(
        None,
        env(&[
            ("RELAY__HRFLOW__SIGNATURE", "sdk-raw"),
            ("RELAY__WORKER__RETRY_SCHEDULE", "1s,2m"),
            ("RELAY__FLATCHR__ACCOUNTS__AGENCY__API_KEY", "agency-key"),
            ("RELAY__FLATCHR__ACCOUNTS__AGENCY__COMPANY", "AG"),
            ("RELAY__FLATCHR__API_KEY", "own-key"),
            ("RELAY__FLATCHR__REQUESTS_PER_SECOND", "4"),
        ]),
    )
    .unwrap();
    s.check().unwrap();
    assert_eq!(s.hrflow.signature, SignatureMode::SdkRaw);
    assert_eq!(
        s.worker.retry_schedule,
        [Duration::from_secs(1), Duration::from_secs(120)]
    );
    let agency = s.destinations.flatchr.account("agency").unwrap();
    assert_eq!(
        (
            agency.api_key.expose(),
            agency.company.as_str(),
            agency.requests_per_second
        ),
        ("agency-key", "AG", 4),
        "unset keys fall back to [flatchr]"
    );
    assert_eq!(agency.api_url, s.destinations.flatchr.api_url);
    assert!(s.destinations.flatchr.account("nobody").is_none());
    assert_eq!(s.destinations.flatchr.all_accounts().len(), 2);
}

#[test]
fn defaults_load_and_are_valid() {
    let s = Settings::load_from(None, HashMap::new()).unwrap();
    assert_eq!(s.server.port, 8080);
    assert_eq!(s.worker.retry_schedule.len(), 7);
    assert!(s.validate().is_empty(), "{:?}", s.validate());
}

#[test]
fn environment_overrides_file_and_parses_lists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[server]\nport = 9001\n[flatchr]\napi_key = \"from-file\"\n",
    )
    .unwrap();
    let s = Settings::load_from(
        Some(&path),
        env(&[
            ("RELAY__SERVER__PORT", "9002"),
            ("RELAY__WORKER__RETRY_SCHEDULE", "1s,2s"),
            ("RELAY__FLATCHR__API_KEY", "12345"),
        ]),
    )
    .unwrap();
    assert_eq!(s.server.port, 9002);
    assert_eq!(
        s.worker.retry_schedule,
        vec![Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(s.destinations.flatchr.api_key.expose(), "12345");
}

#[test]
fn every_problem_is_listed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        r#"
[hrflow]
api_url = "not a url"
dedupe_window = "ten minutes"
[[routes]]
name = "a"
destination = "flatchr"
logics = ["x"]
events = ["profile.parsing.success", "profile.parsing.error"]
[[routes]]
name = "b"
destination = "ftp"
[[routes]]
name = "c"
destination = "careers"
vacancy = "abc"
[careers]
path = "careers"
"#,
    )
    .unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    let problems = s.validate().join("\n");
    for needle in [
        "hrflow.api_url",
        "hrflow.dedupe_window",
        "route \"a\" sends to flatchr but has no vacancy",
        "flatchr.api_key is empty",
        "flatchr.company is empty",
        "logic.script is empty",
        "unknown destination \"ftp\"",
        "hrflow.api_key is empty",
        "route \"c\" sends to careers but has neither a vacancy id",
        "careers.path = \"careers\"",
        "lists the event type \"profile.parsing.error\"",
    ] {
        assert!(
            problems.contains(needle),
            "missing {needle:?} in:\n{problems}"
        );
    }
}

#[test]
fn relative_paths_in_the_file_resolve_against_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir(&conf).unwrap();
    let path = conf.join("relay.toml");
    std::fs::write(
        &path,
        "[logic]\nscript = \"rules/logic.rhai\"\n[database]\nurl = \"sqlite://data/relay.db?mode=rwc\"\n",
    )
    .unwrap();
    let folder = std::path::absolute(&conf).unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    assert_eq!(
        s.logic.script,
        conf.join("rules/logic.rhai").display().to_string()
    );
    assert_eq!(
        s.database.url.expose(),
        format!("sqlite://{}/data/relay.db?mode=rwc", folder.display())
    );
    // What the environment says stays as it is (relative to the working directory).
    let s = Settings::load_from(
        Some(&path),
        env(&[
            ("RELAY__LOGIC__SCRIPT", "other.rhai"),
            ("RELAY__DATABASE__URL", "sqlite://here.db"),
        ]),
    )
    .unwrap();
    assert_eq!(s.logic.script, "other.rhai");
    assert_eq!(s.database.url.expose(), "sqlite://here.db");
    // Absolute paths, PostgreSQL and the built-in default are left alone.
    std::fs::write(
        &path,
        "[logic]\nscript = \"/etc/x.rhai\"\n[database]\nurl = \"postgres://u@h/db\"\n",
    )
    .unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    assert_eq!(s.logic.script, "/etc/x.rhai");
    assert_eq!(s.database.url.expose(), "postgres://u@h/db");
    std::fs::write(&path, "[server]\nport = 1\n").unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    assert_eq!(s.database.url.expose(), "sqlite://data/relay.db");
    assert_eq!(resolve_sqlite_url("sqlite::memory:", Path::new("/x")), None);
}

#[test]
fn the_webhook_secret_is_one_or_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[hrflow]\nwebhook_secret = \"one\"\n").unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    assert_eq!(s.hrflow.webhook_secret.keys(), [b"one".as_slice()]);
    std::fs::write(
        &path,
        "[hrflow]\nwebhook_secret = [\"new\", \"\", \"old\"]\n",
    )
    .unwrap();
    let s = Settings::load_from(Some(&path), HashMap::new()).unwrap();
    assert_eq!(
        s.hrflow.webhook_secret.len(),
        2,
        "empty entries are dropped"
    );
    // The environment gives a comma-separated list, and overrides the file.
    let s = Settings::load_from(
        Some(&path),
        env(&[("RELAY__HRFLOW__WEBHOOK_SECRET", "a-new,an-old")]),
    )
    .unwrap();
    assert_eq!(
        s.hrflow.webhook_secret.keys(),
        [b"a-new".as_slice(), b"an-old".as_slice()]
    );
    let s = Settings::load_from(None, env(&[("RELAY__HRFLOW__WEBHOOK_SECRET", "")])).unwrap();
    assert!(s.hrflow.webhook_secret.is_empty());
    let s = Settings::load_from(None, HashMap::new()).unwrap();
    assert!(s.hrflow.webhook_secret.is_empty());
    assert!(!format!("{s:?}").contains("a-new"));
}

#[test]
fn secrets_never_show_in_debug() {
    let s = Settings::load_from(
        None,
        env(&[
            ("RELAY__FLATCHR__API_KEY", "sk_live_abcdef"),
            ("RELAY__HRFLOW__WEBHOOK_SECRET", "whsec_1"),
        ]),
    )
    .unwrap();
    let printed = format!("{s:?}");
    assert!(!printed.contains("sk_live_abcdef") && !printed.contains("whsec_1"));
    assert!(s.destinations.flatchr.api_key.matches(b"sk_live_abcdef"));
    assert!(!s.destinations.flatchr.api_key.matches(b"sk_live_abcdeX"));
}
