//! hrflow-relay: HrFlow.ai profile events to Flatchr, durably.
//! Source (`hrflow`) → transform (`logic`) → sink (`flatchr`), with `store` as the queue.

pub mod admin;
pub mod alert;
pub mod api;
pub mod backfill;
pub mod careers;
pub mod cli;
pub mod config;
pub mod destination;
pub mod error;
pub mod fields;
pub mod flatchr;
pub mod hrflow;
pub mod http;
pub mod job;
pub mod logic;
pub mod online;
pub mod output;
pub mod profile;
pub mod rate;
pub mod retention;
pub mod route_status;
pub mod routes;
pub mod secret;
pub mod startup;
pub mod store;
pub mod sync;
pub mod table;
pub mod telemetry;
pub mod time;
pub mod worker;
