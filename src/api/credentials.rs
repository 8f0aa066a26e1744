//! Bearer tokens and HTTP Basic users, compared in constant time: the one check behind the
//! careers API and the admin area. Nothing configured: every request is refused, never let in.

use actix_web::http::StatusCode;
use base64::Engine as _;

use crate::config::Secret;
use crate::error::ApiError;

/// How the request proved itself: the admin area asks Basic (browser) requests for a CSRF
/// token on changes, Bearer (script) requests not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
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
