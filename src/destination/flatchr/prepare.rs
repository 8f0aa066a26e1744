//! What a Flatchr delivery sends: the route's logics, then its format or the built-in
//! mapping, into the PushProfile and EnrichProfile bodies; and what `preview` shows of them.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::{Flatchr, NO_EMAIL};
use crate::destination::{Kept, Kind, Plan, kept, permanent};
use crate::flatchr::{enrich, push};
use crate::job::Failure;
use crate::logic::{Scripts, Transform};

/// The two bodies a Flatchr delivery sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Bodies {
    /// PushProfile, with `resume.url` still to download, and without `token`.
    pub push: Value,
    /// EnrichProfile, sent when the route enriches.
    pub enrich: Value,
}

impl Bodies {
    /// The push's email, when it has one.
    pub(super) fn email(&self) -> Option<&str> {
        self.push
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
    }
}

/// The logics, then the format (or the built-in mapping): the push and enrich bodies.
pub fn prepare(
    route: Transform<'_>,
    vacancy: &str,
    scripts: &Scripts,
    profile: Cow<'_, Value>,
) -> Result<Plan<Bodies>, Failure> {
    let profile = match kept(route, scripts, profile).map_err(permanent)? {
        Kept::DroppedBy(logic) => return Ok(Plan::Dropped(logic)),
        Kept::Profile(p) => p,
    };
    let (push, enrich) = match scripts.format(route, &profile).map_err(permanent)? {
        None => (push::body(&profile), enrich::body(&profile)),
        Some(body) => {
            // `{push: ..., enrich: ...}` sets both bodies; any other map is the push body.
            let split = body.as_object().is_some_and(|m| {
                m.keys().all(|k| k == "push" || k == "enrich")
                    && m.get("push").is_some_and(Value::is_object)
            });
            if split {
                let enrich = body
                    .get("enrich")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| enrich::body(&profile));
                (body["push"].clone(), enrich)
            } else {
                (body, enrich::body(&profile))
            }
        }
    };
    Ok(Plan::Send(Bodies {
        push: push::complete(push, vacancy),
        enrich,
    }))
}

/// The push (the key shown as a placeholder), the enrich body when the route enriches, and
/// "dead" with the reason when the profile cannot be pushed.
pub(super) fn preview(route: &Flatchr, b: &Bodies) -> Value {
    let mut push = b.push.clone();
    if let Some(map) = push.as_object_mut() {
        map.insert("token".into(), json!("<flatchr.api_key>"));
    }
    let mut out = json!({
        "outcome": "send",
        "account": route.account(),
        "push": push,
    });
    if route.enrich {
        out["enrich"] = b.enrich.clone();
    }
    if b.email().is_none() {
        out["outcome"] = json!("dead");
        out["reason"] = json!(NO_EMAIL);
    }
    out
}


#[cfg(test)]
#[path = "prepare_tests.rs"]
mod tests;
