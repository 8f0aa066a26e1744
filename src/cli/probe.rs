//! `hrflow-relay probe`: exit 0 when the running service answers a health path (for container
//! health checks, where no curl is at hand).

use std::process::ExitCode;

use crate::config::Settings;

pub async fn run(settings: &Settings, path: &str) -> ExitCode {
    // A wildcard listen address is not one to connect to: ask this host.
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1",
        h => h,
    };
    let url = format!("http://{host}:{}{path}", settings.server.port);
    let ok = match reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(3))
        .send()
        .await
    {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("{url} is not healthy");
        ExitCode::FAILURE
    }
}
