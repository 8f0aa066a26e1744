//! Huntflow's token pairs. A refresh token works once, so the newest pair lives in the database
//! (`store::credentials`), shared by every replica and restart; a refresh happens only after a
//! 401 `token_expired`, by one process at a time (a lock there), and a process that finds a
//! newer pair stored than the one it used takes it instead of refreshing. A pair put in the
//! configuration later (a person issued one) replaces the stored one: the stored pair remembers
//! which config pair it descends from.

use std::time::Duration;

use serde_json::{Value, json};

use crate::secret::Secret;
use crate::job::Failure;
use crate::store::Store;
use crate::store::credentials::StoredPair;

/// How a refused refresh's failure begins: the destination pauses the route on it.
pub const REFUSED_REFRESH: &str = "Huntflow refused the refresh token";
/// How long one refresh may hold the right to refresh, at the least: three request timeouts,
/// so a refresh still waiting for its answer never sees another take the lock.
const LOCK_LEASE_MS: i64 = 30_000;
/// How long a call waits for another process's refresh before stepping aside.
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(10);

/// An access token and its refresh token.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// Valid 7 days.
    pub access: Secret,
    /// Valid 14 days, single use.
    pub refresh: Secret,
}

/// One account's pair: as configured, and as stored.
#[derive(Clone)]
pub struct Tokens {
    /// Where the newest pair lives, for every replica and restart.
    store: Store,
    /// The credentials row: `huntflow:<account>`.
    name: String,
    /// The pair in the configuration; it replaces a stored one that does not descend from it.
    configured: Pair,
    /// A hash of the configured pair, kept with the stored one.
    origin: String,
    /// This process: each refresh holds the lock as `<holder>-<uuid>`.
    holder: String,
    /// One refresh at a time in this process: the others wait, then find the new pair.
    in_process: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Tokens {
    pub fn new(store: Store, account: &str, configured: Pair, holder: String) -> Self {
        use sha2::Digest as _;
        let origin = hex::encode(sha2::Sha256::digest(format!(
            "{}\n{}",
            configured.access.expose(),
            configured.refresh.expose()
        )));
        Self {
            store,
            name: format!("huntflow:{account}"),
            configured,
            origin,
            holder,
            in_process: Default::default(),
        }
    }

    /// The newest pair: the stored one if it descends from the configured pair, else the
    /// configured one (stored now, so that its refresh can be locked).
    pub async fn current(&self) -> Result<Pair, Failure> {
        if self.configured.access.is_empty() {
            return Err(Failure::permanent(
                "no Huntflow access token is configured (huntflow.access_token)",
            ));
        }
        match self.store.credentials(&self.name).await? {
            Some(stored) if stored.origin == self.origin => Ok(pair(&stored)),
            _ => {
                self.store
                    .put_credentials(&self.name, &self.stored(&self.configured))
                    .await?;
                Ok(self.configured.clone())
            }
        }
    }

    fn stored(&self, pair: &Pair) -> StoredPair {
        StoredPair {
            access: pair.access.expose().to_string(),
            refresh: pair.refresh.expose().to_string(),
            origin: self.origin.clone(),
        }
    }

    /// A pair newer than `used`: another process's, or this one's own refresh.
    pub async fn refresh(
        &self,
        used: &Pair,
        http: &reqwest::Client,
        base: &str,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Pair, Failure> {
        let started = std::time::Instant::now();
        let _one_here = self.in_process.lock().await;
        let holder = format!("{}-{}", self.holder, uuid::Uuid::new_v4().simple());
        let lease = LOCK_LEASE_MS.max(3 * timeout.as_millis() as i64);
        loop {
            if let Some(newer) = self.newer_than(used).await? {
                return Ok(newer);
            }
            if self
                .store
                .lock_credentials(&self.name, &holder, lease)
                .await?
            {
                let outcome = match self.newer_than(used).await {
                    Ok(Some(newer)) => Ok(newer),
                    Ok(None) => self.ask(used, http, base, user_agent, timeout).await,
                    Err(e) => Err(e.into()),
                };
                if let Err(e) = self
                    .store
                    .unlock_credentials(&self.name, &holder)
                    .await
                {
                    tracing::warn!(error = %e, "could not release the Huntflow refresh lock; it expires");
                }
                return outcome;
            }
            if started.elapsed() > WAIT_FOR_REFRESH {
                return Err(Failure::busy("another process is refreshing the Huntflow token"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn newer_than(&self, used: &Pair) -> Result<Option<Pair>, crate::store::StoreError> {
        Ok(self
            .store
            .credentials(&self.name)
            .await?
            .filter(|s| s.origin == self.origin && s.access != used.access.expose())
            .map(|s| pair(&s)))
    }

    /// `POST /token/refresh` with the stored refresh token, under the lock; the new pair is
    /// stored before anything uses it.
    async fn ask(
        &self,
        used: &Pair,
        http: &reqwest::Client,
        base: &str,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Pair, Failure> {
        let response = http
            .post(format!("{base}/token/refresh"))
            .header(reqwest::header::USER_AGENT, user_agent)
            .json(&json!({"refresh_token": used.refresh.expose()}))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("huntflow token refresh", &e).not_applied())?;
        let status = response.status().as_u16();
        crate::telemetry::upstream("huntflow", status);
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            let text = |k: &str| answer[k].as_str().unwrap_or_default().to_string();
            let new = Pair {
                access: Secret::new(text("access_token")),
                refresh: Secret::new(text("refresh_token")),
            };
            if new.access.is_empty() || new.refresh.is_empty() {
                return Err(Failure::transient("Huntflow's refresh answer has no token pair"));
            }
            self.keep(used, &new).await?;
            tracing::info!("Huntflow token pair refreshed and stored");
            return Ok(new);
        }
        if status == 404 || status == 401 {
            // Used or expired (unused for 14 days): only a person can issue a new pair.
            return Err(Failure::Transient {
                message: format!(
                    "{REFUSED_REFRESH} (HTTP {status}): it was used already or expired (unused for 14 days). Issue a new token pair in Huntflow (Settings -> API), put it in [huntflow] access_token and refresh_token, restart, then resume the route"
                ),
                // Told as a refused key.
                http_status: Some(401),
                retry_after: Some(Duration::from_secs(3600)),
                maybe_applied: false,
            });
        }
        Err(Failure::Transient {
            message: format!("Huntflow token refresh answered HTTP {status}"),
            http_status: Some(status),
            retry_after: None,
            maybe_applied: false,
        })
    }
}

impl Tokens {
    /// Stores the pair a refresh gave over the one it replaces. The old refresh token is
    /// spent: the new pair must reach the database, so a failed write is tried again before
    /// giving up (then only a person can issue a new pair).
    async fn keep(&self, used: &Pair, new: &Pair) -> Result<(), Failure> {
        let mut tries = 0;
        loop {
            match self
                .store
                .replace_credentials(&self.name, used.refresh.expose(), &self.stored(new))
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::warn!("another process stored a newer Huntflow pair meanwhile");
                    return Ok(());
                }
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %e, "could not store the refreshed Huntflow pair; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn pair(stored: &StoredPair) -> Pair {
    Pair {
        access: Secret::new(stored.access.clone()),
        refresh: Secret::new(stored.refresh.clone()),
    }
}
