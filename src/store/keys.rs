//! Keys the relay makes once and keeps in the database (`secrets`), so every replica and every
//! restart uses the same: one keys the status page's CSRF tokens, one the marks that keep
//! push-once (and a careers response's id) without the profile key in clear, one the hashes
//! of candidates' emails that the operator's search looks up.

use sqlx::Row;

use super::{Durability, Store, StoreError};

/// The keys, loaded once the schema exists.
pub(super) struct Keys {
    /// Keys the status page's CSRF tokens.
    csrf: Vec<u8>,
    /// Keys the push-once and careers response marks.
    marks: Vec<u8>,
    /// Keys the hashes of candidates' emails.
    emails: Vec<u8>,
}

/// Each key's name in `secrets`.
const NAMES: [&str; 3] = ["csrf", "marks", "emails"];

impl Store {
    /// Makes each key if no process made it yet (the first writer wins), then reads them.
    pub(super) async fn load_keys(&self) -> Result<(), StoreError> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = self.begin(&mut conn).await?;
        for name in NAMES {
            let fresh = hex::encode(rand::random::<[u8; 32]>());
            sqlx::query(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .execute(&mut *tx)
            .await?;
        }
        let rows = sqlx::query("SELECT name, value FROM secrets")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let key = |name: &str| -> Result<Vec<u8>, StoreError> {
            rows.iter()
                .find(|r| r.get::<String, _>("name") == name)
                .and_then(|r| hex::decode(r.get::<String, _>("value")).ok())
                .ok_or_else(|| StoreError::Column(format!("secrets.{name}")))
        };
        let keys = Keys {
            csrf: key("csrf")?,
            marks: key("marks")?,
            emails: key("emails")?,
        };
        // A second migrate (a retry) finds them set: the same values, from the same rows.
        let _ = self.keys.set(keys);
        Ok(())
    }

    fn keys(&self) -> Result<&Keys, StoreError> {
        self.keys
            .get()
            .ok_or_else(|| StoreError::Busy("the database is not migrated yet".into()))
    }

    /// The key of the status page's CSRF tokens.
    pub fn csrf_key(&self) -> Result<&[u8], StoreError> {
        Ok(&self.keys()?.csrf)
    }

    /// A keyed hash of `parts` that identifies no one without the key: what a record that must
    /// outlive an erasure is stored under.
    pub(super) fn mark(&self, kind: &str, parts: &[&str]) -> Result<String, StoreError> {
        let mut text = kind.to_string();
        for p in parts {
            text.push('\0');
            text.push_str(p);
        }
        Ok(hex::encode(crate::hrflow::signature::hmac_sha256(
            &self.keys()?.marks,
            text.as_bytes(),
        )))
    }

    /// The keyed hash of a candidate's email, as a search finds it: trimmed, case ignored.
    pub fn email_hash(&self, email: &str) -> Result<String, StoreError> {
        let email = email.trim().to_lowercase();
        Ok(hex::encode(crate::hrflow::signature::hmac_sha256(
            &self.keys()?.emails,
            email.as_bytes(),
        )))
    }

    /// The push record of (route, profile).
    pub(super) fn push_mark(&self, route: &str, profile_key: &str) -> Result<String, StoreError> {
        self.mark("push", &[route, profile_key])
    }

    /// The careers response record of (vacancy, profile).
    pub(super) fn response_mark(
        &self,
        vacancy_id: i64,
        profile_key: &str,
    ) -> Result<String, StoreError> {
        self.mark("response", &[&vacancy_id.to_string(), profile_key])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PushSlot;
    use crate::store::pushes::PushState;

    async fn legacy_row(store: &Store) {
        sqlx::query("INSERT INTO pushes (route, profile_key, state, job_id, updated_at) VALUES ('r', 'p', 'pushed', 7, 1)")
            .execute(store.pool())
            .await
            .unwrap();
    }

    async fn clear_rows(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM pushes")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn keys_are_made_once_and_push_records_of_older_versions_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        let csrf = store.csrf_key().unwrap().to_vec();
        // An older version pushed this one, in clear, and is still running (it heartbeats).
        legacy_row(&store).await;
        store
            .heartbeat_replica("old", std::time::Duration::from_secs(10))
            .await
            .unwrap();
        store.close().await;
        let store = Store::connect(&url, 2).await.unwrap();
        assert_eq!(store.csrf_key().unwrap(), csrf, "the key is made once");
        assert_eq!(
            clear_rows(&store).await,
            1,
            "kept for the process that reads it"
        );
        assert_eq!(
            store.acquire_push("r", "p", 8).await.unwrap(),
            PushSlot::Pushed
        );
        assert_eq!(
            store.push_state("r", "p").await.unwrap(),
            Some(PushState::Pushed)
        );
        // Erasing the candidate turns its record into a mark.
        assert_eq!(store.erase_profile("p").await.unwrap().push_records, 1);
        assert_eq!(
            store.acquire_push("r", "p", 10).await.unwrap(),
            PushSlot::Pushed
        );
        store.close().await;
    }

    #[tokio::test]
    async fn with_no_process_running_the_records_of_older_versions_become_marks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 2).await.unwrap();
        legacy_row(&store).await;
        store.close().await;
        let store = Store::connect(&url, 2).await.unwrap();
        assert_eq!(clear_rows(&store).await, 0, "no profile key in clear");
        assert_eq!(
            store.acquire_push("r", "p", 8).await.unwrap(),
            PushSlot::Pushed
        );
        store.close().await;
    }
}
