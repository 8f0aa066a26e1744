//! The Flatchr destination: PushProfile creates the candidate with its resume, at most once per
//! route and profile (push-once), then EnrichProfile attaches the parsed profile. Each route
//! sends to its account's company with its account's key, at its account's pace.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Kept, Plan, Prepared};
use crate::config::Route;
use crate::flatchr::{FlatchrClient, enrich, push};
use crate::job::{Failure, Step};
use crate::logic::Scripts;
use crate::store::{ClaimedJob, PushSlot, Store};

/// Flatchr requires an email to create a candidate.
const NO_EMAIL: &str = "the profile has no email, and Flatchr requires one to create a candidate";

/// The two bodies a Flatchr delivery sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Bodies {
    /// PushProfile, with `resume.url` still to download, and without `token`.
    pub push: Value,
    pub enrich: Value,
}

impl Bodies {
    /// The push's email, when it has one.
    fn email(&self) -> Option<&str> {
        self.push
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
    }
}

/// A client per account: `""` is `[flatchr]` itself.
#[derive(Clone, Default)]
pub struct Accounts(BTreeMap<String, FlatchrClient>);

impl Accounts {
    pub fn new(clients: impl IntoIterator<Item = (String, FlatchrClient)>) -> Self {
        Self(clients.into_iter().collect())
    }
    pub fn get(&self, name: &str) -> Option<&FlatchrClient> {
        self.0.get(name)
    }
    pub fn clients(&self) -> impl Iterator<Item = &FlatchrClient> {
        self.0.values()
    }
}

/// The logics, then the format (or the built-in mapping): the push and enrich bodies.
pub fn prepare(
    route: &Route,
    vacancy: &str,
    scripts: &Scripts,
    profile: Cow<'_, Value>,
) -> Result<Plan, Failure> {
    let permanent = |e: crate::logic::LogicError| Failure::permanent(e.to_string());
    let profile = match super::kept(route, scripts, profile).map_err(permanent)? {
        Kept::DroppedBy(logic) => return Ok(Plan::Dropped(logic)),
        Kept::Profile(p) => p,
    };
    let (push, enrich) = match scripts.format(route, &profile).map_err(permanent)? {
        None => (push::body(&profile), enrich::body(&profile)),
        Some(body) => {
            // `{push: ..., enrich: ...}` sets both bodies; any other map is the push body.
            let split = body.as_object().is_some_and(|m| {
                m.keys().all(|k| k == "push" || k == "enrich")
                    && m.get("push").is_some_and(Value::is_object)
            });
            if split {
                let enrich = body
                    .get("enrich")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| enrich::body(&profile));
                (body["push"].clone(), enrich)
            } else {
                (body, enrich::body(&profile))
            }
        }
    };
    Ok(Plan::Send(Prepared::Flatchr(Bodies {
        push: push::complete(push, vacancy),
        enrich,
    })))
}

/// The push (the key shown as a placeholder), the enrich body when the route enriches, and
/// "dead" with the reason when the profile cannot be pushed.
pub fn preview(route: &Route, b: &Bodies) -> Value {
    let (account, enriches) = match &route.destination {
        crate::config::Destination::Flatchr {
            account, enrich, ..
        } => (account.as_str(), *enrich),
        _ => ("", false),
    };
    let mut push = b.push.clone();
    if let Some(map) = push.as_object_mut() {
        map.insert("token".into(), json!("<flatchr.api_key>"));
    }
    let mut out = json!({
        "outcome": "send",
        "account": if account.is_empty() { "default" } else { account },
        "push": push,
    });
    if enriches {
        out["enrich"] = b.enrich.clone();
    }
    if b.email().is_none() {
        out["outcome"] = json!("dead");
        out["reason"] = json!(NO_EMAIL);
    }
    out
}

/// Pushes unless this route already pushed the profile, then enriches.
pub async fn deliver(
    store: &Store,
    client: &FlatchrClient,
    job: &ClaimedJob,
    route: &str,
    bodies: Bodies,
    enriches: bool,
    step: &mut Step,
) -> Result<(), Failure> {
    if bodies.email().is_none() {
        return Err(Failure::permanent(NO_EMAIL));
    }
    push_once(store, client, job, route, bodies.push).await?;
    *step = Step::Pushed;
    if enriches {
        client.enrich(&bodies.enrich).await?;
        *step = Step::Enriched;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::tests::{profile, route, scripts};

    fn bodies(plan: Plan) -> Bodies {
        match plan {
            Plan::Send(Prepared::Flatchr(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn logics_then_the_built_in_mapping() {
        let s = scripts();
        assert_eq!(
            prepare(
                &route(&["keep", "drop"], ""),
                "vac",
                &s,
                Cow::Owned(profile())
            )
            .unwrap(),
            Plan::Dropped("drop".into())
        );
        let b = bodies(
            prepare(
                &route(&["french", "rename"], ""),
                "vac",
                &s,
                Cow::Owned(profile()),
            )
            .unwrap(),
        );
        assert_eq!(b.push["firstname"], "Grace");
        assert_eq!(b.push["vacancy"], "vac");
    }

    #[test]
    fn format_replaces_the_push_body_or_both() {
        let s = scripts();
        let b = bodies(prepare(&route(&[], "custom"), "vac", &s, Cow::Owned(profile())).unwrap());
        assert_eq!(
            b.push,
            json!({"vacancy": "other", "email": "a@x.org", "extra": 1})
        );
        assert_eq!(b.enrich["app_name"], "HRMatch");
        let b = bodies(prepare(&route(&[], "both"), "vac", &s, Cow::Owned(profile())).unwrap());
        assert_eq!(b.push["firstname"], "Ada");
        assert_eq!(b.enrich, json!({"reference": "r"}));
    }

    #[test]
    fn a_profile_without_email_is_shown_dead() {
        let s = scripts();
        let mut p = profile();
        p["info"]["email"] = Value::Null;
        let shown = preview(
            &route(&[], ""),
            &bodies(prepare(&route(&[], ""), "vac", &s, Cow::Owned(p)).unwrap()),
        );
        assert_eq!(
            (shown["outcome"].as_str(), shown["reason"].as_str()),
            (Some("dead"), Some(NO_EMAIL))
        );
        assert_eq!(shown["push"]["token"], "<flatchr.api_key>");
    }
}
