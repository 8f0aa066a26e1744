//! One line of `check-config --online`'s report, and what every check shares.

use std::time::Duration;

use crate::job::Failure;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was asked: `hrflow source "s"`, `flatchr account "default"`, `database`...
    pub what: String,
    /// `Ok(what it proved)` or `Err(why not)`: never a secret.
    pub outcome: Result<String, String>,
}

impl Check {
    pub fn new(what: impl Into<String>, outcome: Result<String, String>) -> Self {
        Self {
            what: what.into(),
            outcome,
        }
    }

    pub fn passed(&self) -> bool {
        self.outcome.is_ok()
    }

    /// `  ok    <what>: <proved>` or `  FAIL  <what>: <why>`.
    pub fn line(&self) -> String {
        match &self.outcome {
            Ok(proved) => format!("  ok    {}: {proved}", self.what),
            Err(why) => format!("  FAIL  {}: {why}", self.what),
        }
    }
}

/// Bounds a check by the request timeout.
pub(crate) async fn within<T>(
    timeout: Duration,
    check: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    // The client's own timeout is per request; this bounds what a check does around it.
    match tokio::time::timeout(timeout + Duration::from_secs(1), check).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
    }
}

/// Why a check failed, as the upstream's failure says it.
pub(crate) fn failed(f: &Failure) -> String {
    f.message().to_string()
}
