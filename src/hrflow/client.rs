//! Fetches full profiles from HrFlow's API.

use std::time::Duration;

use serde_json::Value;

use crate::config::Secret;
use crate::job::Failure;

#[derive(Clone)]
pub struct HrflowClient {
    http: reqwest::Client,
    api_url: String,
    api_key: Secret,
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
        let url = format!("{}/profile/indexing", self.api_url);
        let response = self
            .http
            .get(&url)
            .query(&[("source_key", source_key), ("key", key)])
            .header("X-API-KEY", self.api_key.expose())
            .header("X-USER-EMAIL", &self.user_email)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("hrflow", &e))?;
        let status = response.status();
        crate::telemetry::upstream("hrflow", status.as_u16());
        if !status.is_success() {
            return Err(Failure::from_status("HrFlow profile fetch", &response));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| Failure::transient(format!("HrFlow answered an unreadable body: {e}")))?;
        let code = body.get("code").and_then(Value::as_i64).unwrap_or(200);
        if code >= 400 {
            let message = body.get("message").and_then(Value::as_str).unwrap_or("");
            let text = format!("HrFlow answered code {code} for profile {key}: {message}");
            return Err(if code == 429 || code >= 500 {
                Failure::transient(text)
            } else {
                Failure::permanent(text)
            });
        }
        match body.get("data") {
            Some(data @ Value::Object(_)) => Ok(data.clone()),
            _ => Err(Failure::permanent(format!(
                "HrFlow returned no profile for {key}"
            ))),
        }
    }
}
