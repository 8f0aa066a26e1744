//! Placeholder lists for statements whose length follows the data: multi-row inserts and
//! `IN (...)` lists, cut into statements of `ROWS_PER_STATEMENT` rows.

/// Rows per multi-row INSERT: well under either database's limit on bound parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

/// `($1, $2, $3), ($4, $5, $6), ...`: `rows` tuples of `width` numbered placeholders.
pub(super) fn tuples(rows: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * width + c).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, ...`: `count` numbered placeholders, for an `IN (...)` list.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
