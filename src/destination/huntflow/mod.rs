//! The Huntflow destination: each candidate pushed into Huntflow through its API v2, for teams
//! without a response-platform integration. Three calls: upload the resume, create the
//! applicant (once: the created-once record holds its id, and an unknown outcome is looked up
//! by email before creating again), put it on the route's vacancy at the route's status (after
//! reading its `links`, so never twice). The route's `format` may return the applicant body.

pub mod client;
mod deliver;
pub mod mapping;
mod online;
pub mod settings;
pub mod tokens;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Build, Delivery, Kept, Kind, Plan, permanent};
use crate::job::Failure;
use crate::logic::{Scripts, Transform};
use crate::online::check::Check;
use client::HuntflowClient;
use mapping::Applicant;
use settings::Section;

const CREATED: &str = "created";
const ATTACHED: &str = "attached";
/// How long after an unknown create a search that finds nothing is not trusted (Huntflow's
/// index may lag; the references give no figure, so a minute, to be safe).
const SEARCHABLE_AFTER_MS: i64 = 60_000;
const NO_EMAIL: &str = "the profile has no email, which the relay needs to find the applicant again in Huntflow (exactly once)";

/// A Huntflow route's keys as written.
#[derive(Deserialize)]
pub struct Keys {
    /// A name under `[huntflow.accounts]`; empty: `[huntflow]` itself.
    #[serde(default)]
    account: String,
    /// An integer, written as a number or as text; empty: the base only.
    #[serde(default)]
    vacancy: String,
    /// The vacancy status id the applicant is put at; 0: none.
    #[serde(default)]
    status: i64,
}

/// A Huntflow route's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Huntflow {
    /// `[huntflow.accounts.NAME]`; empty: `[huntflow]` itself.
    pub account: String,
    /// The vacancy the applicant is put on; `None`: it stays in the base.
    pub vacancy: Option<i64>,
    /// The status on that vacancy.
    pub status: i64,
}

/// A client per account with a token: `""` is `[huntflow]` itself.
#[derive(Clone, Default)]
pub struct Accounts(BTreeMap<String, HuntflowClient>);

impl Kind for Huntflow {
    const NAME: &'static str = "huntflow";
    const TITLE: &'static str = "Huntflow";
    const DEFAULTS: &'static str = settings::DEFAULTS;
    const STEPS: &'static [&'static str] = &[CREATED, ATTACHED];
    type Section = Section;
    type Keys = Keys;
    type Prepared = Applicant;
    type Sender = Accounts;

    fn from_keys(keys: Keys, problems: &mut Vec<String>) -> Self {
        let written = keys.vacancy.trim();
        let vacancy = match written {
            "" => None,
            v => match v.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    problems.push(format!(
                        "sends to huntflow but its vacancy {v:?} is not a vacancy id (an integer)"
                    ));
                    None
                }
            },
        };
        if vacancy.is_some() && keys.status <= 0 {
            problems.push(
                "sends to huntflow with a vacancy but no status (the vacancy status id the applicant is put at)"
                    .into(),
            );
        }
        if vacancy.is_none() && written.is_empty() && keys.status > 0 {
            problems.push("sends to huntflow with a status but no vacancy".into());
        }
        Self {
            account: keys.account,
            vacancy,
            status: keys.status,
        }
    }

    fn problems(&self, section: &Section) -> Vec<String> {
        let name = &self.account;
        let Some(a) = section.account(name) else {
            return vec![format!(
                "names the Huntflow account {name:?}, which is not configured (add [huntflow.accounts.{name}])"
            )];
        };
        let key = a.section();
        let mut problems = Vec::new();
        if a.access_token.is_empty() || a.refresh_token.is_empty() {
            problems.push(format!(
                "sends to huntflow but {key}.access_token or {key}.refresh_token is empty (the pair issued in Huntflow, Settings -> API)"
            ));
        }
        if a.account_id <= 0 {
            problems.push(format!(
                "sends to huntflow but {key}.account_id is not set (GET /accounts names it)"
            ));
        }
        if let Err(e) = crate::http::parse_http_url(&a.api_url) {
            problems.push(format!("sends to huntflow but {key}.api_url is not an http(s) URL: {e}"));
        }
        problems
    }

    fn secrets(section: &Section) -> Vec<String> {
        let pairs = section.all_accounts().into_iter();
        pairs
            .flat_map(|a| [a.access_token, a.refresh_token])
            .map(|s| s.expose().to_string())
            .collect()
    }

    fn describe(&self) -> String {
        let base = match self.account.as_str() {
            "" => "Huntflow API".to_string(),
            a => format!("Huntflow API, account {a}"),
        };
        match self.vacancy {
            Some(v) => format!("{base}, vacancy {v}"),
            None => base,
        }
    }

    fn summary(&self) -> String {
        match self.vacancy {
            Some(v) => format!(
                "account {} vacancy {v} status {}",
                self.account().unwrap_or_default(),
                self.status
            ),
            None => format!(
                "account {} (no vacancy: the base only)",
                self.account().unwrap_or_default()
            ),
        }
    }

    fn account(&self) -> Option<String> {
        Some(super::account_label(&self.account))
    }

    fn step_words(&self, step: &str, delivered: bool) -> String {
        match (step, delivered, self.vacancy) {
            (CREATED, true, _) => "delivered: applicant created in Huntflow (in the base)".into(),
            (CREATED, false, _) => "applicant created in Huntflow; not on the vacancy yet".into(),
            (ATTACHED, _, Some(v)) => {
                format!("delivered: applicant created in Huntflow and put on vacancy {v}")
            }
            (other, _, _) => other.into(),
        }
    }

    fn prepare(
        &self,
        route: Transform<'_>,
        scripts: &Scripts,
        profile: Cow<'_, Value>,
    ) -> Result<Plan<Applicant>, Failure> {
        let profile = match super::kept(route, scripts, profile).map_err(permanent)? {
            Kept::DroppedBy(logic) => return Ok(Plan::Dropped(logic)),
            Kept::Profile(p) => p,
        };
        let body = match scripts.format(route, &profile).map_err(permanent)? {
            Some(body) if body.is_object() => body,
            Some(_) => {
                return Err(Failure::permanent(format!(
                    "format function {:?} must return a map (the applicant body)",
                    route.format
                )));
            }
            None => mapping::body(&profile),
        };
        Ok(Plan::Send(Applicant {
            body,
            resume: mapping::resume(&profile),
        }))
    }

    fn preview(&self, a: &Applicant) -> Value {
        let mut out = json!({
            "outcome": "send",
            "account": self.account(),
            "applicant": a.complete(0, &[]),
            "resume": a.resume.as_ref().map(|r| json!({"name": r.name, "content_type": r.content_type})),
            "vacancy": self.vacancy.map(|v| json!({"vacancy": v, "status": self.status})),
        });
        if a.email().is_none() {
            out["outcome"] = json!("dead");
            out["reason"] = json!(NO_EMAIL);
        }
        out
    }

    fn sender(build: &Build<'_, Section>) -> Accounts {
        // The refresh lock's holder: this process.
        let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Accounts(
            build
                .section
                .all_accounts()
                .into_iter()
                .filter(|a| !a.access_token.is_empty())
                .map(|account| {
                    let pair = tokens::Pair {
                        access: account.access_token.clone(),
                        refresh: account.refresh_token.clone(),
                    };
                    let tokens = tokens::Tokens::new(
                        build.store.clone(),
                        account.label(),
                        pair,
                        holder.clone(),
                    );
                    let mut client = HuntflowClient::new(
                        build.http.clone(),
                        &account,
                        tokens,
                        &build.common.public_url,
                        build.common.request_timeout,
                    );
                    client.max_resume_bytes =
                        client.max_resume_bytes.min(build.common.max_resume_bytes);
                    (account.name, client)
                })
                .collect(),
        )
    }

    async fn deliver(
        &self,
        accounts: &Accounts,
        delivery: Delivery<'_>,
        applicant: Applicant,
    ) -> Result<(), Failure> {
        let name = &self.account;
        let client = accounts.0.get(name).ok_or_else(|| {
            Failure::permanent(format!(
                "Huntflow account {name:?} is not configured or has no token"
            ))
        })?;
        let store = delivery.store;
        let route = delivery.job.route.clone();
        let outcome = self.steps(client, delivery, applicant).await;
        if let Err(f) = &outcome
            && f.message().starts_with(tokens::REFUSED_REFRESH)
        {
            // Only a person can issue a new pair: the route waits, as an operator would pause
            // it, instead of its jobs dying one by one.
            match store.pause_route(&route).await {
                Ok(_) => tracing::warn!(%route, "route paused: Huntflow refused the refresh token"),
                Err(e) => tracing::error!(error = %e, "could not pause the route"),
            }
        }
        outcome
    }

    fn share_rate(accounts: &Accounts, live: i64) {
        for client in accounts.0.values() {
            client.share_rate(live);
        }
    }

    fn register(engine: &mut rhai::Engine) {
        engine.register_fn(
            "default_applicant",
            |p: rhai::Dynamic| -> Result<rhai::Dynamic, Box<rhai::EvalAltResult>> {
                let profile: Value = rhai::serde::from_dynamic(&p)?;
                rhai::serde::to_dynamic(mapping::body(&profile))
            },
        );
    }

    /// Each account a route uses: `GET /accounts` with its configured token (it must see the
    /// organization), then each route's vacancy and status.
    async fn online(
        routes: Vec<&Self>,
        section: &Section,
        http: &reqwest::Client,
        timeout: std::time::Duration,
    ) -> Vec<Check> {
        online::checks(routes, section, http, timeout).await
    }
}

