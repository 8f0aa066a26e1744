//! The durable spine: events, jobs, attempts and push checkpoints. The store is the queue.
//! Every operation is a short statement or transaction; none spans a network call. This file
//! names the store and its errors; `open.rs` opens it (SQLite or PostgreSQL), `write_conn.rs`
//! lends the writer connection at the durability a write needs, `sqlite/` is SQLite's one
//! writer and `postgres/` PostgreSQL's intake. Each aggregate has its own file: intake
//! (events), claims, finish (attempts), jobs, pushes, replicas, careers, sync.

use sqlx::AnyPool;

pub mod backfill;
pub mod careers;
pub mod claims;
pub mod control;
pub mod credentials;
mod erasure;
pub mod events_log;
mod files;
pub mod finish;
pub mod group_commit;
pub mod intake;
pub mod jobs;
mod keys;
mod migrations;
mod open;
pub mod pauses;
mod postgres;
pub mod pushes;
mod queue;
pub mod replicas;
pub mod retention;
pub mod search;
mod sql;
mod sqlite;
pub mod stats;
pub mod sync;
mod write;
mod write_conn;

pub use claims::ClaimedJob;
pub use finish::{AttemptRecord, Finish};
pub use intake::{Ingested, NewEvent};
pub use jobs::{AttemptView, JobView};
pub use pushes::PushSlot;
pub use write_conn::Durability;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A write that failed with others of its batch (the error is told to each as text).
    #[error("database error: {0}")]
    Write(String),
    #[error("database error: a row has no column {0} of the expected type")]
    Column(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error(
        "cannot write the SQLite database in {folder}: {error}. The relay runs as uid {uid}: make the folder (and any relay.db in it) writable by that uid, e.g. `chown -R {uid} <the host folder mounted there>`"
    )]
    NotWritable {
        /// The folder SQLite could not write in, as the operator must fix it.
        folder: String,
        /// This process's uid: whom the folder must let write.
        uid: String,
        /// What the probe write answered.
        error: std::io::Error,
    },
    #[error("the store is shutting down")]
    Closed,
    #[error("the database is busy: {0}")]
    Busy(String),
    #[error("unsupported database url (expected sqlite:... or postgres://...)")]
    Url,
    #[error(
        "there is no database at {0}: only `hrflow-relay serve` creates one. Is this the relay's configuration? Point --config (or RELAY_CONFIG) at it, or RELAY__DATABASE__URL at its database"
    )]
    Missing(String),
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Url)
        }
    }
}

#[derive(Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. On SQLite one connection for the colder writes (the hot ones are the writer
    /// thread's): they queue in order inside the process instead of polling the database lock
    /// (SQLite's busy handler sleeps for milliseconds at a time).
    writer: AnyPool,
    /// SQLite: that one connection, checked out of `writer` for good and lent under a lock
    /// (sqlx pings a connection on its thread each time it goes back to a pool); the writer
    /// thread waits while it is lent.
    held: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<sqlx::Any>>>>,
    /// SQLite's hot writes, sent to the writer thread (see `queue`, `writer`).
    queue: queue::Queue,
    /// The SQLite writer connection's synchronous level as last set (see `write_conn::Level`).
    writer_level: std::sync::Arc<std::sync::atomic::AtomicU8>,
    /// Which SQL dialect, and whether the writer thread and the held connection exist.
    backend: Backend,
    /// The keys kept in the database (CSRF tokens, marks), read when it is migrated.
    keys: std::sync::Arc<std::sync::OnceLock<keys::Keys>>,
    /// Whether `pushes` (an older version's push records) held rows when this process
    /// migrated: only then is a free slot looked up there too.
    legacy_pushes: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[cfg(test)]
mod tests;
