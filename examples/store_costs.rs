//! What the store costs where the bench of the whole relay does not look: the rows and disk of a
//! week of dedupe keys and the purge of a day of them (issue 23, point 9), and a `/metrics`
//! scrape with a million jobs in the store (point 16).
//!
//!     cargo run --release --example store_costs -- dedupe [--per-day 100000] [--days 7] [--postgres URL]
//!     cargo run --release --example store_costs -- scrape [--jobs 1000000] [--relay PATH] [--scrapes 200]
//!     cargo run --release --example store_costs -- search [--jobs 1000000] [--postgres URL]
//!
//! `search` seeds a million delivered jobs, each with its candidate's email hash, and times a
//! search by email (the hash's index) and the whole answer of `/admin/api/search` (issue 25).
//!
//! `scrape` runs the relay binary as a child on a fresh SQLite database it made itself, seeded
//! with finished, pending and dead jobs behind its back, so any build can be measured
//! (`--relay` another binary: the figures before and after a change).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use hrflow_relay::store::Store;
use hrflow_relay::store::retention::Cutoffs;
use sha2::Digest;

#[derive(Parser, Debug)]
struct Args {
    /// dedupe | scrape
    what: String,
    /// Events a day (dedupe).
    #[arg(long, default_value_t = 100_000)]
    per_day: u64,
    /// Days of dedupe keys kept (the window).
    #[arg(long, default_value_t = 7)]
    days: u64,
    /// Also measure on this PostgreSQL server (a fresh database is made on it).
    #[arg(long)]
    postgres: Option<String>,
    /// Jobs in the store (scrape).
    #[arg(long, default_value_t = 1_000_000)]
    jobs: u64,
    /// The relay binary (scrape); default: target/release/hrflow-relay.
    #[arg(long)]
    relay: Option<PathBuf>,
    /// Scrapes one after another, then as many by each of 8 scrapers at once.
    #[arg(long, default_value_t = 200)]
    scrapes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.what.as_str() {
        "dedupe" => dedupe(&args).await,
        "scrape" => scrape(&args).await,
        "search" => search(&args).await,
        other => anyhow::bail!("unknown measurement {other:?}: dedupe, scrape or search"),
    }
}

fn now_ms() -> i64 {
    hrflow_relay::store::now_ms()
}

/// The SQLite file's size once its WAL is copied back.
fn file_size(conn: &rusqlite::Connection, path: &std::path::Path) -> anyhow::Result<u64> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(std::fs::metadata(path)?.len())
}

async fn dedupe(args: &Args) -> anyhow::Result<()> {
    let keys = args.per_day * args.days;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("relay.db");
    let url = format!("sqlite://{}", path.display());
    Store::connect(&url, 2).await?.close().await;
    let mut conn = rusqlite::Connection::open(&path)?;
    let empty = file_size(&conn, &path)?;
    let start = now_ms() - (args.days as i64) * 86_400_000;
    let spacing = 86_400_000 / args.per_day as i64;
    let seeding = Instant::now();
    {
        let tx = conn.transaction()?;
        let mut insert = tx.prepare(
            "INSERT INTO event_dedupe (body_hash, event_id, received_at) VALUES (?1, ?2, ?3)",
        )?;
        for i in 0..keys {
            let hash = hex::encode(sha2::Sha256::digest(i.to_le_bytes()));
            insert.execute(rusqlite::params![
                hash,
                uuid::Uuid::now_v7().to_string(),
                start + i as i64 * spacing
            ])?;
        }
        drop(insert);
        tx.commit()?;
    }
    let full = file_size(&conn, &path)?;
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN DELETE FROM event_dedupe WHERE body_hash IN
               (SELECT body_hash FROM event_dedupe WHERE received_at < ?1 LIMIT ?2)",
        )?
        .query_map(rusqlite::params![0, 500], |r| r.get::<_, String>(3))?
        .collect::<Result<_, _>>()?;
    drop(conn);
    println!(
        "sqlite: {keys} dedupe keys ({} a day for {} days) seeded in {:.1} s: {:.1} MiB on disk, {:.0} bytes a key",
        args.per_day,
        args.days,
        seeding.elapsed().as_secs_f64(),
        (full - empty) as f64 / 1048576.0,
        (full - empty) as f64 / keys as f64
    );
    println!("sqlite: the purge's plan: {}", plan.join(" / "));
    let store = Store::connect(&url, 2).await?;
    purge_a_day("sqlite", &store, start).await?;
    store.close().await;
    if let Some(server) = &args.postgres {
        dedupe_postgres(server, args).await?;
    }
    Ok(())
}

/// Purges the first day of keys (seeded from `start`), as the service's purge does, and says
/// how long it took.
async fn purge_a_day(backend: &str, store: &Store, start: i64) -> anyhow::Result<()> {
    let purge = Instant::now();
    let deleted = store
        .purge(Cutoffs {
            finished_before: 0,
            dead_before: 0,
            dedupe_before: start + 86_400_000,
            events_before: 0,
            unpublished_before: 0,
        })
        .await?
        .map(|d| d.dedupe_keys)
        .unwrap_or(0);
    println!(
        "{backend}: a day falling out of the window: {deleted} keys purged in {:.2} s",
        purge.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn dedupe_postgres(server: &str, args: &Args) -> anyhow::Result<()> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("relay_costs_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(server).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    let url = format!("{base}/{name}");
    let store = Store::connect(&url, 2).await?;
    let keys = args.per_day * args.days;
    let start = now_ms() - (args.days as i64) * 86_400_000;
    let spacing = 86_400_000 / args.per_day as i64;
    let size = |store: &Store| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT pg_total_relation_size('event_dedupe')")
                .fetch_one(&pool)
                .await
        }
    };
    let empty = size(&store).await?;
    sqlx::query(&format!(
        "INSERT INTO event_dedupe (body_hash, event_id, received_at)
         SELECT encode(sha256(int8send(i)), 'hex'), gen_random_uuid()::text, {start} + i * {spacing}
         FROM generate_series(0, {keys} - 1) AS i"
    ))
    .execute(store.pool())
    .await?;
    sqlx::query("VACUUM ANALYZE event_dedupe")
        .execute(store.pool())
        .await?;
    let full = size(&store).await?;
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN SELECT body_hash FROM event_dedupe WHERE received_at < {} LIMIT 500",
        start + 86_400_000
    ))
    .fetch_all(store.pool())
    .await?;
    println!(
        "postgres: {keys} dedupe keys: {:.1} MiB (table and indexes), {:.0} bytes a key; plan: {}",
        (full - empty) as f64 / 1048576.0,
        (full - empty) as f64 / keys as f64,
        plan.join(" / ")
    );
    purge_a_day("postgres", &store, start).await?;
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

/// A relay process, stopped when dropped.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start(binary: &PathBuf, dir: &std::path::Path, port: u16) -> anyhow::Result<Relay> {
    let child = Command::new(binary)
        .arg("serve")
        .current_dir(dir)
        .env("RELAY__SERVER__PORT", port.to_string())
        .env("RELAY__DATABASE__URL", "sqlite://relay.db")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let relay = Relay(child);
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(relay);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the relay did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finished jobs, with 1% pending (due in an hour) and 0.5% dead, under 1,000 events.
fn seed_jobs(path: &std::path::Path, jobs: u64) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    let tx = conn.transaction()?;
    let now = now_ms();
    {
        let mut event = tx.prepare(
            "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at)
             VALUES (?1, ?1, 'profile.parsing.success', ?1, 's', ?2)",
        )?;
        for e in 0..1000 {
            event.execute(rusqlite::params![format!("e{e}"), now])?;
        }
        let mut job = tx.prepare(
            "INSERT INTO jobs (event_id, route, profile_key, source_key, status, next_attempt_at, created_at, updated_at)
             VALUES (?1, 'flatchr', ?2, 's', ?3, ?4, ?5, ?5)",
        )?;
        for i in 0..jobs {
            let status = match i % 200 {
                0 | 1 => "pending",
                2 => "dead",
                _ => "delivered",
            };
            job.execute(rusqlite::params![
                format!("e{}", i % 1000),
                format!("p{i}"),
                status,
                now + 3_600_000,
                now - (jobs - i) as i64
            ])?;
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    Ok(())
}

/// p50 and p99 of `samples`, in ms.
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

async fn scrape_times(port: u16, n: usize) -> Vec<f64> {
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let ok = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .and_then(|r| r.error_for_status());
        if let Ok(r) = ok {
            let _ = r.bytes().await;
            out.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    out
}

async fn scrape(args: &Args) -> anyhow::Result<()> {
    let binary = args
        .relay
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/release/hrflow-relay"));
    let binary = std::path::absolute(binary)?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    // The relay makes its own schema, whatever its version; the jobs go in behind its back.
    drop(start(&binary, dir.path(), port).await?);
    let seeding = Instant::now();
    seed_jobs(&dir.path().join("relay.db"), args.jobs)?;
    println!(
        "{} jobs seeded in {:.1} s; relay {}",
        args.jobs,
        seeding.elapsed().as_secs_f64(),
        binary.display()
    );
    // What the refresher's reading costs (this build's queries), every few seconds.
    let store = Store::connect(
        &format!("sqlite://{}", dir.path().join("relay.db").display()),
        2,
    )
    .await?;
    let mut readings = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        store.queue_gauges().await?;
        readings.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    store.close().await;
    let (p50, p99) = percentiles(&mut readings);
    println!("the gauges' reading (this build's queries): p50 {p50:.2} ms, worst {p99:.2} ms");
    let _relay = start(&binary, dir.path(), port).await?;
    // Past the first reading of a refresher, if the build has one.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut alone = scrape_times(port, args.scrapes).await;
    let (p50, p99) = percentiles(&mut alone);
    println!(
        "one scraper: {} scrapes, p50 {p50:.2} ms, p99 {p99:.2} ms",
        alone.len()
    );
    let many: Vec<_> = (0..8)
        .map(|_| tokio::spawn(scrape_times(port, args.scrapes)))
        .collect();
    let mut all = Vec::new();
    for m in many {
        all.extend(m.await?);
    }
    let (p50, p99) = percentiles(&mut all);
    println!(
        "8 scrapers at once: {} scrapes, p50 {p50:.2} ms, p99 {p99:.2} ms",
        all.len()
    );
    Ok(())
}

/// A million jobs with their email hashes, then searches by email.
async fn search(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("search.db").display());
    search_on("SQLite", &sqlite, args.jobs).await?;
    if let Some(server) = &args.postgres {
        let name = format!("store_costs_search_{}", std::process::id());
        let admin = Store::connect(server, 2).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin.pool())
            .await?;
        let url = format!(
            "{}/{name}",
            server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b)
        );
        let result = search_on("PostgreSQL", &url, args.jobs).await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(admin.pool())
            .await?;
        result?;
    }
    Ok(())
}

async fn search_on(backend: &str, url: &str, jobs: u64) -> anyhow::Result<()> {
    let store = Store::connect(url, 4).await?;
    let seeding = Instant::now();
    let now = now_ms();
    sqlx::query("INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at) VALUES ('e', 'e', 'profile.parsing.success', 'p', 's', $1)")
        .bind(now)
        .execute(store.pool())
        .await?;
    const ROWS: u64 = 400;
    let mut i = 0;
    while i < jobs {
        let n = ROWS.min(jobs - i);
        // `$1` is now; each row has its profile key and its email hash.
        let tuples: Vec<String> = (0..n as usize)
            .map(|k| {
                format!(
                    "('e', 'flatchr', ${}, 's', 'delivered', 'enriched', $1, $1, $1, ${})",
                    2 + 2 * k,
                    3 + 2 * k
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO jobs (event_id, route, profile_key, source_key, status, step, next_attempt_at, created_at, updated_at, email_hash) VALUES {}",
            tuples.join(", ")
        );
        // SQLite numbers `$n` names in order of appearance; `?n` is the number itself.
        let sql = if backend == "SQLite" {
            sql.replace('$', "?")
        } else {
            sql
        };
        let mut q = sqlx::query(&sql).persistent(false).bind(now);
        for k in i..i + n {
            q = q
                .bind(format!("p{k}"))
                .bind(store.email_hash(&format!("p{k}@example.org"))?);
        }
        q.execute(store.pool()).await?;
        i += n;
    }
    if backend == "PostgreSQL" {
        sqlx::query("ANALYZE jobs").execute(store.pool()).await?;
    } else {
        sqlx::query("ANALYZE").execute(store.pool()).await?;
    }
    println!(
        "{backend}: {jobs} jobs with email hashes seeded in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let mut lookups = Vec::new();
    let mut answers = Vec::new();
    for s in 0..200u64 {
        let k = (s * 7919) % jobs;
        let email = format!("P{k}@Example.org");
        let started = Instant::now();
        let found = store.search(&email).await?;
        lookups.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(found == vec![format!("p{k}")], "{email}: {found:?}");
        let started = Instant::now();
        let items = hrflow_relay::admin::console::find(&store, &email).await?;
        answers.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(items.len() == 1);
    }
    let (p50, p99) = percentiles(&mut lookups);
    println!("{backend}: search by email (the profile keys): p50 {p50:.2} ms, p99 {p99:.2} ms");
    let (p50, p99) = percentiles(&mut answers);
    println!(
        "{backend}: the search's whole answer (events and jobs too): p50 {p50:.2} ms, p99 {p99:.2} ms"
    );
    store.close().await;
    Ok(())
}
