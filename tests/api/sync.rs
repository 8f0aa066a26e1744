//! Sync: the service lists `[sync].sources` and delivers, once, the profiles whose events never
//! came; the CLI makes a pass on demand; a failed listing keeps the watermark; a refused key
//! alerts; replicas make one pass between them.

use std::time::{Duration, Instant};

use hrflow_relay::job::Status;
use serde_json::Value;

use crate::admin::AlertSink;
use crate::helpers::*;

fn synced(config: &str, extra: &str) -> String {
    format!("{config}\n[sync]\nsources = [\"{SOURCE}\"]\ninterval = \"1h\"\n{extra}")
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Waits until Flatchr holds `n` candidates and no job is pending.
async fn delivered(app: &TestApp, flatchr: &FakeFlatchr, n: usize) {
    let started = Instant::now();
    loop {
        let jobs = app.jobs().await;
        if flatchr.candidates().len() >= n && jobs.iter().all(|j| j.status != Status::Pending) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} candidates, jobs {jobs:?}",
            flatchr.candidates().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn last_run(app: &TestApp) -> hrflow_relay::store::sync::SourceRun {
    let started = Instant::now();
    loop {
        let runs = app.store().sync_runs().await.unwrap();
        if let Some(r) = runs.into_iter().find(|r| r.source_key == SOURCE) {
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no sync pass");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_whose_events_never_came_are_delivered_once_and_the_rest_skipped() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let hook = AlertSink::start().await;
    hrflow.source(SOURCE, keys(&["a", "b", "c"]));
    let base = format!(
        "{}\n[alerts]\nwebhook_url = \"{}\"\nmin_interval = \"1s\"\n{}",
        base_config(&hrflow.url, &flatchr.url),
        hook.url,
        crate::admin::admin_section()
    );
    // Sync off: only the event that came is delivered.
    let app = spawn!(&base);
    assert_eq!(app.post_event(&event_body("a", SOURCE)).await.status(), 202);
    delivered(&app, &flatchr, 1).await;
    let db = app.stop().await;
    // On: the service's first pass finds the two whose events never came.
    let app = TestApp::spawn_on(&synced(&base, ""), db).await;
    delivered(&app, &flatchr, 3).await;
    let run = last_run(&app).await;
    assert_eq!((run.listed, run.queued, run.found), (3, 2, 2), "{run:?}");
    assert!(run.error.is_none() && run.watermark.is_some(), "{run:?}");
    assert!(flatchr.pushes_per_email().values().all(|n| *n == 1));
    // The first pass lists from `lookback` (2 days) back.
    let two_days_ago = (chrono::Utc::now().date_naive() - chrono::Days::new(2))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        hrflow.listing.lock().unwrap().created_after[0].as_deref(),
        Some(two_days_ago.as_str())
    );
    // And says so: the events went missing.
    let started = Instant::now();
    while !hook
        .texts()
        .iter()
        .any(|t| t.contains("Sync found 2 profile(s)"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            hook.texts()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        hook.texts()
            .iter()
            .any(|t| t.contains(SOURCE) && t.contains("webhook"))
    );

    // Stopped while new profiles appear, then started: they are delivered too.
    let db = app.stop().await;
    hrflow.source(SOURCE, keys(&["a", "b", "c", "d", "e"]));
    let app = TestApp::spawn_on(&synced(&base, ""), db).await;
    delivered(&app, &flatchr, 5).await;
    let started = Instant::now();
    while last_run(&app).await.found != 2 || flatchr.candidates().len() != 5 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // From the day before the last pass started.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        hrflow
            .listing
            .lock()
            .unwrap()
            .created_after
            .last()
            .cloned()
            .flatten()
            .as_deref(),
        Some(yesterday.as_str())
    );

    // The command makes a pass now: one more profile, queued once, then nothing.
    hrflow.source(SOURCE, keys(&["a", "b", "c", "d", "e", "f"]));
    for expected in [1, 0] {
        let (ok, out) = relay_cli(&app, &["sync"]);
        assert!(ok, "{out}");
        let line: Value = out
            .lines()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("no JSON line in {out}"));
        assert_eq!(
            (line["listed"].as_u64(), line["queued"].as_u64()),
            (Some(6), Some(expected)),
            "{out}"
        );
        assert_eq!(line["skipped"].as_u64(), Some(6 - expected), "{out}");
    }
    delivered(&app, &flatchr, 6).await;
    assert!(flatchr.pushes_per_email().values().all(|n| *n == 1));
    // The status page shows the source's last pass.
    let page = app
        .http
        .get(format!("{}/admin", app.address))
        .bearer_auth(crate::admin::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let section = &html[html.find("<section id=\"sync\">").expect("no sync section")..];
    assert!(section.contains(SOURCE), "{section}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_fails_mid_pass_leaves_the_watermark() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    hrflow.source(SOURCE, keys(&["a", "b", "c"]));
    hrflow.listing.lock().unwrap().fail_always = Some(2);
    let config = synced(
        &format!(
            "{}\n[backfill]\npage_size = 1\nrequests_per_second = 100\nretries = 1\nretry_delay = \"10ms\"\n",
            base_config(&hrflow.url, &flatchr.url)
        ),
        "",
    );
    let app = spawn!(&config);
    let run = last_run(&app).await;
    assert!(
        run.error.as_deref().unwrap_or("").contains("page 2"),
        "{run:?}"
    );
    assert_eq!(
        run.watermark, None,
        "a pass that failed moved the watermark"
    );
    // What it queued before the failure stays queued (and is delivered, once).
    delivered(&app, &flatchr, 1).await;
    // Once HrFlow answers again, a pass goes through and the watermark moves.
    hrflow.listing.lock().unwrap().fail_always = None;
    let (ok, out) = relay_cli(&app, &["sync"]);
    assert!(ok, "{out}");
    let run = last_run(&app).await;
    assert!(run.error.is_none(), "{run:?}");
    assert_eq!(
        run.watermark,
        Some(
            chrono::Utc::now()
                .date_naive()
                .format("%Y-%m-%d")
                .to_string()
        )
    );
    delivered(&app, &flatchr, 3).await;
    // A failing pass from the command says so and exits 1; the watermark stays where it was.
    hrflow.listing.lock().unwrap().fail_always = Some(1);
    let (ok, out) = relay_cli(&app, &["sync"]);
    assert!(!ok && out.contains("watermark stays"), "{out}");
    assert_eq!(last_run(&app).await.watermark, run.watermark);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_not_tried_again_and_alerts() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let hook = AlertSink::start().await;
    hrflow.source(SOURCE, keys(&["a"]));
    let config = synced(
        &format!(
            "{}\n[alerts]\nwebhook_url = \"{}\"\n",
            base_config(&hrflow.url, &flatchr.url).replace(HRFLOW_KEY, "an-expired-key"),
            hook.url
        ),
        "",
    );
    let app = spawn!(&config);
    let run = last_run(&app).await;
    assert!(
        run.error.as_deref().unwrap_or("").contains("401"),
        "{run:?}"
    );
    assert_eq!(
        hrflow.listing.lock().unwrap().unauthorized,
        1,
        "a refusal was tried again"
    );
    let started = Instant::now();
    while !hook
        .texts()
        .iter()
        .any(|t| t.contains("refused the credentials (HTTP 401) on the sync of source"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            hook.texts()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!hook.texts().iter().any(|t| t.contains("an-expired-key")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_database_make_one_pass_between_them() {
    if crate::BACKEND == Backend::Sqlite {
        // One SQLite file serves one process: replicas are a PostgreSQL matter.
        return;
    }
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    hrflow.source(SOURCE, keys(&["a", "b"]));
    let config = synced(&base_config(&hrflow.url, &flatchr.url), "");
    let Some(first) = TestDb::fresh().await else {
        return;
    };
    let second = TestDb {
        url: first.url.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let (a, b) = tokio::join!(
        TestApp::spawn_on(&config, first),
        TestApp::spawn_on(&config, second)
    );
    delivered(&a, &flatchr, 2).await;
    // Past a few polls of both: still the one pass (one page).
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        hrflow.list_requests(),
        1,
        "{:?}",
        hrflow.listing.lock().unwrap().requests
    );
    assert!(flatchr.pushes_per_email().values().all(|n| *n == 1));
    // The command, beside them, waits for no one (nothing runs) and makes its own pass.
    let (ok, out) = relay_cli(&b, &["sync"]);
    assert!(ok, "{out}");
    assert_eq!(hrflow.list_requests(), 2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_waits_for_a_pass_in_progress_then_makes_its_own() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    hrflow.source(SOURCE, keys(&["a"]));
    // Each listing page takes a while: the service's first pass is still listing when the
    // command starts.
    hrflow.listing.lock().unwrap().delay = Duration::from_millis(1500);
    let config = base_config(&hrflow.url, &flatchr.url)
        .replace("request_timeout = \"500ms\"", "request_timeout = \"5s\"")
        .replace("lease = \"3s\"", "lease = \"30s\"");
    let app = spawn!(&synced(&config, ""));
    // The service holds the pass (its listing waits on HrFlow).
    let held = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sync_lease WHERE holder IS NOT NULL")
            .fetch_one(app.store().pool())
            .await
            .unwrap_or(0)
    };
    let started = Instant::now();
    while held().await == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .arg("sync")
        .env("RELAY_CONFIG", &app.config_path)
        .env("RELAY__DATABASE__URL", &app.db.url)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a sync pass is in progress; waiting"),
        "{stderr}"
    );
    // Its own pass came after the service's: two listings, the profile queued once.
    assert_eq!(hrflow.list_requests(), 2);
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["queued"].as_u64(), line["skipped"].as_u64()),
        (Some(0), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_candidate_still_in_hrflow_is_only_enriched_by_the_next_pass() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    hrflow.source(SOURCE, keys(&["erased"]));
    let app = spawn_stepped!(&synced(&base_config(&hrflow.url, &flatchr.url), ""));
    // The service's first pass queued it; the test delivers it.
    last_run(&app).await;
    app.dispatch().await;
    assert!(!flatchr.candidates().is_empty());
    let (ok, out) = relay_cli(&app, &["erase", "--profile", "erased"]);
    assert!(ok, "{out}");
    // No job is left, so a pass queues one, as an event would; push-once holds.
    let (ok, out) = relay_cli(&app, &["sync"]);
    assert!(ok, "{out}");
    assert!(out.contains("\"queued\":1"), "{out}");
    app.dispatch().await;
    assert!(flatchr.enriched().len() >= 2);
    assert_eq!(
        flatchr.candidates().len(),
        1,
        "a second candidate after the erasure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_stopping_mid_pass_gives_the_pass_back_due_at_once() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    hrflow.source(SOURCE, keys(&["a"]));
    hrflow.listing.lock().unwrap().delay = Duration::from_secs(3);
    let config = base_config(&hrflow.url, &flatchr.url)
        .replace("request_timeout = \"500ms\"", "request_timeout = \"5s\"")
        .replace("lease = \"3s\"", "lease = \"30s\"");
    let app = spawn!(&synced(&config, ""));
    let count = |sql: &'static str| {
        let pool = app.store().pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap_or(0)
        }
    };
    let started = Instant::now();
    while count("SELECT COUNT(*) FROM sync_lease WHERE holder IS NOT NULL").await == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let store = app.store().clone();
    let _db = app.stop().await;
    let (held, due): (i64, i64) =
        sqlx::query_as("SELECT COUNT(holder), MIN(next_due) FROM sync_lease")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(held, 0, "the stopped service still holds the pass");
    assert!(
        due <= hrflow_relay::store::now_ms(),
        "the interrupted pass is not due again"
    );
}
