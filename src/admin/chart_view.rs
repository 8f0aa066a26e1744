//! The status page's chart: jobs finished per hour over the last 24 hours, as stacked bars
//! (delivered, filtered, dead) drawn in SVG here, so nothing is loaded.

use std::fmt::Write as _;

use super::html::time;
use crate::job::Status;
use crate::store::stats::HourOutcomes;

/// The drawing's size and margins, in its own units (it scales to the page's width).
const W: f64 = 720.0;
const H: f64 = 200.0;
/// Room for the scale's figures on the left, and the hours' labels below.
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 22.0;

/// Stacked bars per hour: delivered, filtered, dead. Drawn here, so nothing is loaded.
pub fn chart(hours: &[HourOutcomes]) -> String {
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
        bars(&mut s, h, x, slot, scale);
        if i % 6 == 0 || i + 1 == hours.len() {
            label(&mut s, h, x, slot, i + 1 == hours.len());
        }
    }
    s.push_str("</svg><p class=\"legend muted\"><span style=\"background:#1a7f37\"></span>delivered<span style=\"background:#8c959f\"></span>filtered<span style=\"background:#cf222e\"></span>dead</p>");
    s
}

/// One hour's bars, stacked from the axis up, at `x`; each at least a unit high.
fn bars(s: &mut String, h: &HourOutcomes, x: f64, slot: f64, scale: f64) {
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
}

/// The hour's label under its bar (`08:00`); the last one ends at its bar, so it stays inside
/// the drawing.
fn label(s: &mut String, h: &HourOutcomes, x: f64, slot: f64, last: bool) {
    let label = chrono::DateTime::from_timestamp_millis(h.hour)
        .map(|t| t.format("%H:00").to_string())
        .unwrap_or_default();
    let (x, anchor) = if last {
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
