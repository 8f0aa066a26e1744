//! Opening the store at start: migrated at once in the common case; an unreachable database is
//! retried in the background, with readiness at 503, until `database.connect_timeout` runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::oneshot;

use crate::config::Settings;
use crate::store::Store;

/// What the start holds of the database.
pub(super) struct Opened {
    /// The store, migrated or being migrated.
    pub store: Store,
    /// True once the schema is migrated: until then events answer 503 and readiness fails.
    pub schema: Arc<AtomicBool>,
    /// Told if the database stays unreachable past `database.connect_timeout`: the service
    /// then stops with that error.
    pub fatal: oneshot::Receiver<anyhow::Error>,
}

pub(super) async fn open(settings: &Settings) -> anyhow::Result<Opened> {
    let store = Store::lazy(
        settings.database.url.expose(),
        settings.database.max_connections,
    )
    .context("cannot open the database")?;
    let schema = Arc::new(AtomicBool::new(false));
    let (fatal_tx, fatal) = oneshot::channel();
    match store.migrate().await {
        Ok(()) => schema.store(true, Ordering::Release),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready; retrying");
            tokio::spawn(migrate_with_backoff(
                store.clone(),
                schema.clone(),
                settings.database.connect_timeout,
                fatal_tx,
            ));
        }
    }
    Ok(Opened {
        store,
        schema,
        fatal,
    })
}

async fn migrate_with_backoff(
    store: Store,
    schema: Arc<AtomicBool>,
    limit: Duration,
    fatal: oneshot::Sender<anyhow::Error>,
) {
    let deadline = Instant::now() + limit;
    let mut delay = Duration::from_millis(200);
    loop {
        tokio::time::sleep(delay).await;
        match store.migrate().await {
            Ok(()) => {
                schema.store(true, Ordering::Release);
                tracing::info!("database ready");
                return;
            }
            Err(e) if Instant::now() < deadline => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not ready; retrying");
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "database still unreachable: giving up");
                let _ = fatal.send(anyhow::anyhow!(
                    "the database was not reachable within {limit:?}: {e}"
                ));
                return;
            }
        }
    }
}
