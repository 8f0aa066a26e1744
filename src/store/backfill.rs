//! Queuing the profiles a backfill lists: one event row per profile and one job per route it
//! lacks, in one transaction per page. A (route, profile) that already has a job, from an
//! event or an earlier backfill, is skipped, so a backfill run twice queues nothing twice.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::sql::{ROWS_PER_STATEMENT, placeholders, tuples};
use super::{Backend, Durability, Store, StoreError, now_ms};
use crate::job::Status;

/// The event type recorded for a job a backfill queued (no HrFlow event carried it).
pub const BACKFILL_EVENT: &str = "backfill";

/// Serializes backfill pages across processes on PostgreSQL: the skip check and the insert
/// must not interleave with another backfill's (SQLite's write lock does this by itself).
const BACKFILL_LOCK: i64 = 0x6866_6c77_6266;

/// What one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queued {
    /// The jobs created (none on a dry run).
    pub job_ids: Vec<i64>,
    /// Jobs that would be or were created.
    pub queued: usize,
    /// (route, profile) pairs that already had a job.
    pub skipped: usize,
    /// Profiles that lacked a job on at least one route (sync: their events never came).
    pub profiles: usize,
}

/// The profiles a page lists, each with the routes it has no job on yet.
type Missing<'a> = Vec<(&'a str, Vec<&'a String>)>;

impl Store {
    /// Queues one job per (route, profile) that has none yet, each profile under one new event
    /// row. With `dry_run` nothing is written: the counts say what would be.
    pub async fn queue_backfill(
        &self,
        source_key: &str,
        profile_keys: &[String],
        routes: &[String],
        dry_run: bool,
    ) -> Result<Queued, StoreError> {
        let keys = distinct(profile_keys);
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(BACKFILL_LOCK)
                .fetch_all(&mut *tx)
                .await?;
        }
        let existing = existing_pairs(&mut tx, routes, &keys).await?;
        let (plan, skipped) = missing(&keys, routes, &existing);
        let queued = plan.iter().map(|(_, r)| r.len()).sum();
        let profiles = plan.len();
        if dry_run || plan.is_empty() {
            tx.rollback().await?;
            return Ok(Queued {
                job_ids: Vec::new(),
                queued,
                skipped,
                profiles,
            });
        }

        let now = now_ms();
        let event_ids: HashMap<&str, String> = plan
            .iter()
            .map(|(k, _)| (*k, uuid::Uuid::now_v7().to_string()))
            .collect();
        insert_events(&mut tx, &plan, &event_ids, source_key, now).await?;
        let jobs: Vec<(&str, &String)> = plan
            .iter()
            .flat_map(|(k, routes)| routes.iter().map(move |r| (*k, *r)))
            .collect();
        let paused = self.paused_in(&mut tx).await?;
        let job_ids = insert_jobs(&mut tx, &jobs, &event_ids, source_key, &paused, now).await?;
        tx.commit().await?;
        Ok(Queued {
            job_ids,
            queued,
            skipped,
            profiles,
        })
    }

    /// Refreshes PostgreSQL's statistics of the job table after a backfill queued many jobs at
    /// once. Until autovacuum notices (a minute or more), the planner believes the queue is as
    /// small as when it last looked and plans each claim as a scan and sort of every pending
    /// job instead of one step along the due index. SQLite plans claims by a fixed index.
    pub async fn refresh_job_statistics(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE jobs")
                .execute(&mut *self.lend().await?)
                .await?;
        }
        Ok(())
    }

    /// How many of these jobs are in each status.
    pub async fn job_outcomes(&self, ids: &[i64]) -> Result<HashMap<Status, u64>, StoreError> {
        let mut counts = HashMap::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT status, COUNT(*) AS n FROM jobs WHERE id IN ({}) GROUP BY status",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.pool).await? {
                *counts
                    .entry(Status::from_db(row.get("status")))
                    .or_insert(0) += row.get::<i64, _>("n").max(0) as u64;
            }
        }
        Ok(counts)
    }
}

/// Each profile key once, in the order listed.
fn distinct(profile_keys: &[String]) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::with_capacity(profile_keys.len());
    let mut seen = HashSet::new();
    for k in profile_keys {
        if seen.insert(k.as_str()) {
            keys.push(k);
        }
    }
    keys
}

/// The (route, profile) pairs that have a job already, route by route.
async fn existing_pairs(
    conn: &mut AnyConnection,
    routes: &[String],
    keys: &[&str],
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut existing: HashSet<(String, String)> = HashSet::new();
    for route in routes {
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT DISTINCT profile_key FROM jobs WHERE route = $1 AND profile_key IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).persistent(false).bind(route);
            for k in chunk {
                q = q.bind(*k);
            }
            for row in q.fetch_all(&mut *conn).await? {
                existing.insert((route.clone(), row.get(0)));
            }
        }
    }
    Ok(existing)
}

/// Each profile with the routes it lacks a job on (none: left out), and how many pairs had one.
fn missing<'a>(
    keys: &[&'a str],
    routes: &'a [String],
    existing: &HashSet<(String, String)>,
) -> (Missing<'a>, usize) {
    let mut plan: Missing<'a> = Vec::new();
    let mut skipped = 0;
    for key in keys {
        let missing: Vec<&String> = routes
            .iter()
            .filter(|r| !existing.contains(&((*r).clone(), (*key).to_string())))
            .collect();
        skipped += routes.len() - missing.len();
        if !missing.is_empty() {
            plan.push((key, missing));
        }
    }
    (plan, skipped)
}

/// One event row per profile queued: no HrFlow event carried it.
async fn insert_events(
    conn: &mut AnyConnection,
    plan: &Missing<'_>,
    event_ids: &HashMap<&str, String>,
    source_key: &str,
    now: i64,
) -> Result<(), StoreError> {
    for chunk in plan.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at) VALUES {}",
            tuples(chunk.len(), 6, 1)
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for (key, _) in chunk {
            q = q
                .bind(&event_ids[key])
                .bind(BACKFILL_EVENT)
                .bind(BACKFILL_EVENT)
                .bind(*key)
                .bind(source_key)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The jobs, each under its profile's event, paused if its route is; their ids.
async fn insert_jobs(
    conn: &mut AnyConnection,
    jobs: &[(&str, &String)],
    event_ids: &HashMap<&str, String>,
    source_key: &str,
    paused: &HashSet<String>,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut job_ids = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO jobs (event_id, route, profile_key, source_key, next_attempt_at, created_at, updated_at, paused) VALUES {} RETURNING id",
            tuples(chunk.len(), 8, 1)
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for (key, route) in chunk {
            q = q
                .bind(&event_ids[key])
                .bind(*route)
                .bind(*key)
                .bind(source_key)
                .bind(now)
                .bind(now)
                .bind(now)
                .bind(i64::from(paused.contains(route.as_str())));
        }
        for row in q.fetch_all(&mut *conn).await? {
            job_ids.push(row.get::<i64, _>(0));
        }
    }
    Ok(job_ids)
}
