//! Where a candidate goes. Each destination is one file with two steps:
//! - `prepare`: pure. The route's logics and format, then the destination's own mapping, turn
//!   a profile into what would be sent (or the logic that dropped it). The worker and
//!   `preview` both call it, so what `preview` shows is what a delivery sends.
//! - `deliver`: effectful. Sends what `prepare` made, with the destination's own guarantees
//!   (push-once lives with Flatchr).
//!
//! A new destination (another ATS) is one new file here, one `Destination` variant in the
//! configuration, and one arm in each `match` below.

use std::borrow::Cow;

pub mod careers;
pub mod flatchr;
pub mod webhook;

use serde_json::{Value, json};

use crate::config::{Destination, Route};
use crate::job::Failure;
use crate::logic::Scripts;
use crate::store::{ClaimedJob, Store};

/// What `prepare` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The logic named dropped the profile.
    Dropped(String),
    Send(Prepared),
}

/// What a destination will send.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    Flatchr(flatchr::Bodies),
    Careers(careers::Response),
    Webhook(webhook::Body),
}

/// What deliveries use: the store, and a client per destination.
pub struct Senders {
    pub store: Store,
    pub flatchr: flatchr::Accounts,
    pub webhook: webhook::Sender,
}

/// The route's logics and format, then the destination's mapping. Script errors and profiles
/// a destination cannot take are permanent failures. The profile may be borrowed: a route
/// without logics reads it where it is, and the caller keeps it (to checkpoint it if the job
/// must run again) without a copy.
pub fn prepare(route: &Route, scripts: &Scripts, profile: Cow<'_, Value>) -> Result<Plan, Failure> {
    match &route.destination {
        Destination::Flatchr { vacancy, .. } => flatchr::prepare(route, vacancy, scripts, profile),
        Destination::Careers {
            vacancy,
            vacancy_tag,
        } => careers::prepare(route, *vacancy, vacancy_tag, scripts, profile),
        Destination::Webhook(_) => webhook::prepare(route, scripts, profile),
        Destination::Unknown => Err(Failure::permanent(format!(
            "route {:?} has no valid destination: {}",
            route.name,
            route.problems.join("; ")
        ))),
    }
}

/// Delivers what `prepare` made; `step` is set to the furthest step reached.
pub async fn deliver(
    senders: &Senders,
    job: &ClaimedJob,
    route: &Route,
    prepared: Prepared,
    step: &mut crate::job::Step,
) -> Result<(), Failure> {
    match (&route.destination, prepared) {
        (
            Destination::Flatchr {
                account, enrich, ..
            },
            Prepared::Flatchr(bodies),
        ) => {
            let client = senders.flatchr.get(account).ok_or_else(|| {
                Failure::permanent(format!("Flatchr account {account:?} is not configured"))
            })?;
            flatchr::deliver(
                &senders.store,
                client,
                job,
                &route.name,
                bodies,
                *enrich,
                step,
            )
            .await
        }
        (Destination::Careers { .. }, Prepared::Careers(response)) => {
            careers::deliver(&senders.store, job, response).await
        }
        (Destination::Webhook(target), Prepared::Webhook(body)) => {
            senders.webhook.deliver(target, job, body).await
        }
        _ => Err(Failure::permanent(format!(
            "route {:?} changed destination while its job ran",
            route.name
        ))),
    }
}

/// What the route's logics leave of a profile.
pub(crate) enum Kept<'a> {
    Profile(Cow<'a, Value>),
    DroppedBy(String),
}

/// Runs the route's logics, if it has any (they may rewrite the profile, so they get a copy).
pub(crate) fn kept<'a>(
    route: &Route,
    scripts: &Scripts,
    profile: Cow<'a, Value>,
) -> Result<Kept<'a>, crate::logic::LogicError> {
    if route.logics.is_empty() {
        return Ok(Kept::Profile(profile));
    }
    Ok(match scripts.filter(route, profile.into_owned())? {
        crate::logic::Filtered::Dropped(logic) => Kept::DroppedBy(logic),
        crate::logic::Filtered::Kept(p) => Kept::Profile(Cow::Owned(p)),
    })
}

/// What `hrflow-relay preview` prints for one route: `{"route", "outcome": "send" | "filtered"
/// | "dead", ...}`, with what would be sent.
pub fn preview(route: &Route, scripts: &Scripts, profile: Value) -> Value {
    let mut out = match prepare(route, scripts, Cow::Owned(profile)) {
        Ok(Plan::Dropped(logic)) => json!({"outcome": "filtered", "logic": logic}),
        Ok(Plan::Send(Prepared::Flatchr(b))) => flatchr::preview(route, &b),
        Ok(Plan::Send(Prepared::Careers(r))) => careers::preview(&r),
        Ok(Plan::Send(Prepared::Webhook(b))) => webhook::preview(route, &b),
        Err(f) => json!({"outcome": "dead", "reason": f.message()}),
    };
    out["route"] = json!(route.name);
    out["destination"] = json!(route.destination.kind());
    out
}
