//! Jobs as an operator reads them: a job with its status and step, and each attempt it made.
//! Claims are `claims.rs`; the end of an attempt is `finish.rs`.

use sqlx::Row;

use super::{Store, StoreError};
use crate::job::{Ended, Status, Step};

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    /// The job's row.
    pub id: i64,
    /// The event it came from.
    pub event_id: String,
    /// The route it runs on.
    pub route: String,
    /// The candidate it delivers.
    pub profile_key: String,
    /// The HrFlow source holding the profile.
    pub source_key: String,
    /// Where it stands.
    pub status: Status,
    /// The furthest checkpoint reached.
    pub step: Step,
    /// Attempts counted in this run (deferrals are not): where the retry schedule stands.
    pub attempts: i64,
    /// A pending job's next attempt; absent once it has ended.
    #[serde(
        serialize_with = "crate::time::ser_opt",
        skip_serializing_if = "Option::is_none"
    )]
    /// When a pending job runs next (ms since the epoch).
    pub next_attempt_at: Option<i64>,
    /// A pending job of a paused route: it waits, no attempt made, until the route is resumed.
    pub paused: bool,
    /// Why it ended, or why its last attempt failed.
    pub reason: Option<String>,
    /// 1, then one more for each operator retry.
    pub run: i64,
    /// When the event made it.
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: i64,
    /// Its last change: for a finished job, when it ended.
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: i64,
}

impl JobView {
    /// Columns `from_row` reads, for every query that lists jobs.
    pub(crate) const COLUMNS: &'static str = "id, event_id, route, profile_key, source_key, status, step, attempts, next_attempt_at, paused, reason, run, created_at, updated_at";

    pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> Self {
        let status = Status::from_db(r.get("status"));
        let pending = status == Status::Pending;
        Self {
            id: r.get("id"),
            event_id: r.get("event_id"),
            route: r.get("route"),
            profile_key: r.get("profile_key"),
            source_key: r.get("source_key"),
            status,
            step: Step::from_db(r.get("step")),
            attempts: r.get("attempts"),
            next_attempt_at: pending.then(|| r.get("next_attempt_at")),
            paused: pending && r.get::<i64, _>("paused") != 0,
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
    /// When the attempt started (ms since the epoch).
    #[serde(serialize_with = "crate::time::ser")]
    pub started_at: i64,
    /// The furthest checkpoint it reached.
    pub step: Step,
    /// The last answer's status, when an upstream answered.
    pub http_status: Option<i64>,
    /// How it ended: delivered, filtered, dead, retry or deferred.
    pub outcome: Ended,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// What the destination said beyond the outcome.
    pub note: Option<String>,
}

impl Store {
    pub async fn jobs(
        &self,
        status: Option<Status>,
        limit: i64,
    ) -> Result<Vec<JobView>, StoreError> {
        let filter = super::control::JobFilter {
            status,
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
        let rows = sqlx::query("SELECT run, started_at, step, http_status, outcome, error, duration_ms, note FROM attempts WHERE job_id = $1 ORDER BY id")
            .bind(job_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AttemptView {
                run: r.get("run"),
                started_at: r.get("started_at"),
                step: Step::from_db(r.get("step")),
                http_status: r.get("http_status"),
                outcome: Ended::from_db(r.get("outcome")),
                error: r.get("error"),
                duration_ms: r.get("duration_ms"),
                note: r.get("note"),
            })
            .collect())
    }
}
