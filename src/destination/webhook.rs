//! The webhook destination: the route's formatted body (or `{"type", "profile"}`) POSTed as
//! JSON to the user's URL, signed the Standard Webhooks way (standardwebhooks.com):
//! `webhook-id` (`msg_`, the event's UUID and the route: the same on every retry, so a receiver
//! can dedupe, and never the same from two databases),
//! `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "<id>.<timestamp>.<body>">`. 2xx delivers; 408, 429 and 5xx are retried (`Retry-After`
//! honoured); 410 and any other 4xx end the job dead with the status and an excerpt.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Build, Delivery, Kept, Kind, Plan, permanent};
use crate::http::{parse_http_url, shown_url};
use crate::job::Failure;
use crate::logic::{Scripts, Transform};
use crate::secret::Secret;
use crate::store::{ClaimedJob, Store};

/// A webhook route's keys as written.
#[derive(Deserialize)]
pub struct Keys {
    /// Where to POST.
    #[serde(default)]
    url: String,
    /// The Standard Webhooks key (`whsec_` and base64); empty: unsigned.
    #[serde(default)]
    secret: Secret,
    /// Sent with every message.
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

/// A webhook route's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// Where each message is POSTed.
    pub url: String,
    /// The Standard Webhooks key (the base64 after `whsec_`), decoded; `None`: unsigned.
    pub key: Option<SigningKey>,
    /// Sent with every message, after the relay's own.
    pub headers: Vec<(String, String)>,
}

/// Key bytes that never print.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(pub Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Headers a webhook route may not set: the relay sets them.
const OWN_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

impl Kind for Webhook {
    const NAME: &'static str = "webhook";
    const TITLE: &'static str = "webhook";
    const STEPS: &'static [&'static str] = &[];
    type Section = ();
    type Keys = Keys;
    type Prepared = Body;
    type Sender = Sender;

    fn from_keys(keys: Keys, problems: &mut Vec<String>) -> Self {
        if let Err(e) = parse_http_url(&keys.url) {
            problems.push(format!(
                "sends to webhook but its url {:?} is not an http(s) URL: {e}",
                shown_url(&keys.url)
            ));
        }
        let key = match keys.secret.expose() {
            "" => None,
            secret => {
                use base64::Engine as _;
                let decoded = secret
                    .strip_prefix("whsec_")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .filter(|k| !k.is_empty());
                if decoded.is_none() {
                    problems.push(
                        "has a webhook secret that is not \"whsec_\" followed by base64 (Standard Webhooks)"
                            .to_string(),
                    );
                }
                decoded.map(SigningKey)
            }
        };
        for (name, value) in &keys.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(value).is_err()
            {
                problems.push(format!(
                    "has a header {name:?} that is not a valid HTTP header"
                ));
            } else if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                problems.push(format!(
                    "sets the header {name:?}, which the relay sets itself"
                ));
            }
        }
        Self {
            url: keys.url,
            key,
            headers: keys.headers.into_iter().collect(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "webhook {}",
            url::Url::parse(&self.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        )
    }

    fn summary(&self) -> String {
        format!(
            "{} ({}, {} extra header(s))",
            shown_url(&self.url),
            if self.key.is_some() {
                "signed"
            } else {
                "unsigned"
            },
            self.headers.len()
        )
    }

    fn prepare(
        &self,
        route: Transform<'_>,
        scripts: &Scripts,
        profile: std::borrow::Cow<'_, Value>,
    ) -> Result<Plan<Body>, Failure> {
        prepare(route, scripts, profile)
    }

    fn preview(&self, body: &Body) -> Value {
        preview(self, body)
    }

    fn sender(build: &Build<'_, ()>) -> Sender {
        Sender {
            http: build.http.clone(),
            store: build.store.clone(),
            timeout: build.common.request_timeout,
        }
    }

    async fn deliver(
        &self,
        sender: &Sender,
        delivery: Delivery<'_>,
        body: Body,
    ) -> Result<(), Failure> {
        sender.deliver(self, delivery.job, body).await
    }
}

/// What a webhook route sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The route's `format` function's result, as is.
    Formatted(Value),
    /// No format: the profile, sent as `{"type": <the event's type>, "profile": ...}`.
    Profile(Value),
}

fn prepare(
    route: Transform<'_>,
    scripts: &Scripts,
    profile: std::borrow::Cow<'_, Value>,
) -> Result<Plan<Body>, Failure> {
    let profile = match super::kept(route, scripts, profile).map_err(permanent)? {
        Kept::DroppedBy(logic) => return Ok(Plan::Dropped(logic)),
        Kept::Profile(p) => p,
    };
    let body = match scripts.format(route, &profile).map_err(permanent)? {
        Some(formatted) => Body::Formatted(formatted),
        // The body carries the profile itself.
        None => Body::Profile(profile.into_owned()),
    };
    Ok(Plan::Send(body))
}

fn preview(target: &Webhook, body: &Body) -> Value {
    let url = shown_url(&target.url);
    let body = match body {
        Body::Formatted(v) => v.clone(),
        Body::Profile(p) => json!({"type": "<the event's type>", "profile": p}),
    };
    json!({"outcome": "send", "url": url, "body": body})
}

/// The message's `webhook-id`: `msg_<event UUID>_<route>`. A row number would repeat across
/// databases (staging and production sending to one receiver); the event's UUID does not, and
/// with the route it names one job, on every retry. A route name that is not plain token text
/// is replaced by a hash of it, so the id is always a valid header value.
pub fn message_id(event_id: &str, route: &str) -> String {
    let event: String = event_id.chars().filter(|c| *c != '-').collect();
    let plain = !route.is_empty()
        && route
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        format!("msg_{event}_{route}")
    } else {
        use sha2::Digest as _;
        let digest = hex::encode(sha2::Sha256::digest(route.as_bytes()));
        format!("msg_{event}_{}", &digest[..16])
    }
}

/// The signature header's value for one message.
pub fn signature(key: &SigningKey, id: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{id}.{timestamp}.{body}");
    let mac = crate::hrflow::signature::hmac_sha256(&key.0, signed.as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// Sends webhook deliveries.
#[derive(Clone)]
pub struct Sender {
    /// The shared client.
    pub http: reqwest::Client,
    /// Where the event's type is read, for a body without a format.
    pub store: Store,
    /// Each POST's limit.
    pub timeout: Duration,
}

impl Sender {
    pub async fn deliver(
        &self,
        target: &Webhook,
        job: &ClaimedJob,
        body: Body,
    ) -> Result<(), Failure> {
        const UPSTREAM: &str = "webhook";
        let body = match body {
            Body::Formatted(v) => v,
            Body::Profile(profile) => {
                let kind = self.store.event_type(&job.event_id).await?;
                json!({"type": kind, "profile": profile})
            }
        };
        let text = body.to_string();
        let id = message_id(&job.event_id, &job.route);
        let timestamp = chrono::Utc::now().timestamp();
        let mut request = self
            .http
            .post(&target.url)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        request = request
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(key) = &target.key {
            request = request.header("webhook-signature", signature(key, &id, timestamp, &text));
        }
        let response = request
            .body(text)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(UPSTREAM, &e))?;
        let status = response.status();
        crate::telemetry::upstream(UPSTREAM, status.as_u16());
        if status.is_success() {
            return Ok(());
        }
        let failure = Failure::from_status(UPSTREAM, &response);
        let excerpt = response.text().await.unwrap_or_default();
        Err(failure.with_body(&excerpt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_name_the_event_and_the_route() {
        let event = "0190f1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b";
        assert_eq!(
            message_id(event, "ats"),
            "msg_0190f1b27c3d7e4f8a5b6c7d8e9f0a1b_ats"
        );
        let odd = message_id(event, "ats: prod/eu");
        assert!(reqwest::header::HeaderValue::from_str(&odd).is_ok());
        assert_ne!(odd, message_id(event, "ats: prod/us"));
        assert_ne!(message_id(event, "a"), message_id(event, "b"));
    }

    #[test]
    fn signs_as_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let sig = signature(
            &SigningKey(key),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
