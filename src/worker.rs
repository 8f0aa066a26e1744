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

use crate::careers::mapping;
use crate::config::{Settings, Timings};
use crate::flatchr::FlatchrClient;
use crate::hrflow::client::HrflowClient;
use crate::job::{self, Failure, Outcome, step};
use crate::logic::{Applied, Filtered, Scripts};
use crate::store::{AttemptRecord, ClaimedJob, Finish, PushSlot, Store, now_ms};

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
    pub flatchr: FlatchrClient,
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
        let total = f64::from(self.settings.flatchr.requests_per_second);
        loop {
            match self
                .store
                .heartbeat_replica(&self.owner, Duration::from_secs(10))
                .await
            {
                Ok(live) if total > 0.0 => {
                    let share = total / live.max(1) as f64;
                    if (share - self.flatchr.rate.rate()).abs() > f64::EPSILON {
                        tracing::info!(
                            replicas = live,
                            requests_per_second = share,
                            "Flatchr rate share"
                        );
                        self.flatchr.rate.set_rate(share);
                    }
                }
                Ok(_) => {}
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
        let span = tracing::info_span!("job", job_id = job.id, route = %job.route, profile_key = %job.profile_key, attempt = job.attempts);
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
        if let Some(f) = failure
            && let Some(status @ (401 | 403)) = f.http_status
        {
            self.alerts.report(Incident::Refused {
                route: job.route.clone(),
                status,
                reason: f.message.clone(),
            });
        }
        if let Finish::Dead(reason) = finish {
            self.alerts.report(Incident::Dead {
                route: job.route.clone(),
                reason: reason.clone(),
            });
        }
    }

    fn decide(&self, job: &ClaimedJob, outcome: Outcome) -> (Finish, Option<Failure>) {
        match outcome {
            Outcome::Delivered => (Finish::Delivered, None),
            Outcome::Filtered(logic) => {
                (Finish::Filtered(format!("dropped by logic {logic}")), None)
            }
            Outcome::Failed(f) if f.busy => (
                Finish::Defer {
                    at: now_ms()
                        + self
                            .timings
                            .poll_interval
                            .max(Duration::from_millis(500))
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
        if route.destination == "careers" {
            return self.deliver_response(job, &route, profile).await;
        }

        // 2. Logics and format, off the async threads: scripts are CPU work under a time limit.
        let scripts = self.scripts.clone();
        let script_route = route.clone();
        let applied = tokio::task::spawn_blocking(move || scripts.apply(&script_route, profile))
            .await
            .map_err(|e| Failure::permanent(format!("script task failed: {e}")))?
            .map_err(|e| Failure::permanent(e.to_string()))?;
        let (push, enrich) = match applied {
            Applied::Dropped(logic) => return Ok(Outcome::Filtered(logic)),
            Applied::Bodies { push, enrich, .. } => (push, enrich),
        };

        // 3. PushProfile, at most once per route and profile.
        // The push slot records the push durably; the job's step is written when it finishes.
        self.push(job, &route.name, push).await?;
        progress.step = step::PUSHED;

        // 4. EnrichProfile.
        if route.enrich {
            self.flatchr.enrich(&enrich).await?;
            progress.step = step::ENRICHED;
        }
        Ok(Outcome::Delivered)
    }

    /// A careers route: the profile becomes (or updates) a response on its vacancy.
    async fn deliver_response(
        &self,
        job: &ClaimedJob,
        route: &crate::config::Route,
        profile: Value,
    ) -> Result<Outcome, Failure> {
        let scripts = self.scripts.clone();
        let script_route = route.clone();
        let scripted =
            tokio::task::spawn_blocking(move || -> Result<_, crate::logic::LogicError> {
                match scripts.filter(&script_route, profile)? {
                    Filtered::Dropped(logic) => Ok(Err(logic)),
                    Filtered::Kept(p) => {
                        let formatted = scripts.format(&script_route, &p)?;
                        Ok(Ok((p, formatted)))
                    }
                }
            })
            .await
            .map_err(|e| Failure::permanent(format!("script task failed: {e}")))?
            .map_err(|e| Failure::permanent(e.to_string()))?;
        let (profile, formatted) = match scripted {
            Err(logic) => return Ok(Outcome::Filtered(logic)),
            Ok(kept) => kept,
        };
        let mapped = match formatted {
            Some(v) => mapping::from_format(&route.format, v),
            None => mapping::from_profile(&profile),
        }
        .map_err(Failure::permanent)?;
        let vacancy_id = mapping::vacancy_id(route, &profile).map_err(Failure::permanent)?;
        let db = |e: crate::store::StoreError| Failure::transient(format!("store: {e}"));
        match self.store.vacancy(vacancy_id).await.map_err(db)? {
            None => {
                return Err(Failure::permanent(format!(
                    "vacancy {vacancy_id} is unknown: Huntflow has not published it here"
                )));
            }
            Some(v) if !v.published => {
                return Err(Failure::permanent(format!(
                    "vacancy {vacancy_id} is unpublished"
                )));
            }
            Some(_) => {}
        }
        let response_id = self
            .store
            .upsert_response(
                vacancy_id,
                &job.profile_key,
                &mapped.item,
                &mapped.letters,
                job.created_at,
            )
            .await
            .map_err(db)?;
        tracing::info!(
            vacancy_id,
            response_id,
            letters = mapped.letters.len(),
            "response stored"
        );
        Ok(Outcome::Delivered)
    }

    /// Pushes unless this route already pushed the profile. The push slot (a row under a
    /// primary key) makes this hold across workers and replicas.
    async fn push(&self, job: &ClaimedJob, route: &str, body: Value) -> Result<(), Failure> {
        let db = |e: crate::store::StoreError| Failure::transient(format!("store: {e}"));
        match self
            .store
            .acquire_push(route, &job.profile_key, job.id)
            .await
            .map_err(db)?
        {
            PushSlot::Pushed => {
                tracing::info!("already pushed for this route: enriching only");
                return Ok(());
            }
            PushSlot::Busy => {
                return Err(Failure::busy(
                    "another job is pushing this profile for this route",
                ));
            }
            PushSlot::Unknown => {
                // An earlier push went out and its outcome is unknown: ask Flatchr first.
                let email = body
                    .get("email")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !email.is_empty() && self.flatchr.applicant_exists(&email).await? {
                    tracing::info!("the earlier push had reached Flatchr: not pushing again");
                    return self
                        .store
                        .mark_pushed(route, &job.profile_key, job.id)
                        .await
                        .map_err(db);
                }
            }
            PushSlot::Free => {}
        }
        let ready = match self.flatchr.prepare_push(body).await {
            Ok(ready) => ready,
            Err(f) => {
                // Nothing was sent: free the slot for whoever comes next.
                self.store
                    .clear_push(route, &job.profile_key, job.id)
                    .await
                    .map_err(db)?;
                return Err(f);
            }
        };
        match self.flatchr.send_push(ready).await {
            Ok(_) => self
                .store
                .mark_pushed(route, &job.profile_key, job.id)
                .await
                .map_err(db),
            Err(f) => {
                // A 4xx answer, or a request that never left, certainly created nothing.
                if f.http_status.is_some_and(|s| s < 500) || !f.maybe_applied {
                    self.store
                        .clear_push(route, &job.profile_key, job.id)
                        .await
                        .map_err(db)?;
                }
                Err(f)
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
