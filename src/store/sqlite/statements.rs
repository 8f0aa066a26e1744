//! A write's statements run by the writer thread: each bound to the values it names, its rows
//! read back by column name (the same `Row` PostgreSQL's writes answer).

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::store::write::{Arg, Row, Value, Write};

/// Runs a write's statements in order, each bound to the parameters it names; the rows they
/// return.
pub(super) fn statements(conn: &Connection, write: &Write) -> Result<Vec<Row>, rusqlite::Error> {
    let mut rows = Vec::new();
    for sql in &write.sql {
        let mut stmt = conn.prepare_cached(sql)?;
        for index in 1..=stmt.parameter_count() {
            match write.args.get(index - 1) {
                Some(Arg::Int(v)) => stmt.raw_bind_parameter(index, v)?,
                Some(Arg::Text(v)) => stmt.raw_bind_parameter(index, v)?,
                Some(Arg::MaybeInt(v)) => stmt.raw_bind_parameter(index, v)?,
                Some(Arg::MaybeText(v)) => stmt.raw_bind_parameter(index, v)?,
                None => {
                    return Err(rusqlite::Error::InvalidParameterCount(
                        index,
                        write.args.len(),
                    ));
                }
            }
        }
        let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
        let mut found = stmt.raw_query();
        while let Some(row) = found.next()? {
            let values = (0..names.len())
                .map(|i| row.get_ref(i).map(value))
                .collect::<Result<_, _>>()?;
            rows.push(Row::new(&names, values));
        }
    }
    Ok(rows)
}

/// A column's value as `Row` keeps it: the store's columns are integers and text; a real is
/// cut to an integer, a blob read as text.
fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
    }
}
