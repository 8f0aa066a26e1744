//! Forgetting one candidate: every row about them goes, in one transaction, except what keeps
//! a later event from making a second candidate upstream, kept under keyed hashes that name no
//! one. On SQLite the WAL is then checkpointed, so nothing stays readable in the files.

use sqlx::{AnyConnection, Row};

use super::retention::Deleted;
use super::{Backend, Durability, Store, StoreError};

impl Store {
    /// Deletes every row about the candidate `profile_key`: jobs, attempts, events and their
    /// dedupe keys, careers responses and letters, push records in clear (an older version's,
    /// each kept as a mark first); the push marks, which name no one, stay. One transaction; on
    /// SQLite the WAL is then checkpointed and truncated, so the deleted content is gone from
    /// the files.
    pub async fn erase_profile(&self, profile_key: &str) -> Result<Deleted, StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        // What keeps a later event from making a second candidate stays, naming no one: the
        // push marks are keyed hashes already; each careers response leaves its id and date
        // under one, so it comes back as the response Huntflow already has.
        self.keep_response_marks(&mut tx, profile_key).await?;
        self.keep_push_marks(&mut tx, profile_key).await?;
        let deleted = delete_rows(&mut tx, profile_key).await?;
        tx.commit().await?;
        if self.backend == Backend::Sqlite {
            self.checkpoint(&mut conn).await?;
        }
        Ok(deleted)
    }

    /// Each careers response of the candidate leaves its id and date under a mark.
    async fn keep_response_marks(
        &self,
        tx: &mut AnyConnection,
        profile_key: &str,
    ) -> Result<(), StoreError> {
        let responses =
            sqlx::query("SELECT id, vacancy_id, created_at FROM responses WHERE profile_key = $1")
                .bind(profile_key)
                .fetch_all(&mut *tx)
                .await?;
        for r in &responses {
            sqlx::query(
                "INSERT INTO response_marks (mark, response_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (mark) DO NOTHING",
            )
            .bind(self.response_mark(r.get("vacancy_id"), profile_key)?)
            .bind(r.get::<i64, _>("id"))
            .bind(r.get::<i64, _>("created_at"))
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    /// An older version's push records name the profile in clear: each becomes a mark.
    async fn keep_push_marks(
        &self,
        tx: &mut AnyConnection,
        profile_key: &str,
    ) -> Result<(), StoreError> {
        let legacy = sqlx::query(
            "SELECT route, state, job_id, updated_at FROM pushes WHERE profile_key = $1",
        )
        .bind(profile_key)
        .fetch_all(&mut *tx)
        .await?;
        for r in &legacy {
            sqlx::query(
                "INSERT INTO push_marks (mark, state, job_id, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (mark) DO NOTHING",
            )
            .bind(self.push_mark(r.get("route"), profile_key)?)
            .bind(r.get::<String, _>("state"))
            .bind(r.get::<i64, _>("job_id"))
            .bind(r.get::<i64, _>("updated_at"))
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    /// Copies the WAL into the database and truncates it, so old page images (which hold
    /// deleted rows) leave the WAL file. Readers can hold it back briefly: tried a few times.
    async fn checkpoint(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        for _ in 0..50 {
            let busy: i64 = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await?
                .get(0);
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(StoreError::Busy(
            "the WAL could not be checkpointed: readers kept it busy".into(),
        ))
    }
}

/// The candidate's rows, children first; a vacancy's response count follows its responses.
async fn delete_rows(tx: &mut AnyConnection, profile_key: &str) -> Result<Deleted, StoreError> {
    let mut run = async |sql: &str| -> Result<u64, StoreError> {
        Ok(sqlx::query(sql)
            .bind(profile_key)
            .execute(&mut *tx)
            .await?
            .rows_affected())
    };
    let mut d = Deleted {
        letters: run("DELETE FROM letters WHERE response_id IN
                          (SELECT id FROM responses WHERE profile_key = $1)")
        .await?,
        ..Default::default()
    };
    // Keep each vacancy's response count (its `found`) true.
    run("UPDATE vacancies SET responses_count = responses_count -
               (SELECT COUNT(*) FROM responses r WHERE r.vacancy_id = vacancies.id AND r.profile_key = $1)
             WHERE id IN (SELECT vacancy_id FROM responses WHERE profile_key = $1)")
    .await?;
    d.responses = run("DELETE FROM responses WHERE profile_key = $1").await?;
    d.attempts =
        run("DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE profile_key = $1)")
            .await?;
    d.jobs = run("DELETE FROM jobs WHERE profile_key = $1").await?;
    d.dedupe_keys = run(
        "DELETE FROM event_dedupe WHERE event_id IN (SELECT id FROM events WHERE profile_key = $1)",
    )
    .await?;
    d.events = run("DELETE FROM events WHERE profile_key = $1").await?;
    d.push_records = run("DELETE FROM pushes WHERE profile_key = $1").await?;
    Ok(d)
}
