//! The source: HrFlow.ai events, their signatures, and the profile API.

pub mod client;
pub mod event;
pub mod signature;
