//! Finding a candidate: by profile key, job id, event id, or email (its keyed hash, stored
//! with the candidate's jobs when the profile is fetched; the relay keeps no email in clear).

use sqlx::Row;

use super::{JobView, Store, StoreError};

/// At most this many candidates answer one search (an email shared by many profiles, say).
const MAX_PROFILES: i64 = 50;

impl Store {
    /// The profile keys that `text` names, each once, in the order found.
    pub async fn search(&self, text: &str) -> Result<Vec<String>, StoreError> {
        let text = text.trim();
        let mut keys: Vec<String> = Vec::new();
        if text.is_empty() {
            return Ok(keys);
        }
        let mut add = |found: Vec<String>| {
            for k in found {
                if !k.is_empty() && !keys.contains(&k) {
                    keys.push(k);
                }
            }
        };
        // A profile key: its jobs or its events.
        add(self
            .column(
                "SELECT profile_key FROM jobs WHERE profile_key = $1 LIMIT 1",
                text,
            )
            .await?);
        add(self
            .column(
                "SELECT profile_key FROM events WHERE profile_key = $1 LIMIT 1",
                text,
            )
            .await?);
        // A job id.
        if let Ok(id) = text.parse::<i64>() {
            add(sqlx::query("SELECT profile_key FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect());
        }
        // An event id.
        add(self
            .column("SELECT profile_key FROM events WHERE id = $1", text)
            .await?);
        // An email.
        if text.contains('@') {
            let hash = self.email_hash(text)?;
            add(sqlx::query(
                "SELECT profile_key FROM jobs WHERE email_hash = $1 GROUP BY profile_key
                 ORDER BY MAX(id) DESC LIMIT $2",
            )
            .bind(hash)
            .bind(MAX_PROFILES)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect());
        }
        keys.truncate(MAX_PROFILES as usize);
        Ok(keys)
    }

    async fn column(&self, sql: &str, value: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query(sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// The candidate's jobs, oldest first.
    pub async fn jobs_of(&self, profile_key: &str) -> Result<Vec<JobView>, StoreError> {
        let sql = format!(
            "SELECT {} FROM jobs WHERE profile_key = $1 ORDER BY id",
            JobView::COLUMNS
        );
        Ok(sqlx::query(&sql)
            .bind(profile_key)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(JobView::from_row)
            .collect())
    }
}
