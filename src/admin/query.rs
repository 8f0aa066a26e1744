//! An admin query string, read strictly: a key the route does not know is a 400 naming it, as
//! in bulk retry, so a typo (`stauts=dead`) never widens a list.

use actix_web::HttpRequest;

use crate::error::ApiError;

/// The query as a page reads it: leniently (a person's address bar), a key missing or
/// malformed is as if absent; the values never reach the page unescaped.
pub fn loose(req: &HttpRequest) -> std::collections::HashMap<String, String> {
    actix_web::web::Query::<std::collections::HashMap<String, String>>::from_query(
        req.query_string(),
    )
    .map(|q| q.into_inner())
    .unwrap_or_default()
}

/// Paging keys every list takes.
const PAGING: [&str; 3] = ["page", "per_page", "count"];

/// The query's (key, value) pairs, blank values left out; 400 on a key not in `known` (paging
/// keys are always known).
pub fn strict(req: &HttpRequest, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut err = ApiError::bad_request("invalid query");
    let mut out = Vec::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if PAGING.contains(&key.as_ref()) {
            continue;
        }
        if !known.contains(&key.as_ref()) {
            err = err.field(
                key.to_string(),
                format!("is not a query key here (known: {})", known.join(", ")),
            );
            continue;
        }
        let value = value.trim();
        if !value.is_empty() {
            out.push((key.into_owned(), value.to_string()));
        }
    }
    if err.fields.is_empty() {
        Ok(out)
    } else {
        Err(err)
    }
}
