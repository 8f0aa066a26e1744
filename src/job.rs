//! Jobs: one event on one route. The words the worker, the store and the pages share about
//! one: how an attempt ended (`Outcome`, `Failure`), when a failed one runs again
//! (`next_delay`), where a job stands (`Status`), how an attempt's record says it ended
//! (`Ended`) and how far it got (`Step`).

mod failure;
mod schedule;
mod status;
mod step;

pub use failure::Failure;
pub use schedule::{MAX_RETRY_AFTER, next_delay};
pub use status::{Ended, Status, UnknownStatus};
pub use step::{Label, Step};

/// The outcome of one attempt at a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// A logic dropped the profile; names the logic.
    Filtered(String),
    Failed(Failure),
}

#[cfg(test)]
mod tests;
