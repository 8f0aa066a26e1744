//! Paused routes: an operator's "hold this route's deliveries". The pause is a row, so every
//! replica and every restart obeys it; the route's pending jobs carry `paused = 1`, which keeps
//! them out of the due index (a claim never walks past them), with no attempt made or counted.

use std::collections::HashSet;

use sqlx::Row;

use super::{Backend, Durability, Store, StoreError, now_ms};

/// A paused route, and since when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// The route paused.
    pub route: String,
    /// When the operator paused it (Unix ms).
    pub paused_at: i64,
}

impl Store {
    /// Pauses `route`: its pending jobs wait until it is resumed. False if it was paused already.
    pub async fn pause_route(&self, route: &str) -> Result<bool, StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        let fresh = sqlx::query(
            "INSERT INTO route_pauses (route, paused_at) VALUES ($1, $2) ON CONFLICT (route) DO NOTHING",
        )
        .bind(route)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // Jobs an intake commits after this without seeing the row are held by the claim's
        // own check of `route_pauses`.
        sqlx::query(
            "UPDATE jobs SET paused = 1 WHERE route = $1 AND status = 'pending' AND paused = 0",
        )
        .bind(route)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Resumes `route`: its jobs are due again on their own schedule. False if it was not paused.
    pub async fn resume_route(&self, route: &str) -> Result<bool, StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        // On PostgreSQL this waits for intakes holding the row (they read it FOR SHARE), so
        // the update below, a statement of its own, sees every job they made paused.
        let was = sqlx::query("DELETE FROM route_pauses WHERE route = $1")
            .bind(route)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        sqlx::query("UPDATE jobs SET paused = 0 WHERE route = $1 AND paused = 1")
            .bind(route)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(was)
    }

    /// Every paused route, by name.
    pub async fn pauses(&self) -> Result<Vec<Pause>, StoreError> {
        Ok(
            sqlx::query("SELECT route, paused_at FROM route_pauses ORDER BY route")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Pause {
                    route: r.get("route"),
                    paused_at: r.get("paused_at"),
                })
                .collect(),
        )
    }

    /// The paused routes, read inside a transaction that makes jobs. On PostgreSQL the rows
    /// are share-locked until it commits: a resume waits for it (see `resume_route`).
    pub(super) async fn paused_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<HashSet<String>, StoreError> {
        let sql = match self.backend {
            Backend::Postgres => "SELECT route FROM route_pauses FOR SHARE",
            Backend::Sqlite => "SELECT route FROM route_pauses",
        };
        Ok(sqlx::query_scalar(sql)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect())
    }
}
