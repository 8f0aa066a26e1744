//! The command line: `serve` (default), `check-config`, `preview`, `jobs`, `routes`, `events`,
//! `erase`, `purge`, `backfill`, `sync`, `probe`. This file parses and dispatches; each command
//! is a file of its own, a thin caller of the library, and no command imports another (what
//! they share is in `open.rs` and `problems.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;

mod backfill;
mod check;
mod events;
mod forget;
mod jobs;
mod open;
mod preview;
mod probe;
mod problems;
mod routes;
mod serve;
mod sync;

#[derive(Parser, Debug)]
#[command(
    name = "hrflow-relay",
    version,
    about = "Relays HrFlow.ai profiles to Flatchr, to Huntflow (as its response platform) and to your own webhook, durably.",
    long_about = "Relays HrFlow.ai profiles to applicant tracking systems: HrFlow sends an event for each parsed profile; the relay stores it, fetches the profile, runs the route's logics and format, and delivers the candidate to Flatchr (push, then enrich), to Huntflow (which pulls candidates from the relay's response-platform API) or to your own webhook. Never loses or duplicates a candidate, and says what it did with each one.\n\nStart: `hrflow-relay --config relay.toml` (serve). Check a setup first: `hrflow-relay check-config --online`."
)]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults.
    #[arg(long, global = true, env = "RELAY_CONFIG")]
    pub config: Option<PathBuf>,
    // None: `serve`, the default.
    /// What to do; none: serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server and the delivery workers (the default).
    Serve,
    /// Check the configuration and the logic script; exit 1 listing every problem.
    CheckConfig {
        /// Then ask each configured upstream (HrFlow, Flatchr), the database and the alert
        /// hook's host whether they take the configured credentials; nothing is created.
        #[arg(long)]
        online: bool,
        /// With --online: post one message, saying it is a test, to the alert webhook.
        #[arg(long, requires = "online")]
        send_test_alert: bool,
    },
    /// Run a route's logics and format on a profile offline and print what would be sent.
    Preview {
        /// A profile as JSON (or HrFlow's `{"data": profile}` answer).
        #[arg(long)]
        profile: PathBuf,
        /// The route to use; default: every route.
        #[arg(long)]
        route: Option<String>,
        /// The event type the profile arrives with: a route that does not act on it says
        /// "unmatched".
        #[arg(long = "event", default_value = "profile.parsing.success")]
        event_type: String,
    },
    /// See and fix jobs: list (the default), show, retry, cancel. Works on the database
    /// directly, whether the service runs or not.
    #[command(args_conflicts_with_subcommands = true)]
    Jobs {
        #[command(subcommand)]
        action: Option<jobs::Action>,
        #[command(flatten)]
        list: jobs::ListArgs,
    },
    /// Routes: list them (destination, paused, jobs per status), pause or resume one.
    Routes {
        #[command(subcommand)]
        action: routes::RoutesAction,
    },
    /// The events log: every event received, whatever became of it.
    Events {
        #[command(subcommand)]
        action: events::EventsAction,
    },
    /// Delete everything the relay holds about one candidate (jobs, attempts, events, push
    /// records, careers responses and letters) so none of it stays readable in the database
    /// files. Prints the counts deleted.
    Erase {
        /// The candidate's HrFlow profile key.
        #[arg(long)]
        profile: String,
    },
    /// Apply [retention] now: delete finished and dead jobs past their period. Prints counts.
    Purge,
    /// Queue the profiles already in HrFlow sources, as if an event had arrived for each.
    /// Idempotent: a (route, profile) that already has a job is skipped.
    Backfill(crate::backfill::Options),
    /// Run one sync pass now: list the `[sync].sources` (or these) and queue what has no job,
    /// as a backfill would; waits for a pass in progress first. Prints {"listed", "queued",
    /// "skipped", "found"}.
    Sync {
        /// A source to pass over (repeatable); default: `[sync].sources`.
        #[arg(long = "source")]
        sources: Vec<String>,
    },
    /// Exit 0 when the running service answers /health/live (for container health checks).
    Probe {
        /// The path to ask for.
        #[arg(long, default_value = "/health/live")]
        path: String,
    },
}

pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if matches!(
        cli.command,
        Some(
            Command::Jobs { .. }
                | Command::Routes { .. }
                | Command::Events { .. }
                | Command::Probe { .. }
        )
    ) {
        // These read the database only: a mistake elsewhere is told, not a reason to refuse.
        problems::warn(&settings.read_problems);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run(settings).await,
        Command::CheckConfig {
            online,
            send_test_alert,
        } => check::run(&settings, online, send_test_alert).await,
        Command::Preview {
            profile,
            route,
            event_type,
        } => preview::run(&settings, &profile, route.as_deref(), &event_type),
        Command::Jobs { action, list } => {
            let action = action.unwrap_or(jobs::Action::List(list));
            jobs::run(&settings, action).await
        }
        Command::Routes { action } => routes::run(&settings, action).await,
        Command::Events { action } => events::run(&settings, action).await,
        Command::Probe { path } => probe::run(&settings, &path).await,
        Command::Backfill(options) => backfill::run(&settings, &options).await,
        Command::Sync { sources } => sync::run(settings, sources).await,
        Command::Erase { profile } => forget::run(&settings, Some(&profile)).await,
        Command::Purge => forget::run(&settings, None).await,
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every subcommand and every argument says in a line what it is for.
    #[test]
    fn every_command_and_argument_has_a_line_of_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let cli = super::Cli::command();
        assert!(cli.get_about().is_some_and(
            |a| a.to_string().contains("Flatchr") && a.to_string().contains("webhook")
        ));
        let mut missing = Vec::new();
        walk(&cli, "hrflow-relay", &mut missing);
        assert!(missing.is_empty(), "no help: {missing:?}");
    }
}
