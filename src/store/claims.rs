//! Claims: a worker takes the next due job under a lease, and gives its leases back when it
//! stops. A job leased by a process that stopped heartbeating is due again at once.

use std::time::Duration;

use super::write::{Arg, Row, Write};
use super::{Backend, Durability, Store, StoreError, now_ms};
use crate::job::Step;

/// A job as a worker holds it under its lease: what one attempt needs.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job's row.
    pub id: i64,
    /// The event it came from (a webhook sends the event's type and names it).
    pub event_id: String,
    /// The route it runs on: its transform and destination.
    pub route: String,
    /// The candidate to fetch and deliver.
    pub profile_key: String,
    /// The HrFlow source holding the profile.
    pub source_key: String,
    /// The furthest checkpoint an earlier attempt reached: where this one resumes.
    pub step: Step,
    /// Attempts made, this one included: where the retry schedule stands.
    pub attempts: u32,
    /// The profile an earlier attempt fetched, kept for this one (None: fetch it).
    pub profile: Option<String>,
    /// When the job was made (Unix ms): a careers response's date, the delivery's latency.
    pub created_at: i64,
}

impl ClaimedJob {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.get("id")?,
            event_id: r.get("event_id")?,
            route: r.get("route")?,
            profile_key: r.get("profile_key")?,
            source_key: r.get("source_key")?,
            step: Step::from_db(&r.get::<String>("step")?),
            attempts: r.get::<i64>("attempts")?.try_into().unwrap_or(u32::MAX),
            profile: r.get("profile")?,
            created_at: r.get("created_at")?,
        })
    }
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
        let sql = claim_sql(self.backend);
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
        row.as_ref().map(ClaimedJob::from_row).transpose()
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
}

/// The claim: `$1` now, `$2` the lease's end, `$3` the owner, `$4` the heartbeat before which
/// an owner is gone.
fn claim_sql(backend: Backend) -> String {
    // SQLite's planner, without statistics, would take the status index and sort every
    // pending job on each claim; the due index makes a claim one short range scan.
    let (hint, lock) = match backend {
        Backend::Sqlite => ("INDEXED BY jobs_due", ""),
        Backend::Postgres => ("", "FOR UPDATE SKIP LOCKED"),
    };
    format!(
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
    )
}
