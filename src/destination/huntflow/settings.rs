//! `[huntflow]` and `[huntflow.accounts.NAME]`: Huntflow's API v2, each key of a named account
//! falling back to `[huntflow]`, as Flatchr's accounts do.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::secret::Secret;

/// `[huntflow]`'s built-in values.
pub const DEFAULTS: &str = r#"
api_url = "https://api.huntflow.ai/v2"
account_id = 0
access_token = ""
refresh_token = ""
account_source = 0
requests_per_second = 8
user_agent = ""
"#;

/// `[huntflow]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Section {
    /// Huntflow's API v2.
    pub api_url: String,
    /// The organization every path starts with (`GET /accounts`).
    pub account_id: i64,
    /// The pair issued in Huntflow; after the first refresh the database holds the newest.
    pub access_token: Secret,
    /// Single use: the database keeps the newest pair after a refresh.
    pub refresh_token: Secret,
    /// The applicant source shown on each applicant; 0: none.
    pub account_source: i64,
    /// For the whole deployment, shared by live replicas (Huntflow allows 10 per token).
    pub requests_per_second: u32,
    /// Empty: `hrflow-relay/<version>`, with `server.public_url` when set.
    pub user_agent: String,
    /// More organizations, by name: `[huntflow.accounts.NAME]`.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountFile>,
}

/// A named account as written: what it leaves out comes from `[huntflow]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountFile {
    /// Unset: `[huntflow]`'s.
    pub api_url: Option<String>,
    /// Unset: `[huntflow]`'s.
    pub account_id: Option<i64>,
    /// Unset or empty: `[huntflow]`'s.
    pub access_token: Option<Secret>,
    /// Unset or empty: `[huntflow]`'s.
    pub refresh_token: Option<Secret>,
    /// Unset: `[huntflow]`'s.
    pub account_source: Option<i64>,
    /// Unset: `[huntflow]`'s.
    pub requests_per_second: Option<u32>,
    /// Unset or empty: `[huntflow]`'s.
    pub user_agent: Option<String>,
}

/// One Huntflow organization and token pair, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Empty for `[huntflow]` itself.
    pub name: String,
    /// Huntflow's API v2.
    pub api_url: String,
    /// The organization every path starts with.
    pub account_id: i64,
    /// As configured; the stored pair wins once it descends from it.
    pub access_token: Secret,
    /// As configured, single use.
    pub refresh_token: Secret,
    /// The applicant source set on each applicant; 0: none.
    pub account_source: i64,
    /// For the whole deployment, shared by live replicas.
    pub requests_per_second: u32,
    /// Empty: `hrflow-relay/<version>`.
    pub user_agent: String,
}

impl Account {
    /// How logs, alerts and pages name it.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            "default"
        } else {
            &self.name
        }
    }
    /// Its section, as `check-config` names keys.
    pub fn section(&self) -> String {
        if self.name.is_empty() {
            "huntflow".into()
        } else {
            format!("huntflow.accounts.{}", self.name)
        }
    }
}

impl Section {
    /// The account a route names (empty: `[huntflow]`), if it exists.
    pub fn account(&self, name: &str) -> Option<Account> {
        let base = Account {
            name: String::new(),
            api_url: self.api_url.clone(),
            account_id: self.account_id,
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            account_source: self.account_source,
            requests_per_second: self.requests_per_second,
            user_agent: self.user_agent.clone(),
        };
        if name.is_empty() {
            return Some(base);
        }
        let own = self.accounts.get(name)?;
        let text = |v: &Option<String>, fallback: String| {
            v.clone().filter(|v| !v.is_empty()).unwrap_or(fallback)
        };
        let secret = |v: &Option<Secret>, fallback: Secret| {
            v.clone().filter(|k| !k.is_empty()).unwrap_or(fallback)
        };
        Some(Account {
            name: name.to_string(),
            api_url: text(&own.api_url, base.api_url),
            account_id: own.account_id.unwrap_or(base.account_id),
            access_token: secret(&own.access_token, base.access_token),
            refresh_token: secret(&own.refresh_token, base.refresh_token),
            account_source: own.account_source.unwrap_or(base.account_source),
            requests_per_second: own.requests_per_second.unwrap_or(base.requests_per_second),
            user_agent: text(&own.user_agent, base.user_agent),
        })
    }

    /// `[huntflow]` and every named account.
    pub fn all_accounts(&self) -> Vec<Account> {
        std::iter::once("")
            .chain(self.accounts.keys().map(String::as_str))
            .filter_map(|n| self.account(n))
            .collect()
    }
}
