//! The careers destination: the candidate becomes (or updates) a response on a vacancy Huntflow
//! published here, which Huntflow then pulls through the response platform API.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::{Kept, Plan, Prepared};
use crate::careers::mapping;
use crate::config::Route;
use crate::job::Failure;
use crate::logic::Scripts;
use crate::store::careers::NewLetter;
use crate::store::{ClaimedJob, Store};

/// A response ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub vacancy_id: i64,
    pub item: Value,
    pub letters: Vec<NewLetter>,
}

pub fn prepare(
    route: &Route,
    vacancy: Option<i64>,
    vacancy_tag: &str,
    scripts: &Scripts,
    profile: Cow<'_, Value>,
) -> Result<Plan, Failure> {
    let permanent = |e: String| Failure::permanent(e);
    let profile =
        match super::kept(route, scripts, profile).map_err(|e| permanent(e.to_string()))? {
            Kept::DroppedBy(logic) => return Ok(Plan::Dropped(logic)),
            Kept::Profile(p) => p,
        };
    let mapped = match scripts
        .format(route, &profile)
        .map_err(|e| permanent(e.to_string()))?
    {
        Some(v) => mapping::from_format(&route.format, v),
        None => mapping::from_profile(&profile),
    }
    .map_err(permanent)?;
    let vacancy_id = mapping::vacancy_id(vacancy, vacancy_tag, &profile).map_err(permanent)?;
    Ok(Plan::Send(Prepared::Careers(Response {
        vacancy_id,
        item: mapped.item,
        letters: mapped.letters,
    })))
}

/// The response item (0.1 form, without id and created) and its letters.
pub fn preview(r: &Response) -> Value {
    let letters: Vec<Value> = r
        .letters
        .iter()
        .map(|l| json!({"type": l.kind, "comment": l.comment, "author": l.author}))
        .collect();
    json!({"outcome": "send", "vacancy": r.vacancy_id, "response": r.item, "letters": letters})
}

/// Stores the response on its vacancy, which must be published.
pub async fn deliver(store: &Store, job: &ClaimedJob, r: Response) -> Result<(), Failure> {
    match store.vacancy(r.vacancy_id).await? {
        None => {
            return Err(Failure::permanent(format!(
                "vacancy {} is unknown: Huntflow has not published it here",
                r.vacancy_id
            )));
        }
        Some(v) if !v.published => {
            return Err(Failure::permanent(format!(
                "vacancy {} is unpublished",
                r.vacancy_id
            )));
        }
        Some(_) => {}
    }
    let response_id = store
        .upsert_response(
            r.vacancy_id,
            &job.profile_key,
            &r.item,
            &r.letters,
            job.created_at,
        )
        .await?;
    tracing::info!(
        vacancy_id = r.vacancy_id,
        response_id,
        letters = r.letters.len(),
        "response stored"
    );
    Ok(())
}
