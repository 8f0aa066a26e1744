//! PostgreSQL's own paths, where it differs from SQLite by more than a placeholder: its
//! intake stores a batch with a multi-row statement per table.

pub(crate) mod intake;
