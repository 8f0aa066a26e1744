//! The status page's HTML: server-rendered, one inline stylesheet, no script, nothing from
//! other hosts. Every value from the store is escaped. Legible on a phone: one column that
//! wraps, tables that scroll sideways.

use std::fmt::Write as _;

use super::html::{age, button, document, esc, query_value, search_box, time};
use crate::route_status::RouteStatus;
use crate::store::stats::{DeadCause, Stats};

/// What the status page shows besides the queue's figures.
pub struct StatusParts<'a> {
    /// Every configured route, for the routes table.
    pub routes: &'a [RouteStatus],
    /// The dead jobs, grouped by route and reason.
    pub causes: &'a [DeadCause],
    /// The sync section's HTML (empty when sync is off).
    pub sync: &'a str,
    /// Carried by every button's form.
    pub csrf: &'a str,
    /// What the last button did, said once at the top.
    pub notice: Option<&'a str>,
    /// Reload every 10 s (`<meta http-equiv="refresh">`), off unless asked for.
    pub refresh: bool,
}

/// The status page.
pub fn status_page(stats: &Stats, p: &StatusParts) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Status</h1><section aria-label=\"find a candidate\">{}</section>",
        search_box("")
    );
    if let Some(n) = p.notice {
        let _ = write!(
            b,
            "<section class=\"notice\" role=\"status\">{}</section>",
            esc(n)
        );
    }
    b.push_str(&queue(stats, p.refresh));
    b.push_str("<section><h2>Outcomes, last 24 hours</h2>");
    b.push_str(&super::chart_view::chart(&stats.hours));
    b.push_str("</section>");
    b.push_str(&super::routes_view::table(p.routes, p.csrf));
    b.push_str(&dead_causes(p.causes, p.csrf));
    b.push_str(p.sync);
    b.push_str("<p class=\"muted\">Times are UTC. The same data as JSON: <a href=\"/admin/api/stats\">/admin/api/stats</a>.</p>");
    let doc = document("Status", &b);
    if p.refresh {
        doc.replacen(
            "<head>",
            "<head><meta http-equiv=\"refresh\" content=\"10;url=/admin?refresh=10\">",
            1,
        )
    } else {
        doc
    }
}

/// The queue's cards (pending, due, oldest due, paused, dead, cancelled) and the reload link.
fn queue(stats: &Stats, refresh: bool) -> String {
    let dead: i64 = stats.routes.iter().map(|r| r.dead).sum();
    let cancelled: i64 = stats.routes.iter().map(|r| r.cancelled).sum();
    format!(
        "<section aria-label=\"queue\"><h2>Queue</h2><div class=\"cards\">\
         <div class=\"card\" id=\"pending\"><b>{}</b><span>pending</span></div>\
         <div class=\"card\" id=\"due\"><b>{}</b><span>due now</span></div>\
         <div class=\"card\" id=\"oldest\"><b>{}</b><span>oldest due, waiting</span></div>\
         <div class=\"card\" id=\"paused\"><b>{}</b><span>held by paused routes</span></div>\
         <div class=\"card\" id=\"dead\"><b>{dead}</b><span>dead</span></div>\
         <div class=\"card\" id=\"cancelled\"><b>{cancelled}</b><span>cancelled</span></div></div>\
         <p class=\"muted\">{}</p></section>",
        stats.pending,
        stats.due,
        if stats.due > 0 {
            age(stats.oldest_pending_age_seconds)
        } else {
            "none".into()
        },
        stats.paused,
        if refresh {
            "This page reloads every 10 s. <a href=\"/admin\">Stop</a>"
        } else {
            "<a href=\"/admin?refresh=10\">Reload every 10 s</a>"
        },
    )
}

/// Dead jobs by cause, each with a button retrying them all and links to a few of them.
fn dead_causes(causes: &[DeadCause], csrf: &str) -> String {
    let mut b = String::from("<section id=\"dead-jobs\"><h2>Dead jobs, by cause</h2>");
    if causes.is_empty() {
        b.push_str("<p class=\"muted\">No dead jobs.</p>");
    }
    for c in causes {
        cause(&mut b, c, csrf);
    }
    b.push_str("</section>");
    b
}

/// One cause: how many jobs, the reason whole, Retry all, and each job shown with its Retry.
fn cause(b: &mut String, c: &DeadCause, csrf: &str) {
    let count = c.jobs.to_string();
    let _ = write!(
        b,
        "<div class=\"cause\"><div class=\"row\"><b>{}</b> <span class=\"muted\">route {} · last {}</span></div>\
         <p class=\"reason\">{}</p><div class=\"row\">{}",
        if c.jobs == 1 {
            "1 job".to_string()
        } else {
            format!("{} jobs", c.jobs)
        },
        esc(&c.route),
        time(c.last_at),
        esc(&c.reason),
        button(
            "/admin/retry",
            &format!("Retry all {count}"),
            "",
            csrf,
            &[("route", &c.route), ("reason", &c.reason)],
        ),
    );
    for id in &c.job_ids {
        let _ = write!(
            b,
            " <a href=\"/admin/jobs/{id}\">#{id}</a>{}",
            button(
                &format!("/admin/jobs/{id}/retry"),
                "Retry",
                "small",
                csrf,
                &[]
            )
        );
    }
    // The page shows a few; the jobs list, filtered the same way, has the rest.
    if c.jobs > c.job_ids.len() as i64 {
        let _ = write!(
            b,
            " <a href=\"/admin/jobs?status=dead&amp;route={}&amp;reason={}\">and {} more</a>",
            query_value(&c.route),
            query_value(&c.reason),
            c.jobs - c.job_ids.len() as i64
        );
    }
    b.push_str("</div></div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_from_the_store() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let cause = DeadCause {
            route: "r<script>".into(),
            reason: "\"><script>alert(1)</script>".into(),
            jobs: 2,
            last_at: 0,
            job_ids: vec![1],
        };
        let stats = Stats {
            pending: 0,
            due: 0,
            oldest_pending_age_seconds: 0.0,
            routes: vec![],
            hours: vec![],
            paused: 0,
            paused_routes: vec![],
        };
        let page = status_page(
            &stats,
            &StatusParts {
                routes: &[],
                causes: &[cause],
                sync: "",
                csrf: "tok",
                notice: None,
                refresh: false,
            },
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("Retry all 2"));
    }
}
