//! `hrflow-relay backfill`: a paged listing stand-in (failures, profiles arriving mid-run),
//! runs repeated, interrupted, concurrent and beside the running service.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hrflow_relay::backfill::{self, BackfillError, Options, Progress, Report};
use hrflow_relay::config::Settings;
use serde_json::Value;

use crate::helpers::*;

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

/// The relay's configuration with a small page and a fast pace, so pages are many and quick.
fn config(hrflow: &str, flatchr: &str) -> String {
    format!(
        "{}\n[backfill]\npage_size = 7\nrequests_per_second = 50\nretries = 2\nretry_delay = \"20ms\"\n",
        base_config(hrflow, flatchr)
    )
}

fn settings(app: &TestApp) -> Settings {
    let env = HashMap::from([("RELAY__DATABASE__URL".to_string(), app.db.url.clone())]);
    Settings::load_from(Some(&app.config_path), env).unwrap()
}

fn options(sources: &[&str]) -> Options {
    Options {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    }
}

async fn run(app: &TestApp, options: &Options) -> Result<Report, (Report, BackfillError)> {
    backfill::run(&settings(app), app.store(), options, &Progress::Quiet).await
}

#[tokio::test]
async fn a_backfill_queues_each_profile_once_and_a_second_run_queues_nothing() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn!(&config(&hrflow.url, &flatchr.url));
    let listed = keys("bf", 30);
    hrflow.source(SOURCE, listed.clone());
    {
        let mut l = hrflow.listing.lock().unwrap();
        l.fail_once = vec![2]; // a 503 on page 2, once
        l.add_on_page = Some((3, SOURCE.into(), keys("late", 3))); // arrive mid-run
    }
    // One profile already came through an event: the backfill skips it.
    assert_eq!(
        app.post_event(&event_body("bf-000", SOURCE)).await.status(),
        202
    );

    let mut first = options(&[SOURCE]);
    first.wait = true;
    let report = run(&app, &first).await.unwrap();
    assert_eq!(report.listed, 33, "{report:?}");
    assert_eq!(report.queued, 32, "{report:?}");
    assert_eq!(report.skipped, 1);
    assert_eq!(report.routes, ["flatchr"]);
    assert_eq!(report.pages, 5, "33 profiles in pages of 7");
    // --wait followed the queued jobs to their end, delivered by the running service.
    assert_eq!(
        (report.delivered, report.filtered, report.dead),
        (Some(32), Some(0), Some(0))
    );
    {
        let l = hrflow.listing.lock().unwrap();
        let pages: Vec<u64> = l.requests.iter().map(|r| r.1).collect();
        assert_eq!(pages, [1, 2, 2, 3, 4, 5], "page 2 tried again once");
        assert!(l.requests.iter().all(|r| r.0 == SOURCE && r.2 == 7));
        assert_eq!(l.unauthorized, 0);
    }

    let jobs = app.settle(Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 33);
    assert_all_delivered(&jobs);
    let pushed = flatchr.pushes_per_email();
    assert_eq!(pushed.len(), 33);
    assert!(pushed.values().all(|n| *n == 1), "{pushed:?}");

    // Again: everything is skipped, nothing is queued or pushed twice.
    let again = run(&app, &options(&[SOURCE])).await.unwrap();
    assert_eq!((again.listed, again.queued, again.skipped), (33, 0, 33));
    assert_eq!(app.jobs().await.len(), 33);
    // A dry run counts what it would do and writes nothing.
    hrflow.source(SOURCE, keys("bf", 40));
    let mut dry = options(&[SOURCE]);
    dry.dry_run = true;
    let dry = run(&app, &dry).await.unwrap();
    assert_eq!((dry.listed, dry.queued, dry.skipped), (40, 10, 30));
    assert!(dry.dry_run);
    assert_eq!(app.jobs().await.len(), 33);
}

#[tokio::test]
async fn a_listing_that_keeps_failing_stops_clearly_and_keeps_what_it_queued() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn_stepped!(&config(&hrflow.url, &flatchr.url));
    hrflow.source(SOURCE, keys("fail", 20));
    hrflow.listing.lock().unwrap().fail_always = Some(2);
    let (report, error) = run(&app, &options(&[SOURCE])).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("page 2") && message.contains("3 time(s)") && message.contains("503"),
        "{message}"
    );
    assert_eq!((report.listed, report.queued), (7, 7), "{report:?}");
    assert!(report.error.is_some());
    // Page 1's jobs stay queued and are delivered.
    assert_eq!(app.jobs().await.len(), 7);
    // HrFlow is back: the same command goes on where it matters, nothing twice.
    hrflow.listing.lock().unwrap().fail_always = None;
    let report = run(&app, &options(&[SOURCE])).await.unwrap();
    assert_eq!((report.listed, report.queued, report.skipped), (20, 13, 7));
    let jobs = app.dispatch().await;
    assert_eq!(jobs.len(), 20);
    assert_all_delivered(&jobs);
    assert!(flatchr.pushes_per_email().values().all(|n| *n == 1));

    // Usage errors say what is wrong before anything is listed.
    let before = hrflow.list_requests();
    let mut unknown = options(&[SOURCE]);
    unknown.routes = vec!["nope".into()];
    let (_, e) = run(&app, &unknown).await.unwrap_err();
    assert!(e.to_string().contains("no route named \"nope\""), "{e}");
    let mut bad_date = options(&[SOURCE]);
    bad_date.created_after = Some("31/01/2026".into());
    let (_, e) = run(&app, &bad_date).await.unwrap_err();
    assert!(e.to_string().contains("--created-after"), "{e}");
    assert_eq!(hrflow.list_requests(), before);
}

#[tokio::test]
async fn two_backfills_at_once_queue_each_profile_once() {
    let hrflow = FakeHrflow::start().await;
    // Nothing is delivered here: this is about what is queued.
    let app = spawn!(&config(&hrflow.url, "http://127.0.0.1:9"));
    hrflow.source(SOURCE, keys("twin", 60));
    let o = options(&[SOURCE]);
    let (a, b) = tokio::join!(run(&app, &o), run(&app, &o));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.queued + b.queued, 60, "{a:?} {b:?}");
    assert_eq!(a.skipped + b.skipped, 60);
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 60);
    let mut profiles: Vec<&str> = jobs.iter().map(|j| j.profile_key.as_str()).collect();
    profiles.sort();
    profiles.dedup();
    assert_eq!(profiles.len(), 60);
}

/// Runs `hrflow-relay backfill` as a user would; returns the child.
fn backfill_command(app: &TestApp) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"));
    c.args(["--config", app.config_path.to_str().unwrap(), "backfill"])
        .args(["--source", SOURCE])
        .env("RELAY__DATABASE__URL", &app.db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_mid_run_and_run_again_pushes_each_candidate_once() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let app = spawn!(&config(&hrflow.url, &flatchr.url));
    hrflow.source(SOURCE, keys("kill", 56)); // 8 pages
    hrflow.listing.lock().unwrap().delay = Duration::from_millis(100);

    let mut child = backfill_command(&app).spawn().unwrap();
    let started = Instant::now();
    while hrflow.list_requests() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the backfill listed nothing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();
    let queued_before = app.jobs().await.len();
    assert!(
        queued_before > 0 && queued_before < 56,
        "killed mid-run, yet {queued_before} jobs"
    );

    // Run again to the end, while the service delivers what the first run queued.
    hrflow.listing.lock().unwrap().delay = Duration::ZERO;
    let out = tokio::task::spawn_blocking({
        let mut c = backfill_command(&app);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Not a terminal: plain progress lines, then one JSON line on stdout.
    assert!(stderr.contains("listing"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["listed"], 56);
    assert_eq!(
        report["queued"].as_u64().unwrap() as usize,
        56 - queued_before,
        "{report}"
    );
    assert_eq!(report["skipped"].as_u64().unwrap() as usize, queued_before);
    assert_eq!(report["routes"], serde_json::json!(["flatchr"]));

    let jobs = app.settle(Duration::from_secs(30)).await;
    assert_eq!(jobs.len(), 56);
    assert_all_delivered(&jobs);
    let pushed = flatchr.pushes_per_email();
    assert_eq!(pushed.len(), 56);
    assert!(pushed.values().all(|n| *n == 1), "{pushed:?}");
}

#[tokio::test]
async fn the_command_refuses_a_failing_listing_with_a_non_zero_exit() {
    let hrflow = FakeHrflow::start().await;
    let app = spawn!(&config(&hrflow.url, "http://127.0.0.1:9"));
    // An unknown source: HrFlow answers code 400 every time.
    let out = tokio::task::spawn_blocking({
        let mut c = backfill_command(&app);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("backfill stopped") && stderr.contains("code 400"),
        "{stderr}"
    );
    assert!(!stderr.contains(HRFLOW_KEY), "the key must not be printed");
    assert!(app.jobs().await.is_empty());
}
