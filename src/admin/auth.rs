//! Who may use `/admin`: `[admin]` Bearer tokens (scripts) and Basic users (what a browser
//! asks for), in constant time; closed when none is configured; never the careers
//! credentials. A browser re-sends Basic credentials on its own, even to a form posted from
//! another site, so every change made with Basic credentials must carry a CSRF token only a
//! page of this service can know: an HMAC, keyed with a secret the relay made once and keeps in
//! its database (the same on every replica), of the user's name and the token's expiry. It is
//! no function of the password, so a token seen (a saved page, a proxy's log) tests no guess.

use std::future::{Ready, ready};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::api::credentials::{self, Proof};
use crate::error::ApiError;

const CHALLENGE: &str = r#"Basic realm="hrflow-relay admin", charset="UTF-8""#;
/// The header scripts may use instead of the form field.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// How long a page's token is taken: a page left open longer is reloaded first.
pub const CSRF_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Proof that the request carried valid admin credentials.
pub struct Operator {
    /// Basic (a person's browser: changes need the CSRF token) or Bearer (a script).
    pub proof: Proof,
    /// The CSRF key from the database; empty for a Bearer proof, which needs none.
    csrf_key: Vec<u8>,
}

impl Operator {
    /// The token the pages put in their forms: `<expiry>.<HMAC of the user's name and expiry>`.
    pub fn csrf_token(&self) -> String {
        match &self.proof {
            Proof::Bearer => String::new(),
            Proof::Basic(user) => {
                let expiry = chrono::Utc::now().timestamp() + CSRF_LIFETIME.as_secs() as i64;
                token_for(&self.csrf_key, user_name(user), expiry)
            }
        }
    }

    /// A change is allowed with a Bearer token (browsers never add one by themselves), or with
    /// Basic credentials and an unexpired CSRF token of this user, from this origin.
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
        if valid(
            &self.csrf_key,
            user_name(user),
            presented,
            chrono::Utc::now().timestamp(),
        ) {
            Ok(())
        } else {
            Err(forbidden(
                "the CSRF token is missing, wrong or expired: reload the status page and use its buttons, or a Bearer token from a script",
            ))
        }
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

/// The name part of a Basic `user:password`.
fn user_name(credentials: &str) -> &str {
    credentials.split_once(':').map_or(credentials, |(u, _)| u)
}

fn token_for(key: &[u8], user: &str, expiry: i64) -> String {
    let signed = format!("hrflow-relay admin csrf v2\0{user}\0{expiry}");
    format!(
        "{expiry}.{}",
        hex::encode(crate::hrflow::signature::hmac_sha256(
            key,
            signed.as_bytes()
        ))
    )
}

/// Whether `presented` is a token this key made for `user` that has not expired at `now`.
fn valid(key: &[u8], user: &str, presented: &str, now: i64) -> bool {
    let Some(expiry) = presented
        .split_once('.')
        .and_then(|(e, _)| e.parse::<i64>().ok())
    else {
        return false;
    };
    let expected = token_for(key, user, expiry);
    let same: bool = expected.as_bytes().ct_eq(presented.as_bytes()).into();
    same && now < expiry
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
        let admin = &state.settings.admin;
        let proof = match credentials::check_request(
            req,
            state,
            crate::api::throttle::Area::Admin,
            (&admin.tokens, &admin.basic_users),
            "the admin area",
            CHALLENGE,
        ) {
            Ok(p) => p,
            Err(e) => return ready(Err(e)),
        };
        let csrf_key = match &proof {
            Proof::Bearer => Vec::new(),
            Proof::Basic(_) => match state.store.csrf_key() {
                Ok(k) => k.to_vec(),
                Err(e) => return ready(Err(e.into())),
            },
        };
        ready(Ok(Operator { proof, csrf_key }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn operator(credentials: &str, key: &[u8]) -> Operator {
        Operator {
            proof: Proof::Basic(credentials.into()),
            csrf_key: key.to_vec(),
        }
    }

    fn post() -> HttpRequest {
        TestRequest::post()
            .insert_header(("Host", "relay:8080"))
            .to_http_request()
    }

    #[test]
    fn tokens_are_keyed_and_bound_to_the_user() {
        let op = operator("ops:pw", b"a key made once");
        let token = op.csrf_token();
        assert!(op.may_change(&post(), Some(&token)).is_ok());
        assert!(op.may_change(&post(), Some("nope")).is_err());
        assert!(op.may_change(&post(), None).is_err());
        // Another password of the same user: the same user, the token holds; another user's
        // token, or another database's key, does not.
        assert!(
            operator("ops:other", b"a key made once")
                .may_change(&post(), Some(&token))
                .is_ok()
        );
        assert!(
            operator("admin:pw", b"a key made once")
                .may_change(&post(), Some(&token))
                .is_err()
        );
        assert!(
            operator("ops:pw", b"another key")
                .may_change(&post(), Some(&token))
                .is_err()
        );
        // It is no function of the password alone: the old HMAC(credentials, constant) differs,
        // and nothing in the token can be computed from the password.
        assert_ne!(
            token.split_once('.').unwrap().1,
            crate::hrflow::signature::hex_hmac(b"ops:pw", b"hrflow-relay admin csrf v1")
        );
    }

    #[test]
    fn tokens_expire_and_their_expiry_cannot_be_moved_on() {
        let token = operator("ops:pw", b"a key made once").csrf_token();
        let now = chrono::Utc::now().timestamp();
        let old = token_for(b"a key made once", "ops", now - 1);
        assert!(!valid(b"a key made once", "ops", &old, now));
        assert!(valid(
            b"a key made once",
            "ops",
            &token_for(b"a key made once", "ops", now + 60),
            now
        ));
        // A token whose expiry was moved on no longer verifies.
        let (_, mac) = token.split_once('.').unwrap();
        assert!(!valid(
            b"a key made once",
            "ops",
            &format!("{}.{mac}", now + 999_999),
            now
        ));
    }

    #[test]
    fn the_token_goes_in_a_header_and_never_from_another_site() {
        let op = operator("ops:pw", b"a key made once");
        let token = op.csrf_token();
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
            csrf_key: Vec::new(),
        };
        assert!(script.may_change(&post(), None).is_ok());
    }
}
