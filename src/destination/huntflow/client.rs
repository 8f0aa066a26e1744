//! Huntflow's API v2 on the wire: every call waits for its turn under the deployment's rate,
//! carries the newest access token, refreshes it once after a 401 `token_expired`, and turns
//! Huntflow's answers into failures the worker understands (reference/huntflow_api.md).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::settings::Account;
use super::tokens::{Pair, Tokens};
use crate::rate::RateLimiter;
use crate::job::Failure;

/// The longest a job waits for its rate-limit turn while holding a worker.
const MAX_RATE_WAIT: Duration = Duration::from_secs(1);
/// How long a 429 keeps the job aside: no `Retry-After` is documented.
const BACKOFF_429: Duration = Duration::from_secs(2);
/// Huntflow's own cap on an upload.
pub const MAX_UPLOAD_BYTES: u64 = 15 * 1024 * 1024;

/// What a call sends: rebuilt for a second try after a refresh.
pub enum Body<'a> {
    None,
    Json(&'a Value),
    File {
        name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

#[derive(Clone)]
pub struct HuntflowClient {
    /// The shared client (one connection pool).
    http: reqwest::Client,
    /// The API's URL, without a trailing slash.
    base: String,
    /// The organization every path starts with.
    pub account_id: i64,
    /// The applicant source set on each applicant; 0: none.
    pub account_source: i64,
    /// The account's name ("" for `[huntflow]`), for logs and alerts; never its tokens.
    pub account: String,
    /// Sent with every call (Huntflow asks integrations to name themselves).
    user_agent: String,
    /// Each call's limit.
    pub timeout: Duration,
    /// The largest resume uploaded: Huntflow's 15 MB, or `worker.max_resume_bytes` if less.
    pub max_resume_bytes: u64,
    /// The account's token pair, as stored for every replica.
    pub tokens: Tokens,
    /// This replica's share of the deployment's `requests_per_second`.
    rate: Arc<RateLimiter>,
    /// The deployment's `requests_per_second`, shared out by `share_rate`.
    total_rate: f64,
}

impl HuntflowClient {
    pub fn new(
        http: reqwest::Client,
        account: &Account,
        tokens: Tokens,
        public_url: &str,
        timeout: Duration,
    ) -> Self {
        // Never past Huntflow's 10 per second, whatever the file says.
        let total_rate = f64::from(account.requests_per_second.clamp(1, 10));
        let user_agent = if account.user_agent.trim().is_empty() {
            let version = env!("CARGO_PKG_VERSION");
            match public_url.trim() {
                "" => format!("hrflow-relay/{version}"),
                url => format!("hrflow-relay/{version} (+{url})"),
            }
        } else {
            account.user_agent.trim().to_string()
        };
        Self {
            http,
            base: account.api_url.trim_end_matches('/').to_string(),
            account_id: account.account_id,
            account_source: account.account_source,
            account: account.label().to_string(),
            user_agent,
            timeout,
            max_resume_bytes: MAX_UPLOAD_BYTES,
            tokens,
            rate: Arc::new(RateLimiter::new(total_rate)),
            total_rate,
        }
    }

    /// Takes this replica's share of the rate, `live` replicas sharing it.
    pub fn share_rate(&self, live: i64) {
        if self.rate.share(self.total_rate, live) {
            tracing::info!(account = %self.account, replicas = live, requests_per_second = self.rate.rate(), "Huntflow rate share");
        }
    }

    /// The relay's HTTP client (its trust store), for the resume's download.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `/accounts/{account_id}` + `path`.
    pub fn path(&self, path: &str) -> String {
        format!("/accounts/{}{path}", self.account_id)
    }

    /// A call under the rate limit with the newest token; after a 401 `token_expired`, one
    /// refresh (or the newer pair another process stored) and one more try.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<Value, Failure> {
        let pair = self.tokens.current().await?;
        match self.send(&method, path, &body, &pair).await {
            Err(Answer::Expired) => {
                let newer = self.refresh(&pair).await?;
                match self.send(&method, path, &body, &newer).await {
                    Err(Answer::Expired) => Err(Failure::transient(
                        "Huntflow answered token_expired to a token just refreshed",
                    )),
                    other => other.map_err(Answer::into_failure),
                }
            }
            other => other.map_err(Answer::into_failure),
        }
    }

    /// A refresh takes its turn under the rate limit like any call.
    async fn refresh(&self, used: &Pair) -> Result<Pair, Failure> {
        self.turn().await?;
        self.tokens
            .refresh(used, &self.http, &self.base, &self.user_agent, self.timeout)
            .await
    }

    async fn turn(&self) -> Result<(), Failure> {
        self.rate.acquire(MAX_RATE_WAIT).await.map_err(|wait| {
            Failure::busy(format!(
                "Huntflow account {} is at its rate limit",
                self.account
            ))
            .retry_after_at_least(wait)
        })
    }

    /// One call with `pair`'s access token, in this account's turn: the answer's JSON, or
    /// what it means that it was refused.
    async fn send(
        &self,
        method: &reqwest::Method,
        path: &str,
        body: &Body<'_>,
        pair: &Pair,
    ) -> Result<Value, Answer> {
        self.turn().await.map_err(Answer::Failed)?;
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(pair.access.expose())
            .header(reqwest::header::USER_AGENT, &self.user_agent)
            .timeout(self.timeout);
        let response = with_body(request, body)?
            .send()
            .await
            .map_err(|e| Answer::Failed(Failure::from_reqwest(UPSTREAM, &e)))?;
        let status = response.status();
        crate::telemetry::upstream(UPSTREAM, status.as_u16());
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let failure = (!status.is_success()).then(|| Failure::from_status(UPSTREAM, &response));
        let text = response
            .text()
            .await
            .map_err(|e| Answer::Failed(Failure::from_reqwest(UPSTREAM, &e)))?;
        match failure {
            None => Ok(serde_json::from_str(&text).unwrap_or(Value::String(text))),
            Some(failure) => Err(refused(status.as_u16(), failure, &text, &request_id)),
        }
    }

    /// `POST /upload`: the resume's file id.
    pub async fn upload(
        &self,
        name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<i64, Failure> {
        let answer = self
            .call(
                reqwest::Method::POST,
                &self.path("/upload"),
                Body::File {
                    name,
                    content_type,
                    bytes,
                },
            )
            .await?;
        id_of(&answer, "upload")
    }

    /// `POST /applicants`: the new applicant's id, and its `doubles`.
    pub async fn create(&self, applicant: &Value) -> Result<(i64, Vec<i64>), Failure> {
        let answer = self
            .call(
                reqwest::Method::POST,
                &self.path("/applicants"),
                Body::Json(applicant),
            )
            .await?;
        let doubles = answer["doubles"]
            .as_array()
            .map(|d| d.iter().filter_map(|x| x["double"].as_i64()).collect())
            .unwrap_or_default();
        Ok((id_of(&answer, "applicant")?, doubles))
    }

    /// The applicant with this email (compared case-insensitively), if Huntflow finds one.
    pub async fn find(&self, email: &str) -> Result<Option<i64>, Failure> {
        let path = format!(
            "{}?q={}&field=all&count=30",
            self.path("/applicants/search_by_cursor"),
            url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()
        );
        let answer = self.call(reqwest::Method::GET, &path, Body::None).await?;
        let wanted = email.trim().to_lowercase();
        Ok(answer["items"].as_array().and_then(|items| {
            items
                .iter()
                .find(|i| i["email"].as_str().map(|e| e.trim().to_lowercase()) == Some(wanted.clone()))
                .and_then(|i| i["id"].as_i64())
        }))
    }

    /// Whether the applicant is on the vacancy already (its `links`).
    pub async fn on_vacancy(&self, applicant: i64, vacancy: i64) -> Result<bool, Failure> {
        let answer = self
            .call(
                reqwest::Method::GET,
                &self.path(&format!("/applicants/{applicant}")),
                Body::None,
            )
            .await?;
        Ok(answer["links"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["vacancy"].as_i64() == Some(vacancy))))
    }

    /// `POST /applicants/{id}/vacancy`: puts it on the vacancy at the status.
    pub async fn attach(&self, applicant: i64, vacancy: i64, status: i64) -> Result<(), Failure> {
        self.call(
            reqwest::Method::POST,
            &self.path(&format!("/applicants/{applicant}/vacancy")),
            Body::Json(&json!({"vacancy": vacancy, "status": status, "comment": "From HrFlow.ai"})),
        )
        .await
        .map(|_| ())
    }
}

/// A call's answer that is not a success.
enum Answer {
    /// 401 `token_expired`: refresh and try again.
    Expired,
    Failed(Failure),
}

impl Answer {
    fn into_failure(self) -> Failure {
        match self {
            Self::Expired => Failure::transient("Huntflow: token_expired"),
            Self::Failed(f) => f,
        }
    }
}

fn id_of(answer: &Value, what: &str) -> Result<i64, Failure> {
    answer["id"].as_i64().ok_or_else(|| Failure::Transient {
        message: format!("Huntflow's {what} answer has no id"),
        http_status: None,
        retry_after: None,
        // It answered 2xx, so the effect may be there: a retry looks before acting again.
        maybe_applied: true,
    })
}

/// How metrics and failures name Huntflow.
const UPSTREAM: &str = "huntflow";

/// The request with its body: none, JSON, or the resume as the multipart part `file`.
fn with_body(
    request: reqwest::RequestBuilder,
    body: &Body<'_>,
) -> Result<reqwest::RequestBuilder, Answer> {
    Ok(match body {
        Body::None => request,
        Body::Json(v) => request.json(v),
        Body::File {
            name,
            content_type,
            bytes,
        } => {
            let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str(content_type)
                .map_err(|e| Answer::Failed(Failure::permanent(format!("resume type: {e}"))))?;
            request.multipart(reqwest::multipart::Form::new().part("file", part))
        }
    })
}

/// A refusal in Huntflow's words (its first error's title and detail, and the request's id),
/// logged: an expired token, a rate-limit turn, or a failure.
fn refused(status: u16, failure: Failure, text: &str, request_id: &str) -> Answer {
    let answer: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let first = &answer["errors"][0];
    let detail = first["detail"].as_str().unwrap_or_default();
    let title = first["title"].as_str().unwrap_or_default();
    tracing::warn!(status, x_request_id = %request_id, error_type = first["type"].as_str().unwrap_or_default(), "Huntflow refused a call");
    match status {
        401 if detail == "token_expired" => Answer::Expired,
        429 => Answer::Failed(
            Failure::busy("Huntflow's rate limit (429)").retry_after_at_least(BACKOFF_429),
        ),
        // A 5xx body may be a whole HTML page: its title, or nothing.
        _ => {
            let said = [title, detail]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(": ");
            let mut failure = failure.with_body(&said);
            if !request_id.is_empty() {
                failure = failure.with_body(&format!("(x-request-id {request_id})"));
            }
            Answer::Failed(failure)
        }
    }
}
