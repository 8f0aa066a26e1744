//! The pieces every admin page is made of: escaping, the document and its stylesheet, times,
//! and the POST buttons that carry the CSRF token.

use std::fmt::Write as _;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root{--ok:#1a7f37;--dead:#cf222e;--filtered:#8c959f;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);margin:0;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.7rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}header a{color:#fff;text-decoration:none;font-weight:600}
nav{display:flex;gap:1rem}nav a{font-weight:400}
.search{display:flex;gap:.4rem;width:100%}.search input{flex:1 1 auto;min-width:0;font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:6px}
.filters{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}.filters select,.filters input{font:inherit;padding:.25rem;max-width:100%}
td{overflow-wrap:anywhere}.pager{display:flex;gap:1rem;margin-top:.6rem}.paused{color:#9a6700;font-weight:600}
@media (max-width:600px){main{padding:.5rem}section{padding:.7rem}svg text{font-size:24px}th,td{padding:.3rem}}
main{max-width:70rem;margin:0 auto;padding:1rem}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:0 0 .6rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{flex:1 1 9rem;border:1px solid var(--line);border-radius:6px;padding:.6rem}
.card b{display:block;font-size:1.5rem}.card span{color:var(--muted);font-size:.85rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;color:var(--muted);font-weight:600}th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}
.reason{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.82rem;word-break:break-word}
.cause{border-top:1px solid var(--line);padding:.7rem 0}.cause:first-of-type{border-top:0}
.row{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
button{font:inherit;padding:.3rem .7rem;border-radius:6px;border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer}
button.small{padding:.15rem .5rem;font-size:.85rem;background:#fff;color:#1f883d}button.cancel{border-color:var(--dead);background:#fff;color:var(--dead)}
form{display:inline}.muted{color:var(--muted)}.notice{background:#dafbe1;border-color:#1a7f37}
.status{font-weight:600}.status.dead{color:var(--dead)}.status.delivered{color:var(--ok)}.status.filtered{color:var(--muted)}.status.cancelled{color:var(--muted)}
.legend span{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin:0 .3rem 0 .8rem;vertical-align:-1px}
svg{width:100%;height:auto;display:block}
tr.earlier td{color:var(--muted)}
";

/// The whole document around `body`.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>{} · hrflow-relay</title><style>{STYLE}</style></head>\
         <body><header><a href=\"/admin\">hrflow-relay</a><nav><a href=\"/admin\">Status</a><a href=\"/admin/jobs\">Jobs</a><a href=\"/admin/events\">Events</a></nav></header>\
         <main>{body}</main></body></html>",
        esc(title)
    )
}

/// A value as a link's query string carries it (escaped again for HTML by `esc`).
pub fn query_value(text: &str) -> String {
    esc(&url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>())
}

/// A Unix-ms time as `2026-11-25 08:00:00 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// Seconds as a short age: `42 s`, `7 min`, `3 h 5 min`, `2 d 4 h`.
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// The search form: a GET, no script.
pub fn search_box(q: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/admin\" class=\"search\" role=\"search\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"profile key, job id, event id or email\" aria-label=\"find a candidate\"><button type=\"submit\">Find</button></form>",
        esc(q)
    )
}

/// A POST button: the form carries the CSRF token.
pub fn button(
    action: &str,
    label: &str,
    class: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> String {
    let mut hidden = format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    );
    for (name, value) in fields {
        let _ = write!(
            hidden,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(name),
            esc(value)
        );
    }
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}<button type=\"submit\" class=\"{class}\">{}</button></form>",
        esc(action),
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(42.0), "42 s");
        assert_eq!(age(420.0), "7 min");
        assert_eq!(age(3.0 * 3600.0 + 300.0), "3 h 5 min");
        assert_eq!(age(2.0 * 86400.0 + 4.0 * 3600.0), "2 d 4 h");
    }
}
