//! The delivery worker: claim a due job under a lease, run its steps with checkpoints, then
//! record the attempt as delivered, filtered, retry-at-T or dead. Never holds a transaction
//! across a network call.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{Settings, Timings};
use crate::destination::{self, Plan, Senders};
use crate::hrflow::client::HrflowClient;
use crate::job::{self, Failure, Outcome, step};
use crate::logic::Scripts;
use crate::store::{AttemptRecord, ClaimedJob, Finish, Store, now_ms};

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

pub struct Worker {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub timings: Timings,
    pub scripts: Scripts,
    pub hrflow: HrflowClient,
    /// A client per destination: Flatchr accounts, the webhook sender, the store.
    pub senders: Arc<Senders>,
    /// Identifies this process's leases.
    pub owner: String,
    pub wake: Arc<Notify>,
    pub heartbeat: Arc<Heartbeat>,
    pub schema: Arc<std::sync::atomic::AtomicBool>,
    /// Told about dead jobs and refused credentials.
    pub alerts: crate::alert::Alerts,
}

/// What an attempt reached, for the attempt record.
struct Progress {
    step: &'static str,
    /// The profile as fetched by this attempt (checkpointed if the job runs again).
    fetched: Option<String>,
}

impl Worker {
    /// Runs until `shutdown` turns true; then stops claiming, lets jobs in flight finish within
    /// the grace period, and releases the leases of the rest.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.settings.worker.concurrency));
        let mut tasks = JoinSet::new();
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
            .store
            .heartbeat_replica(&self.owner, Duration::from_secs(10))
            .await
        {
            tracing::warn!(error = %e, "replica heartbeat failed");
        }
        let (stop_heartbeat, heartbeat_stopped) = watch::channel(false);
        let replicas = tokio::spawn(self.clone().share_rate(heartbeat_stopped));
        'outer: loop {
            let permit = loop {
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => break p,
                        Err(_) => break 'outer,
                    },
                    // All slots busy is healthy: keep the heartbeat going.
                    _ = tokio::time::sleep(Duration::from_secs(1)) => self.heartbeat.beat(),
                    _ = shutdown.changed() => break 'outer,
                }
            };
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            self.heartbeat.beat();
            let claimed = self
                .store
                .claim_with(
                    &self.owner,
                    self.timings.lease,
                    Some(self.timings.replica_timeout),
                )
                .await;
            match claimed {
                Ok(Some(job)) => {
                    let worker = self.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        worker.process(job).await;
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(self.timings.poll_interval) => {}
                        _ = shutdown.changed() => break,
                    }
                }
                Err(e) => {
                    // The database is unreachable: pause, and try again later.
                    drop(permit);
                    tracing::error!(error = %e, "cannot claim jobs");
                    tokio::select! {
                        _ = tokio::time::sleep(self.timings.poll_interval.max(Duration::from_secs(1))) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        }
        let in_flight = tasks.len();
        tracing::info!(in_flight, "worker stopping: no new claims");
        let drained = tokio::time::timeout(self.timings.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
        }
        let _ = stop_heartbeat.send(true);
        let _ = replicas.await;
        match self.store.release(&self.owner).await {
            Ok(n) => tracing::info!(released = n, "worker stopped"),
            Err(e) => {
                tracing::error!(error = %e, "could not release leases; they expire on their own")
            }
        }
    }

    /// Heartbeats this replica (its jobs stay its own while it does) and takes its share of
    /// `[flatchr].requests_per_second`: the deployment's figure divided by the replicas seen in
    /// the last 10 s. Runs until `stop`, which comes once the jobs in flight are drained.
    async fn share_rate(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            match self
                .store
                .heartbeat_replica(&self.owner, Duration::from_secs(10))
                .await
            {
                Ok(live) => {
                    for client in self.senders.flatchr.clients() {
                        client.share_rate(live);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "replica heartbeat failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = stop.changed() => break,
            }
        }
        let _ = self.store.remove_replica(&self.owner).await;
    }

    async fn process(&self, job: ClaimedJob) {
        let span = tracing::info_span!("job", job_id = job.id, route = %job.route, profile_key = %job.profile_key, attempt = job.attempts, account = tracing::field::Empty);
        if let Some(account) = self.account_of(&job.route) {
            span.record(
                "account",
                if account.is_empty() {
                    "default"
                } else {
                    &account
                },
            );
        }
        async {
            let started_at = now_ms();
            let clock = Instant::now();
            let mut progress = Progress {
                step: step_name(&job.step),
                fetched: None,
            };
            let outcome = self.run_steps(&job, &mut progress).await;
            let (finish, failure) = self.decide(&job, outcome);
            let record = AttemptRecord {
                started_at,
                duration_ms: clock.elapsed().as_millis() as i64,
                step: progress.step.to_string(),
                http_status: failure.as_ref().and_then(|f| f.http_status),
                error: failure.as_ref().map(|f| f.message.clone()),
                profile: progress.fetched.take(),
            };
            match &finish {
                Finish::Delivered => {
                    crate::telemetry::delivered_after((now_ms() - job.created_at) as f64 / 1000.0);
                    tracing::info!(outcome = "delivered", "candidate delivered");
                }
                Finish::Filtered(r) => tracing::info!(outcome = "filtered", reason = %r, "profile filtered"),
                Finish::Dead(r) => tracing::warn!(outcome = "dead", reason = %r, "job dead"),
                Finish::Retry { at, reason } => tracing::warn!(outcome = "retry", retry_in_ms = at - now_ms(), reason = %reason, "attempt failed; will retry"),
                Finish::Defer { reason, .. } => tracing::info!(outcome = "deferred", reason = %reason, "waiting for another job"),
            }
            crate::telemetry::job(finish.label(), &job.route);
            self.tell(&job, &finish, failure.as_ref());
            match self.store.finish(job.id, &self.owner, &finish, &record).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!("lease lost before the attempt was recorded; another worker owns the job"),
                // The lease expires and the job runs again; the push checkpoint prevents a second push.
                Err(e) => tracing::error!(error = %e, "could not record the attempt"),
            }
        }
        .instrument(span)
        .await
    }

    /// Alerts about a refused key (at once: every job after it fails the same way) and about a
    /// job gone dead.
    fn tell(&self, job: &ClaimedJob, finish: &Finish, failure: Option<&Failure>) {
        use crate::alert::Incident;
        // Alerts name an account when there are several: a named one.
        let account = self.account_of(&job.route).filter(|a| !a.is_empty());
        if let Some(f) = failure
            && let Some(status @ (401 | 403)) = f.http_status
        {
            self.alerts.report(Incident::Refused {
                route: job.route.clone(),
                account: account.clone(),
                status,
                reason: f.message.clone(),
            });
        }
        if let Finish::Dead(reason) = finish {
            self.alerts.report(Incident::Dead {
                route: job.route.clone(),
                account,
                reason: reason.clone(),
            });
        }
    }

    /// The Flatchr account a route sends to: "" for `[flatchr]` itself, `None` for other
    /// destinations.
    fn account_of(&self, route: &str) -> Option<String> {
        match self.settings.route(route).map(|r| &r.destination) {
            Some(crate::config::Destination::Flatchr { account, .. }) => Some(account.clone()),
            _ => None,
        }
    }

    fn decide(&self, job: &ClaimedJob, outcome: Outcome) -> (Finish, Option<Failure>) {
        match outcome {
            Outcome::Delivered => (Finish::Delivered, None),
            Outcome::Filtered(logic) => {
                (Finish::Filtered(format!("dropped by logic {logic}")), None)
            }
            // Not the attempt's fault: it steps aside (uncounted) until what it waits for is
            // free, at the soonest after a poll interval.
            Outcome::Failed(f) if f.busy => (
                Finish::Defer {
                    at: now_ms()
                        + self
                            .timings
                            .poll_interval
                            .max(Duration::from_millis(500))
                            .max(f.retry_after.unwrap_or_default())
                            .as_millis() as i64,
                    reason: f.message.clone(),
                },
                None,
            ),
            Outcome::Failed(f) if !f.transient => (Finish::Dead(f.message.clone()), Some(f)),
            Outcome::Failed(f) => {
                let finish = match job::next_delay(
                    &self.timings.retry_schedule,
                    job.attempts,
                    f.retry_after,
                ) {
                    Some(delay) => Finish::Retry {
                        at: now_ms() + delay.as_millis() as i64,
                        reason: f.message.clone(),
                    },
                    None => Finish::Dead(format!(
                        "retry schedule exhausted after {} attempts; last error: {}",
                        job.attempts, f.message
                    )),
                };
                (finish, Some(f))
            }
        }
    }

    async fn run_steps(&self, job: &ClaimedJob, progress: &mut Progress) -> Outcome {
        match self.try_steps(job, progress).await {
            Ok(outcome) => outcome,
            Err(f) => Outcome::Failed(f),
        }
    }

    async fn try_steps(
        &self,
        job: &ClaimedJob,
        progress: &mut Progress,
    ) -> Result<Outcome, Failure> {
        let Some(route) = self.settings.route(&job.route).cloned() else {
            return Err(Failure::permanent(format!(
                "route {:?} is no longer configured",
                job.route
            )));
        };

        // 1. The profile: fetched once, and checkpointed by `finish` if the job runs again.
        let profile: Value = match job
            .profile
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
        {
            Some(p) => p,
            None => {
                progress.step = step::NEW;
                let p = self
                    .hrflow
                    .profile(
                        &job.source_key,
                        &job.profile_key,
                        self.timings.request_timeout,
                    )
                    .await?;
                progress.fetched = Some(p.to_string());
                p
            }
        };
        progress.step = step::FETCHED;

        // 2. The destination's pure step (logics, format, mapping), off the async threads:
        // scripts are CPU work under a time limit.
        let scripts = self.scripts.clone();
        let planned_route = route.clone();
        let plan = tokio::task::spawn_blocking(move || {
            destination::prepare(&planned_route, &scripts, profile)
        })
        .await
        .map_err(|e| Failure::permanent(format!("script task failed: {e}")))??;

        // 3. Its effectful step.
        match plan {
            Plan::Dropped(logic) => Ok(Outcome::Filtered(logic)),
            Plan::Send(prepared) => {
                destination::deliver(&self.senders, job, &route, prepared, &mut progress.step)
                    .await?;
                Ok(Outcome::Delivered)
            }
        }
    }
}

fn step_name(step: &str) -> &'static str {
    match step {
        step::FETCHED => step::FETCHED,
        step::PUSHED => step::PUSHED,
        step::ENRICHED => step::ENRICHED,
        _ => step::NEW,
    }
}
