//! End-to-end tests through HTTP on port 0, with every external service faked.

#[macro_use]
mod helpers;

/// The database these suites run on; tests/api_postgres runs them on PostgreSQL.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod accounts;
mod admin;
mod attempt;
mod backfill;
mod browser;
mod careers;
mod console;
mod container;
mod crash;
mod delivery;
mod edges;
mod events;
mod huntflow;
mod keeping;
mod mapping;
mod online;
mod operate;
mod resilience;
mod service;
mod store;
mod sync;
mod webhook;
