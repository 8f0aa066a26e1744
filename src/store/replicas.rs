//! Live relay processes: each heartbeats here; the others take back a silent one's jobs and
//! divide the Flatchr rate by how many are live.

use std::time::Duration;

use super::{Store, StoreError, now_ms};

impl Store {
    /// Records that replica `id` is alive; answers how many replicas were seen within `window`.
    pub async fn heartbeat_replica(&self, id: &str, window: Duration) -> Result<i64, StoreError> {
        let now = now_ms();
        sqlx::query("INSERT INTO replicas (id, last_seen) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen")
        .bind(id)
        .bind(now)
        .execute(&mut *self.lend().await?)
        .await?;
        let cutoff = now - window.as_millis() as i64;
        sqlx::query("DELETE FROM replicas WHERE last_seen < $1")
            .bind(cutoff - 3_600_000)
            .execute(&mut *self.lend().await?)
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
            .execute(&mut *self.lend().await?)
            .await?;
        Ok(())
    }
}
