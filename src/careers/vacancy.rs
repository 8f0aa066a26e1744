//! Publish, edit, unpublish and read vacancies; the API version.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::auth::Authorized;
use super::parse_id;
use crate::api::AppState;
use crate::api::body;
use crate::error::ApiError;

/// `position` is a required, non-empty string; the HTML fields are strings or null. Every other
/// field is kept as sent: the field set "is agreed during the integration".
pub fn validate(fields: &Map<String, Value>) -> Result<(), ApiError> {
    let mut err = ApiError::bad_request("the vacancy is not valid");
    match fields.get("position") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(Value::String(_)) => err = err.field("position", "Vacancy position must not be empty"),
        None | Some(Value::Null) => {
            err = err.field("position", "Vacancy position is a required field")
        }
        Some(_) => err = err.field("position", "Vacancy position must be a string"),
    }
    for html in ["body", "requirements", "conditions"] {
        if fields
            .get(html)
            .is_some_and(|v| !(v.is_string() || v.is_null()))
        {
            err = err.field(html, format!("{html} must be an HTML string or null"));
        }
    }
    if err.fields.is_empty() {
        Ok(())
    } else {
        Err(err)
    }
}

pub async fn publish(
    _: Authorized,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let fields = body::json_object(&req, payload, state.settings.server.max_body_bytes).await?;
    validate(&fields)?;
    let id = state.store.publish_vacancy(&Value::Object(fields)).await?;
    tracing::info!(vacancy_id = id, "vacancy published");
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

pub async fn edit(
    _: Authorized,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path).ok_or_else(ApiError::not_found)?;
    let fields = body::json_object(&req, payload, state.settings.server.max_body_bytes).await?;
    validate(&fields)?;
    if state.store.edit_vacancy(id, &Value::Object(fields)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}

pub async fn unpublish(
    _: Authorized,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path).ok_or_else(ApiError::not_found)?;
    if state.store.unpublish_vacancy(id).await? {
        tracing::info!(vacancy_id = id, "vacancy unpublished");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}

/// 0.1: `{"id": N}` for a published vacancy; 404 when unpublished or unknown.
pub async fn read(
    _: Authorized,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path).ok_or_else(ApiError::not_found)?;
    match state.store.vacancy(id).await? {
        Some(v) if v.published => Ok(HttpResponse::Ok().json(json!({"id": v.id}))),
        _ => Err(ApiError::not_found()),
    }
}

pub async fn version(_: Authorized) -> HttpResponse {
    HttpResponse::Ok().json(json!({"version": "0.1"}))
}
