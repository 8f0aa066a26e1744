//! The Huntflow destination: each candidate pushed into Huntflow through its API v2, for teams
//! without a response-platform integration. Three calls: upload the resume, create the
//! applicant (once: the created-once record holds its id, and an unknown outcome is looked up
//! by email before creating again), put it on the route's vacancy at the route's status (after
//! reading its `links`, so never twice). The route's `format` may return the applicant body.

pub mod client;
pub mod mapping;
pub mod settings;
pub mod tokens;

use std::borrow::Cow;
use std::collections::BTreeMap;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Build, Delivery, Kept, Kind, Plan, permanent};
use crate::job::{Failure, Step};
use crate::logic::{Scripts, Transform};
use crate::online::check::{Check, within};
use crate::store::PushSlot;
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
        let mut checks = Vec::new();
        let used: std::collections::BTreeSet<&str> =
            routes.iter().map(|r| r.account.as_str()).collect();
        for name in used {
            let Some(account) = section.account(name) else {
                continue;
            };
            let ask = |path: String| {
                let request = http
                    .get(format!("{}{path}", account.api_url.trim_end_matches('/')))
                    .bearer_auth(account.access_token.expose())
                    .header(reqwest::header::USER_AGENT, "hrflow-relay check-config")
                    .timeout(timeout);
                async move {
                    let response = request.send().await.map_err(|e| {
                        Failure::from_reqwest("huntflow", &e).message().to_string()
                    })?;
                    let status = response.status().as_u16();
                    let answer: Value = response.json().await.unwrap_or(Value::Null);
                    match status {
                        200 => Ok(answer),
                        _ => Err((status, answer)).map_err(|(s, a)| {
                            let e = &a["errors"][0];
                            format!(
                                "HTTP {s}: {} {}",
                                e["title"].as_str().unwrap_or_default(),
                                e["detail"].as_str().unwrap_or_default()
                            )
                            .trim()
                            .to_string()
                        }),
                    }
                }
            };
            let outcome = within(timeout, async {
                let answer = ask("/accounts".into()).await.map_err(|e| {
                    if e.contains("token_expired") {
                        format!("{e}: the configured access token has expired; `serve` refreshes it (or uses the newer pair it stored)")
                    } else {
                        e
                    }
                })?;
                let seen = answer["items"]
                    .as_array()
                    .is_some_and(|i| i.iter().any(|a| a["id"].as_i64() == Some(account.account_id)));
                if seen {
                    Ok(format!("the token sees account_id {}", account.account_id))
                } else {
                    Err(format!(
                        "the token works but does not see account_id {} (GET /accounts lists the ids it sees)",
                        account.account_id
                    ))
                }
            })
            .await;
            let works = outcome.is_ok();
            checks.push(Check::new(
                format!("huntflow account {:?}", account.label()),
                outcome,
            ));
            if !works {
                continue;
            }
            for route in routes.iter().filter(|r| r.account == name) {
                let Some(vacancy) = route.vacancy else {
                    continue;
                };
                let base = format!("/accounts/{}", account.account_id);
                let outcome = within(timeout, async {
                    let statuses = ask(format!("{base}/vacancies/statuses")).await?;
                    let usable = statuses["items"].as_array().is_some_and(|i| {
                        i.iter().any(|s| {
                            s["id"].as_i64() == Some(route.status) && s["removed"].is_null()
                        })
                    });
                    if !usable {
                        return Err(format!("status {} is not a usable vacancy status", route.status));
                    }
                    for page in 1..=20 {
                        let list = ask(format!("{base}/vacancies?page={page}&count=100")).await?;
                        if list["items"].as_array().is_some_and(|i| i.iter().any(|v| v["id"].as_i64() == Some(vacancy))) {
                            return Ok(format!("vacancy {vacancy} and status {} exist", route.status));
                        }
                        if list["total_pages"].as_i64().unwrap_or(1) <= page {
                            break;
                        }
                    }
                    Err(format!("vacancy {vacancy} is not among the account's vacancies"))
                })
                .await;
                checks.push(Check::new(
                    format!("huntflow vacancy {vacancy} (account {:?})", account.label()),
                    outcome,
                ));
            }
        }
        checks
    }
}

impl Huntflow {
    /// The applicant (created once), then the vacancy; each step recorded before the next.
    async fn steps(
        &self,
        client: &HuntflowClient,
        mut d: Delivery<'_>,
        applicant: Applicant,
    ) -> Result<(), Failure> {
        let Some(email) = applicant.email().map(str::to_string) else {
            return Err(Failure::permanent(NO_EMAIL));
        };
        let (store, job) = (d.store, d.job);
        let id = match store.acquire_push(&job.route, &job.profile_key, job.id).await? {
            PushSlot::Busy => {
                return Err(Failure::busy(
                    "another job is creating this applicant for this route",
                ));
            }
            PushSlot::Pushed => match store.created_id(&job.route, &job.profile_key).await? {
                Some(id) => id.parse::<i64>().map_err(|_| {
                    Failure::permanent(format!("the recorded applicant id {id:?} is not a number"))
                })?,
                // Created by an older path without its id: Huntflow knows it by email.
                None => client.find(&email).await?.ok_or_else(|| {
                    Failure::transient("the applicant was created but Huntflow does not find it yet")
                })?,
            },
            PushSlot::Unknown => match client.find(&email).await? {
                Some(id) => {
                    tracing::info!("the earlier create had reached Huntflow: not creating again");
                    store
                        .record_created(&job.route, &job.profile_key, job.id, &id.to_string())
                        .await?;
                    id
                }
                None => {
                    // A new applicant may take a moment to become searchable: an earlier
                    // create this recent is looked for again later, not repeated.
                    let taken = store.push_taken_at(&job.route, &job.profile_key).await?;
                    if taken.is_some_and(|t| crate::store::now_ms() - t < SEARCHABLE_AFTER_MS) {
                        return Err(Failure::transient(
                            "an earlier create's outcome is unknown and Huntflow does not find the applicant yet: looking again later",
                        ));
                    }
                    self.create(client, &mut d, &applicant).await?
                }
            },
            PushSlot::Free => self.create(client, &mut d, &applicant).await?,
        };
        *d.step = Step::reached(CREATED);
        if let Some(vacancy) = self.vacancy {
            if client.on_vacancy(id, vacancy).await? {
                tracing::info!("the applicant is on the vacancy already");
            } else {
                client.attach(id, vacancy, self.status).await?;
            }
            *d.step = Step::reached(ATTACHED);
        }
        Ok(())
    }

    /// Uploads the resume and creates the applicant, holding the created-once slot: freed when
    /// nothing can have been created, kept (outcome unknown) otherwise.
    async fn create(
        &self,
        client: &HuntflowClient,
        d: &mut Delivery<'_>,
        applicant: &Applicant,
    ) -> Result<i64, Failure> {
        let (store, job) = (d.store, d.job);
        let free = || store.clear_push(&job.route, &job.profile_key, job.id);
        let files = match &applicant.resume {
            None => Vec::new(),
            Some(r) => match self.upload(client, r).await {
                Ok(id) => vec![id],
                Err(f) => {
                    free().await?;
                    return Err(f);
                }
            },
        };
        let body = applicant.complete(client.account_source, &files);
        match client.create(&body).await {
            Ok((id, doubles)) => {
                store
                    .record_created(&job.route, &job.profile_key, job.id, &id.to_string())
                    .await?;
                if doubles.is_empty() {
                    tracing::info!(applicant_id = id, "applicant created");
                } else {
                    tracing::warn!(applicant_id = id, doubles = ?doubles, "applicant created; Huntflow lists possible duplicates (a person merges them in Huntflow)");
                    *d.note = Some(format!(
                        "applicant {id} created; Huntflow lists possible duplicates: {} (merging them is a person's decision in Huntflow)",
                        doubles
                            .iter()
                            .map(|x| format!("applicant {x}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Ok(id)
            }
            Err(f) => {
                // A 4xx, a rate-limit turn or a request that never left created nothing.
                let nothing = f.http_status().is_some_and(|s| s < 500) || !f.maybe_applied();
                if nothing {
                    free().await?;
                }
                Err(f)
            }
        }
    }

    async fn upload(&self, client: &HuntflowClient, r: &mapping::Resume) -> Result<i64, Failure> {
        let bytes = download(client, &r.url).await?;
        client.upload(&r.name, r.content_type, &bytes).await
    }
}

/// The resume, read whole within Huntflow's 15 MB.
async fn download(client: &HuntflowClient, url: &str) -> Result<Vec<u8>, Failure> {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let what = format!("resume download from {host}");
    let response = client
        .http()
        .get(url)
        .timeout(client.timeout)
        .send()
        .await
        .map_err(|e| Failure::from_reqwest(&what, &e).not_applied())?;
    if !response.status().is_success() {
        return Err(Failure::from_status(&what, &response));
    }
    let cap = client.max_resume_bytes;
    let too_large = || Failure::permanent(format!("the resume is larger than {cap} bytes"));
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure::from_reqwest(&what, &e).not_applied())?;
        if bytes.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
