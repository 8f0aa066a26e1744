//! The Flatchr sink: PushProfile creates the candidate with its resume, EnrichProfile attaches
//! the parsed profile.

pub mod account;
pub mod client;
pub mod enrich;
pub mod push;
mod resume;

pub use account::{Account, Section};
pub use client::FlatchrClient;
