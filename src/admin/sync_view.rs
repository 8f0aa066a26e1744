//! The status page's sync section: each source's last pass (when, listed, queued, found,
//! what stopped it), so a person sees that sync runs and whether events went missing.

use std::fmt::Write as _;

use super::html::{esc, time};
use crate::store::sync::SourceRun;

/// Nothing when sync is off and never ran.
pub fn section(sources: &[String], runs: &[SourceRun]) -> String {
    if sources.is_empty() && runs.is_empty() {
        return String::new();
    }
    let mut b = String::from(
        "<section id=\"sync\"><h2>Sync</h2><p class=\"muted\">Profiles found are ones no event had brought: look at HrFlow's webhook when there are any.</p><div class=\"scroll\"><table><thead><tr><th>source</th><th>last pass</th><th class=\"n\">listed</th><th class=\"n\">queued</th><th class=\"n\">found</th><th>failed</th></tr></thead><tbody>",
    );
    let mut keys: Vec<&str> = sources.iter().map(String::as_str).collect();
    for r in runs {
        if !keys.contains(&r.source_key.as_str()) {
            keys.push(&r.source_key);
        }
    }
    for key in keys {
        match runs.iter().find(|r| r.source_key == key) {
            Some(r) => {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"reason\">{}</td></tr>",
                    esc(key),
                    r.ended_at.or(r.started_at).map(time).unwrap_or_default(),
                    r.listed,
                    r.queued,
                    r.found,
                    esc(r.error.as_deref().unwrap_or("")),
                );
            }
            None => {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"muted\" colspan=\"5\">no pass yet</td></tr>",
                    esc(key)
                );
            }
        }
    }
    b.push_str("</tbody></table></div></section>");
    b
}
