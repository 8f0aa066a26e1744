//! `hrflow-relay erase --profile KEY` and `hrflow-relay purge`: deleting what the relay holds,
//! about one candidate or past `[retention]`'s periods. Each prints `{"deleted": {table: count}}`.

use std::process::ExitCode;

use super::{open, problems};
use crate::config::Settings;

/// `erase --profile KEY` (Some) or `purge` (None).
pub async fn run(settings: &Settings, profile: Option<&str>) -> ExitCode {
    if profile.is_some_and(|p| p.trim().is_empty()) {
        eprintln!("--profile must be a profile key");
        return ExitCode::FAILURE;
    }
    // Erasing a candidate or applying retention needs only the database and the periods: a
    // mistake elsewhere (an unset secret in the operator's shell) is told, and does not stop it.
    let refused = settings.duration_problems();
    if !refused.is_empty() {
        problems::print(&refused);
        return ExitCode::FAILURE;
    }
    problems::warn(&settings.validate());
    let Some(store) = open::store(settings, 2).await else {
        return ExitCode::FAILURE;
    };
    let result = match profile {
        Some(key) => store.erase_profile(key).await.map(Some),
        None => {
            crate::retention::purge_now(&store, &settings.retention, settings.hrflow.dedupe_window)
                .await
        }
    };
    store.close().await;
    match result {
        Ok(Some(deleted)) => {
            crate::out!("{}", serde_json::json!({ "deleted": deleted }));
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("another process is purging right now; nothing done");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
