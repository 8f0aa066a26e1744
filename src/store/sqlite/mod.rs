//! SQLite's own machinery: the one writer thread that gathers hot writes into batches, the
//! statements it runs for them, and its intake of events.

pub(crate) mod intake;
mod statements;
pub(crate) mod writer;
