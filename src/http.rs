//! The one HTTP client every upstream call goes through: its User-Agent, connect timeout and
//! idle pool are the same for HrFlow, Flatchr, Huntflow and webhooks.

use anyhow::Context;

/// Built once at start and cloned: clones share one connection pool.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("hrflow-relay/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")
}
