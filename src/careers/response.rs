//! Listing a vacancy's responses and a response's letters, newest first, in both forms.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Authorized;
use super::paging::Paging;
use super::{Form, parse_id};
use crate::api::AppState;
use crate::error::ApiError;
use crate::store::careers::{StoredLetter, StoredResponse};

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn id(form: Form, id: i64) -> Value {
    match form {
        Form::Seed => json!(id),
        Form::V01 => json!(id.to_string()),
    }
}

/// A stored response as the form shows it.
pub fn render(form: Form, r: &StoredResponse) -> Value {
    let mut item = r.item.as_object().cloned().unwrap_or_default();
    let resumes = item.remove("resumes").unwrap_or_else(|| json!([]));
    if form == Form::Seed {
        item.remove("photo");
        item.remove("birthday");
    }
    item.insert(
        if form == Form::Seed {
            "resume"
        } else {
            "resumes"
        }
        .into(),
        resumes,
    );
    item.insert("id".into(), id(form, r.id));
    item.insert("created".into(), json!(rfc3339(r.created_at)));
    Value::Object(item)
}

pub fn render_letter(form: Form, l: &StoredLetter) -> Value {
    let mut v = json!({"id": id(form, l.id), "type": l.kind, "comment": l.comment, "created": rfc3339(l.created_at)});
    if let Some(author) = &l.author {
        v["author"] = author.clone();
    }
    v
}

async fn list(
    form: Form,
    req: HttpRequest,
    vacancy: &str,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(req.query_string())?;
    let id = parse_id(vacancy).ok_or_else(ApiError::not_found)?;
    // Unpublished vacancies keep their responses readable; unknown ones are 404.
    let vacancy = state
        .store
        .vacancy(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let page = state
        .store
        .responses_page(&vacancy, paging.offset(), paging.per_page)
        .await?;
    let items = page.items.iter().map(|r| render(form, r)).collect();
    Ok(HttpResponse::Ok().json(paging.envelope(items, page.found)))
}

async fn letters(
    form: Form,
    req: HttpRequest,
    vacancy: &str,
    response: &str,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(req.query_string())?;
    let (vacancy, response) = (
        parse_id(vacancy).ok_or_else(ApiError::not_found)?,
        parse_id(response).ok_or_else(ApiError::not_found)?,
    );
    let response = state
        .store
        .response_of(vacancy, response)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let page = state
        .store
        .letters_page(response, paging.offset(), paging.per_page)
        .await?;
    let items = page.items.iter().map(|l| render_letter(form, l)).collect();
    Ok(HttpResponse::Ok().json(paging.envelope(items, page.found)))
}

pub async fn list_seed(
    _: Authorized,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    list(Form::Seed, req, &path, &state).await
}

pub async fn list_v01(
    _: Authorized,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    list(Form::V01, req, &path, &state).await
}

pub async fn letters_seed(
    _: Authorized,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    letters(Form::Seed, req, &path.0, &path.1, &state).await
}

pub async fn letters_v01(
    _: Authorized,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    letters(Form::V01, req, &path.0, &path.1, &state).await
}
