//! Credentials a destination keeps in the database: a token pair that the upstream replaces on
//! every refresh (Huntflow's refresh tokens work once), so every replica and every restart must
//! read the newest one, and one process at a time may refresh it (a lock with a lease).
//! Secrets at rest: they live only in the database's own (private) files, never in a log.

use sqlx::Row;

use super::{Durability, Store, StoreError, now_ms};

/// A stored pair and the config pair it descends from (`origin`, a hash of it).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPair {
    /// The token requests are sent with.
    pub access: String,
    /// The token that gets the next pair, once.
    pub refresh: String,
    /// A hash of the configured pair this one descends from: a new pair in the configuration
    /// replaces the stored one.
    pub origin: String,
}

impl std::fmt::Debug for StoredPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredPair {{ origin: {:?}, .. }}", self.origin)
    }
}

impl Store {
    pub async fn credentials(&self, name: &str) -> Result<Option<StoredPair>, StoreError> {
        let row = sqlx::query("SELECT access, refresh, origin FROM credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| StoredPair {
            access: r.get("access"),
            refresh: r.get("refresh"),
            origin: r.get("origin"),
        }))
    }

    /// Stores `pair` as `name`'s newest, replacing any (a person issued a new one, or a
    /// refresh answered one). Durable: the refresh token it replaces no longer works.
    pub async fn put_credentials(&self, name: &str, pair: &StoredPair) -> Result<(), StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        sqlx::query(
            "INSERT INTO credentials (name, access, refresh, origin, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET access = $2, refresh = $3, origin = $4, updated_at = $5",
        )
        .bind(name)
        .bind(&pair.access)
        .bind(&pair.refresh)
        .bind(&pair.origin)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Stores `pair` as `name`'s newest only if the stored refresh token is still `used` (a
    /// holder whose lock ran out must not overwrite a newer pair); false if it was not.
    pub async fn replace_credentials(
        &self,
        name: &str,
        used: &str,
        pair: &StoredPair,
    ) -> Result<bool, StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let replaced = sqlx::query(
            "UPDATE credentials SET access = $2, refresh = $3, origin = $4, updated_at = $5 WHERE name = $1 AND refresh = $6",
        )
        .bind(name)
        .bind(&pair.access)
        .bind(&pair.refresh)
        .bind(&pair.origin)
        .bind(now_ms())
        .bind(used)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(replaced == 1)
    }

    /// Takes the right to refresh `name` for `lease_ms`, unless a live holder has it (the same
    /// holder included: each refresh is its own holder, so two tasks of one process exclude
    /// each other too).
    pub async fn lock_credentials(
        &self,
        name: &str,
        holder: &str,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut conn = self.write_conn(Durability::Full).await?;
        let taken = sqlx::query(
            "UPDATE credentials SET lock_holder = $2, lock_until = $3
             WHERE name = $1 AND (lock_holder IS NULL OR lock_until < $4)",
        )
        .bind(name)
        .bind(holder)
        .bind(now + lease_ms)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    pub async fn unlock_credentials(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let mut conn = self.write_conn(Durability::Normal).await?;
        sqlx::query(
            "UPDATE credentials SET lock_holder = NULL, lock_until = NULL WHERE name = $1 AND lock_holder = $2",
        )
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
