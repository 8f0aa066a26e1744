//! `hrflow-relay preview`: a route's logics and format run offline on a profile from a file,
//! printing what would be sent (or why not) as pretty JSON. Nothing is fetched or delivered.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::problems;
use crate::config::Route;
use crate::config::Settings;
use crate::logic::Scripts;

pub fn run(settings: &Settings, path: &Path, route: Option<&str>, event_type: &str) -> ExitCode {
    let scripts = match crate::startup::check(settings) {
        Ok(s) => s,
        Err(refused) => {
            problems::print(&refused);
            return ExitCode::FAILURE;
        }
    };
    let profile = match read_profile(path) {
        Ok(p) => p,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::FAILURE;
        }
    };
    let routes: Vec<_> = settings
        .routes
        .iter()
        .filter(|r| route.is_none_or(|n| r.name == n))
        .collect();
    if routes.is_empty() {
        eprintln!(
            "{}",
            match route {
                Some(n) => format!("no route named {n:?}"),
                None => "no route is configured".into(),
            }
        );
        return ExitCode::FAILURE;
    }
    let results: Vec<Value> = routes
        .iter()
        .map(|r| outcome(r, event_type, &scripts, &profile))
        .collect();
    // One route asked for (or configured): its object alone, not an array of one.
    let out = if results.len() == 1 {
        results[0].clone()
    } else {
        Value::Array(results)
    };
    crate::out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    ExitCode::SUCCESS
}

/// The profile in `path`: a profile's JSON, or HrFlow's `{"data": profile}` answer unwrapped.
fn read_profile(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut profile: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    if profile.get("data").is_some_and(Value::is_object) && profile.get("info").is_none() {
        profile = profile["data"].take();
    }
    Ok(profile)
}

/// What one route makes of the profile: `unmatched` when it does not take this event, else
/// what its destination would send.
fn outcome(route: &Route, event_type: &str, scripts: &Scripts, profile: &Value) -> Value {
    let source = profile["source"]["key"].as_str().filter(|s| !s.is_empty());
    match crate::routes::refusal(route, event_type, source) {
        Some(reason) => {
            serde_json::json!({"route": route.name, "destination": route.destination.kind(),
            "outcome": "unmatched", "event": event_type, "reason": reason})
        }
        None => crate::destination::preview(
            route.transform(),
            &route.destination,
            scripts,
            profile.clone(),
        ),
    }
}
