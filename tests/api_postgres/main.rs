//! The same end-to-end suites as tests/api, on PostgreSQL (a fresh database per test), plus
//! the replica test. Without PostgreSQL they say so; under CI=true that is a failure.

#[macro_use]
#[path = "../api/helpers/mod.rs"]
mod helpers;

pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/accounts.rs"]
mod accounts;
#[path = "../api/admin/mod.rs"]
mod admin;
#[path = "../api/attempt.rs"]
mod attempt;
#[path = "../api/backfill.rs"]
mod backfill;
#[path = "../api/careers/mod.rs"]
mod careers;
#[path = "../api/console.rs"]
mod console;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/delivery/mod.rs"]
mod delivery;
#[path = "../api/events/mod.rs"]
mod events;
#[path = "../api/huntflow/mod.rs"]
mod huntflow;
#[path = "../api/keeping/mod.rs"]
mod keeping;
#[path = "../api/online.rs"]
mod online;
#[path = "../api/operate.rs"]
mod operate;
mod outage;
mod replicas;
#[path = "../api/service/mod.rs"]
mod service;
#[path = "../api/store/mod.rs"]
mod store;
#[path = "../api/sync.rs"]
mod sync;
#[path = "../api/webhook.rs"]
mod webhook;
