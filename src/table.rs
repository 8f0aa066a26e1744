//! Output for people and for programs: on a terminal, aligned columns (gh and kubectl style)
//! with UTC times; piped, or with `--json`, JSON lines.

use std::io::IsTerminal;

/// Whether a command prints JSON: asked for, or its output is not a terminal.
pub fn json_wanted(asked: bool) -> bool {
    asked || !std::io::stdout().is_terminal()
}

/// A cell is cut to this many characters (a reason can be long); `jobs show` has it whole.
const MAX_CELL: usize = 60;

/// Columns under upper-case headers, each as wide as its widest cell.
pub struct Table {
    /// Printed upper-case.
    headers: Vec<&'static str>,
    /// Cells as text, one vector per row.
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    // One line per row: a newline in a stored value would break the columns.
                    let c = c.replace(['\n', '\r', '\t'], " ");
                    if c.chars().count() > MAX_CELL {
                        let mut cut: String = c.chars().take(MAX_CELL - 1).collect();
                        cut.push('…');
                        cut
                    } else {
                        c
                    }
                })
                .collect(),
        );
    }

    /// The lines, headers first; the last column is not padded.
    pub fn lines(&self) -> Vec<String> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let render = |cells: Vec<&str>| {
            let last = cells.len().saturating_sub(1);
            let mut line = String::new();
            for (i, c) in cells.iter().enumerate() {
                line.push_str(c);
                if i < last {
                    let pad = widths[i] + 3 - c.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line.trim_end().to_string()
        };
        let mut out = vec![render(self.headers.clone())];
        for row in &self.rows {
            out.push(render(row.iter().map(String::as_str).collect()));
        }
        out
    }

    pub fn print(&self) {
        for l in self.lines() {
            crate::out!("{l}");
        }
    }
}

/// A time for a table: `2026-12-02 03:33:33Z`, or `-`.
pub fn when(ms: Option<i64>) -> String {
    ms.map_or("-".into(), crate::time::short)
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_and_long_cells_are_cut() {
        let mut t = super::Table::new(&["ID", "STATUS", "REASON"]);
        t.row(vec!["7".into(), "dead".into(), "x".repeat(80)]);
        t.row(vec!["12".into(), "delivered".into(), "".into()]);
        let lines = t.lines();
        assert_eq!(lines[0], "ID   STATUS      REASON");
        assert!(lines[1].starts_with("7    dead        xxx"));
        assert!(lines[1].ends_with('…') && lines[1].chars().count() == 5 + 12 + 60);
        assert_eq!(lines[2], "12   delivered");
    }
}
