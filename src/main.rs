use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cap_malloc_arenas();
    trim_malloc_heap();
    let cli = hrflow_relay::cli::Cli::parse();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(hrflow_relay::cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives each thread that meets contention an arena of its own, up to 8 per core, and
/// each keeps its high-water mark: over a long run the process grew by a fifth (×1.21 from the
/// 10,000th to the 1,000,000th event) while doing the same work. Two arenas kept it within 5%
/// for a few percent of CPU (BENCHMARKS.md). Set before any thread starts; `MALLOC_ARENA_MAX`
/// in the environment, read by glibc itself, still wins for whoever wants another figure.
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; it is called before any other thread
        // exists, and M_ARENA_MAX with a positive value is a documented use.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// glibc gives memory back to the system only from the top of a heap; what is freed below a
/// live block stays in the process. Over a long run that retention, not a leak, was most of
/// the growth (heaptrack showed no growing allocation site). Every 10 s a trim hands back the
/// free pages wherever they are; it takes well under a millisecond on a heap this size.
fn trim_malloc_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(10));
                // SAFETY: malloc_trim only releases free memory; glibc locks each arena itself.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        })
        .ok();
}
