//! Sync's state: one pass at a time for the whole deployment (a lease row holding the next due
//! time), and per source its watermark and last pass.

use serde::Serialize;
use sqlx::Row;

use super::{Durability, Store, StoreError, now_ms};

/// A source's last pass, as the status page shows it. Times are Unix milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SourceRun {
    /// The source passed over.
    pub source_key: String,
    /// The day (YYYY-MM-DD, UTC) the last complete pass started; the next lists from a day
    /// before it.
    pub watermark: Option<String>,
    #[serde(
        serialize_with = "crate::time::ser_opt",
        skip_serializing_if = "Option::is_none"
    )]
    /// When its last pass started (ms since the epoch).
    pub started_at: Option<i64>,
    /// When it ended, through or not.
    #[serde(
        serialize_with = "crate::time::ser_opt",
        skip_serializing_if = "Option::is_none"
    )]
    /// When it ended; `None`: still running or cut short.
    pub ended_at: Option<i64>,
    /// Profiles HrFlow listed.
    pub listed: i64,
    /// Jobs it queued.
    pub queued: i64,
    /// Profiles that had no job: their events never arrived.
    pub found: i64,
    /// Why the last pass stopped early, if it did.
    pub error: Option<String>,
}

/// What a pass of one source did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// When the pass started (Unix ms).
    pub started_at: i64,
    /// Profiles HrFlow listed.
    pub listed: u64,
    /// Jobs queued.
    pub queued: u64,
    /// (route, profile) pairs that already had a job.
    pub skipped: u64,
    /// Profiles that had no job: their events never arrived.
    pub found: u64,
    /// `Some(day)`: the pass went through, and this day becomes the watermark; `None`: it
    /// stopped early and the watermark stays.
    pub watermark: Option<String>,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

/// A pass that got no start because it is not due, or another one runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPass {
    /// The last pass ended less than an interval ago.
    NotDue,
    /// Another process holds the pass.
    Running,
}

impl Store {
    /// Takes the deployment's pass, if it is due (or `now` is asked) and nobody holds it: the
    /// lease says until when. Returns why not otherwise.
    pub async fn begin_sync_pass(
        &self,
        owner: &str,
        lease: std::time::Duration,
        now_asked: bool,
    ) -> Result<Result<(), NoPass>, StoreError> {
        let now = now_ms();
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        // The first pass ever is due at once.
        sqlx::query(
            "INSERT INTO sync_lease (id, next_due) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        let taken = sqlx::query(
            "UPDATE sync_lease SET holder = $1, lease_until = $2, last_started_at = $3
             WHERE id = 1 AND (holder IS NULL OR lease_until < $3) AND ($4 = 1 OR next_due <= $3)",
        )
        .bind(owner)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(i64::from(now_asked))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let why = if taken == 1 {
            Ok(())
        } else {
            let held: Option<i64> = sqlx::query_scalar(
                "SELECT lease_until FROM sync_lease WHERE id = 1 AND holder IS NOT NULL AND lease_until >= $1",
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            Err(if held.is_some() {
                NoPass::Running
            } else {
                NoPass::NotDue
            })
        };
        tx.commit().await?;
        Ok(why)
    }

    /// Keeps the pass while it runs; false when it was lost (its lease ran out and another
    /// process took it): the pass stops.
    pub async fn renew_sync_pass(
        &self,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE sync_lease SET lease_until = $2 WHERE id = 1 AND holder = $1")
            .bind(owner)
            .bind(now_ms() + lease.as_millis() as i64)
            .execute(&mut *self.lend().await?)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives the pass back; the next is due after `interval`.
    pub async fn end_sync_pass(
        &self,
        owner: &str,
        interval: std::time::Duration,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_lease SET holder = NULL, lease_until = NULL, next_due = $2 WHERE id = 1 AND holder = $1",
        )
        .bind(owner)
        .bind(now_ms() + interval.as_millis() as i64)
        .execute(&mut *self.lend().await?)
        .await?;
        Ok(())
    }

    /// At a service's start, a pass is made due now when no other process heartbeat within
    /// `alive`: the deployment was down, and events may have gone missing meanwhile. A replica
    /// starting beside others that kept passing changes nothing (one pass per interval).
    pub async fn sync_due_at_start(
        &self,
        owner: &str,
        alive: std::time::Duration,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        sqlx::query(
            "INSERT INTO sync_lease (id, next_due) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE id <> $1 AND last_seen >= $2")
                .bind(owner)
                .bind(now - alive.as_millis() as i64)
                .fetch_one(&mut *tx)
                .await?;
        if others == 0 {
            sqlx::query("UPDATE sync_lease SET next_due = $1 WHERE id = 1 AND next_due > $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A source's watermark (the day its last complete pass started).
    pub async fn sync_watermark(&self, source_key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT watermark FROM sync_sources WHERE source_key = $1",
        )
        .bind(source_key)
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Records a source's pass; its watermark moves only when the pass went through.
    pub async fn record_sync_pass(
        &self,
        source_key: &str,
        pass: &PassOutcome,
    ) -> Result<(), StoreError> {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO sync_sources (source_key, watermark, last_started_at, last_ended_at, last_listed, last_queued, last_found, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (source_key) DO UPDATE SET
                watermark = COALESCE(excluded.watermark, sync_sources.watermark),
                last_started_at = excluded.last_started_at, last_ended_at = excluded.last_ended_at,
                last_listed = excluded.last_listed, last_queued = excluded.last_queued,
                last_found = excluded.last_found, last_error = excluded.last_error",
        )
        .bind(source_key)
        .bind(pass.watermark.as_deref())
        .bind(pass.started_at)
        .bind(now_ms())
        .bind(count(pass.listed))
        .bind(count(pass.queued))
        .bind(count(pass.found))
        .bind(pass.error.as_deref())
        .execute(&mut *self.write_conn(Durability::Full).await?)
        .await?;
        Ok(())
    }

    /// Every source's last pass, by source key.
    pub async fn sync_runs(&self) -> Result<Vec<SourceRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT source_key, watermark, last_started_at, last_ended_at, last_listed, last_queued, last_found, last_error
             FROM sync_sources ORDER BY source_key",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SourceRun {
                source_key: r.get("source_key"),
                watermark: r.get("watermark"),
                started_at: r.get("last_started_at"),
                ended_at: r.get("last_ended_at"),
                listed: r.get("last_listed"),
                queued: r.get("last_queued"),
                found: r.get("last_found"),
                error: r.get("last_error"),
            })
            .collect())
    }
}
