//! HTTP calls to Flatchr and to the file host holding resumes.

use std::time::Duration;

use actix_web::web::Bytes;
use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::resume::{Streamed, download_failure, resume_stream, too_large};
use crate::job::Failure;
use crate::secret::Secret;

/// The longest a job waits for its rate-limit turn while holding a worker.
const MAX_RATE_WAIT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct FlatchrClient {
    /// The shared client (one connection pool).
    http: reqwest::Client,
    /// Where PushProfile goes, without a trailing slash.
    careers_url: String,
    /// Where EnrichProfile and the search go, without a trailing slash.
    api_url: String,
    /// The `Authorization` header the API calls send.
    authorization: Secret,
    /// Sent as PushProfile's `token`.
    api_key: Secret,
    /// The company's id in API paths.
    company: String,
    /// The account's name ("" for `[flatchr]`), for logs and metrics; never its key.
    account: String,
    /// Each call's limit, the resume download included.
    pub timeout: Duration,
    /// The largest resume downloaded.
    pub max_resume_bytes: u64,
    /// This replica's share of the account's `requests_per_second`.
    pub rate: std::sync::Arc<crate::rate::RateLimiter>,
    /// The account's `requests_per_second` for the whole deployment; 0: none.
    total_rate: f64,
}

impl FlatchrClient {
    pub fn new(
        http: reqwest::Client,
        account: &super::Account,
        timeout: Duration,
        max_resume_bytes: u64,
    ) -> Self {
        let total_rate = f64::from(account.requests_per_second);
        Self {
            http,
            careers_url: account.careers_url.trim_end_matches('/').to_string(),
            api_url: account.api_url.trim_end_matches('/').to_string(),
            authorization: Secret::new(authorization(account.api_key.expose())),
            api_key: account.api_key.clone(),
            company: account.company.clone(),
            account: account.label().to_string(),
            timeout,
            max_resume_bytes,
            rate: std::sync::Arc::new(crate::rate::RateLimiter::new(total_rate)),
            total_rate,
        }
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Takes this replica's share of the account's rate, `live` replicas sharing it.
    pub fn share_rate(&self, live: i64) {
        if self.rate.share(self.total_rate, live) {
            tracing::info!(
                account = %self.account,
                replicas = live,
                requests_per_second = self.rate.rate(),
                "Flatchr rate share"
            );
        }
    }

    /// A Flatchr call: waits for its turn under the rate limit, then sends.
    async fn post(&self, upstream: &str, url: &str, body: &Value) -> Result<Value, Failure> {
        self.turn().await?;
        self.send(upstream, self.http.post(url).json(body)).await
    }

    /// This call's turn under the account's rate limit. A turn further away than
    /// `MAX_RATE_WAIT` is not waited for: the job steps aside until then (uncounted), so a
    /// throttled account never holds the workers other accounts' jobs need.
    async fn turn(&self) -> Result<(), Failure> {
        self.rate.acquire(MAX_RATE_WAIT).await.map_err(|wait| {
            Failure::busy(format!(
                "Flatchr account {} is at its rate limit",
                self.account
            ))
            .retry_after_at_least(wait)
        })
    }

    /// Sends a Flatchr call whose turn under the rate limit was already taken.
    async fn send(
        &self,
        upstream: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, Failure> {
        let response = request
            .header("Authorization", self.authorization.expose())
            .header("Accept", "*/*")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(upstream, &e))?;
        let status = response.status();
        crate::telemetry::upstream(upstream, status.as_u16());
        metrics::counter!("relay_flatchr_requests_total", "account" => self.account.clone(), "status" => status.as_u16().to_string())
            .increment(1);
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

    /// Readies a push: waits for its turn under the rate limit, opens the download of the
    /// resume named by `resume.url` (its status and announced size are checked before anything
    /// is sent to Flatchr), and adds `token`. The turn comes first: a download opened and then
    /// left waiting for a slot would time out, and a limit must never make a candidate fail.
    pub async fn prepare_push(&self, mut body: Value) -> Result<ReadyPush, Failure> {
        self.turn().await?;
        let mut resume = None;
        if let Some(url) = super::push::resume_url(&body).map(str::to_string) {
            let download = self.open_download(&url).await?;
            let data = match download.content_length() {
                // Its size is known: it is streamed into the push as it arrives.
                Some(_) => {
                    resume = Some(download);
                    None
                }
                None => Some(self.read_whole(download).await?),
            };
            if let Some(r) = body.get_mut("resume").and_then(Value::as_object_mut) {
                r.remove("url");
                if let Some(data) = data {
                    r.insert("data".into(), Value::String(data));
                }
            }
        }
        if let Some(map) = body.as_object_mut() {
            map.insert("token".into(), json!(self.api_key.expose()));
        }
        Ok(ReadyPush { body, resume })
    }

    /// PushProfile: creates the candidate, at once (`prepare_push` took its turn). A resume of known size goes from the file host to
    /// Flatchr in base64 chunks, so it is never held whole, raw or encoded; the request says
    /// its exact length, as a buffered one would.
    pub async fn send_push(&self, ready: ReadyPush) -> Result<Value, Failure> {
        const UPSTREAM: &str = "flatchr push";
        let url = format!("{}/vacancy/candidate/json", self.careers_url);
        let Some(download) = ready.resume else {
            return self
                .send(UPSTREAM, self.http.post(&url).json(&ready.body))
                .await;
        };
        let announced = download.content_length().unwrap_or(0);
        let marker = format!("relay-resume-{}", uuid::Uuid::new_v4().simple());
        let mut body = ready.body;
        if let Some(r) = body.get_mut("resume").and_then(Value::as_object_mut) {
            r.insert("data".into(), Value::String(marker.clone()));
        }
        let text = body.to_string();
        let Some(at) = text.find(&marker) else {
            return Err(Failure::permanent(
                "the push body has no place for the resume",
            ));
        };
        let prefix = Bytes::copy_from_slice(&text.as_bytes()[..at]);
        let suffix = Bytes::copy_from_slice(&text.as_bytes()[at + marker.len()..]);
        let length = prefix.len() as u64 + announced.div_ceil(3) * 4 + suffix.len() as u64;
        let state = std::sync::Arc::new(std::sync::Mutex::new(Streamed::default()));
        let stream = resume_stream(prefix, download, suffix, announced, state.clone());
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(stream));
        self.send(UPSTREAM, request).await.map_err(|f| {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(download_failure) = state.failure.take() {
                return download_failure;
            }
            // Flatchr never got the whole body: it cannot have created anything.
            if state.complete { f } else { f.not_applied() }
        })
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

    /// Starts a resume download, checking its status and announced size.
    async fn open_download(&self, url: &str) -> Result<reqwest::Response, Failure> {
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
            .map_err(download_failure)?;
        let status = response.status();
        crate::telemetry::upstream("file host", status.as_u16());
        if !status.is_success() {
            return Err(Failure::from_status(&what, &response));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_resume_bytes)
        {
            return Err(too_large(self.max_resume_bytes));
        }
        Ok(response)
    }

    /// A resume of unknown size, read whole within the cap; answers its base64.
    async fn read_whole(&self, response: reqwest::Response) -> Result<String, Failure> {
        let cap = self.max_resume_bytes;
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(download_failure)?;
            if bytes.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_large(cap));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// A push ready to send: its JSON, and the resume download to stream into it, if any.
pub struct ReadyPush {
    /// PushProfile's JSON, with a marker where the resume goes.
    body: Value,
    /// The download streamed into the marker, if the profile has a resume.
    resume: Option<reqwest::Response>,
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
