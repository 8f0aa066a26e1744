//! Who may use `/admin`: `[admin]` Bearer tokens (scripts) and Basic users (what a browser
//! asks for), in constant time; closed when none is configured; never the careers
//! credentials. A browser re-sends Basic credentials on its own, even to a form posted from
//! another site, so every change made with Basic credentials must carry a CSRF token only a
//! page of this service can know: an HMAC of the user's credentials.

use std::future::{Ready, ready};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::api::credentials::{self, Proof};
use crate::error::ApiError;

const CHALLENGE: &str = r#"Basic realm="hrflow-relay admin", charset="UTF-8""#;
/// The header scripts may use instead of the form field.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Proof that the request carried valid admin credentials.
pub struct Operator {
    pub proof: Proof,
}

impl Operator {
    /// The token the pages put in their forms: HMAC-SHA256 keyed with the user's credentials,
    /// so it is the same on every replica and useless to anyone who lacks them.
    pub fn csrf_token(&self) -> String {
        match &self.proof {
            Proof::Bearer => String::new(),
            Proof::Basic(user) => token_for(user),
        }
    }

    /// A change is allowed with a Bearer token (browsers never add one by themselves), or with
    /// Basic credentials and the right CSRF token, from this origin.
    pub fn may_change(&self, req: &HttpRequest, presented: Option<&str>) -> Result<(), ApiError> {
        let Proof::Basic(user) = &self.proof else {
            return Ok(());
        };
        if cross_origin(req) {
            return Err(forbidden("a change was requested from another site"));
        }
        let presented = presented
            .or_else(|| req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()))
            .unwrap_or_default();
        if token_for(user)
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
        {
            Ok(())
        } else {
            Err(forbidden(
                "the CSRF token is missing or wrong: use the buttons of the status page, or a Bearer token from a script",
            ))
        }
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

fn token_for(user: &str) -> String {
    crate::hrflow::signature::hex_hmac(user.as_bytes(), b"hrflow-relay admin csrf v1")
}

/// True when the browser says the request comes from a page on another origin.
fn cross_origin(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("Sec-Fetch-Site").and_then(|v| v.to_str().ok())
        && (site == "cross-site" || site == "same-site")
    {
        return true;
    }
    let Some(origin) = headers.get("Origin").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get("Host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::unavailable("the service is not ready")));
        };
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let admin = &state.settings.admin;
        ready(
            credentials::check(
                header,
                &admin.tokens,
                &admin.basic_users,
                "the admin area",
                CHALLENGE,
            )
            .map(|proof| Operator { proof }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn tokens_are_per_user_and_checked() {
        let op = Operator {
            proof: Proof::Basic("ops:pw".into()),
        };
        let token = op.csrf_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, token_for("ops:other"));
        let req = TestRequest::post()
            .insert_header(("Host", "relay:8080"))
            .to_http_request();
        assert!(op.may_change(&req, Some(&token)).is_ok());
        assert!(op.may_change(&req, Some("nope")).is_err());
        assert!(op.may_change(&req, None).is_err());
        let header = TestRequest::post()
            .insert_header(("Host", "relay:8080"))
            .insert_header((CSRF_HEADER, token.as_str()))
            .to_http_request();
        assert!(op.may_change(&header, None).is_ok());
        // The right token from another site's page is still refused.
        for (name, value) in [
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "null"),
        ] {
            let req = TestRequest::post()
                .insert_header(("Host", "relay:8080"))
                .insert_header((name, value))
                .to_http_request();
            assert_eq!(
                op.may_change(&req, Some(&token)).unwrap_err().status,
                StatusCode::FORBIDDEN
            );
        }
        let same = TestRequest::post()
            .insert_header(("Host", "relay:8080"))
            .insert_header(("Origin", "http://relay:8080"))
            .insert_header(("Sec-Fetch-Site", "same-origin"))
            .to_http_request();
        assert!(op.may_change(&same, Some(&token)).is_ok());
        // Scripts with a Bearer token need no CSRF token.
        let script = Operator {
            proof: Proof::Bearer,
        };
        assert!(script.may_change(&req, None).is_ok());
    }
}
