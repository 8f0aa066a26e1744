//! `hrflow-relay sync`: one sync pass now (the library's `sync`), after any pass in progress;
//! prints its report as one JSON line.

use std::process::ExitCode;
use std::sync::Arc;

use super::{open, problems};
use crate::backfill::Progress;
use crate::config::Settings;
use crate::sync::Syncer;

pub async fn run(settings: Settings, sources: Vec<String>) -> ExitCode {
    if let Err(refused) = crate::startup::check(&settings) {
        problems::print(&refused);
        return ExitCode::FAILURE;
    }
    let sources = if sources.is_empty() {
        settings.sync.sources.clone()
    } else {
        sources
    };
    if let Err(why) = usable(&settings, &sources) {
        eprintln!("{why}");
        return ExitCode::FAILURE;
    }
    let Some(store) = open::store(&settings, 2).await else {
        return ExitCode::FAILURE;
    };
    let syncer = Syncer {
        settings: Arc::new(settings),
        store: store.clone(),
        // The command prints what it found; alerts are the service's.
        alerts: crate::alert::Alerts::default(),
        owner: format!(
            "cli-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ),
    };
    let report = syncer.now(&sources, &Progress::for_stderr()).await;
    store.close().await;
    match report {
        Ok(report) => {
            crate::out!("{}", serde_json::to_string(&report).unwrap_or_default());
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                for f in &report.failed {
                    eprintln!("sync stopped early for {f}; its watermark stays, run it again");
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("sync: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Refuses a pass that could queue nothing: no source, or one no route takes.
fn usable(settings: &Settings, sources: &[String]) -> Result<(), String> {
    if sources.is_empty() {
        return Err(
            "no source to pass over: set [sync].sources, or name one with --source KEY".into(),
        );
    }
    for s in sources {
        if !settings
            .routes
            .iter()
            .any(|r| crate::routes::listens_to(r, s))
        {
            return Err(format!(
                "no configured route takes source {s:?}: nothing would be queued"
            ));
        }
    }
    Ok(())
}
