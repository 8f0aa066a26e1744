//! Reads of a careers page on a vacancy holding many responses, through HTTP.
//!
//!     cargo run --release --example careers_page -- [RESPONSES] [READS]
//!
//! Fills a fresh SQLite store (one transaction), starts the relay, then reads page 1 and a
//! deep page READS times each, in both route forms, and prints p50/p99/max.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hrflow_relay::config::Settings;
use hrflow_relay::startup::Application;
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let responses = args.first().copied().unwrap_or(100_000);
    let reads = args.get(1).copied().unwrap_or(500);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nport = 0\n[database]\nurl = \"sqlite://{}/relay.db\"\n[careers]\ntokens = [\"t\"]\n",
            dir.path().display()
        ),
    )?;
    let app = Application::build(Settings::load_from(Some(&config), HashMap::new())?)
        .await?
        .spawn();

    let filled = Instant::now();
    let vacancy = app
        .store
        .publish_vacancy(&json!({"position": "Bench"}))
        .await?;
    let item = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "phone": "+33100000000",
                      "resumes": [{"files": [{"name": "resume.pdf", "url": "https://files.example.test/r.pdf"}], "data": {"body": "Summary"}}]})
    .to_string();
    let mut tx = app.store.pool().begin().await?;
    let start = 1_700_000_000_000i64;
    for i in 0..responses as i64 {
        sqlx::query("INSERT INTO responses (vacancy_id, profile_key, item, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)")
            .bind(vacancy)
            .bind(format!("p{i}"))
            .bind(&item)
            .bind(start + (i / 3) * 1000) // three responses a second: ties are common
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE vacancies SET responses_count = ?2 WHERE id = ?1")
        .bind(vacancy)
        .bind(responses as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    println!(
        "filled {responses} responses in {:.1} s",
        filled.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}/careers", app.port);
    let deep = (responses / 20 / 2).max(1);
    for (label, path) in [
        (
            "0.1  page 1, per_page 20 ",
            format!("/vacancies/{vacancy}/responses?page=1&per_page=20"),
        ),
        (
            "seed page 1, per_page 100",
            format!("/vacancy/{vacancy}/response?page=1&per_page=100"),
        ),
        (
            "0.1  middle page (20)    ",
            format!("/vacancies/{vacancy}/responses?page={deep}&per_page=20"),
        ),
    ] {
        let mut times = Vec::with_capacity(reads);
        for _ in 0..reads {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("Authorization", "Bearer t")
                .send()
                .await?;
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{label}: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({reads} reads)",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    }
    app.stop().await;
    Ok(())
}
