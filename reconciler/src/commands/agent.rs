//! `opssc agent` and the shared start-up of the agent commands: logging, the
//! TLS provider, the runtime, the configuration.

use std::path::Path;

use anyhow::Result;
use opssc_schema::local::AgentConfig;

/// Structured logs: `RUST_LOG` filters (default `info`), `OPSSC_LOG_FORMAT=json` for JSON lines.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if std::env::var("OPSSC_LOG_FORMAT").as_deref() == Ok("json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// An agent is a small process that runs for months and spends its time
/// waiting on the network: glibc's malloc gives each thread that allocates
/// an arena of its own, whose freed pages stay with it. One arena for the
/// whole agent saves about a megabyte of resident memory (measured with
/// `opssc dev bench`, docs/BENCHMARKS.md) and costs nothing at its load.
/// Called before the runtime starts its threads.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; no thread but this
    // one exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

pub fn load_config(path: &Path) -> Result<AgentConfig> {
    AgentConfig::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn run(config: &Path) -> Result<i32> {
    one_malloc_arena();
    init_logging();
    let config = load_config(config)?;
    tracing::info!(org = %config.msp_id, "opssc agent starting");
    Ok(runtime()?.block_on(opssc::agent::daemon::run(config))?)
}
