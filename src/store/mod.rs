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
pub mod credentials;
pub mod events_log;
mod files;
pub mod group_commit;
pub mod intake;
pub mod jobs;
mod keys;
mod migrations;
pub mod pauses;
pub mod pushes;
mod queue;
pub mod replicas;
pub mod retention;
pub mod search;
mod sqlite;
pub mod stats;
pub mod sync;
mod write;

pub use intake::{Ingested, NewEvent};
pub use jobs::{AttemptRecord, AttemptView, ClaimedJob, Finish, JobView};
pub use pushes::PushSlot;

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
    /// The SQLite writer connection's synchronous level as last set (see `Level`).
    writer_level: std::sync::Arc<std::sync::atomic::AtomicU8>,
    backend: Backend,
    /// The keys kept in the database (CSRF tokens, marks), read when it is migrated.
    keys: std::sync::Arc<std::sync::OnceLock<keys::Keys>>,
    /// Whether `pushes` (an older version's push records) held rows when this process
    /// migrated: only then is a free slot looked up there too.
    legacy_pushes: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
    /// folder) are created if missing, readable by this user only.
    pub fn lazy(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::open(url, max_connections, true)
    }

    /// The database the configuration names, which must exist already: the commands beside
    /// the service never create one (an empty one would read as "no jobs").
    pub async fn existing(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::open(url, max_connections, false)?;
        store.migrate().await?;
        Ok(store)
    }

    /// How far the database at `url` is migrated, touching nothing: (applied, known to this
    /// build). `check-config --online` says it; only `serve` and the commands migrate.
    pub async fn schema_version(url: &str) -> Result<(i64, i64), StoreError> {
        let store = Self::open(url, 1, false)?;
        let known = migrations::migrator(store.backend).await?.iter().count() as i64;
        let ping = store.ping().await;
        let applied = match ping {
            Ok(()) => {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&store.pool)
                    .await
                    // No migration table: a database no relay has started on yet.
                    .unwrap_or(0)
            }
            Err(_) => 0,
        };
        store.close().await;
        ping.map(|()| (applied, known))
    }

    fn open(url: &str, max_connections: u32, create: bool) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut url = url.to_string();
        let mut sqlite_path = None;
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
            let in_memory = path.is_empty() || path.starts_with(':');
            if create && !in_memory {
                files::create(std::path::Path::new(path))?;
                writable(std::path::Path::new(path))?;
            } else if !in_memory && !std::path::Path::new(path).is_file() {
                let shown = std::path::absolute(path).unwrap_or_else(|_| path.into());
                return Err(StoreError::Missing(shown.display().to_string()));
            }
            sqlite_path = Some(std::path::PathBuf::from(path));
            if !url.contains("mode=") {
                let mode = if create { "mode=rwc" } else { "mode=rw" };
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(mode);
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
                        // Readers and the colder writes keep a small page cache each (256
                        // KiB): the OS caches the file, and eight 2 MiB caches filling one
                        // by one as they were used made the process grow for its first
                        // hundreds of thousands of events.
                        "PRAGMA cache_size = -256",
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
            queue: queue::Queue::new(sqlite_path),
            // New connections start FULL (after_connect), but the writer may not be open yet.
            writer_level: std::sync::Arc::new(std::sync::atomic::AtomicU8::new(Level::UNKNOWN)),
            backend,
            keys: Default::default(),
            legacy_pushes: Default::default(),
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
        self.load_keys().await?;
        self.retire_legacy_pushes().await
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

    /// The writer connection as it is (no level set): SQLite's held one, opened on first use,
    /// with the writer thread stopped while it is lent; on PostgreSQL one from the pool.
    async fn lend(&self) -> Result<WriteConn, StoreError> {
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
        self.stop_writer().await;
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

    fn sync_level(durability: Durability) -> write::Write {
        write::Write {
            sql: vec!["SELECT synchronous FROM pragma_synchronous".into()],
            args: Vec::new(),
            durability,
        }
    }

    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}/t.db", dir.path().display());
        Store::connect(&url, 2).await.unwrap()
    }

    async fn replicas(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM replicas")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_writer_thread_commits_at_the_level_its_writes_need() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        for (durability, level) in [
            (Durability::Normal, 1),
            (Durability::Full, 2),
            (Durability::Normal, 1),
        ] {
            let rows = store.write(sync_level(durability)).await.unwrap();
            assert_eq!(rows[0].get::<i64>("synchronous").unwrap(), level);
        }
    }

    #[tokio::test]
    async fn the_writer_thread_checkpoints_the_wal_between_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let wide = "x".repeat(3000);
        for round in 0..25 {
            // Ten rows of 3 kB: about thirty pages a round with the id's index, 750 in all (3 MB
            // of WAL), below SQLite's own threshold; only the writer's checkpoint between
            // batches lets the WAL start over.
            let rows = (0..10)
                .map(|i| format!("('{round}-{i}-{wide}', 1)"))
                .collect::<Vec<_>>()
                .join(", ");
            store
                .write(write::Write {
                    sql: vec![format!(
                        "INSERT INTO replicas (id, last_seen) VALUES {rows}"
                    )],
                    args: Vec::new(),
                    durability: Durability::Normal,
                })
                .await
                .unwrap();
            tokio::time::sleep(CHECKPOINT_WAIT).await;
        }
        let wal = std::fs::metadata(dir.path().join("t.db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < 1_000_000,
            "the WAL grew to {wal} bytes: nothing copied it back between batches"
        );
        assert_eq!(replicas(&store).await, 250);
    }

    /// Longer than the writer's interval between checkpoints.
    const CHECKPOINT_WAIT: Duration = Duration::from_millis(60);

    #[tokio::test]
    async fn a_failed_write_is_rolled_back_whole_and_the_thread_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let failed = store
            .write(write::Write {
                sql: vec![
                    "INSERT INTO replicas (id, last_seen) VALUES ('r', 1)".into(),
                    "INSERT INTO no_such_table VALUES (1)".into(),
                ],
                args: Vec::new(),
                durability: Durability::Normal,
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            replicas(&store).await,
            0,
            "the first statement went with the second"
        );
        store
            .heartbeat_replica("r", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(replicas(&store).await, 1);
        let rows = store.write(sync_level(Durability::Full)).await.unwrap();
        assert_eq!(rows[0].get::<i64>("synchronous").unwrap(), 2);
    }

    #[tokio::test]
    async fn a_lent_connection_stops_the_writer_thread_until_it_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut lent = store.write_conn(Durability::Full).await.unwrap();
        let queued = {
            let store = store.clone();
            tokio::spawn(async move { store.write(sync_level(Durability::Normal)).await })
        };
        // The lent connection writes without waiting on SQLite's lock.
        sqlx::query("INSERT INTO replicas (id, last_seen) VALUES ('cold', 1)")
            .execute(&mut *lent)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !queued.is_finished(),
            "the thread waits while the connection is lent"
        );
        drop(lent);
        assert!(queued.await.unwrap().is_ok());
        assert_eq!(replicas(&store).await, 1);
    }

    #[tokio::test]
    async fn a_closed_store_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        store.write(sync_level(Durability::Full)).await.unwrap();
        store.close().await;
        assert!(store.write(sync_level(Durability::Full)).await.is_err());
    }
}
