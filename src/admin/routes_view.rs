//! The status page's routes table: every configured route, with or without jobs, where it
//! delivers, whether it is paused, its jobs per status, and a Pause or Resume button.

use std::fmt::Write as _;

use super::html::{button, esc, query_value, time};
use crate::job::Status;
use crate::route_status::RouteStatus;

pub fn table(routes: &[RouteStatus], csrf: &str) -> String {
    let mut b = String::from(
        "<section><h2>Routes</h2><div class=\"scroll\"><table id=\"routes\"><thead><tr><th>route</th><th>to</th><th>state</th><th class=\"n\">pending</th><th class=\"n\">delivered</th><th class=\"n\">filtered</th><th class=\"n\">dead</th><th class=\"n\">cancelled</th><th></th></tr></thead><tbody>",
    );
    if routes.is_empty() {
        b.push_str("<tr><td colspan=\"9\" class=\"muted\">no route configured</td></tr>");
    }
    for r in routes {
        let jobs = |status: Status, n: i64| {
            if n == 0 {
                "0".to_string()
            } else {
                format!(
                    "<a href=\"/admin/jobs?status={status}&amp;route={}\">{n}</a>",
                    query_value(&r.name)
                )
            }
        };
        let state = match r.paused_at {
            Some(at) => format!(
                "<span class=\"paused\">paused</span> <span class=\"muted\">since {}</span>",
                time(at)
            ),
            None => "running".into(),
        };
        let action = if r.destination == "unconfigured" {
            String::new()
        } else if r.paused {
            button(
                &format!("/admin/routes/{}/resume", query_value(&r.name)),
                "Resume",
                "small",
                csrf,
                &[],
            )
        } else {
            button(
                &format!("/admin/routes/{}/pause", query_value(&r.name)),
                "Pause",
                "small cancel",
                csrf,
                &[],
            )
        };
        let _ = write!(
            b,
            "<tr data-route=\"{}\"><td>{}</td><td>{}</td><td>{state}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{action}</td></tr>",
            esc(&r.name),
            esc(&r.name),
            esc(&r.to),
            jobs(Status::Pending, r.jobs.pending),
            jobs(Status::Delivered, r.jobs.delivered),
            jobs(Status::Filtered, r.jobs.filtered),
            jobs(Status::Dead, r.jobs.dead),
            jobs(Status::Cancelled, r.jobs.cancelled),
        );
    }
    b.push_str("</tbody></table></div><p class=\"muted\">A paused route still takes events and makes jobs; they wait, with no attempt made or counted, until it is resumed.</p></section>");
    b
}
