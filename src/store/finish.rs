//! Finishing an attempt: the job moved on (delivered, filtered, dead, or due again), the
//! attempt recorded, and the created-once record marked, in one transaction, if the worker
//! still holds the lease. The statements are written once; SQLite runs them as one write in
//! the writer thread's batch, PostgreSQL in a transaction of its own.

use std::sync::LazyLock;

use super::write::{Arg, Write};
use super::{Backend, ClaimedJob, Durability, Store, StoreError, now_ms};
use crate::job::{Ended, Status, Step};

/// How an attempt ends the job, or when it runs again.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Delivered,
    /// A logic dropped the profile; names the logic.
    Filtered(String),
    /// Why the job ends without a delivery.
    Dead(String),
    Retry {
        /// When the job is due again (Unix ms).
        at: i64,
        /// Why this attempt failed: the job's reason until the next one.
        reason: String,
    },
    /// Not an attempt: another job holds what this one needs; run again at `at`.
    Defer {
        /// When the job is due again (Unix ms).
        at: i64,
        /// What is held, and by whom.
        reason: String,
    },
}

impl Finish {
    /// The attempt's outcome as its record keeps it.
    pub fn ended(&self) -> Ended {
        match self {
            Finish::Delivered => Ended::Delivered,
            Finish::Filtered(_) => Ended::Filtered,
            Finish::Dead(_) => Ended::Dead,
            Finish::Retry { .. } => Ended::Retry,
            Finish::Defer { .. } => Ended::Deferred,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// When the attempt started (Unix ms).
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// The furthest step the attempt reached; the job keeps it.
    pub step: Step,
    /// The last answer's status, when an upstream answered.
    pub http_status: Option<u16>,
    /// Why it failed, if it did: shown with the attempt.
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

/// A statement of `finish`, written once. Its text numbers parameters over all of the
/// finish's values (`values`), as SQLite's writer thread binds one list to every statement of
/// a write; `params` names those it takes, in the order PostgreSQL numbers them (it infers
/// every parameter's type, so each statement binds only its own).
struct Statement {
    /// The text SQLite runs, numbered over all the values.
    sql: &'static str,
    /// The values it takes, in PostgreSQL's order: the k-th is its `$k` there.
    params: &'static [usize],
}

/// The job moved on, if this worker still holds its lease: RETURNING says it did.
const MOVE_ON: Statement = Statement {
    sql: "UPDATE jobs SET status = $2, next_attempt_at = $3, reason = $4, lease_until = NULL, lease_owner = NULL, updated_at = $5,
                             attempts = attempts - $7, step = $8,
                             profile = CASE WHEN $10 = 1 THEN NULL ELSE COALESCE($9, profile) END,
                             email_hash = COALESCE($17, email_hash)
             WHERE id = $1 AND lease_owner = $6 RETURNING id",
    params: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17],
};

/// The attempt's record, in the job's current run.
const RECORD: Statement = Statement {
    sql: "INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error, run, note)
                     VALUES ($1, $11, $12, $8, $13, $14, $15, (SELECT run FROM jobs WHERE id = $1), $18)",
    params: &[1, 11, 12, 8, 13, 14, 15, 18],
};

/// The created-once record this job holds, still "sending", marked created (stored as
/// `pushed`, the word of the first destination that had one).
const MARK_CREATED: Statement = Statement {
    sql: "UPDATE push_marks SET state = 'pushed', updated_at = $5
             WHERE mark = $16 AND job_id = $1 AND state = 'sending'",
    params: &[1, 5, 16],
};

/// PostgreSQL's texts of `MOVE_ON`, `MARK_CREATED` and `RECORD`, numbered once.
static POSTGRES: LazyLock<[String; 3]> =
    LazyLock::new(|| [MOVE_ON, MARK_CREATED, RECORD].map(|s| s.for_postgres()));

impl Statement {
    /// The text with the k-th of `params` as `$k`.
    fn for_postgres(&self) -> String {
        let mut out = String::with_capacity(self.sql.len());
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let number = rest[at + 1..at + 1 + digits].parse::<usize>().ok();
            match number.and_then(|n| self.params.iter().position(|p| *p == n)) {
                Some(k) => out.push_str(&format!("${}", k + 1)),
                None => out.push_str(&rest[at..at + 1 + digits]),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
        out
    }

    /// `query` with this statement's values bound, in its order.
    fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        values: &[Param<'q>; VALUES],
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for n in self.params {
            query = match values[n - 1] {
                Param::Int(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
                Param::MaybeInt(v) => query.bind(v),
                Param::MaybeText(v) => query.bind(v),
            };
        }
        query
    }
}

/// How many values a finish binds: `$1` to `$18`.
const VALUES: usize = 18;

/// One of the finish's values, borrowed: PostgreSQL binds it as it is, SQLite's writer thread
/// takes it owned (an `Arg`), across threads.
#[derive(Clone, Copy)]
enum Param<'a> {
    Int(i64),
    Text(&'a str),
    MaybeInt(Option<i64>),
    MaybeText(Option<&'a str>),
}

impl Param<'_> {
    fn owned(self) -> Arg {
        match self {
            Param::Int(v) => Arg::Int(v),
            Param::Text(v) => Arg::Text(v.to_string()),
            Param::MaybeInt(v) => Arg::MaybeInt(v),
            Param::MaybeText(v) => Arg::MaybeText(v.map(str::to_string)),
        }
    }
}

impl Store {
    /// Records the attempt and moves the job on, if this worker still holds its lease.
    pub async fn finish(
        &self,
        job: &ClaimedJob,
        owner: &str,
        finish: &Finish,
        attempt: &AttemptRecord,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        // The attempt created the candidate upstream (or found an earlier attempt's creation
        // there): the created-once record this job holds, still "sending", is marked. One
        // created before by another job, or not this job's, is left as it is.
        let created = attempt.created;
        let mark = if created {
            self.push_mark(&job.route, &job.profile_key)?
        } else {
            String::new()
        };
        let values = values(job.id, owner, finish, attempt, &mark, now);
        // A deferral was not an attempt: no record.
        let recorded = !matches!(finish, Finish::Defer { .. });
        match self.backend {
            Backend::Sqlite => self.finish_in_batch(&values, recorded, created).await,
            Backend::Postgres => self.finish_in_transaction(&values, recorded, created).await,
        }
    }

    /// SQLite: the statements as one write in the writer thread's next batch.
    async fn finish_in_batch(
        &self,
        values: &[Param<'_>; VALUES],
        recorded: bool,
        created: bool,
    ) -> Result<bool, StoreError> {
        let mut sql = vec![MOVE_ON.sql.to_string()];
        if recorded {
            sql.push(RECORD.sql.to_string());
        }
        if created {
            sql.push(MARK_CREATED.sql.to_string());
        }
        let updated = self
            .write(Write {
                sql,
                args: values.iter().map(|v| v.owned()).collect(),
                durability: Durability::Normal,
            })
            .await?;
        Ok(updated.len() == 1)
    }

    /// PostgreSQL: the statements in a transaction, each bound to its own values.
    async fn finish_in_transaction(
        &self,
        values: &[Param<'_>; VALUES],
        recorded: bool,
        created: bool,
    ) -> Result<bool, StoreError> {
        let [move_on, mark_created, record] = &*POSTGRES;
        let mut conn = self.write_conn(Durability::Normal).await?;
        let mut tx = self.begin(&mut conn).await?;
        let updated = MOVE_ON
            .bind(sqlx::query(move_on), values)
            .fetch_all(&mut *tx)
            .await?
            .len();
        if created {
            MARK_CREATED
                .bind(sqlx::query(mark_created), values)
                .execute(&mut *tx)
                .await?;
        }
        if recorded {
            RECORD
                .bind(sqlx::query(record), values)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(updated == 1)
    }
}

/// The finish's values, `$1` to `$18` of the statements' texts.
fn values<'a>(
    job_id: i64,
    owner: &'a str,
    finish: &'a Finish,
    attempt: &'a AttemptRecord,
    mark: &'a str,
    now: i64,
) -> [Param<'a>; VALUES] {
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
    [
        Param::Int(job_id),                                  // $1
        Param::Text(status.as_str()),                        // $2
        Param::Int(next),                                    // $3
        Param::MaybeText(reason),                            // $4
        Param::Int(now),                                     // $5
        Param::Text(owner),                                  // $6
        Param::Int(refund),                                  // $7
        Param::Text(attempt.step.as_str()),                  // $8
        Param::MaybeText(keep),                              // $9
        Param::Int(ends),                                    // $10
        Param::Int(attempt.started_at),                      // $11
        Param::Int(attempt.duration_ms),                     // $12
        Param::MaybeInt(attempt.http_status.map(i64::from)), // $13
        Param::Text(finish.ended().as_str()),                // $14
        Param::MaybeText(attempt.error.as_deref()),          // $15
        Param::Text(mark),                                   // $16
        Param::MaybeText(attempt.email_hash.as_deref()),     // $17
        Param::MaybeText(attempt.note.as_deref()),           // $18
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts PostgreSQL ran before the statements were written once.
    #[test]
    fn postgres_numbers_each_statement_from_one() {
        let [move_on, mark_created, record] = &*POSTGRES;
        assert_eq!(*move_on, MOVE_ON.sql.replace("$17", "$11"));
        assert_eq!(
            *mark_created,
            MARK_CREATED.sql.replace("$5", "$2").replace("$16", "$3")
        );
        assert_eq!(
            record.split_whitespace().collect::<Vec<_>>().join(" "),
            "INSERT INTO attempts (job_id, started_at, duration_ms, step, http_status, outcome, error, run, note) VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT run FROM jobs WHERE id = $1), $8)"
        );
    }

    #[test]
    fn every_parameter_is_a_value() {
        for s in [MOVE_ON, MARK_CREATED, RECORD] {
            assert!(s.params.iter().all(|n| (1..=VALUES).contains(n)));
        }
    }
}
