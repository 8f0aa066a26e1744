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
    /// Whether the SQLite writer connection commits with synchronous=FULL right now.
    writer_full: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
            .acquire_timeout(Duration::from_secs(5));
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
            writer_full: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            backend,
        })
    }

    /// Applies the migrations of the backend. On PostgreSQL the migrator holds an advisory
    /// lock, so replicas starting together migrate once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::migrator(self.backend)
            .await?
            .run(&self.writer)
            .await?;
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
    /// flag is read and changed only while the one writer connection is held, so a durable write
    /// never runs on a connection left at NORMAL.
    async fn write_conn(
        &self,
        durability: Durability,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        use std::sync::atomic::Ordering;
        let mut conn = self.writer.acquire().await?;
        let full = durability == Durability::Full;
        if self.backend == Backend::Sqlite && self.writer_full.load(Ordering::Acquire) != full {
            conn.execute(if full {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            })
            .await?;
            self.writer_full.store(full, Ordering::Release);
        }
        Ok(conn)
    }

    /// A write transaction on `conn`. SQLite takes its write lock at once (IMMEDIATE), waiting
    /// on busy_timeout rather than failing on a later upgrade.
    async fn begin<'c>(
        &self,
        conn: &'c mut sqlx::pool::PoolConnection<sqlx::Any>,
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
}
