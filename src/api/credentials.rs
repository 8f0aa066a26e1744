//! Bearer tokens and HTTP Basic users, compared in constant time: the one check behind the
//! careers API and the admin area. Nothing configured: every request is refused, never let in.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use base64::Engine as _;

use super::AppState;
use super::throttle::{Area, retry_after};
use crate::error::ApiError;
use crate::secret::Secret;

/// How the request proved itself: the admin area asks Basic (browser) requests for a CSRF
/// token on changes, Bearer (script) requests not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A token from `Authorization: Bearer`: a script, which needs no CSRF token.
    Bearer,
    /// The decoded `user:password`, from which the admin area derives its CSRF token.
    Basic(String),
}

fn refuse(message: &str, challenge: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message).header("WWW-Authenticate", challenge)
}

/// True when `presented` equals one of `secrets`; every secret is compared, so the time taken
/// does not tell which (or whether one) matched.
/// Empty entries (e.g. from an empty environment variable) never match anything.
fn any_matches(secrets: &[Secret], presented: &[u8]) -> bool {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(false, |found, s| s.matches(presented) | found)
}

/// Whether any usable credential is configured.
pub fn configured(tokens: &[Secret], basic_users: &[Secret]) -> bool {
    tokens.iter().chain(basic_users).any(|s| !s.is_empty())
}

/// Checks the request's `Authorization` for `area`, with friction on guessing: an address past
/// its failed logins is answered 429 before its credentials are looked at, and every failure
/// with credentials presented is counted (a request without any is a browser asking for the
/// challenge, not a guess).
pub fn check_request(
    req: &HttpRequest,
    state: &AppState,
    area: Area,
    (tokens, basic_users): (&[Secret], &[Secret]),
    name: &str,
    challenge: &'static str,
) -> Result<Proof, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    if let Err(wait) = state.logins.check(area, ip) {
        refused(area, "throttled");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins from this address: try again after Retry-After seconds",
        )
        .header("Retry-After", retry_after(wait)));
    }
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let result = check(header, tokens, basic_users, name, challenge);
    if result.is_err()
        && let Some(header) = header
        && configured(tokens, basic_users)
    {
        refused(area, "invalid");
        if state.logins.failed(area, ip) {
            metrics::counter!("relay_login_bursts_total", "area" => area.label()).increment(1);
            tracing::warn!(
                area = area.label(),
                user = %user_of(header),
                address = %ip.map(|i| i.to_string()).unwrap_or_default(),
                "failed logins from one address: it is refused for a minute"
            );
        }
    }
    result
}

fn refused(area: Area, reason: &'static str) {
    metrics::counter!("relay_logins_refused_total", "area" => area.label(), "reason" => reason)
        .increment(1);
}

/// Who a refused header claimed to be, for the log: a Basic user's name (never the password),
/// else what kind of credential it was.
fn user_of(header: &str) -> String {
    let Some((scheme, value)) = header.trim().split_once(' ') else {
        return "(malformed)".into();
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return format!("({} token)", scheme.to_ascii_lowercase());
    }
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .map(|d| {
            let text = String::from_utf8_lossy(&d).into_owned();
            let user = text.split_once(':').map_or("", |(u, _)| u);
            user.chars().take(64).collect()
        })
        .unwrap_or_else(|| "(malformed)".into())
}

/// Checks an `Authorization` header (`Bearer`/`Token`, or `Basic`) for `area` (named in the
/// refusal); a refusal carries `challenge` as `WWW-Authenticate`.
pub fn check(
    header: Option<&str>,
    tokens: &[Secret],
    basic_users: &[Secret],
    area: &str,
    challenge: &'static str,
) -> Result<Proof, ApiError> {
    if !configured(tokens, basic_users) {
        return Err(refuse(
            &format!("{area} has no credentials configured: every request is refused"),
            challenge,
        ));
    }
    let header = header.ok_or_else(|| refuse("credentials are required", challenge))?;
    let (scheme, value) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| refuse("the Authorization header is malformed", challenge))?;
    let value = value.trim();
    let proof = match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" => any_matches(tokens, value.as_bytes()).then_some(Proof::Bearer),
        "basic" => base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .filter(|decoded| any_matches(basic_users, decoded))
            .map(|decoded| Proof::Basic(String::from_utf8_lossy(&decoded).into_owned())),
        _ => None,
    };
    proof.ok_or_else(|| refuse("the credentials are not valid", challenge))
}
