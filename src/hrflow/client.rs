//! Fetches full profiles from HrFlow's API.

use std::time::Duration;

use serde_json::Value;

use crate::job::Failure;
use crate::secret::Secret;

#[derive(Clone)]
pub struct HrflowClient {
    /// The shared client.
    http: reqwest::Client,
    /// Without a trailing slash: paths are appended to it.
    api_url: String,
    /// Sent as `X-API-KEY`.
    api_key: Secret,
    /// Sent as `X-USER-EMAIL`.
    user_email: String,
}

impl HrflowClient {
    pub fn new(http: reqwest::Client, api_url: &str, api_key: Secret, user_email: String) -> Self {
        Self {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            api_key,
            user_email,
        }
    }

    /// `GET /profile/indexing`: the profile in `data`, or a classified failure.
    pub async fn profile(
        &self,
        source_key: &str,
        key: &str,
        timeout: Duration,
    ) -> Result<Value, Failure> {
        let query = [
            ("source_key", source_key.to_string()),
            ("key", key.to_string()),
        ];
        let mut body = self
            .get(
                "/profile/indexing",
                &query,
                "HrFlow profile fetch",
                &format!("profile {key}"),
                timeout,
            )
            .await?;
        match body.get_mut("data").map(Value::take) {
            Some(data @ Value::Object(_)) => Ok(data),
            _ => Err(Failure::permanent(format!(
                "HrFlow returned no profile for {key}"
            ))),
        }
    }

    /// A GET with HrFlow's two headers; the answer's JSON, or a classified failure: HTTP
    /// statuses as everywhere, and HrFlow's own `code` (429 and 5xx transient, other >= 400
    /// permanent). `what` names the request in errors, never the key.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        label: &str,
        what: &str,
        timeout: Duration,
    ) -> Result<Value, Failure> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_url))
            .query(query)
            .header("X-API-KEY", self.api_key.expose())
            .header("X-USER-EMAIL", &self.user_email)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("hrflow", &e))?;
        let status = response.status();
        crate::telemetry::upstream("hrflow", status.as_u16());
        if !status.is_success() {
            return Err(Failure::from_status(label, &response));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| Failure::transient(format!("HrFlow answered an unreadable body: {e}")))?;
        let code = body.get("code").and_then(Value::as_i64).unwrap_or(200);
        if code >= 400 {
            let message = body.get("message").and_then(Value::as_str).unwrap_or("");
            let text = format!("HrFlow answered code {code} for {what}: {message}");
            return Err(if code == 429 || code >= 500 {
                Failure::transient(text)
            } else {
                Failure::permanent(text)
            });
        }
        Ok(body)
    }
}

/// A listing's `created_at` as Unix ms: RFC 3339, or a date and time without a zone (UTC).
fn created_ms(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// How HrFlow answered a request whose outcome is all that matters (`check-config --online`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The HTTP status.
    pub status: u16,
    /// HrFlow's own `code` in the body (it answers some refusals as HTTP 200 with a code).
    pub code: Option<i64>,
    /// HrFlow's `message`, if any.
    pub message: String,
}

impl Answered {
    /// The credentials were refused: HTTP or HrFlow code 401 or 403.
    pub fn refused(&self) -> bool {
        [self.status, self.code.unwrap_or(0).clamp(0, 999) as u16]
            .iter()
            .any(|s| *s == 401 || *s == 403)
    }
}

impl HrflowClient {
    /// Asks for a profile that cannot exist: an answer that is not a refusal proves the key
    /// and the user email are taken.
    pub async fn probe(&self, timeout: Duration) -> Result<Answered, Failure> {
        let nobody = format!("hrflow-relay-check-{}", uuid::Uuid::new_v4().simple());
        let response = self
            .http
            .get(format!("{}/profile/indexing", self.api_url))
            .query(&[("source_key", nobody.as_str()), ("key", nobody.as_str())])
            .header("X-API-KEY", self.api_key.expose())
            .header("X-USER-EMAIL", &self.user_email)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("hrflow", &e))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Ok(Answered {
            status,
            code: body.get("code").and_then(Value::as_i64),
            message: body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
        })
    }
}

/// One page of a source's listing (`GET /storing/profiles`, reference/hrflow.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The profile keys of the page, in the listing's order.
    pub keys: Vec<String>,
    /// When each was created (Unix ms), where HrFlow's date reads as one.
    pub created_at: Vec<Option<i64>>,
    /// The last page, as HrFlow counts now (it grows while profiles arrive).
    pub max_page: u64,
    /// Profiles in the source matching the filters.
    pub total: u64,
}

/// What to list: one source, a page of `limit` profiles, optional creation dates.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    /// The source listed.
    pub source_key: &'a str,
    /// From 1.
    pub page: u64,
    /// Profiles per page.
    pub limit: u32,
    /// `YYYY-MM-DD`, inclusive bounds on `created_at`.
    pub created_after: Option<&'a str>,
    /// Likewise, the last day.
    pub created_before: Option<&'a str>,
}

impl HrflowClient {
    /// Lists one page of a source, oldest first: pages stay stable while new profiles arrive
    /// (they land on the last page). Items carry keys only (`return_profile=false`).
    pub async fn list_profiles(
        &self,
        query: &ListQuery<'_>,
        timeout: Duration,
    ) -> Result<ListPage, Failure> {
        let sources = serde_json::to_string(&[query.source_key]).unwrap_or_default();
        let mut params: Vec<(&str, String)> = vec![
            ("source_keys", sources),
            ("page", query.page.to_string()),
            ("limit", query.limit.to_string()),
            ("order_by", "asc".into()),
            ("sort_by", "created_at".into()),
            ("return_profile", "false".into()),
        ];
        if let Some(d) = query.created_after {
            params.push(("created_at_min", d.into()));
        }
        if let Some(d) = query.created_before {
            params.push(("created_at_max", d.into()));
        }
        let what = format!("listing source {}", query.source_key);
        let body = self
            .get(
                "/storing/profiles",
                &params,
                "HrFlow profile listing",
                &what,
                timeout,
            )
            .await?;
        let Some(items) = body.get("data").and_then(Value::as_array) else {
            return Err(Failure::transient(
                "HrFlow answered a listing without a data array",
            ));
        };
        let (keys, created_at) = items
            .iter()
            .filter_map(|item| {
                let key = item.get("key").and_then(Value::as_str)?;
                let created = item.get("created_at").and_then(Value::as_str);
                Some((key, created.and_then(created_ms)))
            })
            .filter(|(k, _)| !k.trim().is_empty() && k.len() <= 256)
            .map(|(k, c)| (k.to_string(), c))
            .unzip();
        let meta = body.get("meta");
        let number = |name: &str| meta.and_then(|m| m.get(name)).and_then(Value::as_u64);
        Ok(ListPage {
            keys,
            created_at,
            max_page: number("maxPage").unwrap_or(query.page),
            total: number("total").unwrap_or(0),
        })
    }
}
