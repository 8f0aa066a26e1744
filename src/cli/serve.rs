//! `hrflow-relay serve` (the default): the HTTP server and the delivery workers, until stopped.

use std::process::ExitCode;

use crate::config::Settings;
use crate::startup::Application;

pub async fn run(settings: Settings) -> ExitCode {
    crate::telemetry::init_logs();
    crate::telemetry::metrics();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot start");
            eprintln!("cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
