//! Why an attempt failed, and what trying again can do: read from an HTTP answer or a
//! request's error, so the worker decides from the failure alone.

use std::time::Duration;

/// Why an attempt failed, and what trying again can do.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Trying again cannot help: a 4xx, a profile Flatchr cannot take, a script error.
    Permanent {
        /// What failed, as the job's reason and the attempt's error show it.
        message: String,
        /// The answer's status, when an answer came.
        http_status: Option<u16>,
    },
    /// Trying again may help: a timeout, a refused connection, 408, 429, 5xx.
    Transient {
        /// What failed, as the attempt's error shows it.
        message: String,
        /// The answer's status, when an answer came.
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
        /// What is held, as the deferral's reason shows it.
        message: String,
        /// When to look again, if the holder said.
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
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
