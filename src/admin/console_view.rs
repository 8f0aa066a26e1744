//! The pages for finding a candidate: search results, a candidate's timeline, and the paged
//! lists of jobs and events. Server-rendered like the status page; every value escaped.

use std::fmt::Write as _;

use super::console::Timeline;
use super::html::{document, esc, query_value, search_box, time};
use crate::job::Status;
use crate::store::JobView;
use crate::store::events_log::EventView;

/// A link to a candidate's timeline.
pub fn profile_link(key: &str) -> String {
    format!(
        "<a href=\"/admin/profiles/{}\">{}</a>",
        query_value(key).replace('+', "%20"),
        esc(key)
    )
}

fn job_links(ids: &[i64]) -> String {
    ids.iter()
        .map(|id| format!("<a href=\"/admin/jobs/{id}\">#{id}</a>"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn status(s: Status) -> String {
    format!("<span class=\"status {s}\">{s}</span>")
}

/// The search's answer when it did not find exactly one candidate.
pub fn results_page(q: &str, found: &[serde_json::Value]) -> String {
    let mut b = format!(
        "<h1>Find a candidate</h1><section>{}</section><section id=\"results\">",
        search_box(q)
    );
    if found.is_empty() {
        let _ = write!(
            b,
            "<p>Nothing found for <b>{}</b>. A search takes a profile key, a job id, an event id or an email, matched exactly (an email in any case).</p>",
            esc(q)
        );
    }
    for item in found {
        let key = item["profile_key"].as_str().unwrap_or_default();
        let jobs = item["jobs"].as_array().map_or(0, Vec::len);
        let events = item["events"].as_array().map_or(0, Vec::len);
        let _ = write!(
            b,
            "<p>{} <span class=\"muted\">{jobs} recent job(s), {events} recent event(s)</span></p>",
            profile_link(key)
        );
    }
    b.push_str("</section>");
    document("Find a candidate", &b)
}

/// One line of a timeline: when, what, and its detail (already HTML).
struct Line {
    /// Unix ms: what the timeline is sorted by.
    at: i64,
    /// What happened, in a word (received, attempt, delivered...).
    what: String,
    /// Why, or what was said, in words.
    detail: String,
}

/// A candidate's timeline, oldest first: events, jobs made, every attempt.
pub fn timeline_page(t: &Timeline) -> String {
    let mut lines: Vec<Line> = Vec::new();
    for e in &t.events {
        lines.push(Line {
            at: e.received_at,
            what: format!("event {}", esc(&e.event_type)),
            detail: event_detail(e),
        });
    }
    for j in &t.jobs {
        let job = &j.job;
        lines.push(Line {
            at: job.created_at,
            what: format!(
                "<a href=\"/admin/jobs/{id}\">job #{id}</a> on route {}",
                esc(&job.route),
                id = job.id
            ),
            detail: format!("now {}{}", status(job.status), job_note(job)),
        });
        for a in &j.attempts {
            lines.push(Line {
                at: a.started_at,
                what: format!(
                    "attempt at <a href=\"/admin/jobs/{id}\">job #{id}</a> (run {})",
                    a.run,
                    id = job.id
                ),
                detail: format!(
                    "{}{} <span class=\"reason\">{}</span>",
                    a.outcome.as_str(),
                    a.http_status
                        .map(|s| format!(" · HTTP {s}"))
                        .unwrap_or_default(),
                    esc(a.error.as_deref().unwrap_or(""))
                ),
            });
        }
    }
    lines.sort_by_key(|l| l.at);
    let mut b = format!(
        "<h1>Candidate {}</h1><section aria-label=\"find a candidate\">{}</section><section><h2>Timeline</h2><div class=\"scroll\"><table id=\"timeline\"><thead><tr><th>when</th><th>what</th><th>detail</th></tr></thead><tbody>",
        esc(&t.profile_key),
        search_box("")
    );
    for l in &lines {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(l.at),
            l.what,
            l.detail
        );
    }
    b.push_str("</tbody></table></div></section>");
    document(&format!("Candidate {}", t.profile_key), &b)
}

fn event_detail(e: &EventView) -> String {
    let mut d = format!("<span class=\"status\">{}</span>", e.outcome.as_str());
    if let Some(r) = &e.reason {
        let _ = write!(d, ": {}", esc(r));
    }
    if let Some(o) = &e.original_id {
        let _ = write!(
            d,
            " <span class=\"muted\">(a redelivery of {})</span>",
            esc(o)
        );
    }
    if !e.jobs.is_empty() {
        let _ = write!(d, " → {}", job_links(&e.jobs));
    }
    d
}

fn job_note(job: &JobView) -> String {
    if job.paused {
        return " <span class=\"paused\">(route paused)</span>".into();
    }
    match (&job.reason, job.next_attempt_at) {
        (Some(r), _) => format!(": <span class=\"reason\">{}</span>", esc(r)),
        (None, Some(at)) => format!(", next attempt {}", time(at)),
        _ => String::new(),
    }
}

/// Page links: previous and next, keeping the filter (`base` is `/admin/jobs?status=dead&`).
fn pager(base: &str, page: i64, pages: i64) -> String {
    let mut b = String::from("<div class=\"pager\">");
    if page > 1 {
        let _ = write!(b, "<a href=\"{base}page={}\">newer</a>", page - 1);
    }
    let _ = write!(b, "<span class=\"muted\">page {page} of {pages}</span>");
    if page < pages {
        let _ = write!(b, "<a href=\"{base}page={}\">older</a>", page + 1);
    }
    b.push_str("</div>");
    b
}

/// A `<select>` of `options`, `current` chosen; the first option (empty) means any.
fn select(name: &str, options: &[&str], current: &str) -> String {
    let mut s = format!(
        "<select name=\"{name}\" aria-label=\"{name}\"><option value=\"\">any {name}</option>"
    );
    for o in options {
        let _ = write!(
            s,
            "<option{}>{}</option>",
            if *o == current { " selected" } else { "" },
            esc(o)
        );
    }
    s.push_str("</select>");
    s
}

/// The filter's query, for links: `k=v&` pairs already escaped.
fn base(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut b = format!("{path}?");
    for (k, v) in pairs {
        if !v.is_empty() {
            let _ = write!(b, "{k}={}&amp;", query_value(v));
        }
    }
    b
}

/// `/admin/jobs`: jobs by status and route, paged, newest first.
pub fn jobs_page(
    jobs: &[JobView],
    status_filter: &str,
    route_filter: &str,
    routes: &[String],
    (page, pages, found): (i64, i64, i64),
) -> String {
    let names: Vec<&str> = routes.iter().map(String::as_str).collect();
    let mut b = format!(
        "<h1>Jobs</h1><section><form method=\"get\" action=\"/admin/jobs\" class=\"filters\">{}{}<button type=\"submit\">Show</button></form></section><section><p class=\"muted\">{found} job(s)</p><div class=\"scroll\"><table id=\"jobs\"><thead><tr><th>job</th><th>status</th><th>route</th><th>profile</th><th>attempts</th><th>last change</th><th>reason</th></tr></thead><tbody>",
        select("status", &Status::ALL.map(Status::as_str), status_filter),
        select("route", &names, route_filter),
    );
    if jobs.is_empty() {
        b.push_str("<tr><td colspan=\"7\" class=\"muted\">no job</td></tr>");
    }
    for j in jobs {
        let _ = write!(
            b,
            "<tr><td><a href=\"/admin/jobs/{id}\">#{id}</a></td><td>{}{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"reason\">{}</td></tr>",
            status(j.status),
            if j.paused {
                " <span class=\"paused\">paused</span>"
            } else {
                ""
            },
            esc(&j.route),
            profile_link(&j.profile_key),
            j.attempts,
            time(j.updated_at),
            esc(j.reason.as_deref().unwrap_or("")),
            id = j.id,
        );
    }
    b.push_str("</tbody></table></div>");
    b.push_str(&pager(
        &base(
            "/admin/jobs",
            &[("status", status_filter), ("route", route_filter)],
        ),
        page,
        pages,
    ));
    b.push_str("</section>");
    document("Jobs", &b)
}

/// `/admin/events`: the events log by outcome and source, paged, newest first.
pub fn events_page(
    events: &[EventView],
    outcome_filter: &str,
    source_filter: &str,
    (page, pages, found): (i64, i64, i64),
) -> String {
    let mut b = format!(
        "<h1>Events</h1><section><form method=\"get\" action=\"/admin/events\" class=\"filters\">{}<input name=\"source\" value=\"{}\" placeholder=\"source key\" aria-label=\"source\"><button type=\"submit\">Show</button></form></section><section><p class=\"muted\">{found} event(s), every one received, whatever became of it</p><div class=\"scroll\"><table id=\"events\"><thead><tr><th>received</th><th>type</th><th>source</th><th>profile</th><th>outcome</th><th>jobs</th></tr></thead><tbody>",
        select(
            "outcome",
            &["accepted", "duplicate", "ignored"],
            outcome_filter
        ),
        esc(source_filter),
    );
    if events.is_empty() {
        b.push_str("<tr><td colspan=\"6\" class=\"muted\">no event</td></tr>");
    }
    for e in events {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(e.received_at),
            esc(&e.event_type),
            esc(e.source_key.as_deref().unwrap_or("")),
            e.profile_key
                .as_deref()
                .map(profile_link)
                .unwrap_or_default(),
            {
                let mut d = format!("<span class=\"status\">{}</span>", e.outcome.as_str());
                if let Some(r) = &e.reason {
                    let _ = write!(d, " <span class=\"reason\">{}</span>", esc(r));
                }
                d
            },
            job_links(&e.jobs),
        );
    }
    b.push_str("</tbody></table></div>");
    b.push_str(&pager(
        &base(
            "/admin/events",
            &[("outcome", outcome_filter), ("source", source_filter)],
        ),
        page,
        pages,
    ));
    b.push_str("</section>");
    document("Events", &b)
}
