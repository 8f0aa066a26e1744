//! Forgetting by age: `[retention]` purges what no job needs any more, in short transactions,
//! so intake and workers never wait long for the writer. On SQLite every connection runs with
//! `secure_delete` (deleted content is overwritten with zeros). Forgetting one candidate is
//! `erasure.rs`.

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Durability, Store, StoreError, now_ms, sql::placeholders};

/// A value bound into a list of placeholders: job ids and event ids.
trait Key {
    fn bind_to<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
}

impl Key for i64 {
    fn bind_to<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(*self)
    }
}

impl Key for String {
    fn bind_to<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(self.as_str())
    }
}

/// Rows deleted per transaction: a few milliseconds of the writer each.
const BATCH: usize = 500;

/// Serialises purges across replicas on PostgreSQL (a session advisory lock).
const PURGE_LOCK: i64 = 0x7265_6c61_7970_7572; // "relaypur"

/// Dedupe keys past the window, a batch at a time: a range of `event_dedupe_received` (a week
/// of keys is ~700,000 rows at 100,000 events a day; a scan of them per batch would not do).
const PURGE_DEDUPE: &str = "DELETE FROM event_dedupe WHERE body_hash IN
    (SELECT body_hash FROM event_dedupe WHERE received_at < $1 LIMIT $2)";

/// The events log past its period, a batch at a time: a range of `events_received`. An event
/// a job still refers to stays (its job's retention decides).
const PURGE_EVENTS: &str = "DELETE FROM events WHERE id IN
    (SELECT e.id FROM events e WHERE e.received_at < $1
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id) LIMIT $2)";

/// What a purge should delete: times are Unix milliseconds; rows older than them go.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    /// Delivered and filtered jobs that ended before this.
    pub finished_before: i64,
    /// Dead and cancelled jobs that ended before this.
    pub dead_before: i64,
    /// Dedupe keys older than this: the dedupe window.
    pub dedupe_before: i64,
    /// Events received before this that no job refers to: the events log's period.
    pub events_before: i64,
    /// Careers vacancies unpublished before this, with their responses and letters.
    pub unpublished_before: i64,
}

/// Counts of what was deleted, by table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Deleted {
    /// Jobs deleted.
    pub jobs: u64,
    /// The attempts of the jobs deleted.
    pub attempts: u64,
    /// Events: in the log past its period, or the last job's of theirs deleted.
    pub events: u64,
    /// Bodies past the dedupe window: a redelivery of one now makes new jobs.
    pub dedupe_keys: u64,
    /// An older version's push records, in clear: erasure keeps each as a mark first.
    pub push_records: u64,
    /// Careers vacancies unpublished past the period.
    pub vacancies: u64,
    /// Careers responses (and, below, their letters).
    pub responses: u64,
    /// Careers letters deleted.
    pub letters: u64,
}

impl Deleted {
    pub fn total(&self) -> u64 {
        self.jobs
            + self.attempts
            + self.events
            + self.dedupe_keys
            + self.push_records
            + self.vacancies
            + self.responses
            + self.letters
    }
}

impl Store {
    /// Applies `cutoffs`. On PostgreSQL only one process purges at a time: `None` when another
    /// one is purging now.
    pub async fn purge(&self, cutoffs: Cutoffs) -> Result<Option<Deleted>, StoreError> {
        // The lock lives as long as this connection's session: a crashed purger frees it.
        let mut lock = None;
        if self.backend == Backend::Postgres {
            let mut conn = self.pool.acquire().await?;
            let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
                .bind(PURGE_LOCK)
                .fetch_one(&mut *conn)
                .await?
                .get("got");
            if !got {
                return Ok(None);
            }
            lock = Some(conn);
        }
        let result = self.purge_batches(cutoffs).await;
        if let Some(mut conn) = lock {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(PURGE_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        result.map(Some)
    }

    async fn purge_batches(&self, c: Cutoffs) -> Result<Deleted, StoreError> {
        let mut deleted = Deleted::default();
        loop {
            let (jobs, attempts, events) = self
                .delete_jobs(
                    "(status IN ('delivered', 'filtered') AND updated_at < $1)
                     OR (status IN ('dead', 'cancelled') AND updated_at < $2)",
                    &[c.finished_before, c.dead_before],
                    c.events_before,
                )
                .await?;
            deleted.jobs += jobs;
            deleted.attempts += attempts;
            deleted.events += events;
            if jobs < BATCH as u64 {
                break;
            }
        }
        deleted.dedupe_keys += self.delete_batched(PURGE_DEDUPE, c.dedupe_before).await?;
        deleted.events += self.delete_batched(PURGE_EVENTS, c.events_before).await?;
        // Careers data lives while its vacancy is published; unpublishing starts its period.
        deleted.letters += self
            .delete_batched(
                "DELETE FROM letters WHERE id IN (SELECT l.id FROM letters l
                   JOIN responses r ON r.id = l.response_id JOIN vacancies v ON v.id = r.vacancy_id
                   WHERE v.published = 0 AND v.updated_at < $1 LIMIT $2)",
                c.unpublished_before,
            )
            .await?;
        deleted.responses += self
            .delete_batched(
                "DELETE FROM responses WHERE id IN (SELECT r.id FROM responses r
                   JOIN vacancies v ON v.id = r.vacancy_id
                   WHERE v.published = 0 AND v.updated_at < $1 LIMIT $2)",
                c.unpublished_before,
            )
            .await?;
        deleted.vacancies += self
            .delete_batched(
                "DELETE FROM vacancies WHERE id IN (SELECT id FROM vacancies
                   WHERE published = 0 AND updated_at < $1
                   AND id NOT IN (SELECT vacancy_id FROM responses) LIMIT $2)",
                c.unpublished_before,
            )
            .await?;
        Ok(deleted)
    }

    /// Deletes up to `BATCH` jobs matching `condition` (on `$1`, `$2`, ...), with their
    /// attempts and the events no other job refers to, in one transaction. Returns (jobs,
    /// attempts, events) deleted.
    async fn delete_jobs(
        &self,
        condition: &str,
        values: &[i64],
        events_before: i64,
    ) -> Result<(u64, u64, u64), StoreError> {
        let mut conn = self.write_conn(Durability::Normal).await?;
        let mut tx = self.begin(&mut conn).await?;
        // On PostgreSQL the rows are locked, so a concurrent retry cannot revive one in between.
        let lock = if self.backend == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, event_id FROM jobs WHERE {condition} ORDER BY id LIMIT {BATCH}{lock}"
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for v in values {
            q = q.bind(*v);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok((0, 0, 0));
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
        let mut events: Vec<String> = rows.iter().map(|r| r.get("event_id")).collect();
        events.sort_unstable();
        events.dedup();
        let mut run =
            async |statement: &str, keys: &[&(dyn Key + Sync)]| -> Result<u64, StoreError> {
                let sql = format!("{statement} ({})", placeholders(1, keys.len()));
                let mut q = sqlx::query(&sql).persistent(false);
                for k in keys {
                    q = k.bind_to(q);
                }
                Ok(q.execute(&mut *tx).await?.rows_affected())
            };
        let id_keys: Vec<&(dyn Key + Sync)> = ids.iter().map(|i| i as &(dyn Key + Sync)).collect();
        let event_keys: Vec<&(dyn Key + Sync)> =
            events.iter().map(|e| e as &(dyn Key + Sync)).collect();
        let attempts = run("DELETE FROM attempts WHERE job_id IN", &id_keys).await?;
        let jobs = run("DELETE FROM jobs WHERE id IN", &id_keys).await?;
        // An event goes with its last job (one event may hold a job per route), once the
        // events log's period is over too; the log's purge takes it later otherwise.
        let events = run(
            &format!("DELETE FROM events WHERE received_at < {events_before} AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.event_id = events.id) AND id IN"),
            &event_keys,
        )
        .await?;
        tx.commit().await?;
        Ok((jobs, attempts, events))
    }

    /// Runs `statement` (with `$1` the cutoff and `$2` the batch size) until it deletes less
    /// than a batch.
    async fn delete_batched(&self, statement: &str, cutoff: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut conn = self.write_conn(Durability::Normal).await?;
            let n = sqlx::query(statement)
                .bind(cutoff)
                .bind(BATCH as i64)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// When retention says rows end, from now.
    pub fn cutoffs(
        finished: std::time::Duration,
        dead: std::time::Duration,
        dedupe_window: std::time::Duration,
        events: std::time::Duration,
    ) -> Cutoffs {
        let now = now_ms();
        let ago = |d: std::time::Duration| now - d.as_millis().min(i64::MAX as u128) as i64;
        Cutoffs {
            finished_before: ago(finished),
            dead_before: ago(dead),
            dedupe_before: ago(dedupe_window),
            events_before: ago(events),
            unpublished_before: ago(finished),
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_purge_of_old_dedupe_keys_is_an_index_range() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = super::Store::connect(&url, 2).await.unwrap();
        let rows = sqlx::query(&format!(
            "EXPLAIN QUERY PLAN {}",
            super::PURGE_DEDUPE.replace('$', "?")
        ))
        .bind(0i64)
        .bind(500i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let details: Vec<String> = rows
            .iter()
            .map(|r| sqlx::Row::get::<String, _>(r, "detail"))
            .collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("USING INDEX event_dedupe_received (received_at<?)")),
            "{details:?}"
        );
        assert!(
            !details.iter().any(|d| d.starts_with("SCAN")),
            "{details:?}"
        );
        store.close().await;
    }
}
