//! Opening the store: the URL names SQLite or PostgreSQL; SQLite's file is made (or must
//! exist already) and every connection set up for durable, concurrent use; then the schema is
//! migrated and the keys it keeps are read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

use super::write_conn::Level;
use super::{Backend, Store, StoreError, files, migrations, queue};

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
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // A connection to a local file does not go stale; pinging it before each use is
            // one more trip to sqlx's connection thread per statement. PostgreSQL keeps it.
            .test_before_acquire(backend == Backend::Postgres);
        let (url, sqlite_path) = match backend {
            Backend::Sqlite => {
                let (url, path) = sqlite_file(url, create)?;
                options = with_pragmas(options);
                (url, Some(path))
            }
            Backend::Postgres => (url.to_string(), None),
        };
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

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// For tests and operators: run raw SQL against the store (e.g. to simulate a crash state).
    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.pool
    }

    /// Bytes SQLite holds in this process (page caches, prepared statements, schemas), for
    /// `/metrics`; None on PostgreSQL, whose memory is the server's.
    pub fn sqlite_memory(&self) -> Option<i64> {
        // SAFETY: reads a counter SQLite keeps under its own mutex; no pointer is involved.
        (self.backend == Backend::Sqlite).then(|| unsafe { rusqlite::ffi::sqlite3_memory_used() })
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

/// The SQLite file `url` names, made if `create` (and checked writable), else required to
/// exist; and `url` with the open mode that matches (a command never creates a database).
fn sqlite_file(url: &str, create: bool) -> Result<(String, PathBuf), StoreError> {
    let mut url = url.to_string();
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    let in_memory = path.is_empty() || path.starts_with(':');
    if create && !in_memory {
        files::create(Path::new(path))?;
        files::writable(Path::new(path))?;
    } else if !in_memory && !Path::new(path).is_file() {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.into());
        return Err(StoreError::Missing(shown.display().to_string()));
    }
    let path = PathBuf::from(path);
    if !url.contains("mode=") {
        let mode = if create { "mode=rwc" } else { "mode=rw" };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(mode);
    }
    Ok((url, path))
}

/// SQLite's connections, each set up as it opens.
fn with_pragmas(options: AnyPoolOptions) -> AnyPoolOptions {
    options.after_connect(|conn, _| {
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
    })
}
