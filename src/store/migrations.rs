//! The schema's migrations, embedded in the binary (no files to ship), one list per backend.
//! sqlx's `Migrator` applies them as its `migrate!` macro would: same versions,
//! descriptions and checksums, so databases migrated by earlier builds are recognised.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::{Backend, StoreError};

/// (version, description, SQL) of each migration, in order.
#[derive(Debug, Clone, Copy)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

macro_rules! migrations {
    ($dir:literal: $($version:literal $file:literal $description:literal),* $(,)?) => {
        Embedded(&[$(($version, $description, include_str!(concat!("../../migrations/", $dir, "/", $file)))),*])
    };
}

const SQLITE: Embedded = migrations!("sqlite":
    1 "0001_init.sql" "init",
    2 "0002_careers.sql" "careers",
    3 "0003_replicas.sql" "replicas",
    4 "0004_job_runs.sql" "job runs",
    5 "0005_jobs_by_event.sql" "jobs by event",
    6 "0006_jobs_route_profile_lean.sql" "jobs route profile lean",
    7 "0007_marks.sql" "marks",
    8 "0008_sync.sql" "sync",
    9 "0009_console.sql" "console",
    10 "0010_credentials.sql" "credentials",
);

const POSTGRES: Embedded = migrations!("postgres":
    1 "0001_init.sql" "init",
    2 "0002_careers.sql" "careers",
    3 "0003_replicas.sql" "replicas",
    4 "0004_job_runs.sql" "job runs",
    5 "0005_jobs_by_event.sql" "jobs by event",
    6 "0006_jobs_route_profile_lean.sql" "jobs route profile lean",
    7 "0007_marks.sql" "marks",
    8 "0008_sync.sql" "sync",
    9 "0009_console.sql" "console",
    10 "0010_credentials.sql" "credentials",
);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        sql.starts_with("-- no-transaction"),
                    )
                })
                .collect())
        })
    }
}

/// The migrator of a backend. On PostgreSQL it holds an advisory lock while it runs, so
/// replicas starting together migrate once.
pub async fn migrator(backend: Backend) -> Result<Migrator, StoreError> {
    let source = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    Ok(Migrator::new(source).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded() {
        for (dir, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let on_disk = std::fs::read_dir(folder).unwrap().count();
            assert_eq!(
                embedded.0.len(),
                on_disk,
                "{dir}: a migration file is not listed"
            );
        }
    }
}
