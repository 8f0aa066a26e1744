//! `hrflow-relay backfill`: queues the profiles already in HrFlow sources (the library's
//! `backfill`) and prints its report as one JSON line.

use std::process::ExitCode;

use super::{open, problems};
use crate::backfill::{Options, Progress};
use crate::config::Settings;

pub async fn run(settings: &Settings, options: &Options) -> ExitCode {
    if let Err(refused) = crate::startup::check(settings) {
        problems::print(&refused);
        return ExitCode::FAILURE;
    }
    let Some(store) = open::store(settings, 2).await else {
        return ExitCode::FAILURE;
    };
    let progress = Progress::for_stderr();
    let result = crate::backfill::run_with(settings, &store, options, &progress).await;
    store.close().await;
    match result {
        Ok(report) => {
            crate::out!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err((report, e)) => {
            eprintln!("backfill stopped: {e}");
            // Said only when something was done: a refusal before the first page queued nothing.
            if report.pages > 0 {
                eprintln!("what was queued stays queued; run the same command again to go on");
                crate::out!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            ExitCode::FAILURE
        }
    }
}
