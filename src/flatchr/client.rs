//! HTTP calls to Flatchr and to the file host holding resumes.

use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::config::Secret;
use crate::job::Failure;

#[derive(Clone)]
pub struct FlatchrClient {
    http: reqwest::Client,
    careers_url: String,
    api_url: String,
    authorization: Secret,
    api_key: Secret,
    company: String,
    pub timeout: Duration,
    pub max_resume_bytes: u64,
    /// This replica's share of `[flatchr].requests_per_second`.
    pub rate: std::sync::Arc<super::rate::RateLimiter>,
}

impl FlatchrClient {
    pub fn new(
        http: reqwest::Client,
        settings: &crate::config::Flatchr,
        timeout: Duration,
        max_resume_bytes: u64,
    ) -> Self {
        Self {
            http,
            careers_url: settings.careers_url.trim_end_matches('/').to_string(),
            api_url: settings.api_url.trim_end_matches('/').to_string(),
            authorization: Secret::new(authorization(settings.api_key.expose())),
            api_key: settings.api_key.clone(),
            company: settings.company.clone(),
            timeout,
            max_resume_bytes,
            rate: std::sync::Arc::new(super::rate::RateLimiter::new(f64::from(
                settings.requests_per_second,
            ))),
        }
    }

    async fn post(&self, upstream: &str, url: &str, body: &Value) -> Result<Value, Failure> {
        self.rate.wait().await;
        let response = self
            .http
            .post(url)
            .header("Authorization", self.authorization.expose())
            .header("Accept", "*/*")
            .json(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(upstream, &e))?;
        let status = response.status();
        crate::telemetry::upstream(upstream, status.as_u16());
        if !status.is_success() {
            let failure = Failure::from_status(upstream, &response);
            let text = response.text().await.unwrap_or_default();
            // An error body may echo the request, token included: never keep the key.
            let key = self.api_key.expose();
            let text = if key.is_empty() {
                text
            } else {
                text.replace(key, "***")
            };
            return Err(failure.with_body(&text));
        }
        let text = response
            .text()
            .await
            .map_err(|e| Failure::from_reqwest(upstream, &e))?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Readies a push body: refuses one without an email (Flatchr requires it), downloads the
    /// resume named by `resume.url` into `resume.data`, and adds `token`.
    pub async fn prepare_push(&self, mut body: Value) -> Result<Value, Failure> {
        if body
            .get("email")
            .and_then(Value::as_str)
            .is_none_or(|e| e.trim().is_empty())
        {
            return Err(Failure::permanent(
                "the profile has no email, and Flatchr requires one to create a candidate",
            ));
        }
        if let Some(url) = super::push::resume_url(&body).map(str::to_string) {
            let data = self.download(&url).await?;
            if let Some(resume) = body.get_mut("resume").and_then(Value::as_object_mut) {
                resume.remove("url");
                resume.insert("data".into(), json!(data));
            }
        }
        if let Some(map) = body.as_object_mut() {
            map.insert("token".into(), json!(self.api_key.expose()));
        }
        Ok(body)
    }

    /// PushProfile: creates the candidate.
    pub async fn send_push(&self, body: &Value) -> Result<Value, Failure> {
        self.post(
            "flatchr push",
            &format!("{}/vacancy/candidate/json", self.careers_url),
            body,
        )
        .await
    }

    pub async fn enrich(&self, body: &Value) -> Result<Value, Failure> {
        let url = format!("{}/company/{}/search/candidate", self.api_url, self.company);
        self.post("flatchr enrich", &url, body).await
    }

    /// Whether Flatchr already holds a candidate with this email: used when an earlier push's
    /// outcome is unknown, so that it is never pushed twice.
    pub async fn applicant_exists(&self, email: &str) -> Result<bool, Failure> {
        let url = format!(
            "{}/company/{}/search/applicants",
            self.api_url, self.company
        );
        let found = self
            .post("flatchr search", &url, &json!({"email": email}))
            .await?;
        let items = match &found {
            Value::Array(items) => items.as_slice(),
            Value::Object(o) => o
                .get("items")
                .or_else(|| o.get("data"))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            _ => &[],
        };
        Ok(items.iter().any(|a| {
            a.get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        }))
    }

    /// Downloads a resume, checking status, time and size; answers its base64.
    async fn download(&self, url: &str) -> Result<String, Failure> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let what = format!("resume download from {host}");
        let response = self
            .http
            .get(url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                let mut f = Failure::from_reqwest("file host", &e);
                f.maybe_applied = false;
                f
            })?;
        let status = response.status();
        crate::telemetry::upstream("file host", status.as_u16());
        if !status.is_success() {
            return Err(Failure::from_status(&what, &response));
        }
        let cap = self.max_resume_bytes;
        let too_large =
            || Failure::permanent(format!("the resume is larger than {} MB", cap / 1_000_000));
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                let mut f = Failure::from_reqwest("file host", &e);
                f.maybe_applied = false;
                f
            })?;
            if bytes.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// `Bearer <key>`, unless the key already carries a scheme (`Bearer x`, `Token x`).
pub fn authorization(key: &str) -> String {
    let key = key.trim();
    if key.contains(' ') {
        key.to_string()
    } else {
        format!("Bearer {key}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bearer_unless_a_scheme_is_given() {
        assert_eq!(super::authorization("abc"), "Bearer abc");
        assert_eq!(super::authorization("Bearer abc"), "Bearer abc");
        assert_eq!(super::authorization("Token abc"), "Token abc");
    }
}
