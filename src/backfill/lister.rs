//! Listing a source's profiles page by page, the way `[backfill]` says: paced, a failed page
//! tried again, then given up. Shared by the backfill and sync.

use std::time::Duration;

use crate::config::Settings;
use crate::hrflow::client::{HrflowClient, ListPage, ListQuery};
use crate::job::Failure;

/// Lists pages the way `[backfill]` says: paced, a failed page tried again with a doubling
/// delay (or the `Retry-After`), then given up. Shared by the backfill and sync.
pub(crate) struct Lister<'a> {
    /// HrFlow, with the deployment's key.
    pub client: &'a HrflowClient,
    /// `[backfill]`'s retries and delay, and the worker's request timeout.
    pub settings: &'a Settings,
    /// A 401 or 403 ends at once (sync alerts it as a refused key; trying again cannot help).
    pub refusals_final: bool,
}

impl Lister<'_> {
    /// One page, or how many tries it took and the last failure.
    pub async fn page(
        &self,
        pace: &mut tokio::time::Interval,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, (u32, Failure)> {
        let mut tries = 0;
        loop {
            pace.tick().await;
            tries += 1;
            match self
                .client
                .list_profiles(query, self.settings.worker.request_timeout)
                .await
            {
                Ok(listing) => return Ok(listing),
                Err(f) if self.refusals_final && matches!(f.http_status(), Some(401 | 403)) => {
                    return Err((tries, f));
                }
                Err(f) if tries <= self.settings.backfill.retries => {
                    let delay = self.settings.backfill.retry_delay * 2u32.saturating_pow(tries - 1);
                    let delay = delay.max(f.retry_after().unwrap_or_default());
                    self.say_again(query, &f, delay);
                    tokio::time::sleep(delay).await;
                }
                Err(f) => return Err((tries, f)),
            }
        }
    }

    /// Logs a page tried again; a backfill (whose refusals are not final) also says so on
    /// standard error, to the person watching it.
    fn say_again(&self, query: &ListQuery<'_>, f: &Failure, delay: Duration) {
        tracing::warn!(
            source = query.source_key,
            page = query.page,
            retry_in_ms = delay.as_millis() as u64,
            error = f.message(),
            "a listing page failed; trying again"
        );
        if !self.refusals_final {
            eprintln!(
                "listing {} page {} failed ({}); trying again in {delay:?}",
                query.source_key,
                query.page,
                f.message()
            );
        }
    }
}

/// A pace of `[backfill].requests_per_second` listing requests.
pub(crate) fn listing_pace(settings: &Settings) -> tokio::time::Interval {
    let mut pace = tokio::time::interval(Duration::from_secs_f64(
        1.0 / settings.backfill.requests_per_second,
    ));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pace
}
