//! What `check-config --online` asks Huntflow: each account a route uses sees its
//! organization with its configured token, and each route's vacancy and status exist. Reads
//! only: nothing is created.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::Huntflow;
use super::settings::{Account, Section};
use crate::job::Failure;
use crate::online::check::{Check, within};

/// The vacancies looked through for a route's own, at 100 a page.
const MAX_VACANCY_PAGES: i64 = 20;

/// The checks of every account the routes use, each followed by its routes' vacancies when
/// the account answers.
pub(super) async fn checks(
    routes: Vec<&Huntflow>,
    section: &Section,
    http: &reqwest::Client,
    timeout: Duration,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let used: BTreeSet<&str> = routes.iter().map(|r| r.account.as_str()).collect();
    for name in used {
        let Some(account) = section.account(name) else {
            continue;
        };
        let api = Api {
            http,
            account: &account,
            timeout,
        };
        let outcome = within(timeout, api.sees_its_organization()).await;
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
            let outcome = within(timeout, api.vacancy_and_status(vacancy, route.status)).await;
            checks.push(Check::new(
                format!("huntflow vacancy {vacancy} (account {:?})", account.label()),
                outcome,
            ));
        }
    }
    checks
}

/// One account's API, asked with its configured token.
struct Api<'a> {
    /// The shared client.
    http: &'a reqwest::Client,
    /// The account asked, with its configured token.
    account: &'a Account,
    /// Each request's limit.
    timeout: Duration,
}

impl Api<'_> {
    /// `GET /accounts` lists the organization the route's `account_id` names.
    async fn sees_its_organization(&self) -> Result<String, String> {
        let answer = self.get("/accounts").await.map_err(|e| {
            if e.contains("token_expired") {
                format!("{e}: the configured access token has expired; `serve` refreshes it (or uses the newer pair it stored)")
            } else {
                e
            }
        })?;
        let id = self.account.account_id;
        let seen = answer["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|a| a["id"].as_i64() == Some(id)));
        if seen {
            Ok(format!("the token sees account_id {id}"))
        } else {
            Err(format!(
                "the token works but does not see account_id {id} (GET /accounts lists the ids it sees)"
            ))
        }
    }

    /// The status is one of the account's (not removed), and the vacancy among its first
    /// `MAX_VACANCY_PAGES` pages.
    async fn vacancy_and_status(&self, vacancy: i64, status: i64) -> Result<String, String> {
        let base = format!("/accounts/{}", self.account.account_id);
        let statuses = self.get(&format!("{base}/vacancies/statuses")).await?;
        let usable = statuses["items"].as_array().is_some_and(|i| {
            i.iter()
                .any(|s| s["id"].as_i64() == Some(status) && s["removed"].is_null())
        });
        if !usable {
            return Err(format!("status {status} is not a usable vacancy status"));
        }
        for page in 1..=MAX_VACANCY_PAGES {
            let list = self
                .get(&format!("{base}/vacancies?page={page}&count=100"))
                .await?;
            let items = list["items"].as_array();
            if items.is_some_and(|i| i.iter().any(|v| v["id"].as_i64() == Some(vacancy))) {
                return Ok(format!("vacancy {vacancy} and status {status} exist"));
            }
            if list["total_pages"].as_i64().unwrap_or(1) <= page {
                break;
            }
        }
        Err(format!("vacancy {vacancy} is not among the account's vacancies"))
    }

    /// The answer to a GET, or Huntflow's error title and detail in words.
    async fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.account.api_url.trim_end_matches('/'));
        let response = self
            .http
            .get(url)
            .bearer_auth(self.account.access_token.expose())
            .header(reqwest::header::USER_AGENT, "hrflow-relay check-config")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("huntflow", &e).message().to_string())?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            return Ok(answer);
        }
        let e = &answer["errors"][0];
        let said = format!(
            "HTTP {status}: {} {}",
            e["title"].as_str().unwrap_or_default(),
            e["detail"].as_str().unwrap_or_default()
        );
        Err(said.trim().to_string())
    }
}
