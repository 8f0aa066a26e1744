//! The durable spine: events, jobs, attempts and push checkpoints. The store is the queue.
//! Every operation is a short statement or transaction; none spans a network call.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::job::status;

pub mod careers;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error("unsupported database url (expected sqlite:...)")]
    Url,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub body_hash: String,
    pub event_type: String,
    pub profile_key: String,
    pub source_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Accepted { event_id: String, jobs: usize },
    Duplicate { event_id: String },
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub event_id: String,
    pub route: String,
    pub profile_key: String,
    pub source_key: String,
    pub step: String,
    pub attempts: u32,
    pub profile: Option<String>,
    pub created_at: i64,
}

/// How an attempt ends the job, or when it runs again.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Delivered,
    Filtered(String),
    Dead(String),
    Retry { at: i64, reason: String },
}

impl Finish {
    pub fn label(&self) -> &'static str {
        match self {
            Finish::Delivered => status::DELIVERED,
            Finish::Filtered(_) => status::FILTERED,
            Finish::Dead(_) => status::DEAD,
            Finish::Retry { .. } => "retry",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: i64,
    pub duration_ms: i64,
    pub step: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    pub id: i64,
    pub event_id: String,
    pub route: String,
    pub profile_key: String,
    pub status: String,
    pub step: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptView {
    pub step: String,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if missing) and migrates the database.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or(StoreError::Url)?;
        let path = path.split('?').next().unwrap_or_default();
        if let Some(parent) = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Folder(parent.display().to_string(), e))?;
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit survives power loss, which is what a 202 promises.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Stores the event and one job per route in one transaction, unless the same body was
    /// accepted within `window_ms`.
    pub async fn ingest(
        &self,
        event: &NewEvent,
        routes: &[String],
        window_ms: i64,
    ) -> Result<Ingested, StoreError> {
        let now = now_ms();
        // IMMEDIATE: take the write lock now (waiting on busy_timeout), never upgrade later.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let fresh = sqlx::query(
            "INSERT INTO event_dedupe (body_hash, event_id, received_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (body_hash) DO UPDATE SET event_id = excluded.event_id, received_at = excluded.received_at
             WHERE event_dedupe.received_at < ?4
             RETURNING event_id",
        )
        .bind(&event.body_hash)
        .bind(&event.id)
        .bind(now)
        .bind(now - window_ms)
        .fetch_optional(&mut *tx)
        .await?;
        if fresh.is_none() {
            let original: String =
                sqlx::query_scalar("SELECT event_id FROM event_dedupe WHERE body_hash = ?1")
                    .bind(&event.body_hash)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(Ingested::Duplicate { event_id: original });
        }
        sqlx::query("INSERT INTO events (id, body_hash, event_type, profile_key, source_key, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .bind(&event.id)
            .bind(&event.body_hash)
            .bind(&event.event_type)
            .bind(&event.profile_key)
            .bind(&event.source_key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for route in routes {
            sqlx::query(
                "INSERT INTO jobs (event_id, route, profile_key, source_key, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)",
            )
            .bind(&event.id)
            .bind(route)
            .bind(&event.profile_key)
            .bind(&event.source_key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Ingested::Accepted {
            event_id: event.id.clone(),
            jobs: routes.len(),
        })
    }

    /// Leases the next due job. A job whose lease expired (its worker died) is due again. Two
    /// jobs of the same route and profile never run at once, so the push-once check is serial.
    pub async fn claim(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "UPDATE jobs SET lease_until = ?2, lease_owner = ?3, attempts = attempts + 1, updated_at = ?1
             WHERE id = (
                SELECT j.id FROM jobs j
                WHERE j.status = 'pending' AND j.next_attempt_at <= ?1
                  AND (j.lease_until IS NULL OR j.lease_until < ?1)
                  AND NOT EXISTS (
                    SELECT 1 FROM jobs o
                    WHERE o.route = j.route AND o.profile_key = j.profile_key AND o.status = 'pending'
                      AND o.id <> j.id AND o.lease_until >= ?1)
                ORDER BY j.next_attempt_at, j.id LIMIT 1)
             RETURNING id, event_id, route, profile_key, source_key, step, attempts, profile, created_at",
        )
        .bind(now)
        .bind(now + lease.as_millis() as i64)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ClaimedJob {
            id: r.get("id"),
            event_id: r.get("event_id"),
            route: r.get("route"),
            profile_key: r.get("profile_key"),
            source_key: r.get("source_key"),
            step: r.get("step"),
            attempts: r.get::<i64, _>("attempts").try_into().unwrap_or(u32::MAX),
            profile: r.get("profile"),
            created_at: r.get("created_at"),
        }))
    }

    /// Checkpoint: the profile was fetched.
    pub async fn save_profile(&self, job_id: i64, profile: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET profile = ?2, step = 'fetched', updated_at = ?3 WHERE id = ?1",
        )
        .bind(job_id)
        .bind(profile)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_step(&self, job_id: i64, step: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET step = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(job_id)
            .bind(step)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `None`, `Some("sending")` (outcome unknown) or `Some("pushed")`.
    pub async fn push_state(
        &self,
        route: &str,
        profile_key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT state FROM pushes WHERE route = ?1 AND profile_key = ?2")
                .bind(route)
                .bind(profile_key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_push_state(
        &self,
        route: &str,
        profile_key: &str,
        state: &str,
        job_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pushes (route, profile_key, state, job_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (route, profile_key) DO UPDATE SET state = excluded.state, job_id = excluded.job_id, updated_at = excluded.updated_at",
        )
        .bind(route)
        .bind(profile_key)
        .bind(state)
        .bind(job_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a push that certainly did not create a candidate (refused, or never sent).
    pub async fn clear_push(&self, route: &str, profile_key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM pushes WHERE route = ?1 AND profile_key = ?2 AND state = 'sending'",
        )
        .bind(route)
        .bind(profile_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the attempt and moves the job on, if this worker still holds its lease.
    pub async fn finish(
        &self,
        job_id: i64,
        owner: &str,
        finish: &Finish,
        attempt: &AttemptRecord,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let (status, next, reason) = match finish {
            Finish::Delivered => (status::DELIVERED, now, None),
            Finish::Filtered(r) => (status::FILTERED, now, Some(r.as_str())),
            Finish::Dead(r) => (status::DEAD, now, Some(r.as_str())),
            Finish::Retry { at, reason } => (status::PENDING, *at, Some(reason.as_str())),
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE jobs SET status = ?2, next_attempt_at = ?3, reason = ?4, lease_until = NULL, lease_owner = NULL, updated_at = ?5
             WHERE id = ?1 AND lease_owner = ?6",
        )
        .bind(job_id)
        .bind(status)
        .bind(next)
        .bind(reason)
        .bind(now)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(job_id)
        .bind(attempt.started_at)
        .bind(attempt.duration_ms)
        .bind(&attempt.step)
        .bind(attempt.http_status.map(i64::from))
        .bind(finish.label())
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// Gives back the leases this worker holds (graceful shutdown): the jobs are due again at once.
    pub async fn release(&self, owner: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query("UPDATE jobs SET lease_until = NULL, lease_owner = NULL, attempts = MAX(attempts - 1, 0) WHERE lease_owner = ?1 AND status = 'pending'")
            .bind(owner)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Pending jobs, and the age in seconds of the oldest one.
    pub async fn queue_stats(&self) -> Result<(i64, f64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        let oldest: Option<i64> = row.get("oldest");
        let age = oldest
            .map(|t| (now_ms() - t).max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        Ok((row.get("n"), age))
    }

    pub async fn jobs(&self, status: Option<&str>, limit: i64) -> Result<Vec<JobView>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_id, route, profile_key, status, step, attempts, next_attempt_at, reason FROM jobs
             WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| JobView {
                id: r.get("id"),
                event_id: r.get("event_id"),
                route: r.get("route"),
                profile_key: r.get("profile_key"),
                status: r.get("status"),
                step: r.get("step"),
                attempts: r.get("attempts"),
                next_attempt_at: r.get("next_attempt_at"),
                reason: r.get("reason"),
            })
            .collect())
    }

    pub async fn attempts(&self, job_id: i64) -> Result<Vec<AttemptView>, StoreError> {
        let rows = sqlx::query("SELECT step, http_status, outcome, error, duration_ms FROM attempts WHERE job_id = ?1 ORDER BY id")
            .bind(job_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AttemptView {
                step: r.get("step"),
                http_status: r.get("http_status"),
                outcome: r.get("outcome"),
                error: r.get("error"),
                duration_ms: r.get("duration_ms"),
            })
            .collect())
    }

    /// For tests and operators: run raw SQL against the store (e.g. to simulate a crash state).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/relay.db", dir.path().display());
        (Store::connect(&url, 4).await.unwrap(), dir)
    }

    fn event(id: &str, hash: &str) -> NewEvent {
        NewEvent {
            id: id.into(),
            body_hash: hash.into(),
            event_type: "t".into(),
            profile_key: "p".into(),
            source_key: "s".into(),
        }
    }

    #[tokio::test]
    async fn dedupe_window_and_jobs() {
        let (s, _d) = store().await;
        let routes = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            s.ingest(&event("e1", "h"), &routes, 60_000).await.unwrap(),
            Ingested::Accepted {
                event_id: "e1".into(),
                jobs: 2
            }
        );
        assert_eq!(
            s.ingest(&event("e2", "h"), &routes, 60_000).await.unwrap(),
            Ingested::Duplicate {
                event_id: "e1".into()
            }
        );
        // Outside the window (0 ms) the same body is a new event.
        assert_eq!(
            s.ingest(&event("e3", "h"), &routes, -1).await.unwrap(),
            Ingested::Accepted {
                event_id: "e3".into(),
                jobs: 2
            }
        );
        assert_eq!(s.queue_stats().await.unwrap().0, 4);
    }

    #[tokio::test]
    async fn claim_leases_and_expired_leases_come_back() {
        let (s, _d) = store().await;
        s.ingest(&event("e1", "h1"), &["a".into()], 0)
            .await
            .unwrap();
        s.ingest(&event("e2", "h2"), &["a".into()], 0)
            .await
            .unwrap();
        let j = s
            .claim("w1", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(j.attempts, 1);
        // The second job is for the same route and profile: it waits for the first.
        assert!(
            s.claim("w2", Duration::from_secs(60))
                .await
                .unwrap()
                .is_none()
        );
        // A lease that has expired is taken back by another worker.
        sqlx::query("UPDATE jobs SET lease_until = 0 WHERE id = ?1")
            .bind(j.id)
            .execute(s.pool())
            .await
            .unwrap();
        let again = s
            .claim("w2", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, j.id);
        assert_eq!(again.attempts, 2);
        // The old owner can no longer finish it.
        let rec = AttemptRecord {
            started_at: 0,
            duration_ms: 1,
            step: "new".into(),
            http_status: None,
            error: None,
        };
        assert!(
            !s.finish(j.id, "w1", &Finish::Delivered, &rec)
                .await
                .unwrap()
        );
        assert!(
            s.finish(j.id, "w2", &Finish::Delivered, &rec)
                .await
                .unwrap()
        );
        assert_eq!(s.jobs(Some("delivered"), 10).await.unwrap().len(), 1);
        assert_eq!(s.attempts(j.id).await.unwrap().len(), 2);
    }
}
