//! A Flatchr delivery: PushProfile at most once per route and profile (push-once), then
//! EnrichProfile.

use serde_json::Value;

use super::prepare::Bodies;
use super::{ENRICHED, NO_EMAIL, PUSHED};
use crate::flatchr::FlatchrClient;
use crate::job::{Failure, Step};
use crate::store::{ClaimedJob, PushSlot, Store};

/// Pushes unless this route already pushed the profile, then enriches.
pub(super) async fn deliver(
    store: &Store,
    client: &FlatchrClient,
    job: &ClaimedJob,
    bodies: Bodies,
    enriches: bool,
    step: &mut Step,
) -> Result<(), Failure> {
    if bodies.email().is_none() {
        return Err(Failure::permanent(NO_EMAIL));
    }
    push_once(store, client, job, &job.route, bodies.push).await?;
    *step = Step::reached(PUSHED);
    if enriches {
        client.enrich(&bodies.enrich).await?;
        *step = Step::reached(ENRICHED);
    }
    Ok(())
}

/// The push slot (a row under a primary key) makes "at most once" hold across workers and
/// replicas; an earlier push whose outcome is unknown is looked up in Flatchr first.
async fn push_once(
    store: &Store,
    client: &FlatchrClient,
    job: &ClaimedJob,
    route: &str,
    body: Value,
) -> Result<(), Failure> {
    match store.acquire_push(route, &job.profile_key, job.id).await? {
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
            let email = body
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if client.applicant_exists(email).await? {
                tracing::info!("the earlier push had reached Flatchr: not pushing again");
                // Marked pushed with the attempt record (`Store::finish`).
                return Ok(());
            }
        }
        PushSlot::Free => {}
    }
    let ready = match client.prepare_push(body).await {
        Ok(ready) => ready,
        Err(f) => {
            // Nothing was sent: free the slot for whoever comes next.
            store.clear_push(route, &job.profile_key, job.id).await?;
            return Err(f);
        }
    };
    match client.send_push(ready).await {
        // The slot is marked pushed with the attempt record (`Store::finish`): one write less
        // per delivery. A crash before that leaves it "sending", so the next attempt asks
        // Flatchr before pushing, as after any push whose outcome is unknown.
        Ok(_) => Ok(()),
        Err(f) => {
            // A 4xx answer, or a request that never left, certainly created nothing.
            if f.http_status().is_some_and(|s| s < 500) || !f.maybe_applied() {
                store.clear_push(route, &job.profile_key, job.id).await?;
            }
            Err(f)
        }
    }
}

