//! Jobs: one event on one route. Their outcomes, how failures are classified, and when a
//! failed attempt is tried again.

use std::time::Duration;

use rand::Rng;

/// The outcome of one attempt at a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// A logic dropped the profile; names the logic.
    Filtered(String),
    Failed(Failure),
}

/// Why an attempt failed, and what trying again can do.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Trying again cannot help: a 4xx, a profile Flatchr cannot take, a script error.
    Permanent {
        message: String,
        http_status: Option<u16>,
    },
    /// Trying again may help: a timeout, a refused connection, 408, 429, 5xx.
    Transient {
        message: String,
        http_status: Option<u16>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The request may have reached the server (a timeout after sending, a 5xx): its
        /// effect is unknown.
        maybe_applied: bool,
    },
    /// Not a failure of the attempt: what it needs is held (a push slot, a rate-limit turn).
    /// The job steps aside, uncounted, for `retry_after` at least.
    Busy {
        message: String,
        retry_after: Option<Duration>,
    },
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
            http_status: None,
        }
    }
    pub fn busy(message: impl Into<String>) -> Self {
        Self::Busy {
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            http_status: None,
            retry_after: None,
            maybe_applied: false,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Permanent { message, .. }
            | Self::Transient { message, .. }
            | Self::Busy { message, .. } => message,
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Permanent { http_status, .. } | Self::Transient { http_status, .. } => {
                *http_status
            }
            Self::Busy { .. } => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } | Self::Busy { retry_after, .. } => *retry_after,
            Self::Permanent { .. } => None,
        }
    }

    /// Whether the request may have taken effect although it failed.
    pub fn maybe_applied(&self) -> bool {
        matches!(
            self,
            Self::Transient {
                maybe_applied: true,
                ..
            }
        )
    }

    /// The same failure, known not to have reached the server.
    pub fn not_applied(mut self) -> Self {
        if let Self::Transient { maybe_applied, .. } = &mut self {
            *maybe_applied = false;
        }
        self
    }

    /// The same failure, to be tried again no sooner than `after`.
    pub fn retry_after_at_least(mut self, after: Duration) -> Self {
        if let Self::Transient { retry_after, .. } | Self::Busy { retry_after, .. } = &mut self {
            *retry_after = Some(after);
        }
        self
    }

    /// Timeouts and connection errors are transient. A timeout may have reached the server.
    pub fn from_reqwest(upstream: &str, err: &reqwest::Error) -> Self {
        crate::telemetry::upstream(upstream, 0);
        let kind = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        // The innermost cause, not the URL: a signed file URL must not reach the logs.
        let mut detail = String::new();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        Self::Transient {
            message: format!("{upstream} request {kind}: {detail}"),
            http_status: None,
            retry_after: None,
            maybe_applied: !err.is_connect(),
        }
    }

    /// 408, 429 and 5xx are transient; any other status >= 400 is permanent.
    pub fn from_status(what: &str, response: &reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let message = format!("{what} answered HTTP {status}");
        if matches!(status, 408 | 429) || status >= 500 {
            Self::Transient {
                message,
                http_status: Some(status),
                retry_after: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after),
                // A server error may come after the request took effect.
                maybe_applied: status >= 500,
            }
        } else {
            Self::Permanent {
                message,
                http_status: Some(status),
            }
        }
    }

    /// The failure with an excerpt of the answer's body.
    pub fn with_body(mut self, body: &str) -> Self {
        let body = body.trim();
        if !body.is_empty() {
            let cut: String = body.chars().take(300).collect();
            let (Self::Permanent { message, .. }
            | Self::Transient { message, .. }
            | Self::Busy { message, .. }) = &mut self;
            *message = format!("{message}: {cut}");
        }
        self
    }
}

/// The store failing is never the candidate's fault: the attempt is tried again.
impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Self::transient(format!("store: {e}"))
    }
}

/// `Retry-After` in seconds; HTTP dates are read as "now" rather than trusted.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The longest `Retry-After` honoured, so a hostile or broken server cannot park a job forever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The delay before the next attempt, after `attempts` attempts have failed, or `None` when
/// the schedule is exhausted. Jitter is ±20%; `Retry-After` is a floor.
pub fn next_delay(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let planned = *schedule.get((attempts as usize).checked_sub(1)?)?;
    let factor = rand::rng().random_range(0.8..=1.2);
    let jittered = planned.mul_f64(factor);
    Some(match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its next attempt (or in one).
    Pending,
    Delivered,
    /// A logic dropped the profile.
    Filtered,
    /// A permanent failure, or the retry schedule exhausted.
    Dead,
    /// Ended by an operator while pending; retryable like a dead job, but no failure.
    Cancelled,
}

/// A status an operator named (`--status`, `?status=`) that is none of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be pending, delivered, filtered, dead or cancelled")]
pub struct UnknownStatus;

impl Status {
    /// Every status, in the order pages and filters list them.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Delivered,
        Self::Filtered,
        Self::Dead,
        Self::Cancelled,
    ];

    /// A job that ended and may be made pending again by an operator's retry.
    pub fn retryable(self) -> bool {
        matches!(self, Self::Dead | Self::Filtered | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Filtered => "filtered",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// As the store writes it; anything else reads as dead, so a person sees it.
    pub fn from_db(value: &str) -> Self {
        match value {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "filtered" => Self::Filtered,
            "cancelled" => Self::Cancelled,
            _ => Self::Dead,
        }
    }
}

/// An operator's word for a status: exactly one of `as_str`'s, unlike `from_db`, which must
/// read anything.
impl std::str::FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or(UnknownStatus)
    }
}

/// Checkpoints of a job; a retry resumes from the last one reached. After the fetch, the
/// destination names its own (`Kind::STEPS`: Flatchr's `pushed`, `enriched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    New,
    Fetched,
    Reached(Label),
}

/// A destination's checkpoint name, kept inline so that a step stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Label {
    len: u8,
    bytes: [u8; Label::MAX],
}

impl Label {
    const MAX: usize = 22;
    /// `None` for a name too long to be a checkpoint.
    pub const fn new(name: &str) -> Option<Self> {
        let from = name.as_bytes();
        if from.len() > Self::MAX {
            return None;
        }
        let mut bytes = [0; Self::MAX];
        let mut i = 0;
        while i < from.len() {
            bytes[i] = from[i];
            i += 1;
        }
        Some(Self {
            len: from.len() as u8,
            bytes,
        })
    }
    pub fn as_str(&self) -> &str {
        // Built from a `&str`, cut at its own length: always UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Step {
    /// A destination's checkpoint (`Step::reached("pushed")`).
    pub fn reached(name: &str) -> Self {
        Label::new(name).map_or(Self::New, Self::Reached)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "new",
            Self::Fetched => "fetched",
            Self::Reached(label) => label.as_str(),
        }
    }

    /// As the store writes it; an unreadable one starts over.
    pub fn from_db(value: &str) -> Self {
        match value {
            "new" | "" => Self::New,
            "fetched" => Self::Fetched,
            other => Self::reached(other),
        }
    }
}

impl serde::Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Pages and the CLI print statuses and steps as the store writes them.
macro_rules! shown_as_stored {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
shown_as_stored!(Status);
shown_as_stored!(Step);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_followed_with_jitter_then_exhausted() {
        let schedule = [Duration::from_secs(10), Duration::from_secs(100)];
        for _ in 0..50 {
            let d = next_delay(&schedule, 1, None).unwrap();
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
            let d = next_delay(&schedule, 2, None).unwrap();
            assert!(d >= Duration::from_secs(80) && d <= Duration::from_secs(120));
        }
        assert_eq!(next_delay(&schedule, 3, None), None);
        assert_eq!(next_delay(&schedule, 0, None), None);
    }

    #[test]
    fn retry_after_is_a_floor_with_a_ceiling() {
        let schedule = [Duration::from_millis(10)];
        assert!(
            next_delay(&schedule, 1, Some(Duration::from_secs(3))).unwrap()
                >= Duration::from_secs(3)
        );
        assert_eq!(
            next_delay(&schedule, 1, Some(Duration::from_secs(10_000_000))).unwrap(),
            MAX_RETRY_AFTER
        );
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn a_status_reads_back_as_written_and_an_unknown_one_is_refused() {
        for s in Status::ALL {
            assert_eq!(Status::from_db(s.as_str()), s);
            assert_eq!(s.as_str().parse(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!("lost".parse::<Status>(), Err(UnknownStatus));
        assert_eq!("Dead".parse::<Status>(), Err(UnknownStatus));
        assert_eq!(Status::from_db("lost"), Status::Dead, "shown, not hidden");
    }

    #[test]
    fn a_step_reads_back_as_written() {
        for s in [Step::New, Step::Fetched, Step::reached("pushed")] {
            assert_eq!(Step::from_db(s.as_str()), s);
        }
        assert_eq!(Step::from_db(""), Step::New);
    }
}
