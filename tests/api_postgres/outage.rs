//! The database missing at startup, then lost at runtime: readiness and the event endpoint
//! answer 503 (never a 202 that cannot be kept), and both recover by themselves.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::helpers::*;

async fn admin() -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&postgres_admin_url())
        .await
        .unwrap()
}

async fn wait_for(app: &TestApp, path: &str, want: u16) {
    let started = Instant::now();
    loop {
        let r = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{path} never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn startup_waits_for_the_database_and_runtime_loss_is_survived() {
    // A fresh database name that does not exist yet.
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let name = url.rsplit('/').next().unwrap().to_string();
    let mut admin = admin().await;
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = base_config("http://127.0.0.1:9", "http://127.0.0.1:9");
    let app = TestApp::spawn_on(&config, TestDb { url, dir }).await;
    let r = app
        .http
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = app.post_event(&event_body("p", SOURCE)).await;
    assert_eq!(r.status(), 503);
    assert_error_shape(&r.json().await.unwrap());

    // The database appears: the relay migrates and becomes ready by itself.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    wait_for(&app, "/health/ready", 200).await;
    assert_eq!(
        app.post_event(&event_body("p1", SOURCE)).await.status(),
        202
    );

    // Lost at runtime: connections cut and refused.
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let started = Instant::now();
    loop {
        let r = app
            .post_event(&event_body(
                &format!("lost-{}", started.elapsed().as_millis()),
                SOURCE,
            ))
            .await;
        let status = r.status().as_u16();
        assert_ne!(status, 202, "accepted while the database is gone");
        if status == 503 {
            assert_error_shape(&r.json().await.unwrap());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never refused: {status}"
        );
    }
    wait_for(&app, "/health/ready", 503).await;

    // Back: both recover without a restart.
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    wait_for(&app, "/health/ready", 200).await;
    let started = Instant::now();
    loop {
        let status = app
            .post_event(&event_body(
                &format!("back-{}", started.elapsed().as_millis()),
                SOURCE,
            ))
            .await
            .status();
        if status == 202 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never recovered: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
