//! The writer connection, lent to one write at a time at the durability it needs: on SQLite
//! the one connection for the colder writes (the writer thread waits while it is lent), on
//! PostgreSQL one of the pool.

use std::time::Duration;

use sqlx::Executor;

use super::{Backend, Store, StoreError, queue};

/// How a write must survive: a power cut (`Full`: an answer to a client or an irreversible
/// call rests on it), or a crash of the process (`Normal`: bookkeeping that the push slot and
/// the retry schedule make safe to lose, since the last FULL commit makes all before it last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

/// The SQLite writer's `synchronous` level as the store last set it.
pub(super) struct Level;

impl Level {
    pub(super) const UNKNOWN: u8 = 0;
    const NORMAL: u8 = 1;
    const FULL: u8 = 2;
}

/// The writer connection, lent: SQLite's held one under its lock, or one of PostgreSQL's pool.
/// While SQLite's is lent, the writer thread waits (`Paused`).
pub(crate) enum WriteConn {
    Held(
        tokio::sync::OwnedMappedMutexGuard<
            Option<sqlx::pool::PoolConnection<sqlx::Any>>,
            sqlx::pool::PoolConnection<sqlx::Any>,
        >,
        // Held for its drop, which lets the writer thread go on.
        #[allow(dead_code)] Option<queue::Paused>,
    ),
    Pooled(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl std::ops::Deref for WriteConn {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        match self {
            WriteConn::Held(c, _) => c,
            WriteConn::Pooled(c) => c,
        }
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        match self {
            WriteConn::Held(c, _) => c,
            WriteConn::Pooled(c) => c,
        }
    }
}

/// How long a write waits for the writer connection before the store answers busy.
const WRITER_WAIT: Duration = Duration::from_secs(5);

impl Store {
    /// The writer connection, set to commit with `durability`. New connections start FULL; the
    /// level is read and changed only while the one writer connection is held, so a durable
    /// write never runs on a connection left at NORMAL.
    pub(super) async fn write_conn(&self, durability: Durability) -> Result<WriteConn, StoreError> {
        let mut conn = self.lend().await?;
        let switch = self.switch(durability);
        if !switch.is_empty()
            && let Err(e) = conn.execute(switch).await
        {
            self.writer_level
                .store(Level::UNKNOWN, std::sync::atomic::Ordering::Release);
            return Err(e.into());
        }
        Ok(conn)
    }

    /// The writer connection as it is (no level set): SQLite's held one, opened on first use,
    /// with the writer thread stopped while it is lent; on PostgreSQL one from the pool.
    pub(super) async fn lend(&self) -> Result<WriteConn, StoreError> {
        if self.backend == Backend::Postgres {
            return Ok(WriteConn::Pooled(self.writer.acquire().await?));
        }
        let busy = || {
            StoreError::Busy(format!(
                "the database writer was busy for {} s",
                WRITER_WAIT.as_secs()
            ))
        };
        let lent = async {
            let mut slot = self.held.clone().lock_owned().await;
            if slot.is_none() {
                *slot = Some(self.writer.acquire().await?);
            }
            let paused = self.pause_writer().await?;
            let conn = tokio::sync::OwnedMutexGuard::try_map(slot, Option::as_mut)
                .map_err(|_| StoreError::Closed)?;
            Ok(WriteConn::Held(conn, paused))
        };
        tokio::time::timeout(WRITER_WAIT, lent)
            .await
            .map_err(|_| busy())?
    }

    /// The `PRAGMA synchronous` the held writer needs for `durability` ("" when it is there),
    /// recorded as set: whoever sends it and fails makes the level unknown again.
    fn switch(&self, durability: Durability) -> &'static str {
        use std::sync::atomic::Ordering;
        let want = match durability {
            Durability::Full => Level::FULL,
            Durability::Normal => Level::NORMAL,
        };
        if self.backend == Backend::Postgres || self.writer_level.load(Ordering::Acquire) == want {
            return "";
        }
        self.writer_level.store(want, Ordering::Release);
        match durability {
            Durability::Full => "PRAGMA synchronous = FULL;\n",
            Durability::Normal => "PRAGMA synchronous = NORMAL;\n",
        }
    }

    /// A write transaction on `conn`. SQLite takes its write lock at once (IMMEDIATE), waiting
    /// on busy_timeout rather than failing on a later upgrade.
    pub(super) async fn begin<'c>(
        &self,
        conn: &'c mut sqlx::AnyConnection,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>, StoreError> {
        use sqlx::Connection;
        Ok(match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        })
    }
}
