//! The commands' standard output. Rust ignores SIGPIPE, so a write to a closed pipe
//! (`hrflow-relay jobs | head -1`) is an error, which `println!` turns into a panic; here the
//! command ends quietly instead, as a Unix tool does when its reader goes away. SIGPIPE itself
//! stays ignored: the commands also write to sockets (PostgreSQL's Unix socket, HrFlow), and a
//! peer closing one must be an error, not a silent death.

use std::io::Write;

/// Writes one line; when standard output is gone, exits at once with status 0 (nothing was
/// left to say that anyone could read), on any other write error with status 1.
pub fn line(text: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.write_all(b"\n")) {
        std::process::exit(if e.kind() == std::io::ErrorKind::BrokenPipe {
            0
        } else {
            1
        });
    }
}

/// `println!` for the commands: see `line`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
