//! Telling people: when jobs go dead, and at once when an upstream refuses the credentials
//! (401/403: a key expired or was revoked), a short `{"text": ...}` message is POSTed to
//! `[alerts].webhook_url`, the shape Slack, Mattermost and Teams-style incoming webhooks take.
//! Incidents are gathered for a moment and then at most one message goes out per
//! `min_interval`, with the counts of everything since the last. Sending happens on its own
//! task: a slow or dead alert endpoint never holds up a delivery. Metrics count the same facts.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// What happened to one job.
#[derive(Debug, Clone)]
pub enum Incident {
    /// A job ended dead.
    Dead {
        route: String,
        /// The route's account in words (`Flatchr account "agency"`), when a named one.
        account: Option<String>,
        reason: String,
    },
    /// An upstream refused a route's credentials (401/403): a person is needed now.
    Refused {
        route: String,
        account: Option<String>,
        status: u16,
        reason: String,
    },
    /// A sync pass found profiles with no job: their events never arrived.
    SyncFound { source: String, profiles: u64 },
    /// HrFlow refused the key while a sync pass listed a source.
    SyncRefused {
        source: String,
        status: u16,
        reason: String,
    },
    /// An operator paused or resumed a route.
    Steered { route: String, paused: bool },
}

impl Incident {
    /// Refusals need a person now: they go out at once.
    fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::SyncRefused { .. })
    }
}

/// The handle the worker holds; cloning is cheap. Without a webhook it only counts.
#[derive(Clone, Default)]
pub struct Alerts {
    /// To the sender task; None without a webhook.
    tx: Option<mpsc::Sender<Incident>>,
}

/// How long the first incident waits for the rest of its burst before a message goes out.
const GATHER: Duration = Duration::from_secs(2);
/// Incidents waiting for the sender; beyond this they are counted in metrics only.
const QUEUE: usize = 10_000;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A reason is cut to this many characters in a message.
const REASON_CHARS: usize = 300;

/// Where and how the messages go.
pub struct Sink {
    /// The shared client.
    pub http: reqwest::Client,
    /// `[alerts].webhook_url`: it holds the hook's token, so it is never logged.
    pub url: String,
    /// At most one message per this; refusals go out at once.
    pub min_interval: Duration,
    /// `<public_url>/admin`, when the service has a public URL.
    pub status_page: Option<String>,
    /// Every configured secret: removed from any text before it is sent.
    pub secrets: Vec<String>,
}

impl Alerts {
    /// Starts the sender task when `sink` is set.
    pub fn start(sink: Option<Sink>) -> Self {
        let Some(sink) = sink else {
            return Self::default();
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(sink.run(rx));
        Self { tx: Some(tx) }
    }

    pub fn report(&self, incident: Incident) {
        match &incident {
            Incident::Dead { .. } | Incident::SyncFound { .. } | Incident::Steered { .. } => {}
            Incident::Refused { route, status, .. } => {
                metrics::counter!("relay_upstream_refused_total", "route" => route.clone(), "status" => status.to_string())
                    .increment(1);
            }
            Incident::SyncRefused { status, .. } => {
                metrics::counter!("relay_upstream_refused_total", "route" => "sync", "status" => status.to_string())
                    .increment(1);
            }
        }
        if let Some(tx) = &self.tx
            && tx.try_send(incident).is_err()
        {
            metrics::counter!("relay_alerts_total", "result" => "dropped").increment(1);
        }
    }
}

/// Counts since the last message, per route (keyed by how the message names it).
#[derive(Default)]
struct Digest {
    /// Jobs gone dead: how many, and the last reason.
    dead: BTreeMap<String, (u64, String)>,
    /// Refusals: how many, and the last status and reason.
    refused: BTreeMap<String, (u64, u16, String)>,
    /// Profiles found by sync with no job, per source.
    found: BTreeMap<String, u64>,
    /// Routes paused (true) or resumed (false) by an operator, the last word of each.
    steered: BTreeMap<String, bool>,
}

/// `route "x"`, and its account when it has a named one.
fn place(route: &str, account: Option<&str>) -> String {
    match account {
        Some(a) => format!("route \"{route}\" ({a})"),
        None => format!("route \"{route}\""),
    }
}

impl Digest {
    fn add(&mut self, incident: Incident) {
        match incident {
            Incident::Dead {
                route,
                account,
                reason,
            } => {
                let e = self
                    .dead
                    .entry(place(&route, account.as_deref()))
                    .or_default();
                e.0 += 1;
                e.1 = reason;
            }
            Incident::Refused {
                route,
                account,
                status,
                reason,
            } => {
                let e = self
                    .refused
                    .entry(place(&route, account.as_deref()))
                    .or_default();
                e.0 += 1;
                e.1 = status;
                e.2 = reason;
            }
            Incident::Steered { route, paused } => {
                self.steered.insert(route, paused);
            }
            Incident::SyncFound { source, profiles } => {
                *self.found.entry(source).or_default() += profiles;
            }
            Incident::SyncRefused {
                source,
                status,
                reason,
            } => {
                let e = self
                    .refused
                    .entry(format!("the sync of source \"{source}\""))
                    .or_default();
                e.0 += 1;
                e.1 = status;
                e.2 = reason;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.dead.is_empty()
            && self.refused.is_empty()
            && self.found.is_empty()
            && self.steered.is_empty()
    }

    /// The message: refusals first (they need a person now), then dead jobs per route.
    fn text(&self, status_page: Option<&str>, secrets: &[String]) -> String {
        let mut lines = Vec::new();
        for (route, (n, status, reason)) in &self.refused {
            lines.push(format!(
                "An upstream refused the credentials (HTTP {status}) on {route}, {n} time(s): {}. Fix the key, then retry the dead jobs (pause the route meanwhile: `hrflow-relay routes pause NAME`, or Pause on the status page).",
                short(reason)
            ));
        }
        for (source, n) in &self.found {
            lines.push(format!(
                "Sync found {n} profile(s) in source \"{source}\" that no event had brought; they are queued now. Their events went missing: look at HrFlow's webhook (its URL, its secret, its failures)."
            ));
        }
        for (route, paused) in &self.steered {
            lines.push(if *paused {
                format!("Route \"{route}\" was paused by an operator: its jobs wait, with no attempt made, until it is resumed.")
            } else {
                format!("Route \"{route}\" was resumed by an operator: its waiting jobs go out now.")
            });
        }
        for (route, (n, reason)) in &self.dead {
            lines.push(format!(
                "{n} job(s) went dead on {route}. Last reason: {}",
                short(reason)
            ));
        }
        let mut text = format!("hrflow-relay: {}", lines.join("\n"));
        if let Some(page) = status_page {
            text.push_str(&format!("\nStatus page: {page}"));
        }
        redact(text, secrets)
    }
}

fn short(reason: &str) -> String {
    let mut s: String = reason.chars().take(REASON_CHARS).collect();
    if reason.chars().count() > REASON_CHARS {
        s.push('…');
    }
    s
}

/// Replaces every configured secret found in `text` (an upstream may echo one back).
pub fn redact(mut text: String, secrets: &[String]) -> String {
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), "[redacted]");
        }
    }
    text
}

impl Sink {
    async fn run(self, mut rx: mpsc::Receiver<Incident>) {
        let mut digest = Digest::default();
        let mut last_sent: Option<Instant> = None;
        let mut last_refusal_sent: Option<Instant> = None;
        let mut due: Option<Instant> = None;
        loop {
            let wait = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                incident = rx.recv() => {
                    let Some(incident) = incident else { break };
                    let refusal = incident.is_refusal();
                    digest.add(incident);
                    let now = Instant::now();
                    // Refusals go out at once unless one went out within the interval.
                    let earliest = if refusal && last_refusal_sent.is_none_or(|t| now >= t + self.min_interval) {
                        now + GATHER.min(self.min_interval)
                    } else {
                        match last_sent {
                            Some(t) => (t + self.min_interval).max(now + GATHER.min(self.min_interval)),
                            None => now + GATHER.min(self.min_interval),
                        }
                    };
                    due = Some(due.map_or(earliest, |d| d.min(earliest)));
                }
                () = wait => {
                    due = None;
                    if digest.is_empty() {
                        continue;
                    }
                    let refusals = !digest.refused.is_empty();
                    self.send(&digest).await;
                    digest = Digest::default();
                    let now = Instant::now();
                    last_sent = Some(now);
                    if refusals {
                        last_refusal_sent = Some(now);
                    }
                }
            }
        }
    }

    async fn send(&self, digest: &Digest) {
        let text = digest.text(self.status_page.as_deref(), &self.secrets);
        let result = self
            .http
            .post(&self.url)
            .timeout(SEND_TIMEOUT)
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await;
        // The URL holds the hook's token: neither it nor the error's URL is logged.
        match result {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("relay_alerts_total", "result" => "sent").increment(1);
                tracing::info!(
                    dead_routes = digest.dead.len(),
                    refused_routes = digest.refused.len(),
                    "alert sent"
                );
            }
            Ok(r) => {
                metrics::counter!("relay_alerts_total", "result" => "failed").increment(1);
                tracing::warn!(
                    status = r.status().as_u16(),
                    "the alert webhook refused the alert"
                );
            }
            Err(e) => {
                metrics::counter!("relay_alerts_total", "result" => "failed").increment(1);
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                tracing::warn!(error = kind, "the alert could not be sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_text_counts_routes_and_hides_secrets() {
        let mut d = Digest::default();
        for _ in 0..3 {
            d.add(Incident::Dead {
                route: "flatchr".into(),
                account: None,
                reason: "Flatchr push: HTTP 401 key sk-SECRET-123 unknown".into(),
            });
        }
        d.add(Incident::Refused {
            route: "flatchr".into(),
            account: Some("Flatchr account \"agency\"".into()),
            status: 401,
            reason: "Flatchr push: HTTP 401".into(),
        });
        let text = d.text(
            Some("https://relay.example.com/admin"),
            &["sk-SECRET-123".into()],
        );
        assert!(
            text.contains("3 job(s) went dead on route \"flatchr\""),
            "{text}"
        );
        assert!(text.contains("HTTP 401"), "{text}");
        assert!(
            text.contains("on route \"flatchr\" (Flatchr account \"agency\")"),
            "{text}"
        );
        assert!(text.contains("https://relay.example.com/admin"), "{text}");
        assert!(!text.contains("sk-SECRET-123"), "{text}");
        assert!(text.find("refused").unwrap() < text.find("went dead").unwrap());
    }

    #[test]
    fn long_reasons_are_cut() {
        let long = "é".repeat(1000);
        assert_eq!(short(&long).chars().count(), REASON_CHARS + 1);
    }
}
