use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = hrflow_relay::cli::Cli::parse();
    hrflow_relay::cli::run(cli).await
}
