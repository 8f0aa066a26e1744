//! The durable spine: events, jobs, attempts and push checkpoints. The store is the queue.
//! Every operation is a short statement or transaction; none spans a network call.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};

use crate::job::status;

pub mod backfill;
pub mod careers;
pub mod control;
pub mod group_commit;
pub mod retention;
pub mod stats;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error(
        "cannot write the SQLite database in {folder}: {error}. The relay runs as uid {uid}: make the folder (and any relay.db in it) writable by that uid, e.g. `chown -R {uid} <the host folder mounted there>`"
    )]
    NotWritable {
        folder: String,
        uid: String,
        error: std::io::Error,
    },
    #[error("the store is shutting down")]
    Closed,
    #[error("the database is busy: {0}")]
    Busy(String),
    #[error("unsupported database url (expected sqlite:... or postgres://...)")]
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
    Retry {
        at: i64,
        reason: String,
    },
    /// Not an attempt: another job holds what this one needs; run again at `at`.
    Defer {
        at: i64,
        reason: String,
    },
}

impl Finish {
    pub fn label(&self) -> &'static str {
        match self {
            Finish::Delivered => status::DELIVERED,
            Finish::Filtered(_) => status::FILTERED,
            Finish::Dead(_) => status::DEAD,
            Finish::Retry { .. } => "retry",
            Finish::Defer { .. } => "deferred",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: i64,
    pub duration_ms: i64,
    /// The furthest step the attempt reached; the job keeps it.
    pub step: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// The profile this attempt fetched: kept for the next attempt when the job runs again.
    pub profile: Option<String>,
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
    /// 1, then one more for each operator retry.
    pub run: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl JobView {
    /// Columns `from_row` reads, for every query that lists jobs.
    pub(crate) const COLUMNS: &'static str = "id, event_id, route, profile_key, status, step, attempts, next_attempt_at, reason, run, created_at, updated_at";

    pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> Self {
        Self {
            id: r.get("id"),
            event_id: r.get("event_id"),
            route: r.get("route"),
            profile_key: r.get("profile_key"),
            status: r.get("status"),
            step: r.get("step"),
            attempts: r.get("attempts"),
            next_attempt_at: r.get("next_attempt_at"),
            reason: r.get("reason"),
            run: r.get("run"),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptView {
    /// The job's run this attempt belonged to: 1, then one more for each operator retry.
    pub run: i64,
    pub started_at: i64,
    pub step: String,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Url)
        }
    }
}

/// What a job may do about the push of its (route, profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushSlot {
    /// Nobody pushed it: this job holds the slot and pushes.
    Free,
    /// An earlier push went out and its outcome is unknown: this job holds the slot, and must
    /// ask Flatchr before pushing again.
    Unknown,
    /// Already pushed: enrich only.
    Pushed,
    /// Another live job is pushing it right now.
    Busy,
}

#[derive(Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. On SQLite one connection: writers queue in order inside the process instead of
    /// polling the database lock (SQLite's busy handler sleeps for milliseconds at a time).
    writer: AnyPool,
    /// Whether the SQLite writer connection commits with synchronous=FULL right now.
    writer_full: std::sync::Arc<std::sync::atomic::AtomicBool>,
    backend: Backend,
}

/// How a write must survive: a power cut (`Full`: an answer to a client or an irreversible
/// call rests on it), or a crash of the process (`Normal`: bookkeeping that the push slot and
/// the retry schedule make safe to lose, since the last FULL commit makes all before it last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

/// SQLite must be able to create the database, its journal and its WAL in the folder. Checked
/// up front, so a read-only mount (a root-owned volume, say) is one clear error at startup
/// rather than a minute of "unable to open database file" retries.
fn writable(db: &std::path::Path) -> Result<(), StoreError> {
    let folder = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let probe = folder.join(format!(".relay-write-check-{}", std::process::id()));
    let result = std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .and_then(|_| {
            if db.exists() {
                std::fs::OpenOptions::new().append(true).open(db).map(drop)
            } else {
                Ok(())
            }
        });
    result.map_err(|error| StoreError::NotWritable {
        folder: folder.display().to_string(),
        uid: current_uid(),
        error,
    })
}

/// This process's uid, read from /proc (no libc binding needed); "?" elsewhere.
fn current_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "?".into())
}

impl Store {
    /// A pool that connects on first use; `migrate` makes the schema. SQLite files (and their
    /// folder) are created if missing.
    pub fn lazy(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut url = url.to_string();
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5));
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            if let Some(parent) = std::path::Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Folder(parent.display().to_string(), e))?;
            }
            writable(std::path::Path::new(path))?;
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL for concurrent readers; FULL: a commit survives power loss, which is
                    // what a 202 promises (bookkeeping writes relax it: see `Durability`); a
                    // writer waits for the lock instead of failing.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                        // Deleted and overwritten content (a finished job's profile, an erased
                        // candidate) is zeroed in the file, not left in free space.
                        "PRAGMA secure_delete = ON",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            });
        }
        let writer = match backend {
            Backend::Sqlite => options.clone().max_connections(1).connect_lazy(&url)?,
            Backend::Postgres => options.clone().connect_lazy(&url)?,
        };
        let pool = match backend {
            Backend::Sqlite => options.connect_lazy(&url)?,
            // One pool: PostgreSQL has no single-writer lock to queue for.
            Backend::Postgres => writer.clone(),
        };
        Ok(Self {
            pool,
            writer,
            writer_full: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            backend,
        })
    }

    /// Applies the migrations of the backend. On PostgreSQL the migrator holds an advisory
    /// lock, so replicas starting together migrate once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.writer)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.writer)
                    .await?
            }
        }
        Ok(())
    }

    /// Opens and migrates at once (tools and tests).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::lazy(url, max_connections)?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The writer connection, set to commit with `durability`. New connections start FULL; the
    /// flag is read and changed only while the one writer connection is held, so a durable write
    /// never runs on a connection left at NORMAL.
    async fn write_conn(
        &self,
        durability: Durability,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        use std::sync::atomic::Ordering;
        let mut conn = self.writer.acquire().await?;
        let full = durability == Durability::Full;
        if self.backend == Backend::Sqlite && self.writer_full.load(Ordering::Acquire) != full {
            conn.execute(if full {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            })
            .await?;
            self.writer_full.store(full, Ordering::Release);
        }
        Ok(conn)
    }

    /// A write transaction on `conn`. SQLite takes its write lock at once (IMMEDIATE), waiting
    /// on busy_timeout rather than failing on a later upgrade.
    async fn begin<'c>(
        &self,
        conn: &'c mut sqlx::pool::PoolConnection<sqlx::Any>,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>, StoreError> {
        use sqlx::Connection;
        Ok(match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Stores the event and one job per route in one transaction, unless the same body was
    /// accepted within `window_ms` (a unique key, so this holds across replicas).
    pub async fn ingest(
        &self,
        event: &NewEvent,
        routes: &[String],
        window_ms: i64,
    ) -> Result<Ingested, StoreError> {
        // A group commit of one: one code path for the endpoint's batches and single events.
        self.ingest_many(&[(event, routes)], window_ms)
            .await?
            .pop()
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// Leases the next due job. A job whose lease expired (its worker died) is due again. Two
    /// jobs of the same route and profile are not started together where this can see it; the
    /// push slot enforces it in any case. PostgreSQL skips rows other replicas are claiming.
    pub async fn claim(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        self.claim_with(owner, lease, None).await
    }

    /// Like `claim`; with `replica_timeout`, a job leased by a process whose heartbeat (in
    /// `replicas`) is older than that is taken back at once instead of after its lease: a
    /// crashed process's jobs come back in seconds. A live process heartbeats while it works,
    /// however long a call takes, so its jobs stay with it; an owner that never heartbeat keeps
    /// the plain lease.
    pub async fn claim_with(
        &self,
        owner: &str,
        lease: Duration,
        replica_timeout: Option<Duration>,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let now = now_ms();
        // With no timeout the cutoff is before any heartbeat: no owner counts as gone.
        let gone_before = replica_timeout.map_or(i64::MIN, |t| now - t.as_millis() as i64);
        // SQLite's planner, without statistics, would take the status index and sort every
        // pending job on each claim; the due index makes a claim one short range scan.
        let (hint, lock) = match self.backend {
            Backend::Sqlite => ("INDEXED BY jobs_due", ""),
            Backend::Postgres => ("", "FOR UPDATE SKIP LOCKED"),
        };
        let sql = format!(
            "UPDATE jobs SET lease_until = $2, lease_owner = $3, attempts = attempts + 1, updated_at = $1
             WHERE id = (
                SELECT j.id FROM jobs j {hint}
                WHERE j.status = 'pending' AND j.next_attempt_at <= $1
                  AND (j.lease_until IS NULL OR j.lease_until < $1
                       OR EXISTS (SELECT 1 FROM replicas r WHERE r.id = j.lease_owner AND r.last_seen < $4))
                  AND NOT EXISTS (
                    SELECT 1 FROM jobs o
                    WHERE o.route = j.route AND o.profile_key = j.profile_key AND o.status = 'pending'
                      AND o.id <> j.id AND o.lease_until >= $1)
                ORDER BY j.next_attempt_at, j.id LIMIT 1 {lock})
               AND status = 'pending'
               AND (lease_until IS NULL OR lease_until < $1
                    OR EXISTS (SELECT 1 FROM replicas r WHERE r.id = jobs.lease_owner AND r.last_seen < $4))
             RETURNING id, event_id, route, profile_key, source_key, step, attempts, profile, created_at"
        );
        let mut conn = self.write_conn(Durability::Normal).await?;
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(now + lease.as_millis() as i64)
            .bind(owner)
            .bind(gone_before)
            .fetch_optional(&mut *conn)
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

    /// Takes the push slot of (route, profile) for `job_id`. The slot is a row under a primary
    /// key, so two jobs (on any replicas) never both push the same profile for a route.
    pub async fn acquire_push(
        &self,
        route: &str,
        profile_key: &str,
        job_id: i64,
    ) -> Result<PushSlot, StoreError> {
        let now = now_ms();
        // The slot must outlive a power cut: the push that follows cannot be taken back.
        let mut conn = self.write_conn(Durability::Full).await?;
        let inserted = sqlx::query("INSERT INTO pushes (route, profile_key, state, job_id, updated_at) VALUES ($1, $2, 'sending', $3, $4)
             ON CONFLICT (route, profile_key) DO NOTHING RETURNING job_id")
        .bind(route)
        .bind(profile_key)
        .bind(job_id)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if inserted.is_some() {
            return Ok(PushSlot::Free);
        }
        let row = sqlx::query("SELECT p.state, p.job_id, j.status, j.lease_until FROM pushes p LEFT JOIN jobs j ON j.id = p.job_id
             WHERE p.route = $1 AND p.profile_key = $2")
        .bind(route)
        .bind(profile_key)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            // Cleared between the two statements: try again on the next attempt.
            return Ok(PushSlot::Busy);
        };
        let state: String = row.get("state");
        let holder: i64 = row.get("job_id");
        if state == "pushed" {
            return Ok(PushSlot::Pushed);
        }
        if holder == job_id {
            return Ok(PushSlot::Unknown);
        }
        let holder_live = row.get::<Option<String>, _>("status").as_deref() == Some("pending")
            && row
                .get::<Option<i64>, _>("lease_until")
                .is_some_and(|l| l >= now);
        if holder_live {
            return Ok(PushSlot::Busy);
        }
        // The holder died or ended mid-push: take the slot over, if nobody else just did.
        let taken = sqlx::query("UPDATE pushes SET job_id = $3, updated_at = $5 WHERE route = $1 AND profile_key = $2 AND state = 'sending' AND job_id = $4")
        .bind(route)
        .bind(profile_key)
        .bind(job_id)
        .bind(holder)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(if taken == 1 {
            PushSlot::Unknown
        } else {
            PushSlot::Busy
        })
    }

    /// The push of (route, profile) reached Flatchr.
    pub async fn mark_pushed(
        &self,
        route: &str,
        profile_key: &str,
        job_id: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.write_conn(Durability::Normal).await?;
        sqlx::query("UPDATE pushes SET state = 'pushed', job_id = $3, updated_at = $4 WHERE route = $1 AND profile_key = $2")
            .bind(route)
            .bind(profile_key)
            .bind(job_id)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Frees a slot whose push certainly created nothing (refused, or never sent).
    pub async fn clear_push(
        &self,
        route: &str,
        profile_key: &str,
        job_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pushes WHERE route = $1 AND profile_key = $2 AND state = 'sending' AND job_id = $3")
            .bind(route)
            .bind(profile_key)
            .bind(job_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn push_state(
        &self,
        route: &str,
        profile_key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT state FROM pushes WHERE route = $1 AND profile_key = $2")
                .bind(route)
                .bind(profile_key)
                .fetch_optional(&self.pool)
                .await?,
        )
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
            Finish::Retry { at, reason } | Finish::Defer { at, reason } => {
                (status::PENDING, *at, Some(reason.as_str()))
            }
        };
        // A deferral was not an attempt: give the count back.
        let refund = i64::from(matches!(finish, Finish::Defer { .. }));
        let mut conn = self.write_conn(Durability::Normal).await?;
        // The profile is checkpointed only for a job that runs again: one write less per
        // delivery, and a crash before this point costs one more fetch, never a second push.
        // A job that ends keeps no copy of the candidate's profile (personal data).
        let (keep, ends) = match finish {
            Finish::Retry { .. } | Finish::Defer { .. } => (attempt.profile.as_deref(), 0),
            _ => (None, 1),
        };
        let mut tx = self.begin(&mut conn).await?;
        let updated = sqlx::query("UPDATE jobs SET status = $2, next_attempt_at = $3, reason = $4, lease_until = NULL, lease_owner = NULL, updated_at = $5,
                             attempts = attempts - $7, step = $8,
                             profile = CASE WHEN $10 = 1 THEN NULL ELSE COALESCE($9, profile) END
             WHERE id = $1 AND lease_owner = $6")
        .bind(job_id)
        .bind(status)
        .bind(next)
        .bind(reason)
        .bind(now)
        .bind(owner)
        .bind(refund)
        .bind(&attempt.step)
        .bind(keep)
        .bind(ends)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if refund == 0 {
            sqlx::query("INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error, run)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT run FROM jobs WHERE id = $1))")
            .bind(job_id)
            .bind(attempt.started_at)
            .bind(attempt.duration_ms)
            .bind(&attempt.step)
            .bind(attempt.http_status.map(i64::from))
            .bind(finish.label())
            .bind(&attempt.error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// Gives back the leases this worker holds (graceful shutdown): the jobs are due again at once.
    pub async fn release(&self, owner: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query("UPDATE jobs SET lease_until = NULL, lease_owner = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
             WHERE lease_owner = $1 AND status = 'pending'")
        .bind(owner)
        .execute(&self.writer)
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
        let filter = control::JobFilter {
            status: status.map(str::to_string),
            ..Default::default()
        };
        self.list_jobs(&filter, limit, 0).await
    }

    /// The type of the event a job came from (a webhook sends it with the profile).
    pub async fn event_type(&self, event_id: &str) -> Result<String, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT event_type FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or_default(),
        )
    }

    pub async fn attempts(&self, job_id: i64) -> Result<Vec<AttemptView>, StoreError> {
        let rows = sqlx::query("SELECT run, started_at, step, http_status, outcome, error, duration_ms FROM attempts WHERE job_id = $1 ORDER BY id")
            .bind(job_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AttemptView {
                run: r.get("run"),
                started_at: r.get("started_at"),
                step: r.get("step"),
                http_status: r.get("http_status"),
                outcome: r.get("outcome"),
                error: r.get("error"),
                duration_ms: r.get("duration_ms"),
            })
            .collect())
    }

    /// For tests and operators: run raw SQL against the store (e.g. to simulate a crash state).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes both pools: every later operation fails (shutdown, and tests of a lost database).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

impl Store {
    /// Records that replica `id` is alive; answers how many replicas were seen within `window`.
    pub async fn heartbeat_replica(&self, id: &str, window: Duration) -> Result<i64, StoreError> {
        let now = now_ms();
        sqlx::query("INSERT INTO replicas (id, last_seen) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen")
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let cutoff = now - window.as_millis() as i64;
        sqlx::query("DELETE FROM replicas WHERE last_seen < $1")
            .bind(cutoff - 3_600_000)
            .execute(&self.writer)
            .await?;
        Ok(
            // On the reader pool: a read left on the one writer connection made other
            // processes' writes (the jobs CLI, a backfill) wait out their busy timeout.
            sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE last_seen >= $1")
                .bind(cutoff)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A replica leaving gracefully: the others take its share of the rate at once.
    pub async fn remove_replica(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn level(store: &Store, durability: Durability) -> i64 {
        let mut conn = store.write_conn(durability).await.unwrap();
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn durable_writes_commit_full_and_bookkeeping_normal() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        // 2 is FULL, 1 is NORMAL; whatever ran before, each write gets what it asked for.
        assert_eq!(level(&store, Durability::Full).await, 2);
        assert_eq!(level(&store, Durability::Normal).await, 1);
        assert_eq!(level(&store, Durability::Normal).await, 1);
        assert_eq!(level(&store, Durability::Full).await, 2);
        store.claim("w", Duration::from_secs(1)).await.unwrap();
        assert_eq!(level(&store, Durability::Full).await, 2);
    }
}
