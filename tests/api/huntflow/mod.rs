//! The Huntflow destination against a local fake of Huntflow's API v2 (fake.rs) that keeps
//! applicants, uploads and vacancy links, lets access tokens expire, takes each refresh token
//! once, answers 429 past 10 requests in any second, and can lose a create's answer (it creates,
//! then hangs past the relay's timeout). Every candidate must end as one applicant, one upload,
//! one link.

mod fake;

use std::time::Duration;

use hrflow_relay::job::{Status, Step};

use crate::helpers::*;
use fake::FakeHuntflow;

const ACCOUNT: i64 = 11;
const VACANCY: i64 = 3;
const STATUS: i64 = 206;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_candidate_is_one_applicant_one_upload_one_link_across_expiring_tokens_and_a_lost_create()
 {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Tokens live 2 s: refreshes during the run, each refresh token used once.
    let huntflow = FakeHuntflow::start(Duration::ZERO, Duration::from_secs(2)).await;
    huntflow.state.lock().unwrap().lose_creates = 1;
    let config = huntflow.config(
        &hrflow.url,
        &flatchr.url,
        &format!("vacancy = \"{VACANCY}\"\nstatus = {STATUS}"),
    );
    let app = spawn!(&config);
    let keys: Vec<String> = (0..8).map(|i| format!("cand-{i}")).collect();
    for key in &keys {
        assert_eq!(app.post_event(&event_body(key, "src")).await.status(), 202);
    }
    let jobs = app.settle(Duration::from_secs(60)).await;
    assert_all_delivered(&jobs);
    {
        let s = huntflow.state.lock().unwrap();
        let mut emails: Vec<String> = s
            .applicants
            .iter()
            .map(|a| a["email"].as_str().unwrap().to_string())
            .collect();
        emails.sort();
        let mut expected: Vec<String> = keys.iter().map(|k| format!("{k}@example.org")).collect();
        expected.sort();
        assert_eq!(emails, expected, "one applicant per candidate");
        assert_eq!(s.uploads, keys.len(), "one upload per candidate");
        assert_eq!(s.attaches, keys.len(), "one link per candidate");
        for a in &s.applicants {
            assert_eq!(a["links"].as_array().unwrap().len(), 1, "{a}");
            assert_eq!(a["externals"][0]["account_source"], 209);
            assert_eq!(a["externals"][0]["files"].as_array().unwrap().len(), 1);
            assert_eq!(a["first_name"], "Margaret", "{a}");
        }
        assert_eq!(
            s.lose_creates, 0,
            "the create whose answer was lost happened"
        );
        assert!(s.refreshes >= 1, "the tokens expired during the run");
        assert_eq!(s.reused, 0, "no refresh token was presented twice");
        assert_eq!(s.too_many, 0, "never past 10 requests in a second");
        assert!(
            s.user_agents.iter().all(|a| a.starts_with("hrflow-relay/")),
            "{:?}",
            s.user_agents.first()
        );
    }
    // Every job reached the vacancy; Huntflow's possible duplicates are on the attempt.
    assert!(
        jobs.iter().all(|j| j.step == Step::reached("attached")),
        "{jobs:?}"
    );
    let mut noted = 0;
    for job in &jobs {
        noted += app
            .attempts(job.id)
            .await
            .iter()
            .filter(|a| {
                a.note
                    .as_deref()
                    .is_some_and(|n| n.contains("possible duplicates: applicant 8"))
            })
            .count();
    }
    // Every create answered has them; the one whose answer was lost was found by search.
    assert_eq!(noted, keys.len() - 1);
    // The newest pair is in the database, not the configured one.
    let stored = app
        .store()
        .credentials("huntflow:default")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.access, huntflow.pair.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_pauses_the_route_and_its_jobs_wait() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    // Expired from the start, and the refresh token was used already.
    let huntflow = FakeHuntflow::start(Duration::ZERO, Duration::from_secs(600)).await;
    huntflow.state.lock().unwrap().refresh.clear();
    let config = huntflow.config(&hrflow.url, &flatchr.url, "");
    let app = spawn_stepped!(&config);
    assert_eq!(
        app.post_event(&event_body("ada", "src")).await.status(),
        202
    );
    app.run_due().await;
    assert!(
        !app.store().pauses().await.unwrap().is_empty(),
        "the route was not paused"
    );
    // Made due (its retry is an hour away), the job still waits: the pause keeps it unclaimed.
    sqlx::query("UPDATE jobs SET next_attempt_at = 0")
        .execute(app.store().pool())
        .await
        .unwrap();
    assert_eq!(app.run_due().await, [], "a paused route's job was claimed");
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].status,
        Status::Pending,
        "the job waits, it does not die"
    );
    let attempts = app.attempts(jobs[0].id).await;
    assert!(
        attempts.iter().any(|a| a
            .error
            .as_deref()
            .is_some_and(|e| e.contains("Issue a new token pair in Huntflow"))),
        "{attempts:?}"
    );
    let s = huntflow.state.lock().unwrap();
    assert!(s.applicants.is_empty());
    assert_eq!(
        s.reused, 1,
        "the refused refresh was tried once, not again and again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_put_in_the_config_replaces_the_stored_one() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let huntflow = FakeHuntflow::start(Duration::ZERO, Duration::from_secs(600)).await;
    let config = huntflow.config(&hrflow.url, &flatchr.url, "");
    let app = spawn_stepped!(&config);
    assert_eq!(
        app.post_event(&event_body("ada", "src")).await.status(),
        202
    );
    assert_all_delivered(&app.dispatch().await);
    let refreshed = app
        .store()
        .credentials("huntflow:default")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(refreshed.access, huntflow.pair.0);
    let db = app.stop().await;
    // A person issues a new pair and puts it in the file: it wins over the stored one.
    let (access, refresh) = {
        let mut s = huntflow.state.lock().unwrap();
        s.lifetime = Duration::from_secs(600);
        s.issue()
    };
    let config = config
        .replace(&huntflow.pair.0, &access)
        .replace(&huntflow.pair.1, &refresh);
    let app = TestApp::spawn_stepped_on(&config, db).await;
    assert_eq!(
        app.post_event(&event_body("bob", "src")).await.status(),
        202
    );
    assert_all_delivered(&app.dispatch().await);
    let stored = app
        .store()
        .credentials("huntflow:default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.access, access,
        "the configured pair is the one in use"
    );
    assert_eq!(huntflow.state.lock().unwrap().reused, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_names_what_is_missing_and_online_asks_huntflow() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    let huntflow = FakeHuntflow::start(Duration::from_secs(600), Duration::from_secs(600)).await;
    let good = huntflow.config(
        &hrflow.url,
        &flatchr.url,
        &format!("vacancy = \"{VACANCY}\"\nstatus = {STATUS}"),
    );
    let app = spawn!(&good);
    let (ok, out) = relay_cli(&app, &["check-config", "--online"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("huntflow account \"default\": the token sees account_id 11"),
        "{out}"
    );
    assert!(out.contains("vacancy 3 and status 206 exist"), "{out}");
    assert!(!out.contains(&huntflow.pair.0), "a token was printed");
    drop(app);

    let bad = format!(
        "{}[[routes]]\nname = \"nostatus\"\ndestination = \"huntflow\"\nvacancy = \"3\"\n[[routes]]\nname = \"other\"\ndestination = \"huntflow\"\naccount = \"nobody\"\n",
        good.replace(
            &format!("access_token = \"{}\"", huntflow.pair.0),
            "access_token = \"\""
        )
    );
    let path = std::env::temp_dir().join(format!("relay-huntflow-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, &bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrflow-relay"))
        .arg("check-config")
        .env("RELAY_CONFIG", &path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("route \"nostatus\" sends to huntflow with a vacancy but no status"),
        "{text}"
    );
    assert!(
        text.contains("route \"other\" names the Huntflow account \"nobody\""),
        "{text}"
    );
    assert!(
        text.contains("huntflow.access_token or huntflow.refresh_token is empty"),
        "{text}"
    );
    let _ = std::fs::remove_file(path);
}
