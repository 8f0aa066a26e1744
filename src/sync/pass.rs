//! One sync pass: each source listed from the day before its watermark, page by page, and
//! what has no job queued, as a backfill would; then counted, alerted about and logged.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tokio::time::Interval;

use super::{LEASE, Report, Syncer};
use crate::alert::Incident;
use crate::backfill::{Lister, Progress};
use crate::hrflow::client::{HrflowClient, ListPage, ListQuery};
use crate::job::Failure;
use crate::store::now_ms;
use crate::store::sync::PassOutcome;

/// A profile created this recently may still have its event on the way: the next pass sees it.
const SETTLE: Duration = Duration::from_secs(600);

/// How watermarks and listing dates are written.
const DAY: &str = "%Y-%m-%d";

impl Syncer {
    /// One pass over `sources`; a source that fails keeps its watermark and the others go on.
    pub(super) async fn pass(
        &self,
        sources: &[String],
        progress: &Progress,
    ) -> Result<Report, String> {
        let http = crate::http::client().map_err(|e| format!("{e:#}"))?;
        let client = HrflowClient::new(
            http,
            &self.settings.hrflow.api_url,
            self.settings.hrflow.api_key.clone(),
            self.settings.hrflow.user_email.clone(),
        );
        let mut pace = crate::backfill::listing_pace(&self.settings);
        let mut report = Report::default();
        for source in sources.iter().filter(|s| !s.trim().is_empty()) {
            let outcome = self.source(&client, &mut pace, source, progress).await;
            report.listed += outcome.listed;
            report.queued += outcome.queued;
            report.skipped += outcome.skipped;
            report.found += outcome.found;
            if let Some(e) = &outcome.error {
                report.failed.push(format!("{source}: {e}"));
            }
            if let Err(e) = self.store.record_sync_pass(source, &outcome).await {
                tracing::warn!(source = %source, error = %e, "sync: cannot record the pass");
            }
        }
        Ok(report)
    }

    /// One source, page by page, from the day before its watermark.
    async fn source(
        &self,
        client: &HrflowClient,
        pace: &mut Interval,
        source: &str,
        progress: &Progress,
    ) -> PassOutcome {
        let mut outcome = PassOutcome {
            started_at: now_ms(),
            ..PassOutcome::default()
        };
        let today = chrono::Utc::now().date_naive();
        let from = match self.store.sync_watermark(source).await {
            Ok(watermark) => first_day(watermark.as_deref(), self.settings.sync.lookback, today),
            Err(e) => {
                outcome.error = Some(e.to_string());
                return outcome;
            }
        };
        let from = from.format(DAY).to_string();
        let listing = Listing {
            client,
            source,
            from: &from,
            today,
            progress,
        };
        if let Err(e) = self.pages(&listing, pace, &mut outcome).await {
            outcome.error = Some(e);
        }
        progress.finish();
        self.tell(source, &from, &outcome);
        outcome
    }

    /// Lists and queues page after page until the last (the watermark moves to today) or an
    /// error, which stops the source's pass.
    async fn pages(
        &self,
        at: &Listing<'_>,
        pace: &mut Interval,
        outcome: &mut PassOutcome,
    ) -> Result<(), String> {
        let routes: Vec<String> = self
            .settings
            .routes
            .iter()
            .filter(|r| crate::routes::listens_to(r, at.source))
            .map(|r| r.name.clone())
            .collect();
        let lister = Lister {
            client: at.client,
            settings: &self.settings,
            refusals_final: true,
        };
        let settled = outcome.started_at - SETTLE.as_millis() as i64;
        let clock = Instant::now();
        let mut page = 1;
        loop {
            let query = ListQuery {
                source_key: at.source,
                page,
                limit: self.settings.backfill.page_size,
                created_after: Some(at.from),
                created_before: None,
            };
            let listing = match lister.page(pace, &query).await {
                Ok(listing) => listing,
                Err((tries, f)) => return Err(self.listing_failed(at.source, page, tries, &f)),
            };
            outcome.listed += listing.keys.len() as u64;
            self.queue(
                at.source,
                &settled_keys(&listing, settled),
                &routes,
                outcome,
            )
            .await?;
            let last = listing.keys.is_empty() || page >= listing.max_page;
            let what = format!("syncing {}", at.source);
            at.progress
                .update(&what, outcome.listed, listing.total, clock, last);
            if last {
                outcome.watermark = Some(at.today.format(DAY).to_string());
                return Ok(());
            }
            match self.store.renew_sync_pass(&self.owner, LEASE).await {
                Ok(true) => {}
                Ok(false) => return Err("another process took the pass over".into()),
                Err(e) => return Err(e.to_string()),
            }
            page += 1;
        }
    }

    /// Why a page stopped the pass; a refused key is alerted about at once.
    fn listing_failed(&self, source: &str, page: u64, tries: u32, f: &Failure) -> String {
        if let Some(status @ (401 | 403)) = f.http_status() {
            self.alerts.report(Incident::SyncRefused {
                source: source.to_string(),
                status,
                reason: f.message().to_string(),
            });
        }
        format!(
            "listing page {page} failed {tries} time(s); last: {}",
            f.message()
        )
    }

    /// Queues a page's profiles that have no job on `routes`: each is one whose event never
    /// arrived (`found`).
    async fn queue(
        &self,
        source: &str,
        keys: &[String],
        routes: &[String],
        outcome: &mut PassOutcome,
    ) -> Result<(), String> {
        let q = self
            .store
            .queue_backfill(source, keys, routes, false)
            .await
            .map_err(|e| e.to_string())?;
        outcome.queued += q.queued as u64;
        outcome.found += q.profiles as u64;
        outcome.skipped += q.skipped as u64;
        if q.queued > 0 {
            self.store.refresh_job_statistics().await.ok();
        }
        Ok(())
    }

    /// What a source's pass found, told: a metric, an alert when events went missing, a log.
    fn tell(&self, source: &str, from: &str, outcome: &PassOutcome) {
        metrics::counter!("relay_sync_found_total", "source" => source.to_string())
            .increment(outcome.found);
        if outcome.found > 0 {
            self.alerts.report(Incident::SyncFound {
                source: source.to_string(),
                profiles: outcome.found,
            });
        }
        tracing::info!(
            source,
            from = %from,
            listed = outcome.listed,
            queued = outcome.queued,
            skipped = outcome.skipped,
            found = outcome.found,
            failed = outcome.error.as_deref().unwrap_or(""),
            "sync pass"
        );
    }
}

/// One source's listing, as every page of it asks.
struct Listing<'a> {
    /// HrFlow, with the deployment's key.
    client: &'a HrflowClient,
    /// The source listed.
    source: &'a str,
    /// The first day listed (`YYYY-MM-DD`).
    from: &'a str,
    /// The watermark a pass that goes through leaves.
    today: NaiveDate,
    /// What the pass found so far.
    progress: &'a Progress,
}

/// The first day a pass lists: the day before the watermark (the day the last complete pass
/// started, so a profile created while it ran is listed again), or `lookback` back (at least a
/// day) when the source was never passed over.
fn first_day(watermark: Option<&str>, lookback: Duration, today: NaiveDate) -> NaiveDate {
    match watermark {
        Some(w) => NaiveDate::parse_from_str(w, DAY)
            .unwrap_or(today)
            .pred_opt()
            .unwrap_or(today),
        None => today - chrono::Days::new(lookback.as_secs().div_ceil(86_400).max(1)),
    }
}

/// The page's keys old enough to tell: a newer profile's event may be on the way.
fn settled_keys(listing: &ListPage, settled: i64) -> Vec<String> {
    listing
        .keys
        .iter()
        .zip(&listing.created_at)
        .filter(|(_, created)| created.is_none_or(|c| c <= settled))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, DAY).unwrap()
    }

    #[test]
    fn a_pass_starts_the_day_before_its_watermark_or_lookback_days_back() {
        let today = day("2026-03-10");
        assert_eq!(
            first_day(Some("2026-03-08"), Duration::ZERO, today),
            day("2026-03-07")
        );
        // An unreadable watermark counts as today's.
        assert_eq!(
            first_day(Some("soon"), Duration::ZERO, today),
            day("2026-03-09")
        );
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(first_day(None, hours(48), today), day("2026-03-08"));
        // A part of a day counts as a day, and there is always one.
        assert_eq!(first_day(None, hours(25), today), day("2026-03-08"));
        assert_eq!(first_day(None, Duration::ZERO, today), day("2026-03-09"));
    }

    #[test]
    fn profiles_too_new_to_tell_are_left_to_the_next_pass() {
        let listing = ListPage {
            keys: vec!["old".into(), "new".into(), "undated".into()],
            created_at: vec![Some(1_000), Some(5_000), None],
            max_page: 1,
            total: 3,
        };
        assert_eq!(settled_keys(&listing, 2_000), ["old", "undated"]);
    }
}
