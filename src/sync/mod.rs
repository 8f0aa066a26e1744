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

use crate::alert::Alerts;
use crate::backfill::Progress;
use crate::config::Settings;
use crate::store::Store;
use crate::store::sync::NoPass;

mod pass;

/// How long a pass holds the deployment's lease between two pages: a holder that stopped
/// (killed mid-pass) gives it up this long after its last page.
const LEASE: Duration = Duration::from_secs(300);
/// A service starting makes a pass due at once unless another process heartbeat this recently
/// (every process heartbeats every 2 s).
const ALIVE: Duration = Duration::from_secs(5);
/// How often the service looks whether a pass is due.
const POLL: Duration = Duration::from_secs(5);

/// The line `hrflow-relay sync` ends with.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Profiles listed, every source together.
    pub listed: u64,
    /// Jobs queued: a profile with no job on a route that takes its source.
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
    /// The sources, the routes and the pace.
    pub settings: Arc<Settings>,
    /// Where the watermarks, the lease and the queued jobs are.
    pub store: Store,
    /// Told of profiles found and of a refused key (the command passes a silent one).
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
}
