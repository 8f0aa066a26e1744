//! Jobs and their attempts: claims under a lease, the record of each attempt, and what an
//! operator reads.

use std::time::Duration;

use sqlx::Row;

use super::write::{Arg, Write};
use super::{Backend, Durability, Store, StoreError, now_ms};
use crate::job::{Status, Step};

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub event_id: String,
    pub route: String,
    pub profile_key: String,
    pub source_key: String,
    pub step: Step,
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
            Finish::Delivered => Status::Delivered.as_str(),
            Finish::Filtered(_) => Status::Filtered.as_str(),
            Finish::Dead(_) => Status::Dead.as_str(),
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
    pub step: Step,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// The profile this attempt fetched: kept for the next attempt when the job runs again.
    pub profile: Option<String>,
    /// The keyed hash of the fetched profile's email: what a search by email finds.
    pub email_hash: Option<String>,
    /// What the destination said of the attempt beyond its outcome (Huntflow's possible
    /// duplicates): shown with the attempt.
    pub note: Option<String>,
    /// The attempt left the candidate created upstream (the destination's `CREATED_AT`): the
    /// created-once record this job holds is marked with this write.
    pub created: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    pub id: i64,
    pub event_id: String,
    pub route: String,
    pub profile_key: String,
    pub source_key: String,
    pub status: Status,
    pub step: Step,
    pub attempts: i64,
    /// A pending job's next attempt; absent once it has ended.
    #[serde(
        serialize_with = "crate::time::ser_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_attempt_at: Option<i64>,
    /// A pending job of a paused route: it waits, no attempt made, until the route is resumed.
    pub paused: bool,
    pub reason: Option<String>,
    /// 1, then one more for each operator retry.
    pub run: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: i64,
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
    #[serde(serialize_with = "crate::time::ser")]
    pub started_at: i64,
    pub step: Step,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub note: Option<String>,
}

impl Store {
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
            "UPDATE jobs SET lease_until = $2, lease_owner = $3, attempts = attempts + 1
             WHERE id = (
                SELECT j.id FROM jobs j {hint}
                WHERE j.status = 'pending' AND j.paused = 0 AND j.next_attempt_at <= $1
                  AND NOT EXISTS (SELECT 1 FROM route_pauses p WHERE p.route = j.route)
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
        let until = now + lease.as_millis() as i64;
        let row = self
            .write(Write {
                sql: vec![sql],
                args: vec![
                    Arg::Int(now),
                    Arg::Int(until),
                    Arg::Text(owner.to_string()),
                    Arg::Int(gone_before),
                ],
                durability: Durability::Normal,
            })
            .await?
            .into_iter()
            .next();
        let Some(r) = row else { return Ok(None) };
        Ok(Some(ClaimedJob {
            id: r.get("id")?,
            event_id: r.get("event_id")?,
            route: r.get("route")?,
            profile_key: r.get("profile_key")?,
            source_key: r.get("source_key")?,
            step: Step::from_db(&r.get::<String>("step")?),
            attempts: r.get::<i64>("attempts")?.try_into().unwrap_or(u32::MAX),
            profile: r.get("profile")?,
            created_at: r.get("created_at")?,
        }))
    }

    /// Records the attempt and moves the job on, if this worker still holds its lease.
    pub async fn finish(
        &self,
        job: &ClaimedJob,
        owner: &str,
        finish: &Finish,
        attempt: &AttemptRecord,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let job_id = job.id;
        let (status, next, reason) = match finish {
            Finish::Delivered => (Status::Delivered, now, None),
            Finish::Filtered(r) => (Status::Filtered, now, Some(r.as_str())),
            Finish::Dead(r) => (Status::Dead, now, Some(r.as_str())),
            Finish::Retry { at, reason } | Finish::Defer { at, reason } => {
                (Status::Pending, *at, Some(reason.as_str()))
            }
        };
        // A deferral was not an attempt: give the count back.
        let refund = i64::from(matches!(finish, Finish::Defer { .. }));
        // The profile is checkpointed only for a job that runs again: one write less per
        // delivery, and a crash before this point costs one more fetch, never a second push.
        // A job that ends keeps no copy of the candidate's profile (personal data).
        let (keep, ends) = match finish {
            Finish::Retry { .. } | Finish::Defer { .. } => (attempt.profile.as_deref(), 0),
            _ => (None, 1),
        };
        // The attempt created the candidate upstream (or found an earlier attempt's creation
        // there): the created-once record this job holds, still "sending", is marked. One
        // created before by another job, or not this job's, is left as it is.
        let pushed = attempt.created;
        let mark = if pushed {
            self.push_mark(&job.route, &job.profile_key)?
        } else {
            String::new()
        };
        const MARK_PUSHED: &str = "UPDATE push_marks SET state = 'pushed', updated_at = $5
             WHERE mark = $16 AND job_id = $1 AND state = 'sending'";
        const UPDATE: &str = "UPDATE jobs SET status = $2, next_attempt_at = $3, reason = $4, lease_until = NULL, lease_owner = NULL, updated_at = $5,
                             attempts = attempts - $7, step = $8,
                             profile = CASE WHEN $10 = 1 THEN NULL ELSE COALESCE($9, profile) END,
                             email_hash = COALESCE($17, email_hash)
             WHERE id = $1 AND lease_owner = $6 RETURNING id";
        if self.backend == Backend::Sqlite {
            // The update and the attempt in the writer thread's next batch. The attempt's own
            // values follow the update's ten parameters.
            const ATTEMPT: &str = "INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error, run, note)
                     VALUES ($1, $11, $12, $8, $13, $14, $15, (SELECT run FROM jobs WHERE id = $1), $18)";
            let mut sql = vec![UPDATE.to_string()];
            if refund == 0 {
                sql.push(ATTEMPT.to_string());
            }
            if pushed {
                sql.push(MARK_PUSHED.to_string());
            }
            let args = vec![
                Arg::Int(job_id),
                Arg::Text(status.as_str().to_string()),
                Arg::Int(next),
                Arg::MaybeText(reason.map(str::to_string)),
                Arg::Int(now),
                Arg::Text(owner.to_string()),
                Arg::Int(refund),
                Arg::Text(attempt.step.as_str().to_string()),
                Arg::MaybeText(keep.map(str::to_string)),
                Arg::Int(ends),
                Arg::Int(attempt.started_at),
                Arg::Int(attempt.duration_ms),
                Arg::MaybeInt(attempt.http_status.map(i64::from)),
                Arg::Text(finish.label().to_string()),
                Arg::MaybeText(attempt.error.clone()),
                Arg::Text(mark.clone()),
                Arg::MaybeText(attempt.email_hash.clone()),
                Arg::MaybeText(attempt.note.clone()),
            ];
            let updated = self
                .write(Write {
                    sql,
                    args,
                    durability: Durability::Normal,
                })
                .await?;
            return Ok(updated.len() == 1);
        }
        // PostgreSQL infers every parameter's type: the attempt is a statement of its own.
        let mut conn = self.write_conn(Durability::Normal).await?;
        let mut tx = self.begin(&mut conn).await?;
        let update = UPDATE.replace("$17", "$11");
        let updated = sqlx::query(&update)
            .bind(job_id)
            .bind(status.as_str())
            .bind(next)
            .bind(reason)
            .bind(now)
            .bind(owner)
            .bind(refund)
            .bind(attempt.step.as_str())
            .bind(keep)
            .bind(ends)
            .bind(attempt.email_hash.as_deref())
            .fetch_all(&mut *tx)
            .await?
            .len();
        if pushed {
            sqlx::query(&MARK_PUSHED.replace("$5", "$2").replace("$16", "$3"))
                .bind(job_id)
                .bind(now)
                .bind(&mark)
                .execute(&mut *tx)
                .await?;
        }
        if refund == 0 {
            sqlx::query("INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error, run, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT run FROM jobs WHERE id = $1), $8)")
            .bind(job_id)
            .bind(attempt.started_at)
            .bind(attempt.duration_ms)
            .bind(attempt.step.as_str())
            .bind(attempt.http_status.map(i64::from))
            .bind(finish.label())
            .bind(&attempt.error)
            .bind(&attempt.note)
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
        .execute(&mut *self.lend().await?)
        .await?
        .rows_affected())
    }

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
                outcome: r.get("outcome"),
                error: r.get("error"),
                duration_ms: r.get("duration_ms"),
                note: r.get("note"),
            })
            .collect())
    }
}
