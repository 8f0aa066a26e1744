//! The durable spine: events, jobs, attempts and push checkpoints. The store is the queue.
//! Every operation is a short statement or transaction; none spans a network call. This file
//! is the connection (SQLite or PostgreSQL, one writer on SQLite, durability levels); each
//! aggregate has its own file: intake (events), jobs, pushes, replicas, careers.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

pub mod backfill;
pub mod careers;
pub mod control;
pub mod group_commit;
pub mod intake;
pub mod jobs;
mod migrations;
pub mod pushes;
mod queue;
pub mod replicas;
pub mod retention;
pub mod stats;

pub use intake::{Ingested, NewEvent};
pub use jobs::{AttemptRecord, AttemptView, ClaimedJob, Finish, JobView};
pub use pushes::PushSlot;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error(
        "cannot write the SQLite database in {folder}: {error}. The relay runs as uid {uid}: make the folder (and any relay.db in it) writable by that uid, e.g. `chown -R {uid} <the host folder mounted there>`"
    )]
    NotWritable {
        folder: String,
        uid: String,
        error: std::io::Error,
    },
    #[error("the store is shutting down")]
    Closed,
    #[error("the database is busy: {0}")]
    Busy(String),
    #[error("unsupported database url (expected sqlite:... or postgres://...)")]
    Url,
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
    /// Writes. On SQLite one connection: writers queue in order inside the process instead of
    /// polling the database lock (SQLite's busy handler sleeps for milliseconds at a time).
    writer: AnyPool,
    /// SQLite: that one connection, checked out of `writer` for good and lent under a lock.
    /// sqlx pings a connection on its thread each time it goes back to a pool: one more trip
    /// per write that a held connection does not pay.
    held: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<sqlx::Any>>>>,
    /// SQLite's hot writes, gathered (see `queue`).
    queue: queue::Queue,
    /// A call of several statements was cut short (see `Writer`): the next writer rolls back.
    cut_short: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The SQLite writer connection's synchronous level as last set (see `Level`).
    writer_level: std::sync::Arc<std::sync::atomic::AtomicU8>,
    backend: Backend,
}

/// How a write must survive: a power cut (`Full`: an answer to a client or an irreversible
/// call rests on it), or a crash of the process (`Normal`: bookkeeping that the push slot and
/// the retry schedule make safe to lose, since the last FULL commit makes all before it last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

/// The SQLite writer's `synchronous` level as the store last set it.
struct Level;

impl Level {
    const UNKNOWN: u8 = 0;
    const NORMAL: u8 = 1;
    const FULL: u8 = 2;
}

/// The one writer connection, held, and what must run first on it.
pub(crate) struct Writer {
    conn: WriteConn,
    /// The `PRAGMA synchronous` the write needs in front, or "" when the connection is at it
    /// (SQLite runs several statements in one call).
    prefix: &'static str,
    level: std::sync::Arc<std::sync::atomic::AtomicU8>,
    /// A transaction sent in one call is under way: if the caller is dropped before it
    /// answers, sqlx's thread stops between two statements and may leave it open.
    in_flight: bool,
    cut_short: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.in_flight {
            // Told before the lock is let go: the next writer rolls back whatever this left
            // open (sqlx runs commands in order, so after what remains of this one).
            self.failed();
            self.cut_short
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The writer connection, lent: SQLite's held one under its lock, or one of PostgreSQL's pool.
pub(crate) enum WriteConn {
    Held(
        tokio::sync::OwnedMappedMutexGuard<
            Option<sqlx::pool::PoolConnection<sqlx::Any>>,
            sqlx::pool::PoolConnection<sqlx::Any>,
        >,
    ),
    Pooled(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl std::ops::Deref for WriteConn {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        match self {
            WriteConn::Held(c) => c,
            WriteConn::Pooled(c) => c,
        }
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        match self {
            WriteConn::Held(c) => c,
            WriteConn::Pooled(c) => c,
        }
    }
}

/// How long a write waits for the writer connection before the store answers busy.
const WRITER_WAIT: Duration = Duration::from_secs(5);

impl Writer {
    /// `body` (several statements) as one IMMEDIATE transaction, with the switch in front.
    fn transaction_sql(&self, body: &str) -> String {
        format!("{}BEGIN IMMEDIATE;\n{body};\nCOMMIT", self.prefix)
    }

    /// After a failed write the level is unknown: the next write sets it again.
    fn failed(&self) {
        self.level
            .store(Level::UNKNOWN, std::sync::atomic::Ordering::Release);
    }

    /// Runs `query` (built on `transaction_sql`) in one trip and answers the rows of its
    /// statements. A failure anywhere rolls the transaction back here: the writer is lent to
    /// the next caller with no transaction open.
    async fn run<'q>(
        &mut self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        self.in_flight = true;
        let rows = query.fetch_all(&mut *self.conn).await;
        self.in_flight = false;
        match rows {
            Ok(rows) => Ok(rows),
            Err(e) => {
                self.failed();
                // "no transaction is active" when it failed before BEGIN or at COMMIT's end.
                let _ = self.conn.execute("ROLLBACK").await;
                Err(e.into())
            }
        }
    }
}

/// SQLite must be able to create the database, its journal and its WAL in the folder. Checked
/// up front, so a read-only mount (a root-owned volume, say) is one clear error at startup
/// rather than a minute of "unable to open database file" retries.
fn writable(db: &std::path::Path) -> Result<(), StoreError> {
    let folder = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let probe = folder.join(format!(".relay-write-check-{}", std::process::id()));
    let result = std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .and_then(|_| {
            if db.exists() {
                std::fs::OpenOptions::new().append(true).open(db).map(drop)
            } else {
                Ok(())
            }
        });
    result.map_err(|error| StoreError::NotWritable {
        folder: folder.display().to_string(),
        uid: current_uid(),
        error,
    })
}

/// This process's uid, read from /proc (no libc binding needed); "?" elsewhere.
fn current_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "?".into())
}

impl Store {
    /// A pool that connects on first use; `migrate` makes the schema. SQLite files (and their
    /// folder) are created if missing.
    pub fn lazy(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut url = url.to_string();
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // A connection to a local file does not go stale; pinging it before each use is
            // one more trip to sqlx's connection thread per statement. PostgreSQL keeps it.
            .test_before_acquire(backend == Backend::Postgres);
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            if let Some(parent) = std::path::Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Folder(parent.display().to_string(), e))?;
            }
            writable(std::path::Path::new(path))?;
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL for concurrent readers; FULL: a commit survives power loss, which is
                    // what a 202 promises (bookkeeping writes relax it: see `Durability`); a
                    // writer waits for the lock instead of failing.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                        // Deleted and overwritten content (a finished job's profile, an erased
                        // candidate) is zeroed in the file, not left in free space.
                        "PRAGMA secure_delete = ON",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            });
        }
        let writer = match backend {
            Backend::Sqlite => options.clone().max_connections(1).connect_lazy(&url)?,
            Backend::Postgres => options.clone().connect_lazy(&url)?,
        };
        let pool = match backend {
            Backend::Sqlite => options.connect_lazy(&url)?,
            // One pool: PostgreSQL has no single-writer lock to queue for.
            Backend::Postgres => writer.clone(),
        };
        Ok(Self {
            pool,
            writer,
            held: std::sync::Arc::new(tokio::sync::Mutex::new(None)),
            queue: queue::Queue::default(),
            cut_short: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            // New connections start FULL (after_connect), but the writer may not be open yet.
            writer_level: std::sync::Arc::new(std::sync::atomic::AtomicU8::new(Level::UNKNOWN)),
            backend,
        })
    }

    /// Applies the migrations of the backend. On PostgreSQL the migrator holds an advisory
    /// lock, so replicas starting together migrate once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = migrations::migrator(self.backend).await?;
        // On SQLite the held connection goes back to the pool for the migrator, and the lock
        // keeps every other writer waiting until it is done.
        let mut held = self.held.lock().await;
        drop(held.take());
        migrator.run(&self.writer).await?;
        drop(held);
        Ok(())
    }

    /// Opens and migrates at once (tools and tests).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::lazy(url, max_connections)?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The writer connection, set to commit with `durability`. New connections start FULL; the
    /// level is read and changed only while the one writer connection is held, so a durable
    /// write never runs on a connection left at NORMAL.
    async fn write_conn(&self, durability: Durability) -> Result<WriteConn, StoreError> {
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

    /// The writer connection, with the statement that sets it to `durability` left for the
    /// caller to send in front of its own (`Writer::sql`): on SQLite every call is a trip to
    /// sqlx's connection thread and back, so the switch rides along with the write.
    async fn writer(&self, durability: Durability) -> Result<Writer, StoreError> {
        let conn = self.lend().await?;
        Ok(Writer {
            conn,
            prefix: self.switch(durability),
            level: self.writer_level.clone(),
            in_flight: false,
            cut_short: self.cut_short.clone(),
        })
    }

    /// The writer connection as it is (no level set): SQLite's held one, opened on first use,
    /// cleaned of what a cut-short call left open; on PostgreSQL one from the pool.
    async fn lend(&self) -> Result<WriteConn, StoreError> {
        use std::sync::atomic::Ordering;
        if self.backend == Backend::Postgres {
            return Ok(WriteConn::Pooled(self.writer.acquire().await?));
        }
        let mut slot = tokio::time::timeout(WRITER_WAIT, self.held.clone().lock_owned())
            .await
            .map_err(|_| {
                StoreError::Busy(format!(
                    "the database writer was busy for {} s",
                    WRITER_WAIT.as_secs()
                ))
            })?;
        if slot.is_none() {
            *slot = Some(self.writer.acquire().await?);
        }
        let mut conn = WriteConn::Held(
            tokio::sync::OwnedMutexGuard::try_map(slot, Option::as_mut)
                .map_err(|_| StoreError::Closed)?,
        );
        if self.cut_short.swap(false, Ordering::AcqRel) {
            // "no transaction is active" when the cut came before BEGIN or after COMMIT.
            let _ = conn.execute("ROLLBACK").await;
        }
        Ok(conn)
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
    async fn begin<'c>(
        &self,
        conn: &'c mut sqlx::AnyConnection,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>, StoreError> {
        use sqlx::Connection;
        Ok(match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// For tests and operators: run raw SQL against the store (e.g. to simulate a crash state).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes both pools: every later operation fails (shutdown, and tests of a lost database).
    pub async fn close(&self) {
        // The held connection goes back first: closing a pool waits for its connections.
        drop(self.held.lock().await.take());
        self.writer.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn level(store: &Store, durability: Durability) -> i64 {
        let mut conn = store.write_conn(durability).await.unwrap();
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn durable_writes_commit_full_and_bookkeeping_normal() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        // 2 is FULL, 1 is NORMAL; whatever ran before, each write gets what it asked for.
        assert_eq!(level(&store, Durability::Full).await, 2);
        assert_eq!(level(&store, Durability::Normal).await, 1);
        assert_eq!(level(&store, Durability::Normal).await, 1);
        assert_eq!(level(&store, Durability::Full).await, 2);
        store.claim("w", Duration::from_secs(1)).await.unwrap();
        assert_eq!(level(&store, Durability::Full).await, 2);
    }

    #[tokio::test]
    async fn a_transaction_cut_short_never_stays_open_on_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        let mut writer = store.writer(Durability::Normal).await.unwrap();
        writer.conn.execute("BEGIN IMMEDIATE").await.unwrap();
        // As if the caller were dropped between two statements of one call.
        writer.in_flight = true;
        drop(writer);
        // The next writer is a new connection: no transaction left open, no write lost in it.
        let mut writer = store.writer(Durability::Full).await.unwrap();
        let sql = writer.transaction_sql("INSERT INTO replicas (id, last_seen) VALUES ('r', 1)");
        writer.run(sqlx::query(&sql)).await.unwrap();
        drop(writer);
        assert_eq!(level(&store, Durability::Full).await, 2);
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(seen, 1);
    }

    #[tokio::test]
    async fn a_failed_call_rolls_back_and_the_level_is_set_again() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        let mut writer = store.writer(Durability::Normal).await.unwrap();
        let sql = writer.transaction_sql(
            "INSERT INTO replicas (id, last_seen) VALUES ('r', 1);\nINSERT INTO no_such_table VALUES (1)",
        );
        assert!(writer.run(sqlx::query(&sql)).await.is_err());
        drop(writer);
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(
            seen, 0,
            "the first statement was rolled back with the second"
        );
        assert_eq!(level(&store, Durability::Normal).await, 1);
        assert_eq!(level(&store, Durability::Full).await, 2);
    }
}
