//! End-to-end tests through HTTP on port 0, with every external service faked.

mod helpers;

mod careers;
mod crash;
mod delivery;
mod events;
mod mapping;
mod service;
