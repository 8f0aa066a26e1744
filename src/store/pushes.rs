//! Push slots: the push-once rule, one record per (route, profile), kept under a keyed hash of
//! the two (`push_marks`) so that it outlives an erasure of the candidate without naming them.
//! Versions before the marks wrote `pushes`, in clear, and one may still be running beside
//! this one during an upgrade: a slot found free here is looked up there too.

use sqlx::Row;

use super::write::{Arg, Write};
use super::{Durability, Store, StoreError, now_ms};
use crate::job::Status;

/// How long no process may have heartbeat before an older version's push records are moved:
/// longer than any `worker.replica_timeout` in use, so a stopped old replica is not mistaken.
const LEGACY_QUIET: std::time::Duration = std::time::Duration::from_secs(60);

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

/// A created-once record's state, as its `state` column holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// Taken by a job whose push went out, or may have: its outcome is unknown until it is
    /// marked pushed.
    Sending,
    /// Created upstream: never pushed again.
    Pushed,
}

impl PushState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Pushed => "pushed",
        }
    }

    /// As the store writes it; anything else reads as sending, whose outcome is asked upstream
    /// before any push, so a record nobody understands never leads to a second candidate.
    pub fn from_db(value: &str) -> Self {
        match value {
            "pushed" => Self::Pushed,
            _ => Self::Sending,
        }
    }
}

impl Store {
    /// Takes the push slot of (route, profile) for `job_id`. The slot is a row under a primary
    /// key, so two jobs (on any replicas) never both push the same profile for a route.
    pub async fn acquire_push(
        &self,
        route: &str,
        profile_key: &str,
        job_id: i64,
    ) -> Result<PushSlot, StoreError> {
        let now = now_ms();
        let mark = self.push_mark(route, profile_key)?;
        // The slot must outlive a power cut: the push that follows cannot be taken back.
        const TAKE: &str = "INSERT INTO push_marks (mark, state, job_id, updated_at) VALUES ($1, 'sending', $2, $3)
             ON CONFLICT (mark) DO NOTHING RETURNING job_id";
        let inserted = self
            .write(Write {
                sql: vec![TAKE.to_string()],
                args: vec![Arg::Text(mark.clone()), Arg::Int(job_id), Arg::Int(now)],
                durability: Durability::Full,
            })
            .await?
            .pop();
        if inserted.is_some() {
            if !self
                .legacy_pushes
                .load(std::sync::atomic::Ordering::Acquire)
            {
                return Ok(PushSlot::Free);
            }
            return self
                .as_an_older_version_left_it(route, profile_key, &mark, job_id)
                .await;
        }
        // Held already: who holds it, and may this job take it over (durably, as the slot).
        self.held_slot(&mark, job_id, now).await
    }

    /// A slot already held: pushed; held by this job (an unknown outcome); by a live job
    /// (busy); or by a dead one, taken over if nobody else just did.
    async fn held_slot(&self, mark: &str, job_id: i64, now: i64) -> Result<PushSlot, StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let conn = &mut conn;
        let row = sqlx::query("SELECT p.state, p.job_id, j.status, j.lease_until FROM push_marks p LEFT JOIN jobs j ON j.id = p.job_id
             WHERE p.mark = $1")
        .bind(mark)
        .fetch_optional(&mut **conn)
        .await?;
        let Some(row) = row else {
            // Cleared between the two statements: try again on the next attempt.
            return Ok(PushSlot::Busy);
        };
        let holder: i64 = row.get("job_id");
        if PushState::from_db(row.get("state")) == PushState::Pushed {
            return Ok(PushSlot::Pushed);
        }
        if holder == job_id {
            return Ok(PushSlot::Unknown);
        }
        let holder_live = pending(&row)
            && row
                .get::<Option<i64>, _>("lease_until")
                .is_some_and(|l| l >= now);
        if holder_live {
            return Ok(PushSlot::Busy);
        }
        // The holder died, ended mid-push or was erased: take the slot over, if nobody else
        // just did.
        let taken = sqlx::query("UPDATE push_marks SET job_id = $2, updated_at = $4 WHERE mark = $1 AND state = 'sending' AND job_id = $3")
        .bind(mark)
        .bind(job_id)
        .bind(holder)
        .bind(now)
        .execute(&mut **conn)
        .await?
        .rows_affected();
        Ok(if taken == 1 {
            PushSlot::Unknown
        } else {
            PushSlot::Busy
        })
    }

    /// A slot just taken, as `pushes` (an older version's record) has it: pushed there is
    /// pushed; a push of a live job there is busy (this slot goes back); one whose job ended
    /// is an unknown outcome; none is free.
    async fn as_an_older_version_left_it(
        &self,
        route: &str,
        profile_key: &str,
        mark: &str,
        job_id: i64,
    ) -> Result<PushSlot, StoreError> {
        let row = sqlx::query("SELECT p.state, j.status, j.lease_until FROM pushes p LEFT JOIN jobs j ON j.id = p.job_id
             WHERE p.route = $1 AND p.profile_key = $2")
        .bind(route)
        .bind(profile_key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(PushSlot::Free);
        };
        if PushState::from_db(row.get("state")) == PushState::Pushed {
            sqlx::query("UPDATE push_marks SET state = 'pushed' WHERE mark = $1")
                .bind(mark)
                .execute(&mut *self.lend().await?)
                .await?;
            return Ok(PushSlot::Pushed);
        }
        let live = pending(&row)
            && row
                .get::<Option<i64>, _>("lease_until")
                .is_some_and(|l| l >= now_ms());
        if live {
            self.clear_push(route, profile_key, job_id).await?;
            return Ok(PushSlot::Busy);
        }
        Ok(PushSlot::Unknown)
    }

    /// Moves an older version's push records into marks, when no process is running that
    /// could still read or write them (none heartbeats): then `pushes` is empty for good and a
    /// free slot is never looked up there. While one runs (an old replica, during an upgrade),
    /// they stay, and are looked up.
    pub(super) async fn retire_legacy_pushes(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM pushes LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        if any.is_none() {
            self.legacy_pushes.store(false, Ordering::Release);
            return Ok(());
        }
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE last_seen >= $1")
            .bind(now_ms() - LEGACY_QUIET.as_millis() as i64)
            .fetch_one(&mut *tx)
            .await?;
        if live > 0 {
            drop(tx);
            self.legacy_pushes.store(true, Ordering::Release);
            tracing::info!(
                live,
                "push records of an older version are kept while a process runs: they are looked up too"
            );
            return Ok(());
        }
        let rows = sqlx::query("SELECT route, profile_key, state, job_id, updated_at FROM pushes")
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            sqlx::query(
                "INSERT INTO push_marks (mark, state, job_id, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (mark) DO NOTHING",
            )
            .bind(self.push_mark(r.get("route"), r.get("profile_key"))?)
            .bind(PushState::from_db(r.get("state")).as_str())
            .bind(r.get::<i64, _>("job_id"))
            .bind(r.get::<i64, _>("updated_at"))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM pushes").execute(&mut *tx).await?;
        tx.commit().await?;
        self.legacy_pushes.store(false, Ordering::Release);
        tracing::info!(
            records = rows.len(),
            "push records of an older version became marks: no profile key is kept in clear"
        );
        Ok(())
    }

    /// Frees a slot whose push certainly created nothing (refused, or never sent).
    pub async fn clear_push(
        &self,
        route: &str,
        profile_key: &str,
        job_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM push_marks WHERE mark = $1 AND state = 'sending' AND job_id = $2")
            .bind(self.push_mark(route, profile_key)?)
            .bind(job_id)
            .execute(&mut *self.lend().await?)
            .await?;
        Ok(())
    }

    /// Records, durably and before the delivery's next step, that the candidate was created
    /// upstream as `upstream_id` (Huntflow's applicant): the slot is marked created, whoever
    /// holds it now (it exists upstream, so a job that took the slot over must not create it).
    pub async fn record_created(
        &self,
        route: &str,
        profile_key: &str,
        job_id: i64,
        upstream_id: &str,
    ) -> Result<(), StoreError> {
        let mark = self.push_mark(route, profile_key)?;
        let mut conn = self.write_conn(Durability::Full).await?;
        sqlx::query(
            "UPDATE push_marks SET state = 'pushed', upstream_id = $3, updated_at = $4, job_id = $2 WHERE mark = $1",
        )
        .bind(mark)
        .bind(job_id)
        .bind(upstream_id)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// When the slot of (route, profile) was last taken (Unix ms), if it is held.
    pub async fn push_taken_at(
        &self,
        route: &str,
        profile_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT updated_at FROM push_marks WHERE mark = $1")
                .bind(self.push_mark(route, profile_key)?)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// What a destination recorded it created for (route, profile), if it recorded an id.
    pub async fn created_id(
        &self,
        route: &str,
        profile_key: &str,
    ) -> Result<Option<String>, StoreError> {
        let id: Option<Option<String>> =
            sqlx::query_scalar("SELECT upstream_id FROM push_marks WHERE mark = $1")
                .bind(self.push_mark(route, profile_key)?)
                .fetch_optional(&self.pool)
                .await?;
        Ok(id.flatten())
    }

    /// The slot's state: the mark's, else an older version's record's.
    pub async fn push_state(
        &self,
        route: &str,
        profile_key: &str,
    ) -> Result<Option<PushState>, StoreError> {
        let marked: Option<String> =
            sqlx::query_scalar("SELECT state FROM push_marks WHERE mark = $1")
                .bind(self.push_mark(route, profile_key)?)
                .fetch_optional(&self.pool)
                .await?;
        let state = match marked {
            Some(state) => Some(state),
            None => {
                sqlx::query_scalar("SELECT state FROM pushes WHERE route = $1 AND profile_key = $2")
                    .bind(route)
                    .bind(profile_key)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        Ok(state.as_deref().map(PushState::from_db))
    }
}

/// Whether the job a slot row joins (`j.status`) is pending; no job (erased) is not.
fn pending(row: &sqlx::any::AnyRow) -> bool {
    row.get::<Option<&str>, _>("status").map(Status::from_db) == Some(Status::Pending)
}
