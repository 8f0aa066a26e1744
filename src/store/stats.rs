//! What the status page and `/admin/api/stats` show: the queue's health, jobs per route and
//! status, outcomes per hour over the last day, and the dead jobs grouped by cause.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now_ms};
use crate::job::Status;

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Jobs waiting for an attempt, due or not.
    pub pending: i64,
    /// Pending jobs whose next attempt is due now (a paused route's are not).
    pub due: i64,
    /// How long the job due the longest has waited since it became due (not since it was
    /// made: a job retried in an hour is not late before that hour).
    pub oldest_pending_age_seconds: f64,
    /// Pending jobs held by a paused route.
    pub paused: i64,
    /// The routes an operator paused.
    pub paused_routes: Vec<String>,
    /// Jobs per status, route by route.
    pub routes: Vec<RouteCounts>,
    /// 24 hours, oldest first; the last is the current hour.
    pub hours: Vec<HourOutcomes>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteCounts {
    /// The route counted.
    pub route: String,
    /// Jobs of the route in each status:
    pub pending: i64,
    /// Jobs delivered.
    pub delivered: i64,
    /// Jobs filtered.
    pub filtered: i64,
    /// Jobs dead.
    pub dead: i64,
    /// Ended by an operator: apart from the dead, which are failures.
    pub cancelled: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HourOutcomes {
    /// The hour's start.
    #[serde(serialize_with = "crate::time::ser")]
    pub hour: i64,
    /// Jobs that ended in the hour, by status:
    pub delivered: i64,
    /// Attempts that ended filtered.
    pub filtered: i64,
    /// Attempts that ended dead.
    pub dead: i64,
}

/// The queue's figures the metrics show.
#[derive(Debug, Clone, Default)]
pub struct QueueGauges {
    /// Jobs waiting for an attempt, due or not.
    pub pending: i64,
    /// When the job due the longest became due (Unix ms); paused routes' jobs aside.
    pub oldest_pending_ms: Option<i64>,
    /// Pending jobs of paused routes.
    pub paused: i64,
    /// The routes an operator paused.
    pub paused_routes: Vec<String>,
    /// Dead jobs kept (until retention deletes them).
    pub dead: i64,
    /// Jobs an operator cancelled, kept likewise.
    pub cancelled: i64,
}

/// Dead jobs sharing one route and reason.
#[derive(Debug, Clone, Serialize)]
pub struct DeadCause {
    /// The route its jobs are on.
    pub route: String,
    /// The reason the jobs share ("" for none).
    pub reason: String,
    /// How many dead jobs share it.
    pub jobs: i64,
    /// When the newest of them ended.
    #[serde(serialize_with = "crate::time::ser")]
    pub last_at: i64,
    /// The newest few, for a Retry button each.
    pub job_ids: Vec<i64>,
}

impl Store {
    /// Pending jobs (the partial index of due jobs), dead and cancelled ones (a range of the
    /// status index each): no scan of the finished jobs, however many there are.
    pub async fn queue_gauges(&self) -> Result<QueueGauges, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        let (oldest, paused) = self.due_and_paused().await?;
        let mut g = QueueGauges {
            pending: n,
            oldest_pending_ms: oldest,
            paused,
            paused_routes: self.pauses().await?.into_iter().map(|p| p.route).collect(),
            ..Default::default()
        };
        for r in sqlx::query(
            "SELECT status, COUNT(*) AS n FROM jobs WHERE status IN ('dead', 'cancelled') GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let n: i64 = r.get("n");
            match Status::from_db(r.get("status")) {
                Status::Dead => g.dead = n,
                _ => g.cancelled = n,
            }
        }
        Ok(g)
    }

    /// When the job due the longest became due, and how many pending jobs paused routes
    /// hold: the first end of the due index, and the paused index's length.
    async fn due_and_paused(&self) -> Result<(Option<i64>, i64), StoreError> {
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM jobs WHERE status = 'pending' AND paused = 0 AND next_attempt_at <= $1",
        )
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        let paused: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE paused = 1 AND status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok((oldest, paused))
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let now = now_ms();
        let row = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN next_attempt_at <= $1 AND paused = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS due
             FROM jobs WHERE status = 'pending'")
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let (oldest, paused) = self.due_and_paused().await?;
        let routes = self.route_counts().await?;
        let hours = self.hours(now).await?;
        Ok(Stats {
            pending: row.get("n"),
            due: row.get("due"),
            oldest_pending_age_seconds: oldest
                .map(|t| (now - t).max(0) as f64 / 1000.0)
                .unwrap_or(0.0),
            routes,
            hours,
            paused,
            paused_routes: self.pauses().await?.into_iter().map(|p| p.route).collect(),
        })
    }

    /// Jobs per route and status, by route name.
    async fn route_counts(&self) -> Result<Vec<RouteCounts>, StoreError> {
        let mut routes: std::collections::BTreeMap<String, RouteCounts> = Default::default();
        for r in sqlx::query(
            "SELECT route, status, COUNT(*) AS n FROM jobs GROUP BY route, status ORDER BY route",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let route: String = r.get("route");
            let counts = routes.entry(route.clone()).or_insert_with(|| RouteCounts {
                route,
                ..Default::default()
            });
            let n: i64 = r.get("n");
            match Status::from_db(r.get("status")) {
                Status::Pending => counts.pending += n,
                Status::Delivered => counts.delivered += n,
                Status::Filtered => counts.filtered += n,
                Status::Cancelled => counts.cancelled += n,
                Status::Dead => counts.dead += n,
            }
        }
        Ok(routes.into_values().collect())
    }

    /// Outcomes per hour over the last day, oldest first; the last is `now`'s hour.
    async fn hours(&self, now: i64) -> Result<Vec<HourOutcomes>, StoreError> {
        let first_hour = (now / HOUR_MS - 23) * HOUR_MS;
        let mut hours: Vec<HourOutcomes> = (0..24)
            .map(|i| HourOutcomes {
                hour: first_hour + i * HOUR_MS,
                ..Default::default()
            })
            .collect();
        for r in sqlx::query(
            "SELECT status, updated_at / 3600000 AS hour, COUNT(*) AS n FROM jobs
             WHERE status IN ('delivered', 'filtered', 'dead') AND updated_at >= $1
             GROUP BY status, updated_at / 3600000",
        )
        .bind(first_hour)
        .fetch_all(&self.pool)
        .await?
        {
            let hour: i64 = r.get("hour");
            let Some(slot) =
                hours.get_mut((hour * HOUR_MS - first_hour).div_euclid(HOUR_MS) as usize)
            else {
                continue;
            };
            let n: i64 = r.get("n");
            match Status::from_db(r.get("status")) {
                Status::Delivered => slot.delivered += n,
                Status::Filtered => slot.filtered += n,
                _ => slot.dead += n,
            }
        }
        Ok(hours)
    }

    /// Dead jobs grouped by route and reason, the largest groups first.
    pub async fn dead_causes(&self, limit: i64) -> Result<Vec<DeadCause>, StoreError> {
        let rows = sqlx::query("SELECT route, COALESCE(reason, '') AS reason, COUNT(*) AS n, MAX(updated_at) AS last_at
             FROM jobs WHERE status = 'dead' GROUP BY route, COALESCE(reason, '')
             ORDER BY n DESC, last_at DESC LIMIT $1")
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut causes = Vec::with_capacity(rows.len());
        for r in rows {
            let route: String = r.get("route");
            let reason: String = r.get("reason");
            let job_ids = sqlx::query("SELECT id FROM jobs WHERE status = 'dead' AND route = $1 AND COALESCE(reason, '') = $2
                 ORDER BY id DESC LIMIT 5")
            .bind(&route)
            .bind(&reason)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get("id"))
            .collect();
            causes.push(DeadCause {
                route,
                reason,
                jobs: r.get("n"),
                last_at: r.get("last_at"),
                job_ids,
            });
        }
        Ok(causes)
    }
}
