//! What a write is made of, on either database: its statements, the values bound to them, and
//! the rows it returns.

use super::{Durability, StoreError};

/// A value bound to a statement.
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    MaybeInt(Option<i64>),
    MaybeText(Option<String>),
}

/// One caller's statements, run in order in one transaction. Parameters are numbered from `$1`
/// and shared: each statement takes the ones it names. On PostgreSQL, one statement only.
pub(crate) struct Write {
    /// The statements, in order, with `$k` placeholders.
    pub sql: Vec<String>,
    /// `$1`, `$2`, ... for every statement.
    pub args: Vec<Arg>,
    /// What the commit holding it must survive.
    pub durability: Durability,
}

/// A column's value in a returned row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// A row a write returned, by column name, the same on both databases.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The columns' names, in the statement's order.
    names: Vec<String>,
    /// Each column's value, in the same order.
    values: Vec<Value>,
}

/// A Rust type a column's value can be read as.
pub(crate) trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl Row {
    pub(crate) fn new(names: &[String], values: Vec<Value>) -> Self {
        Self {
            names: names.to_vec(),
            values,
        }
    }

    /// The column `name` as a `T`; an error if the row has no such column or another type.
    pub(crate) fn get<T: FromValue>(&self, name: &str) -> Result<T, StoreError> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.values.get(i))
            .and_then(T::from_value)
            .ok_or_else(|| StoreError::Column(name.to_string()))
    }

    /// A PostgreSQL row, read as integers or text.
    pub(crate) fn of_any(row: &sqlx::any::AnyRow) -> Self {
        use sqlx::{Column, Row as _};
        let names: Vec<String> = row.columns().iter().map(|c| c.name().to_string()).collect();
        let values = (0..names.len())
            .map(|i| {
                if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                    v.map_or(Value::Null, Value::Int)
                } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                    v.map_or(Value::Null, |v| Value::Int(v.into()))
                } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                    v.map_or(Value::Null, Value::Text)
                } else {
                    Value::Null
                }
            })
            .collect();
        Self { names, values }
    }
}
