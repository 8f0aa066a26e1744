//! Telling the operator what is wrong with the configuration: a refusal lists every problem at
//! once; a command that can run anyway warns and goes on.

/// Every configuration problem, one per line, on standard error.
pub fn print(problems: &[String]) {
    eprintln!("the configuration has {} problem(s):", problems.len());
    for p in problems {
        eprintln!("  - {p}");
    }
}

/// Problems that do not stop this command: one warning line each, on standard error.
pub fn warn(problems: &[String]) {
    for p in problems {
        eprintln!("warning: the configuration has a problem: {p}");
    }
}
