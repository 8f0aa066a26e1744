//! The queue's gauges (pending, the oldest pending job's age, dead, cancelled), read from the
//! database by one background task every few seconds rather than by each `/metrics` scrape: a
//! scrape then costs the same whatever the number of jobs, and eight scrapers cost what one does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::Store;
use crate::store::stats::QueueGauges;

/// How often the gauges are read again: what a scrape shows is at most this old (the oldest
/// job's age excepted, which is computed when scraped).
pub const REFRESH: Duration = Duration::from_secs(5);

/// The last reading, shared by the refresher and the scrapes.
#[derive(Clone, Default)]
pub struct Gauges {
    /// None until the first reading.
    last: Arc<std::sync::Mutex<Option<QueueGauges>>>,
    /// Every route whose `relay_route_paused` series was published.
    paused_shown: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Gauges {
    /// Reads the gauges every `REFRESH` until shutdown (once the schema exists).
    pub fn start(
        &self,
        store: Store,
        schema: Arc<AtomicBool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                if schema.load(Ordering::Acquire) {
                    match store.queue_gauges().await {
                        Ok(g) => cache.set(g),
                        Err(e) => {
                            tracing::debug!(error = %e, "the queue's gauges could not be read")
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(REFRESH) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    fn set(&self, g: QueueGauges) {
        if let Ok(mut slot) = self.last.lock() {
            *slot = Some(g);
        }
    }

    /// Puts the last reading into the exporter's gauges; nothing before the first.
    pub fn publish(&self) {
        let Some(g) = self.last.lock().ok().and_then(|slot| slot.clone()) else {
            return;
        };
        let age = g
            .oldest_pending_ms
            .map(|t| (crate::store::now_ms() - t).max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        crate::telemetry::queue(g.pending, age);
        // Jobs waiting for a person: alert on this rising (PromQL: increase(...) > 0).
        metrics::gauge!("relay_jobs_dead").set(g.dead as f64);
        metrics::gauge!("relay_jobs_cancelled").set(g.cancelled as f64);
        metrics::gauge!("relay_jobs_paused").set(g.paused as f64);
        // One series per paused route, and 0 for one resumed since: a route is paused while
        // its series is 1.
        let mut shown = self
            .paused_shown
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        for route in &shown {
            if !g.paused_routes.contains(route) {
                metrics::gauge!("relay_route_paused", "route" => route.clone()).set(0.0);
            }
        }
        for route in &g.paused_routes {
            metrics::gauge!("relay_route_paused", "route" => route.clone()).set(1.0);
            if !shown.contains(route) {
                shown.push(route.clone());
            }
        }
        if let Ok(mut s) = self.paused_shown.lock() {
            *s = shown;
        }
    }
}
