//! How a listing's progress is shown to the person who runs the command: a bar per phase on a
//! terminal, a line every few seconds otherwise (a log file, CI), or nothing (tests).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// How progress is shown: a bar per phase on a terminal, a line every few seconds otherwise,
/// or nothing (tests).
pub enum Progress {
    /// The phase shown (its name) and its bar; a new name finishes the old bar.
    Bar(Mutex<Option<(String, ProgressBar)>>),
    /// When the last line was written: lines come at most every 2 s, the last one always.
    Lines(Mutex<Instant>),
    /// Nothing shown (tests, and sync's passes in the service).
    Quiet,
}

impl Progress {
    /// Bars when standard error is a terminal, else plain lines.
    pub fn for_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bar(Mutex::new(None))
        } else {
            Self::Lines(Mutex::new(Instant::now()))
        }
    }

    /// `done` of `total` in the phase `what`, which started at `started`; `force` writes a
    /// line even if one was written just now (the phase's last).
    pub(crate) fn update(&self, what: &str, done: u64, total: u64, started: Instant, force: bool) {
        match self {
            Progress::Bar(current) => {
                let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
                if current.as_ref().is_none_or(|(name, _)| name != what) {
                    if let Some((_, old)) = current.take() {
                        old.finish();
                    }
                    *current = Some((what.to_string(), bar(what, total)));
                }
                if let Some((_, bar)) = current.as_ref() {
                    bar.set_length(total.max(done));
                    bar.set_position(done);
                }
            }
            Progress::Lines(last) => {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if force || last.elapsed() >= Duration::from_secs(2) {
                    *last = Instant::now();
                    let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
                    eprintln!("{what}: {done}/{total} ({rate:.0}/s)");
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Ends the bar shown, if any, so what follows starts on a line of its own.
    pub(crate) fn finish(&self) {
        if let Progress::Bar(current) = self
            && let Some((_, bar)) = current.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            bar.finish();
        }
    }
}

/// A new bar for the phase `what`, with its rate per second and the time left.
fn bar(what: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({rate}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                },
            )
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
