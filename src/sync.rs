//! Sync: what HrFlow holds that no event brought. Every `[sync].interval` the deployment lists
//! each `[sync].sources` source from its watermark (the day before its last complete pass
//! started), ascending by creation, and queues, as a backfill does, a job for each (route,
//! profile) that has none. A profile found that way is counted and alerted about: its event
//! went missing. One pass at a time for the whole deployment (a lease in the database);
//! `hrflow-relay sync` waits for a pass in progress, then makes its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::alert::{Alerts, Incident};
use crate::backfill::{Lister, Progress};
use crate::config::Settings;
use crate::hrflow::client::{HrflowClient, ListQuery};
use crate::store::sync::{NoPass, PassOutcome};
use crate::store::{Store, now_ms};

/// How long a pass holds the deployment's lease between two pages: a holder that stopped
/// (killed mid-pass) gives it up this long after its last page.
const LEASE: Duration = Duration::from_secs(300);
/// A profile created this recently may still have its event on the way: the next pass sees it.
const SETTLE: Duration = Duration::from_secs(600);
/// A service starting makes a pass due at once unless another process heartbeat this recently
/// (every process heartbeats every 2 s).
const ALIVE: Duration = Duration::from_secs(5);
/// How often the service looks whether a pass is due.
const POLL: Duration = Duration::from_secs(5);

/// The line `hrflow-relay sync` ends with.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub listed: u64,
    pub queued: u64,
    /// (route, profile) pairs that already had a job.
    pub skipped: u64,
    /// Profiles that had no job: their events never arrived.
    pub found: u64,
    /// Sources whose pass stopped early (their watermark stays), with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

/// What a pass needs.
pub struct Syncer {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub alerts: Alerts,
    /// This process, as the lease names its holder.
    pub owner: String,
}

impl Syncer {
    /// The service's loop: a pass whenever one is due and no other process makes it, until
    /// shutdown. Nothing to do without sources.
    pub async fn run(self, schema: Arc<AtomicBool>, mut shutdown: watch::Receiver<bool>) {
        if self.settings.sync.sources.is_empty() {
            return;
        }
        let poll = POLL.min(self.settings.sync.interval);
        let mut started = false;
        loop {
            if schema.load(Ordering::Acquire) {
                if !started {
                    // It may have been down while events went missing.
                    match self.store.sync_due_at_start(&self.owner, ALIVE).await {
                        Ok(()) => started = true,
                        Err(e) => tracing::warn!(error = %e, "sync: cannot read its schedule"),
                    }
                }
                match self.store.begin_sync_pass(&self.owner, LEASE, false).await {
                    Ok(Ok(())) => {
                        let pass = self.pass(&self.settings.sync.sources, &Progress::Quiet);
                        tokio::select! {
                            done = pass => {
                                if let Err(e) = done {
                                    tracing::warn!(error = %e, "sync: the pass could not start");
                                }
                                self.end(self.settings.sync.interval).await;
                            }
                            // Stopping: what the pass queued is committed page by page; the
                            // next pass is due at once, for whichever process is left.
                            _ = shutdown.changed() => {
                                self.end(Duration::ZERO).await;
                                return;
                            }
                        }
                    }
                    Ok(Err(_)) => {}
                    Err(e) => tracing::warn!(error = %e, "sync: cannot take the pass"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// A pass now (the command): waits for one in progress, then makes its own.
    pub async fn now(&self, sources: &[String], progress: &Progress) -> Result<Report, String> {
        let mut said = false;
        loop {
            match self.store.begin_sync_pass(&self.owner, LEASE, true).await {
                Ok(Ok(())) => break,
                Ok(Err(NoPass::Running | NoPass::NotDue)) => {
                    if !said {
                        eprintln!("a sync pass is in progress; waiting for it to end");
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let report = self.pass(sources, progress).await;
        self.end(self.settings.sync.interval).await;
        report
    }

    /// Gives the pass back, the next due `after` from now.
    async fn end(&self, after: Duration) {
        if let Err(e) = self.store.end_sync_pass(&self.owner, after).await {
            tracing::warn!(error = %e, "sync: cannot give the pass back; it expires by itself");
        }
    }

    /// One pass over `sources`; a source that fails keeps its watermark and the others go on.
    async fn pass(&self, sources: &[String], progress: &Progress) -> Result<Report, String> {
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
        pace: &mut tokio::time::Interval,
        source: &str,
        progress: &Progress,
    ) -> PassOutcome {
        let started_at = now_ms();
        let mut outcome = PassOutcome {
            started_at,
            ..PassOutcome::default()
        };
        let today = chrono::Utc::now().date_naive();
        let from = match self.store.sync_watermark(source).await {
            Ok(Some(w)) => chrono::NaiveDate::parse_from_str(&w, "%Y-%m-%d")
                .unwrap_or(today)
                .pred_opt()
                .unwrap_or(today),
            Ok(None) => {
                let days = self
                    .settings
                    .sync
                    .lookback
                    .as_secs()
                    .div_ceil(86_400)
                    .max(1);
                today - chrono::Days::new(days)
            }
            Err(e) => {
                outcome.error = Some(e.to_string());
                return outcome;
            }
        };
        let from = from.format("%Y-%m-%d").to_string();
        let routes: Vec<String> = self
            .settings
            .routes
            .iter()
            .filter(|r| crate::routes::listens_to(r, source))
            .map(|r| r.name.clone())
            .collect();
        let lister = Lister {
            client,
            settings: &self.settings,
            refusals_final: true,
        };
        let settled = started_at - SETTLE.as_millis() as i64;
        let clock = std::time::Instant::now();
        let mut page = 1;
        loop {
            let query = ListQuery {
                source_key: source,
                page,
                limit: self.settings.backfill.page_size,
                created_after: Some(&from),
                created_before: None,
            };
            let listing = match lister.page(pace, &query).await {
                Ok(l) => l,
                Err((tries, f)) => {
                    if let Some(status @ (401 | 403)) = f.http_status() {
                        self.alerts.report(Incident::SyncRefused {
                            source: source.to_string(),
                            status,
                            reason: f.message().to_string(),
                        });
                    }
                    outcome.error = Some(format!(
                        "listing page {page} failed {tries} time(s); last: {}",
                        f.message()
                    ));
                    break;
                }
            };
            outcome.listed += listing.keys.len() as u64;
            // Too new to tell: its event may be on the way.
            let keys: Vec<String> = listing
                .keys
                .iter()
                .zip(&listing.created_at)
                .filter(|(_, created)| created.is_none_or(|c| c <= settled))
                .map(|(k, _)| k.clone())
                .collect();
            match self
                .store
                .queue_backfill(source, &keys, &routes, false)
                .await
            {
                Ok(q) => {
                    outcome.queued += q.queued as u64;
                    outcome.found += q.profiles as u64;
                    outcome.skipped += q.skipped as u64;
                    if q.queued > 0 {
                        self.store.refresh_job_statistics().await.ok();
                    }
                }
                Err(e) => {
                    outcome.error = Some(e.to_string());
                    break;
                }
            }
            let last = listing.keys.is_empty() || page >= listing.max_page;
            progress.update(
                &format!("syncing {source}"),
                outcome.listed,
                listing.total,
                clock,
                last,
            );
            if last {
                outcome.watermark = Some(today.format("%Y-%m-%d").to_string());
                break;
            }
            match self.store.renew_sync_pass(&self.owner, LEASE).await {
                Ok(true) => {}
                Ok(false) => {
                    outcome.error = Some("another process took the pass over".into());
                    break;
                }
                Err(e) => {
                    outcome.error = Some(e.to_string());
                    break;
                }
            }
            page += 1;
        }
        progress.finish();
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
        outcome
    }
}
