//! SQLite's own machinery: the one writer thread that gathers hot writes into batches.

pub(crate) mod writer;
