//! Opening the configured database for a command that runs beside the service.

use std::process::ExitCode;

use crate::config::Settings;
use crate::store::Store;

/// The configured database, migrated, for a command beside the service; says why not.
pub async fn store(settings: &Settings, connections: u32) -> Option<Store> {
    match Store::existing(settings.database.url.expose(), connections).await {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("cannot open the database: {e}");
            None
        }
    }
}

/// Runs `f` on the database over one connection and closes it; an error is printed and the
/// command fails.
pub async fn with_store<F, Fut>(settings: &Settings, f: F) -> ExitCode
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let Some(store) = store(settings, 1).await else {
        return ExitCode::FAILURE;
    };
    let result = f(store.clone()).await;
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
