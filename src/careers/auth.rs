//! Careers authentication: `Bearer`/`Token` against `[careers].tokens`, HTTP Basic against
//! `[careers].basic_users`, all compared in constant time. No credentials configured: every
//! request is refused.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, web};

use crate::api::{AppState, credentials};
use crate::error::ApiError;
use crate::secret::Secret;

/// Proof that the request carried valid credentials; handlers take it first.
pub struct Authorized;

/// What a refused request is told to send.
const CHALLENGE: &str = r#"Bearer realm="careers", Basic realm="careers", charset="UTF-8""#;

pub fn check(
    header: Option<&str>,
    tokens: &[Secret],
    basic_users: &[Secret],
) -> Result<(), ApiError> {
    credentials::check(header, tokens, basic_users, "the careers API", CHALLENGE).map(drop)
}

pub use credentials::configured;

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::unavailable("the service is not ready")));
        };
        let careers = &state.settings.careers;
        ready(
            credentials::check_request(
                req,
                state,
                crate::api::throttle::Area::Careers,
                (&careers.tokens, &careers.basic_users),
                "the careers API",
                CHALLENGE,
            )
            .map(|_| Authorized),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use base64::Engine as _;

    #[test]
    fn schemes_and_refusals() {
        let tokens = [Secret::new("t0k3n")];
        let users = [Secret::new("huntflow:pa55")];
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("huntflow:pa55")
        );
        assert!(check(Some("Bearer t0k3n"), &tokens, &users).is_ok());
        assert!(check(Some("Token t0k3n"), &tokens, &users).is_ok());
        assert!(check(Some(&basic), &tokens, &users).is_ok());
        for bad in [
            "Bearer nope",
            "Basic !!!",
            "t0k3n",
            "Digest t0k3n",
            "Basic dXNlcg==",
            "",
        ] {
            let err = check(Some(bad), &tokens, &users).unwrap_err();
            assert_eq!(err.status, StatusCode::UNAUTHORIZED);
            assert!(err.headers.iter().any(|(h, _)| *h == "WWW-Authenticate"));
        }
        assert!(check(None, &tokens, &users).is_err());
        // Nothing configured: closed, never open; an empty entry is nothing.
        assert!(check(Some("Bearer t0k3n"), &[], &[]).is_err());
        assert!(check(Some("Bearer "), &[Secret::new("")], &[]).is_err());
        assert!(check(Some("Bearer  "), &[Secret::new(""), Secret::new("x")], &[]).is_err());
    }
}
