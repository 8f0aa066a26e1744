//! The status page's HTML: server-rendered, one inline stylesheet, no script, nothing from
//! other hosts. Every value from the store is escaped. Legible on a phone: one column that
//! wraps, tables that scroll sideways.

use std::fmt::Write as _;

use super::html::{age, button, document, esc, query_value, time};
use crate::job::Status;
use crate::route_status::RouteStatus;
use crate::store::stats::{DeadCause, HourOutcomes, Stats};
use crate::store::{AttemptView, JobView};

/// What the status page shows besides the queue's figures.
pub struct StatusParts<'a> {
    pub routes: &'a [RouteStatus],
    pub causes: &'a [DeadCause],
    /// The sync section's HTML (empty when sync is off).
    pub sync: &'a str,
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
    /// Reload every 10 s (`<meta http-equiv="refresh">`), off unless asked for.
    pub refresh: bool,
}

/// The search form: a GET, no script.
pub fn search_box(q: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/admin\" class=\"search\" role=\"search\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"profile key, job id, event id or email\" aria-label=\"find a candidate\"><button type=\"submit\">Find</button></form>",
        esc(q)
    )
}

/// The status page.
pub fn status_page(stats: &Stats, p: &StatusParts) -> String {
    let dead: i64 = stats.routes.iter().map(|r| r.dead).sum();
    let cancelled: i64 = stats.routes.iter().map(|r| r.cancelled).sum();
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
    let _ = write!(
        b,
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
        if p.refresh {
            "This page reloads every 10 s. <a href=\"/admin\">Stop</a>"
        } else {
            "<a href=\"/admin?refresh=10\">Reload every 10 s</a>"
        },
    );
    b.push_str("<section><h2>Outcomes, last 24 hours</h2>");
    b.push_str(&chart(&stats.hours));
    b.push_str("</section>");
    b.push_str(&super::routes_view::table(p.routes, p.csrf));

    b.push_str("<section id=\"dead-jobs\"><h2>Dead jobs, by cause</h2>");
    if p.causes.is_empty() {
        b.push_str("<p class=\"muted\">No dead jobs.</p>");
    }
    for c in p.causes {
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
                p.csrf,
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
                    p.csrf,
                    &[]
                )
            );
        }
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
    b.push_str("</section>");
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

/// Stacked bars per hour: delivered, filtered, dead. Drawn here, so nothing is loaded.
pub fn chart(hours: &[HourOutcomes]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 64.0;
    const BOTTOM: f64 = 22.0;
    let max = hours
        .iter()
        .map(|h| h.delivered + h.filtered + h.dead)
        .max()
        .unwrap_or(0)
        .max(1);
    let total: i64 = hours
        .iter()
        .map(|h| h.delivered + h.filtered + h.dead)
        .sum();
    let slot = (W - LEFT) / hours.len().max(1) as f64;
    let scale = (H - BOTTOM - 8.0) / max as f64;
    let mut s = format!(
        "<svg id=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"jobs finished per hour over the last 24 hours: {total} in all\">\
         <line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{W}\" y2=\"{y0}\" stroke=\"#d1d9e0\"/>\
         <text x=\"{lx}\" y=\"14\" font-size=\"11\" text-anchor=\"end\" fill=\"#59636e\">{max}</text>\
         <text x=\"{lx}\" y=\"{y0}\" font-size=\"11\" text-anchor=\"end\" fill=\"#59636e\">0</text>",
        y0 = H - BOTTOM,
        lx = LEFT - 6.0,
    );
    for (i, h) in hours.iter().enumerate() {
        let x = LEFT + i as f64 * slot + 2.0;
        let mut y = H - BOTTOM;
        for (n, color, label) in [
            (h.delivered, "#1a7f37", Status::Delivered),
            (h.filtered, "#8c959f", Status::Filtered),
            (h.dead, "#cf222e", Status::Dead),
        ] {
            if n == 0 {
                continue;
            }
            let height = (n as f64 * scale).max(1.0);
            y -= height;
            let _ = write!(
                s,
                "<rect class=\"bar {label}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{height:.1}\" fill=\"{color}\"><title>{} {label}, hour from {}</title></rect>",
                n,
                time(h.hour),
                w = slot - 4.0,
            );
        }
        if i % 6 == 0 || i + 1 == hours.len() {
            let label = chrono::DateTime::from_timestamp_millis(h.hour)
                .map(|t| t.format("%H:00").to_string())
                .unwrap_or_default();
            // The last label ends at its bar, so it stays inside the drawing.
            let (x, anchor) = if i + 1 == hours.len() {
                (x + slot - 4.0, "end")
            } else {
                (x, "start")
            };
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#59636e\">{label}</text>",
                H - 6.0
            );
        }
    }
    s.push_str("</svg><p class=\"legend muted\"><span style=\"background:#1a7f37\"></span>delivered<span style=\"background:#8c959f\"></span>filtered<span style=\"background:#cf222e\"></span>dead</p>");
    s
}

/// What a job's page says besides the job: its event and where its route delivers.
pub struct JobContext {
    pub event: Option<crate::store::events_log::EventView>,
    /// `Flatchr, account acme`, or `no longer configured`.
    pub to: String,
    /// How far the job got, in its destination's words (`step_words`).
    pub step: String,
}

/// "Step reached" in words: how far the job got, as its destination names its steps.
pub fn step_words(job: &JobView, destination: Option<&crate::destination::Destination>) -> String {
    use crate::job::Step;
    let delivered = job.status == Status::Delivered;
    match (job.step, destination) {
        (Step::Reached(_), Some(d)) => d.step_words(job.step.as_str(), delivered),
        _ if delivered => "delivered".into(),
        (Step::New, _) => "not started: the profile is not fetched yet".into(),
        (Step::Fetched, _) => "profile fetched from HrFlow; not delivered".into(),
        (Step::Reached(_), None) => job.step.as_str().into(),
    }
}

/// One job and its attempts; attempts of earlier runs (before an operator's retry) are marked.
pub fn job_page(
    job: &JobView,
    attempts: &[AttemptView],
    context: &JobContext,
    csrf: &str,
    notice: Option<&str>,
) -> String {
    let mut b = format!("<h1>Job #{}</h1>", job.id);
    if let Some(n) = notice {
        let _ = write!(
            b,
            "<section class=\"notice\" role=\"status\">{}</section>",
            esc(n)
        );
    }
    let _ = write!(
        b,
        "<section><div class=\"scroll\"><table id=\"job\"><tbody>\
         <tr><th>status</th><td><span id=\"status\" class=\"status {s}\">{s}</span></td></tr>\
         <tr><th>route</th><td>{}</td></tr><tr><th>to</th><td>{}</td></tr>\
         <tr><th>profile</th><td><a href=\"/admin/profiles/{}\">{}</a> <span class=\"muted\">source {}</span></td></tr>\
         <tr><th>event</th><td>{}</td></tr>\
         <tr><th>step reached</th><td id=\"step\">{}</td></tr><tr><th>run</th><td>{}</td></tr>\
         <tr><th>attempts in this run</th><td>{}</td></tr>",
        esc(&job.route),
        esc(&context.to),
        query_value(&job.profile_key).replace("+", "%20"),
        esc(&job.profile_key),
        esc(&job.source_key),
        match &context.event {
            Some(e) => format!("{} · received {}", esc(&e.event_type), time(e.received_at)),
            None => "no longer kept".into(),
        },
        esc(&context.step),
        job.run,
        job.attempts,
        s = job.status.as_str(),
    );
    if let Some(next) = job.next_attempt_at {
        let _ = write!(b, "<tr><th>next attempt</th><td>{}</td></tr>", time(next));
    }
    if let Some(r) = &job.reason {
        let _ = write!(
            b,
            "<tr><th>reason</th><td class=\"reason\">{}</td></tr>",
            esc(r)
        );
    }
    let _ = write!(
        b,
        "<tr><th>created</th><td>{}</td></tr><tr><th>last change</th><td>{}</td></tr></tbody></table></div><div class=\"row\">",
        time(job.created_at),
        time(job.updated_at)
    );
    match job.status {
        s if s.retryable() => b.push_str(&button(
            &format!("/admin/jobs/{}/retry", job.id),
            "Retry",
            "",
            csrf,
            &[],
        )),
        Status::Pending => b.push_str(&button(
            &format!("/admin/jobs/{}/cancel", job.id),
            "Cancel",
            "cancel",
            csrf,
            &[],
        )),
        _ => {}
    }
    b.push_str("</div></section><section><h2>Attempts</h2><div class=\"scroll\"><table id=\"attempts\"><thead><tr><th>run</th><th>started</th><th>step</th><th>HTTP</th><th>outcome</th><th>ms</th><th>error or note</th></tr></thead><tbody>");
    if attempts.is_empty() {
        b.push_str("<tr><td colspan=\"7\" class=\"muted\">no attempt yet</td></tr>");
    }
    for a in attempts {
        let earlier = a.run < job.run;
        let _ = write!(
            b,
            "<tr{}><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"reason\">{}</td></tr>",
            if earlier { " class=\"earlier\"" } else { "" },
            a.run,
            if earlier { " (earlier run)" } else { "" },
            time(a.started_at),
            a.step.as_str(),
            a.http_status.map(|s| s.to_string()).unwrap_or_default(),
            esc(&a.outcome),
            a.duration_ms,
            esc(a.error.as_deref().or(a.note.as_deref()).unwrap_or("")),
        );
    }
    b.push_str("</tbody></table></div></section>");
    document(&format!("Job #{}", job.id), &b)
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

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(42.0), "42 s");
        assert_eq!(age(420.0), "7 min");
        assert_eq!(age(3.0 * 3600.0 + 300.0), "3 h 5 min");
        assert_eq!(age(2.0 * 86400.0 + 4.0 * 3600.0), "2 d 4 h");
    }
}
