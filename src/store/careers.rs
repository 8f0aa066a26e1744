//! Vacancies, responses and letters of the Huntflow response platform.

use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct Vacancy {
    /// Huntflow's vacancy id.
    pub id: i64,
    /// What Huntflow published, kept as it sent it.
    pub fields: Value,
    /// False once unpublished: its responses stay until retention's period ends.
    pub published: bool,
    /// How many responses it has: the `found` of every page.
    pub responses: i64,
}

/// A stored response item: the mapped fields, plus its id and creation time.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// The response's id, as Huntflow reads it.
    pub id: i64,
    /// The candidate as the format mapped it.
    pub item: Value,
    /// When it was first accepted (Unix ms, whole seconds): the order pages serve.
    pub created_at: i64,
}

/// A letter a format attached to a response.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLetter {
    /// `response` or `recommendation`.
    pub kind: String,
    /// The letter's text.
    pub comment: String,
    /// Who wrote it, as the format gave it (an object with a name).
    pub author: Option<Value>,
    /// When it was written (Unix ms); none: the response's date.
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredLetter {
    /// The letter's id.
    pub id: i64,
    /// `response` or `recommendation`.
    pub kind: String,
    /// The letter's text.
    pub comment: String,
    /// Who wrote it, as the format gave it.
    pub author: Option<Value>,
    /// When it was written, or the response's date (Unix ms).
    pub created_at: i64,
}

/// One page and the total it was cut from.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The page's items, in order.
    pub items: Vec<T>,
    /// How many there are in all.
    pub found: i64,
}

impl Store {
    pub async fn publish_vacancy(&self, fields: &Value) -> Result<i64, StoreError> {
        let now = now_ms();
        Ok(sqlx::query_scalar("INSERT INTO vacancies (fields, created_at, updated_at) VALUES ($1, $2, $2) RETURNING id")
            .bind(fields.to_string())
            .bind(now)
            .fetch_one(&mut *self.write_conn(super::Durability::Full).await?)
            .await?)
    }

    pub async fn vacancy(&self, id: i64) -> Result<Option<Vacancy>, StoreError> {
        let row = sqlx::query(
            "SELECT id, fields, published, responses_count FROM vacancies WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| Vacancy {
            id: r.get("id"),
            fields: serde_json::from_str(&r.get::<String, _>("fields")).unwrap_or(Value::Null),
            published: r.get::<i64, _>("published") != 0,
            responses: r.get("responses_count"),
        }))
    }

    /// Replaces the fields of a published vacancy; false when there is none.
    pub async fn edit_vacancy(&self, id: i64, fields: &Value) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE vacancies SET fields = $2, updated_at = $3 WHERE id = $1 AND published = 1",
        )
        .bind(id)
        .bind(fields.to_string())
        .bind(now_ms())
        .execute(&mut *self.write_conn(super::Durability::Full).await?)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks a vacancy unpublished, keeping its responses; false when it never existed.
    pub async fn unpublish_vacancy(&self, id: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE vacancies SET published = 0, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(&mut *self.write_conn(super::Durability::Full).await?)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Creates or updates the response of a profile on a vacancy, with its letters, in one
    /// transaction. An update keeps the response's id and its earliest `created`.
    pub async fn upsert_response(
        &self,
        vacancy_id: i64,
        profile_key: &str,
        item: &Value,
        letters: &[NewLetter],
        accepted_at: i64,
    ) -> Result<i64, StoreError> {
        let now = now_ms();
        // Whole seconds, as `created` is shown: the order served is the order Huntflow sees.
        let accepted_at = accepted_at - accepted_at.rem_euclid(1000);
        let mut conn = self.write_conn(super::Durability::Normal).await?;
        let mut tx = self.begin(&mut conn).await?;
        // Insert, or (on the unique key) update in place: safe when replicas race.
        let inserted: Option<(i64, i64)> = sqlx::query_as("INSERT INTO responses (vacancy_id, profile_key, item, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (vacancy_id, profile_key) DO NOTHING RETURNING id, created_at")
        .bind(vacancy_id)
        .bind(profile_key)
        .bind(item.to_string())
        .bind(accepted_at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, created_at) = match inserted {
            Some(row) => {
                sqlx::query(
                    "UPDATE vacancies SET responses_count = responses_count + 1 WHERE id = $1",
                )
                .bind(vacancy_id)
                .execute(&mut *tx)
                .await?;
                self.as_before_erasure(&mut tx, vacancy_id, profile_key, row)
                    .await?
            }
            None => {
                sqlx::query_as(
                    "UPDATE responses SET item = $3, updated_at = $5,
                            created_at = CASE WHEN created_at < $4 THEN created_at ELSE $4 END
                     WHERE vacancy_id = $1 AND profile_key = $2 RETURNING id, created_at",
                )
                .bind(vacancy_id)
                .bind(profile_key)
                .bind(item.to_string())
                .bind(accepted_at)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        write_letters(&mut tx, id, letters, created_at).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A response made again for a candidate erased since: it takes back the id and date it
    /// had, which Huntflow already holds, so Huntflow sees no second candidate.
    async fn as_before_erasure(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        vacancy_id: i64,
        profile_key: &str,
        (id, created_at): (i64, i64),
    ) -> Result<(i64, i64), StoreError> {
        let mark = self.response_mark(vacancy_id, profile_key)?;
        let before: Option<(i64, i64)> = sqlx::query_as(
            "DELETE FROM response_marks WHERE mark = $1 RETURNING response_id, created_at",
        )
        .bind(&mark)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((old_id, old_created)) = before else {
            return Ok((id, created_at));
        };
        sqlx::query("UPDATE responses SET id = $1, created_at = $2 WHERE id = $3")
            .bind(old_id)
            .bind(old_created)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok((old_id, old_created))
    }

    /// Responses newest first (ties: the higher id first), `limit` from `offset`.
    pub async fn responses_page(
        &self,
        vacancy: &Vacancy,
        offset: i64,
        limit: i64,
    ) -> Result<Page<StoredResponse>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, item, created_at FROM responses WHERE vacancy_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(vacancy.id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .into_iter()
            .map(|r| StoredResponse {
                id: r.get("id"),
                item: serde_json::from_str(&r.get::<String, _>("item")).unwrap_or(Value::Null),
                created_at: r.get("created_at"),
            })
            .collect();
        Ok(Page {
            items,
            found: vacancy.responses,
        })
    }

    /// The response `id` if it belongs to vacancy `vacancy_id`.
    pub async fn response_of(&self, vacancy_id: i64, id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM responses WHERE id = $1 AND vacancy_id = $2")
                .bind(id)
                .bind(vacancy_id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn letters_page(
        &self,
        response_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Page<StoredLetter>, StoreError> {
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM letters WHERE response_id = $1")
            .bind(response_id)
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query(
            "SELECT id, type, comment, author, created_at FROM letters WHERE response_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(response_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .into_iter()
            .map(|r| StoredLetter {
                id: r.get("id"),
                kind: r.get("type"),
                comment: r.get("comment"),
                author: r
                    .get::<Option<&str>, _>("author")
                    .and_then(|a| serde_json::from_str(a).ok()),
                created_at: r.get("created_at"),
            })
            .collect();
        Ok(Page { items, found })
    }
}

/// The response's letters, in order (a letter with no date takes the response's); those past
/// the new list's end go.
async fn write_letters(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    letters: &[NewLetter],
    created_at: i64,
) -> Result<(), StoreError> {
    for (ordinal, letter) in letters.iter().enumerate() {
        sqlx::query("INSERT INTO letters (response_id, ordinal, type, comment, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (response_id, ordinal) DO UPDATE SET type = excluded.type, comment = excluded.comment, author = excluded.author",
        )
        .bind(id)
        .bind(ordinal as i64)
        .bind(&letter.kind)
        .bind(&letter.comment)
        .bind(letter.author.as_ref().map(Value::to_string))
        .bind(letter.created_at.unwrap_or(created_at))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM letters WHERE response_id = $1 AND ordinal >= $2")
        .bind(id)
        .bind(letters.len() as i64)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
