//! Where a job stands, as the store writes it and an operator names it.

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

/// Pages and the CLI print a status as the store writes it.
impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one attempt ended, as its record keeps it: the job's end, or what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ended {
    Delivered,
    Filtered,
    Dead,
    /// Failed; the job runs again later.
    Retry,
    /// Not an attempt: what it needed was held; the job runs again later.
    Deferred,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Filtered => "filtered",
            Self::Dead => "dead",
            Self::Retry => "retry",
            Self::Deferred => "deferred",
        }
    }

    /// As the store writes it; anything else reads as dead, so a person sees it.
    pub fn from_db(value: &str) -> Self {
        match value {
            "delivered" => Self::Delivered,
            "filtered" => Self::Filtered,
            "retry" => Self::Retry,
            "deferred" => Self::Deferred,
            _ => Self::Dead,
        }
    }
}

/// Pages and the CLI print it as the store writes it.
impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
