//! The same end-to-end suites as tests/api, on PostgreSQL (a fresh database per test), plus
//! the replica test. Without PostgreSQL they say so; under CI=true that is a failure.

#[macro_use]
#[path = "../api/helpers.rs"]
mod helpers;

pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/accounts.rs"]
mod accounts;
#[path = "../api/admin.rs"]
mod admin;
#[path = "../api/attempt.rs"]
mod attempt;
#[path = "../api/backfill.rs"]
mod backfill;
#[path = "../api/careers.rs"]
mod careers;
#[path = "../api/console.rs"]
mod console;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/delivery.rs"]
mod delivery;
#[path = "../api/events.rs"]
mod events;
#[path = "../api/huntflow.rs"]
mod huntflow;
#[path = "../api/keeping.rs"]
mod keeping;
#[path = "../api/online.rs"]
mod online;
#[path = "../api/operate.rs"]
mod operate;
mod outage;
mod replicas;
#[path = "../api/service.rs"]
mod service;
#[path = "../api/store.rs"]
mod store;
#[path = "../api/sync.rs"]
mod sync;
#[path = "../api/webhook.rs"]
mod webhook;
