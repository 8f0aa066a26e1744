//! The careers destination: the candidate becomes (or updates) a response on a vacancy Huntflow
//! published here, which Huntflow then pulls through the response platform API.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Build, Delivery, Kept, Kind, Plan};
use crate::careers::mapping;
use crate::job::Failure;
use crate::logic::{Scripts, Transform};
use crate::store::careers::NewLetter;
use crate::store::{ClaimedJob, Store};

/// A careers route's keys as written.
#[derive(Deserialize)]
pub struct Keys {
    /// An integer, written as a number or as text.
    #[serde(default)]
    vacancy: String,
    /// A profile tag whose value is the vacancy id (it wins over `vacancy`).
    #[serde(default)]
    vacancy_tag: String,
}

/// A careers route's keys: the vacancy its responses go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Careers {
    /// The vacancy id Huntflow published here.
    pub vacancy: Option<i64>,
    /// The profile tag whose value is the vacancy id, when set (it wins over `vacancy`).
    pub vacancy_tag: String,
}

impl Kind for Careers {
    const NAME: &'static str = "careers";
    const TITLE: &'static str = "Huntflow (careers)";
    const STEPS: &'static [&'static str] = &[];
    /// `[careers]` is the API Huntflow reads, served whatever the routes: the server's.
    type Section = ();
    type Keys = Keys;
    type Prepared = Response;
    /// The responses live in the relay's own store.
    type Sender = Store;

    fn from_keys(keys: Keys, problems: &mut Vec<String>) -> Self {
        let written = keys.vacancy.trim();
        let vacancy = written.parse::<i64>().ok();
        if vacancy.is_none() && keys.vacancy_tag.is_empty() {
            problems.push(
                "sends to careers but has neither a vacancy id (an integer) nor a vacancy_tag"
                    .to_string(),
            );
        } else if vacancy.is_none() && !written.is_empty() {
            problems.push(format!(
                "sends to careers but its vacancy {written:?} is not a vacancy id (an integer)"
            ));
        }
        Self {
            vacancy,
            vacancy_tag: keys.vacancy_tag,
        }
    }

    fn describe(&self) -> String {
        "Huntflow (careers)".into()
    }

    fn summary(&self) -> String {
        format!("vacancy {:?} tag {:?}", self.vacancy, self.vacancy_tag)
    }

    fn prepare(
        &self,
        route: Transform<'_>,
        scripts: &Scripts,
        profile: Cow<'_, Value>,
    ) -> Result<Plan<Response>, Failure> {
        prepare(route, self.vacancy, &self.vacancy_tag, scripts, profile)
    }

    fn preview(&self, prepared: &Response) -> Value {
        preview(prepared)
    }

    fn sender(build: &Build<'_, ()>) -> Store {
        build.store.clone()
    }

    async fn deliver(
        &self,
        store: &Store,
        delivery: Delivery<'_>,
        response: Response,
    ) -> Result<(), Failure> {
        deliver(store, delivery.job, response).await
    }
}

/// A response ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The published vacancy it goes on.
    pub vacancy_id: i64,
    /// The response item, as the platform's routes answer it.
    pub item: Value,
    /// The cover letter and comments, kept as the response's letters.
    pub letters: Vec<NewLetter>,
}

fn prepare(
    route: Transform<'_>,
    vacancy: Option<i64>,
    vacancy_tag: &str,
    scripts: &Scripts,
    profile: Cow<'_, Value>,
) -> Result<Plan<Response>, Failure> {
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
        Some(v) => mapping::from_format(route.format, v),
        None => mapping::from_profile(&profile),
    }
    .map_err(permanent)?;
    let vacancy_id = mapping::vacancy_id(vacancy, vacancy_tag, &profile).map_err(permanent)?;
    Ok(Plan::Send(Response {
        vacancy_id,
        item: mapped.item,
        letters: mapped.letters,
    }))
}

/// The response item (0.1 form, without id and created) and its letters.
fn preview(r: &Response) -> Value {
    let letters: Vec<Value> = r
        .letters
        .iter()
        .map(|l| json!({"type": l.kind, "comment": l.comment, "author": l.author}))
        .collect();
    json!({"outcome": "send", "vacancy": r.vacancy_id, "response": r.item, "letters": letters})
}

/// Stores the response on its vacancy, which must be published.
async fn deliver(store: &Store, job: &ClaimedJob, r: Response) -> Result<(), Failure> {
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
