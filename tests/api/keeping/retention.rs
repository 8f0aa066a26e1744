//! `[retention]`: finished jobs deleted after their period, through `purge` and in the service.

use std::time::{Duration, Instant};

use hrflow_relay::job::Status;
use serde_json::Value;

use crate::helpers::*;

/// Moves a job's end (and its event) `ago` into the past.
async fn age(app: &TestApp, job: i64, ago: Duration) {
    let ms = ago.as_millis() as i64;
    let sql = |s: &str| {
        if crate::BACKEND == Backend::Sqlite {
            s.replace('$', "?")
        } else {
            s.to_string()
        }
    };
    for statement in [
        "UPDATE jobs SET updated_at = updated_at - $1 WHERE id = $2",
        "UPDATE events SET received_at = received_at - $1 WHERE id = (SELECT event_id FROM jobs WHERE id = $2)",
        "UPDATE event_dedupe SET received_at = received_at - $1 WHERE event_id = (SELECT event_id FROM jobs WHERE id = $2)",
    ] {
        sqlx::query(&sql(statement))
            .bind(ms)
            .bind(job)
            .execute(app.store().pool())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_finished_jobs_after_their_period() {
    let hrflow = FakeHrflow::start().await;
    let flatchr = FakeFlatchr::start().await;
    flatchr.faults(vec![Fault::Status(401, None)], vec![]);
    let config = format!(
        "{}\n[retention]\nfinished = \"1h\"\ndead = \"2h\"\nevents = \"1h\"\ninterval = \"1h\"\n",
        base_config(&hrflow.url, &flatchr.url)
    );
    let app = spawn_stepped!(&config);
    for i in 0..4 {
        app.post_event(&event_body(&format!("kept-{i}"), SOURCE))
            .await;
    }
    let jobs = app.dispatch().await;
    let dead: Vec<i64> = jobs
        .iter()
        .filter(|j| j.status == Status::Dead)
        .map(|j| j.id)
        .collect();
    let delivered: Vec<i64> = jobs
        .iter()
        .filter(|j| j.status == Status::Delivered)
        .map(|j| j.id)
        .collect();
    assert_eq!((dead.len(), delivered.len()), (1, 3), "{jobs:?}");
    // An operator cancelled it (as `jobs cancel` writes it): kept with the dead, for `dead`.
    let sql = if crate::BACKEND == Backend::Sqlite {
        "UPDATE jobs SET status = 'cancelled' WHERE id = ?"
    } else {
        "UPDATE jobs SET status = 'cancelled' WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(dead[0])
        .execute(app.store().pool())
        .await
        .unwrap();
    // Two deliveries are past `finished`; the cancelled job is older, but not past `dead`.
    age(&app, delivered[0], Duration::from_secs(2 * 3600)).await;
    age(&app, delivered[1], Duration::from_secs(2 * 3600)).await;
    age(&app, dead[0], Duration::from_secs(90 * 60)).await;

    let (ok, out) = relay_cli(&app, &["purge"]);
    assert!(ok, "{out}");
    let d: Value = serde_json::from_str(out.trim()).unwrap();
    let d = &d["deleted"];
    assert_eq!(
        (
            d["jobs"].as_i64(),
            d["attempts"].as_i64(),
            d["events"].as_i64()
        ),
        (Some(2), Some(2), Some(2)),
        "{out}"
    );
    let left: Vec<i64> = app.jobs().await.iter().map(|j| j.id).collect();
    assert!(
        left.contains(&dead[0]) && left.contains(&delivered[2]) && left.len() == 2,
        "{left:?}"
    );
    // Again: nothing more to delete.
    let (_, out) = relay_cli(&app, &["purge"]);
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["deleted"]["jobs"],
        0,
        "{out}"
    );

    // The dead job's period ends too; the service purges by itself every interval.
    age(&app, dead[0], Duration::from_secs(3600)).await;
    let db = app.stop().await;
    let app = TestApp::spawn_stepped_on(
        &config.replace("interval = \"1h\"", "interval = \"1s\""),
        db,
    )
    .await;
    let started = Instant::now();
    while app.jobs().await.len() != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the service did not purge"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.jobs().await[0].id, delivered[2]);
}
