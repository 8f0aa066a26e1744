//! Flatchr accounts: `[flatchr]` and `[flatchr.accounts.NAME]`, each key of a named account
//! falling back to `[flatchr]`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::secret::Secret;

/// `[flatchr]`'s built-in values.
pub const DEFAULTS: &str = r#"
careers_url = "https://careers.flatchr.io"
api_url = "https://api.flatchr.io"
api_key = ""
company = ""
requests_per_second = 0
"#;

/// `[flatchr]` as written: the default account, and the named ones.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Section {
    /// Where PushProfile goes (Flatchr's careers site).
    pub careers_url: String,
    /// Where EnrichProfile and the applicant search go.
    pub api_url: String,
    /// The company's API key (`Bearer`, unless it carries its own scheme).
    pub api_key: Secret,
    /// The company's id in Flatchr's API paths.
    pub company: String,
    /// For the whole deployment, shared by live replicas; 0: none.
    pub requests_per_second: u32,
    /// More companies, by name: `[flatchr.accounts.NAME]`; each key falls back to the above.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountFile>,
}

/// An account as written: what it does not set (or sets empty) comes from `[flatchr]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountFile {
    /// Unset or empty: `[flatchr]`'s.
    pub careers_url: Option<String>,
    /// Unset or empty: `[flatchr]`'s.
    pub api_url: Option<String>,
    /// Unset or empty: `[flatchr]`'s.
    pub api_key: Option<Secret>,
    /// Unset or empty: `[flatchr]`'s.
    pub company: Option<String>,
    /// Unset: `[flatchr]`'s.
    pub requests_per_second: Option<u32>,
}

/// One Flatchr company, resolved: what its routes' requests use.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Empty for `[flatchr]` itself.
    pub name: String,
    /// Where PushProfile goes.
    pub careers_url: String,
    /// Where EnrichProfile and the applicant search go.
    pub api_url: String,
    /// The company's key.
    pub api_key: Secret,
    /// The company's id in API paths.
    pub company: String,
    /// For the whole deployment; 0: none.
    pub requests_per_second: u32,
}

impl Account {
    /// How logs, metrics, alerts and pages name it.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            "default"
        } else {
            &self.name
        }
    }
}

impl Section {
    /// The account a route names (empty: `[flatchr]`), if it exists.
    pub fn account(&self, name: &str) -> Option<Account> {
        let base = Account {
            name: String::new(),
            careers_url: self.careers_url.clone(),
            api_url: self.api_url.clone(),
            api_key: self.api_key.clone(),
            company: self.company.clone(),
            requests_per_second: self.requests_per_second,
        };
        if name.is_empty() {
            return Some(base);
        }
        let own = self.accounts.get(name)?;
        let text = |v: &Option<String>, fallback: String| {
            v.clone().filter(|v| !v.is_empty()).unwrap_or(fallback)
        };
        Some(Account {
            name: name.to_string(),
            careers_url: text(&own.careers_url, base.careers_url),
            api_url: text(&own.api_url, base.api_url),
            api_key: own
                .api_key
                .clone()
                .filter(|k| !k.is_empty())
                .unwrap_or(base.api_key),
            company: text(&own.company, base.company),
            requests_per_second: own.requests_per_second.unwrap_or(base.requests_per_second),
        })
    }

    /// `[flatchr]` and every named account.
    pub fn all_accounts(&self) -> Vec<Account> {
        std::iter::once("")
            .chain(self.accounts.keys().map(String::as_str))
            .filter_map(|n| self.account(n))
            .collect()
    }
}
