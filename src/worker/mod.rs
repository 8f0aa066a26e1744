//! The delivery worker's loop: claim a due job under a lease while a slot is free, hand it to
//! one attempt (`attempt.rs`), heartbeat this replica, and on shutdown drain the jobs in
//! flight and release the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

pub mod attempt;

use crate::store::{ClaimedJob, Finish, StoreError, now_ms};
use attempt::Attempts;

/// One attempt `Worker::run_due` ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// The job's id, to read its record.
    pub job: i64,
    /// How the attempt ended, as recorded.
    pub finish: Finish,
}

/// When the worker last looked for work: readiness fails when it stops.
#[derive(Default)]
pub struct Heartbeat(AtomicI64);

impl Heartbeat {
    pub fn beat(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }
    pub fn age(&self) -> Duration {
        Duration::from_millis((now_ms() - self.0.load(Ordering::Relaxed)).max(0) as u64)
    }
}

/// The claim loop: takes due jobs under a lease while a slot is free, runs each as one
/// attempt, heartbeats this replica, drains on shutdown.
pub struct Worker {
    /// What one attempt needs; the loop only hands it jobs.
    pub attempts: Arc<Attempts>,
    /// Told when events are stored, so an idle worker claims at once.
    pub wake: Arc<Notify>,
    /// When the loop last looked for work: readiness fails when it stops.
    pub heartbeat: Arc<Heartbeat>,
    /// True once migrated: no claim before.
    pub schema: Arc<std::sync::atomic::AtomicBool>,
}

impl Worker {
    /// Runs until `shutdown` turns true; then stops claiming, lets jobs in flight finish within
    /// the grace period, and releases the leases of the rest.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        while !self.schema.load(std::sync::atomic::Ordering::Acquire) {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = shutdown.changed() => return,
            }
        }
        self.heartbeat.beat();
        // Registered before the first claim, so no other process takes this one for gone; the
        // heartbeat goes on until the jobs in flight are drained (its own stop signal).
        if let Err(e) = self
            .attempts
            .store
            .heartbeat_replica(&self.attempts.owner, Duration::from_secs(10))
            .await
        {
            tracing::warn!(error = %e, "replica heartbeat failed");
        }
        let (stop_heartbeat, heartbeat_stopped) = watch::channel(false);
        let replicas = tokio::spawn(self.clone().share_rate(heartbeat_stopped));
        let tasks = self.claim_until(&mut shutdown).await;
        self.drain(tasks).await;
        let _ = stop_heartbeat.send(true);
        let _ = replicas.await;
        match self.attempts.store.release(&self.attempts.owner).await {
            Ok(n) => tracing::info!(released = n, "worker stopped"),
            Err(e) => {
                tracing::error!(error = %e, "could not release leases; they expire on their own")
            }
        }
    }

    /// Claims a due job whenever a slot is free and runs it as a task, until `shutdown`:
    /// the attempts still in flight then.
    async fn claim_until(&self, shutdown: &mut watch::Receiver<bool>) -> JoinSet<()> {
        let permits = Arc::new(Semaphore::new(self.attempts.settings.worker.concurrency));
        let poll = self.attempts.settings.worker.poll_interval;
        let mut tasks = JoinSet::new();
        loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                // All slots busy is healthy: keep the heartbeat going.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    self.heartbeat.beat();
                    continue;
                }
                _ = shutdown.changed() => break,
            };
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            // Nothing due: until an event wakes it, or the next poll. The database unreachable:
            // a pause, whatever arrives.
            let (pause, woken) = match self.claim().await {
                Ok(Some(job)) => {
                    let attempts = self.attempts.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        attempts.run(job).await;
                    });
                    continue;
                }
                Ok(None) => (poll, true),
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim jobs");
                    (poll.max(Duration::from_secs(1)), false)
                }
            };
            drop(permit);
            tokio::select! {
                _ = self.wake.notified(), if woken => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => break,
            }
        }
        tasks
    }

    /// Lets the attempts in flight finish within the grace period, and stops the rest.
    async fn drain(&self, mut tasks: JoinSet<()>) {
        tracing::info!(in_flight = tasks.len(), "worker stopping: no new claims");
        let grace = self.attempts.settings.server.shutdown_grace;
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tasks.abort_all();
        }
    }

    /// Takes the next due job under this process's lease, as the loop and `run_due` both do.
    async fn claim(&self) -> Result<Option<ClaimedJob>, StoreError> {
        self.heartbeat.beat();
        let clock = std::time::Instant::now();
        let claimed = self
            .attempts
            .store
            .claim_with(
                &self.attempts.owner,
                self.attempts.settings.worker.lease,
                Some(self.attempts.settings.worker.replica_timeout),
            )
            .await;
        crate::telemetry::claimed_in(clock.elapsed().as_secs_f64());
        claimed
    }

    /// Runs the jobs due now one at a time, each attempt to its end, until none is due; answers
    /// every attempt in order. No loop: a caller (a test) steps the deliveries instead of
    /// waiting for them. A retry set for later is not due, and is left for a later call.
    pub async fn run_due(&self) -> Result<Vec<Ran>, StoreError> {
        let mut ran = Vec::new();
        while let Some(job) = self.claim().await? {
            let id = job.id;
            ran.push(Ran {
                job: id,
                finish: self.attempts.run(job).await,
            });
        }
        Ok(ran)
    }

    /// Heartbeats this replica (its jobs stay its own while it does) and takes its share of
    /// each destination's `requests_per_second`: the deployment's figure divided by the
    /// replicas seen in the last 10 s. Runs until `stop`, which comes once the jobs in flight are drained.
    async fn share_rate(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            match self
                .attempts
                .store
                .heartbeat_replica(&self.attempts.owner, Duration::from_secs(10))
                .await
            {
                Ok(live) => self.attempts.senders.share_rate(live),
                Err(e) => tracing::warn!(error = %e, "replica heartbeat failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = stop.changed() => break,
            }
        }
        let _ = self
            .attempts
            .store
            .remove_replica(&self.attempts.owner)
            .await;
    }
}
