//! A job's page: the job, where it delivers and how far it got, its Retry or Cancel button,
//! and every attempt, those of earlier runs (before an operator's retry) marked.

use std::fmt::Write as _;

use super::html::{button, document, esc, query_value, time};
use crate::destination::Destination;
use crate::job::{Status, Step};
use crate::store::events_log::EventView;
use crate::store::{AttemptView, JobView};

/// What a job's page says besides the job: its event and where its route delivers.
pub struct JobContext {
    /// The event that made the job; None once retention deleted it.
    pub event: Option<EventView>,
    /// `Flatchr, account acme`, or `no longer configured`.
    pub to: String,
    /// How far the job got, in its destination's words (`step_words`).
    pub step: String,
}

/// "Step reached" in words: how far the job got, as its destination names its steps.
pub fn step_words(job: &JobView, destination: Option<&Destination>) -> String {
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
    b.push_str("<section>");
    job_table(&mut b, job, context);
    b.push_str("<div class=\"row\">");
    b.push_str(&action(job, csrf));
    b.push_str("</div></section>");
    attempts_table(&mut b, job, attempts);
    document(&format!("Job #{}", job.id), &b)
}

/// The job's fields, one row each; the next attempt and the reason only when there is one.
fn job_table(b: &mut String, job: &JobView, context: &JobContext) {
    let _ = write!(
        b,
        "<div class=\"scroll\"><table id=\"job\"><tbody>\
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
        "<tr><th>created</th><td>{}</td></tr><tr><th>last change</th><td>{}</td></tr></tbody></table></div>",
        time(job.created_at),
        time(job.updated_at)
    );
}

/// Retry for a job that ended retryable, Cancel for a pending one, else nothing.
fn action(job: &JobView, csrf: &str) -> String {
    match job.status {
        s if s.retryable() => button(
            &format!("/admin/jobs/{}/retry", job.id),
            "Retry",
            "",
            csrf,
            &[],
        ),
        Status::Pending => button(
            &format!("/admin/jobs/{}/cancel", job.id),
            "Cancel",
            "cancel",
            csrf,
            &[],
        ),
        _ => String::new(),
    }
}

/// Every attempt; a note stands in for the error when there is none.
fn attempts_table(b: &mut String, job: &JobView, attempts: &[AttemptView]) {
    b.push_str("<section><h2>Attempts</h2><div class=\"scroll\"><table id=\"attempts\"><thead><tr><th>run</th><th>started</th><th>step</th><th>HTTP</th><th>outcome</th><th>ms</th><th>error or note</th></tr></thead><tbody>");
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
            a.outcome.as_str(),
            a.duration_ms,
            esc(a.error.as_deref().or(a.note.as_deref()).unwrap_or("")),
        );
    }
    b.push_str("</tbody></table></div></section>");
}
