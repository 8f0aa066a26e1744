//! `[retention]` in the service: every `interval`, delete what no job needs any more (finished
//! jobs after `finished`, dead ones after `dead`, careers data after its vacancy was
//! unpublished for `finished`). On PostgreSQL one replica purges at a time. Logged as counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Retention;
use crate::store::Store;
use crate::store::retention::Deleted;

/// Purges now, with the configured periods; `None` when another replica is purging.
pub async fn purge_now(
    store: &Store,
    retention: &Retention,
    dedupe_window: Duration,
) -> Result<Option<Deleted>, crate::store::StoreError> {
    let cutoffs = Store::cutoffs(
        retention.finished,
        retention.dead,
        dedupe_window,
        retention.events,
    );
    let deleted = store.purge(cutoffs).await?;
    if let Some(d) = &deleted {
        record(d);
    }
    Ok(deleted)
}

/// Logs and counts what a purge or an erasure deleted: counts only, never what the rows held.
pub fn record(d: &Deleted) {
    for (table, n) in [
        ("jobs", d.jobs),
        ("attempts", d.attempts),
        ("events", d.events),
        ("dedupe_keys", d.dedupe_keys),
        ("push_records", d.push_records),
        ("vacancies", d.vacancies),
        ("responses", d.responses),
        ("letters", d.letters),
    ] {
        if n > 0 {
            metrics::counter!("relay_deleted_rows_total", "table" => table).increment(n);
        }
    }
}

/// The service's purge loop: the first run one interval after start (a restart loop does not
/// purge over and over), until shutdown.
pub async fn run(
    store: Store,
    retention: Retention,
    dedupe_window: Duration,
    schema: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(retention.interval) => {}
            _ = shutdown.changed() => return,
        }
        if !schema.load(Ordering::Acquire) {
            continue;
        }
        match purge_now(&store, &retention, dedupe_window).await {
            Ok(Some(d)) if d.total() > 0 => tracing::info!(
                jobs = d.jobs,
                attempts = d.attempts,
                events = d.events,
                dedupe_keys = d.dedupe_keys,
                vacancies = d.vacancies,
                responses = d.responses,
                letters = d.letters,
                "retention purge"
            ),
            Ok(Some(_)) => tracing::debug!("retention purge: nothing to delete"),
            Ok(None) => tracing::debug!("retention purge: another replica is purging"),
            Err(e) => {
                tracing::warn!(error = %e, "retention purge failed; next try in one interval")
            }
        }
    }
}
