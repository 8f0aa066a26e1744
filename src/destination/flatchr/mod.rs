//! The Flatchr destination: PushProfile creates the candidate with its resume, at most once per
//! route and profile (push-once), then EnrichProfile attaches the parsed profile. Each route
//! sends to its account's company with its account's key, at its account's pace.
//! `prepare.rs` makes the bodies, `deliver.rs` sends them, `checks.rs` is what `check-config`
//! says; the wire format and client are `crate::flatchr`'s.

mod checks;
mod deliver;
mod prepare;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{Build, Delivery, Kind, Plan};
use crate::flatchr::{FlatchrClient, Section, enrich, push};
use crate::job::Failure;
use crate::logic::{Scripts, Transform};
use crate::online::check::Check;
pub use prepare::Bodies;

/// Flatchr requires an email to create a candidate.
const NO_EMAIL: &str = "the profile has no email, and Flatchr requires one to create a candidate";

const PUSHED: &str = "pushed";
const ENRICHED: &str = "enriched";

/// A Flatchr route's keys as written.
#[derive(Deserialize)]
pub struct Keys {
    /// A name under `[flatchr.accounts]`; empty: `[flatchr]` itself.
    #[serde(default)]
    account: String,
    /// The vacancy's slug (the last part of its Flatchr URL).
    #[serde(default)]
    vacancy: String,
    /// EnrichProfile after PushProfile.
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
        } else if let Some(problem) = checks::vacancy_slug_problem(&keys.vacancy) {
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
        checks::route(self, section)
    }

    fn section_problems(section: &Section) -> Vec<String> {
        checks::section(section)
    }

    fn section_summary(section: &Section) -> Vec<String> {
        checks::summary(section)
    }

    fn secrets(section: &Section) -> Vec<String> {
        let accounts = section.all_accounts().into_iter();
        accounts.map(|a| a.api_key.expose().to_string()).collect()
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
        prepare::prepare(route, &self.vacancy, scripts, profile)
    }

    fn preview(&self, prepared: &Bodies) -> Value {
        prepare::preview(self, prepared)
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
        deliver::deliver(
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
        timeout: Duration,
    ) -> Vec<Check> {
        checks::online(routes, section, http, timeout).await
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

