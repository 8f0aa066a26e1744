//! The Flatchr destination: PushProfile creates the candidate with its resume, at most once per
//! route and profile (push-once), then EnrichProfile attaches the parsed profile. Each route
//! sends to its account's company with its account's key, at its account's pace.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Build, Delivery, Kept, Kind, Plan, permanent};
use crate::flatchr::{FlatchrClient, Section, enrich, push};
use crate::http::{parse_http_url, shown_url};
use crate::job::{Failure, Step};
use crate::logic::{Scripts, Transform};
use crate::online::check::{Check, failed, within};
use crate::store::{ClaimedJob, PushSlot, Store};

/// Flatchr requires an email to create a candidate.
const NO_EMAIL: &str = "the profile has no email, and Flatchr requires one to create a candidate";

const PUSHED: &str = "pushed";
const ENRICHED: &str = "enriched";

/// A Flatchr route's keys as written.
#[derive(Deserialize)]
pub struct Keys {
    #[serde(default)]
    account: String,
    #[serde(default)]
    vacancy: String,
    #[serde(default = "yes")]
    enrich: bool,
}

fn yes() -> bool {
    true
}

/// A Flatchr route's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Flatchr {
    /// `[flatchr.accounts.NAME]`; empty: `[flatchr]` itself.
    pub account: String,
    /// The vacancy's slug, sent as PushProfile's `vacancy`.
    pub vacancy: String,
    /// Whether EnrichProfile follows PushProfile.
    pub enrich: bool,
}

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
}

impl Kind for Flatchr {
    const NAME: &'static str = "flatchr";
    const TITLE: &'static str = "Flatchr";
    const DEFAULTS: &'static str = crate::flatchr::account::DEFAULTS;
    const STEPS: &'static [&'static str] = &[PUSHED, ENRICHED];
    // Marked by the attempt's own write: one write less per delivery (`push_once`).
    const CREATED_AT: &'static [&'static str] = &[PUSHED, ENRICHED];
    type Section = Section;
    type Keys = Keys;
    type Prepared = Bodies;
    type Sender = Accounts;

    fn from_keys(keys: Keys, problems: &mut Vec<String>) -> Self {
        if keys.vacancy.is_empty() {
            problems.push("sends to flatchr but has no vacancy".to_string());
        } else if let Some(problem) = vacancy_slug_problem(&keys.vacancy) {
            problems.push(problem);
        } else if keys.vacancy.trim() != keys.vacancy {
            problems.push(format!(
                "has spaces around its vacancy {:?}: write vacancy = {:?}",
                keys.vacancy,
                keys.vacancy.trim()
            ));
        }
        Self {
            account: keys.account,
            vacancy: keys.vacancy,
            enrich: keys.enrich,
        }
    }

    fn problems(&self, section: &Section) -> Vec<String> {
        let account = &self.account;
        let Some(a) = section.account(account) else {
            return vec![format!(
                "names the Flatchr account {account:?}, which is not configured (add [flatchr.accounts.{account}])"
            )];
        };
        let key = if a.name.is_empty() {
            "flatchr".to_string()
        } else {
            format!("flatchr.accounts.{}", a.name)
        };
        let mut problems = Vec::new();
        if a.api_key.is_empty() {
            problems.push(format!("sends to flatchr but {key}.api_key is empty"));
        }
        if a.company.is_empty() {
            problems.push(format!(
                "sends to flatchr but {key}.company is empty (EnrichProfile and the duplicate check need it)"
            ));
        }
        problems
    }

    fn section_problems(section: &Section) -> Vec<String> {
        let mut problems = Vec::new();
        for account in section.all_accounts() {
            let key = if account.name.is_empty() {
                "flatchr".to_string()
            } else {
                format!("flatchr.accounts.{}", account.name)
            };
            for (name, value) in [
                ("careers_url", &account.careers_url),
                ("api_url", &account.api_url),
            ] {
                if let Err(e) = parse_http_url(value) {
                    problems.push(format!(
                        "{key}.{name} = {:?} is not an http(s) URL: {e}",
                        shown_url(value)
                    ));
                }
            }
        }
        problems
    }

    fn section_summary(section: &Section) -> Vec<String> {
        section
            .all_accounts()
            .iter()
            .map(|a| {
                format!(
                    "flatchr account {}: push {} / api {} (api key {}, company {:?}, {})",
                    a.label(),
                    shown_url(&a.careers_url),
                    shown_url(&a.api_url),
                    if a.api_key.is_empty() { "not set" } else { "set" },
                    a.company,
                    match a.requests_per_second {
                        0 => "no rate limit".to_string(),
                        n => format!("{n} requests/s"),
                    }
                )
            })
            .collect()
    }

    fn secrets(section: &Section) -> Vec<String> {
        section
            .all_accounts()
            .into_iter()
            .map(|a| a.api_key.expose().to_string())
            .collect()
    }

    fn describe(&self) -> String {
        match self.account.as_str() {
            "" => "Flatchr".into(),
            account => format!("Flatchr, account {account}"),
        }
    }

    fn summary(&self) -> String {
        format!(
            "account {} vacancy {:?} enrich {}",
            self.account().unwrap_or_default(),
            self.vacancy,
            self.enrich
        )
    }

    fn account(&self) -> Option<String> {
        Some(super::account_label(&self.account))
    }

    fn step_words(&self, step: &str, delivered: bool) -> String {
        match (step, delivered) {
            (ENRICHED, true) => "delivered: created in Flatchr, then enriched".into(),
            (PUSHED, true) => "delivered: created in Flatchr".into(),
            (PUSHED, false) => "created in Flatchr; not enriched yet".into(),
            (ENRICHED, false) => "created and enriched in Flatchr".into(),
            (other, _) => other.into(),
        }
    }

    fn prepare(
        &self,
        route: Transform<'_>,
        scripts: &Scripts,
        profile: Cow<'_, Value>,
    ) -> Result<Plan<Bodies>, Failure> {
        prepare(route, &self.vacancy, scripts, profile)
    }

    fn preview(&self, prepared: &Bodies) -> Value {
        preview(self, prepared)
    }

    fn sender(build: &Build<'_, Section>) -> Accounts {
        Accounts::new(build.section.all_accounts().into_iter().map(|account| {
            let client = FlatchrClient::new(
                build.http.clone(),
                &account,
                build.common.request_timeout,
                build.common.max_resume_bytes,
            );
            (account.name, client)
        }))
    }

    async fn deliver(
        &self,
        accounts: &Accounts,
        delivery: Delivery<'_>,
        bodies: Bodies,
    ) -> Result<(), Failure> {
        let account = &self.account;
        let client = accounts.get(account).ok_or_else(|| {
            Failure::permanent(format!("Flatchr account {account:?} is not configured"))
        })?;
        deliver(
            delivery.store,
            client,
            delivery.job,
            bodies,
            self.enrich,
            delivery.step,
        )
        .await
    }

    fn share_rate(accounts: &Accounts, live: i64) {
        for client in accounts.0.values() {
            client.share_rate(live);
        }
    }

    /// Each account a route uses: a duplicate search for an address no one has.
    async fn online(
        routes: Vec<&Self>,
        section: &Section,
        http: &reqwest::Client,
        timeout: std::time::Duration,
    ) -> Vec<Check> {
        let used: std::collections::BTreeSet<&str> =
            routes.iter().map(|r| r.account.as_str()).collect();
        let mut checks = Vec::new();
        for name in used {
            let Some(account) = section.account(name) else {
                continue;
            };
            // A search downloads no resume.
            let client = FlatchrClient::new(http.clone(), &account, timeout, 0);
            let nobody = format!(
                "hrflow-relay-check-{}@invalid.example",
                uuid::Uuid::new_v4().simple()
            );
            let outcome = within(timeout, async {
                client
                    .applicant_exists(&nobody)
                    .await
                    .map(|_| format!("the key and company {:?} are taken", account.company))
                    .map_err(|f| failed(&f))
            })
            .await;
            checks.push(Check::new(
                format!("flatchr account {:?}", account.label()),
                outcome,
            ));
        }
        checks
    }

    fn register(engine: &mut rhai::Engine) {
        engine.register_fn(
            "default_push",
            |p: rhai::Dynamic| -> Result<rhai::Dynamic, Box<rhai::EvalAltResult>> {
                let profile: Value = rhai::serde::from_dynamic(&p)?;
                rhai::serde::to_dynamic(push::body(&profile))
            },
        );
        engine.register_fn(
            "default_enrich",
            |p: rhai::Dynamic| -> Result<rhai::Dynamic, Box<rhai::EvalAltResult>> {
                let profile: Value = rhai::serde::from_dynamic(&p)?;
                rhai::serde::to_dynamic(enrich::body(&profile))
            },
        );
    }
}

/// A Flatchr vacancy is its slug (`k0M5O9ylKZnxbQBy`); a whole URL, or anything with a path's
/// characters, would be sent as is and refused by Flatchr. The problem names the slug to use.
fn vacancy_slug_problem(vacancy: &str) -> Option<String> {
    let written = vacancy.trim();
    if !written.contains(['/', '?', '#', ':', ' ']) {
        return None;
    }
    let path = url::Url::parse(written)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| written.split(['?', '#']).next().unwrap_or("").to_string());
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let slug = parts
        .iter()
        .position(|p| *p == "vacancy")
        .and_then(|i| parts.get(i + 1))
        .or(parts.last())
        .copied()
        .filter(|s| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    Some(match slug {
        Some(slug) => format!(
            "has vacancy {written:?}, which is a URL, not a vacancy slug: write vacancy = {slug:?}"
        ),
        None => format!(
            "has vacancy {written:?}, which is not a vacancy slug (the last part of the vacancy's Flatchr URL, e.g. \"k0M5O9ylKZnxbQBy\")"
        ),
    })
}

/// The logics, then the format (or the built-in mapping): the push and enrich bodies.
pub fn prepare(
    route: Transform<'_>,
    vacancy: &str,
    scripts: &Scripts,
    profile: Cow<'_, Value>,
) -> Result<Plan<Bodies>, Failure> {
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
    Ok(Plan::Send(Bodies {
        push: push::complete(push, vacancy),
        enrich,
    }))
}

/// The push (the key shown as a placeholder), the enrich body when the route enriches, and
/// "dead" with the reason when the profile cannot be pushed.
fn preview(route: &Flatchr, b: &Bodies) -> Value {
    let mut push = b.push.clone();
    if let Some(map) = push.as_object_mut() {
        map.insert("token".into(), json!("<flatchr.api_key>"));
    }
    let mut out = json!({
        "outcome": "send",
        "account": route.account(),
        "push": push,
    });
    if route.enrich {
        out["enrich"] = b.enrich.clone();
    }
    if b.email().is_none() {
        out["outcome"] = json!("dead");
        out["reason"] = json!(NO_EMAIL);
    }
    out
}

/// Pushes unless this route already pushed the profile, then enriches.
async fn deliver(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::tests::{profile, route, scripts};

    fn bodies(plan: Plan<Bodies>) -> Bodies {
        match plan {
            Plan::Send(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn logics_then_the_built_in_mapping() {
        let s = scripts();
        assert_eq!(
            prepare(
                route(&["keep", "drop"], ""),
                "vac",
                &s,
                Cow::Owned(profile())
            )
            .unwrap(),
            Plan::Dropped("drop".into())
        );
        let b = bodies(
            prepare(
                route(&["french", "rename"], ""),
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
        let b = bodies(prepare(route(&[], "custom"), "vac", &s, Cow::Owned(profile())).unwrap());
        assert_eq!(
            b.push,
            json!({"vacancy": "other", "email": "a@x.org", "extra": 1})
        );
        assert_eq!(b.enrich["app_name"], "HRMatch");
        let b = bodies(prepare(route(&[], "both"), "vac", &s, Cow::Owned(profile())).unwrap());
        assert_eq!(b.push["firstname"], "Ada");
        assert_eq!(b.enrich, json!({"reference": "r"}));
    }

    #[test]
    fn a_profile_without_email_is_shown_dead() {
        let s = scripts();
        let mut p = profile();
        p["info"]["email"] = Value::Null;
        let flatchr = Flatchr {
            account: String::new(),
            vacancy: "vac".into(),
            enrich: true,
        };
        let shown = preview(
            &flatchr,
            &bodies(prepare(route(&[], ""), "vac", &s, Cow::Owned(p)).unwrap()),
        );
        assert_eq!(
            (shown["outcome"].as_str(), shown["reason"].as_str()),
            (Some("dead"), Some(NO_EMAIL))
        );
        assert_eq!(shown["push"]["token"], "<flatchr.api_key>");
    }
}
