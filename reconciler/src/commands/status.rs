//! `opssc status`, once or `--watch`ed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use opssc_schema::local::AgentConfig;
use tokio::sync::Mutex;

use super::agent::{load_config, runtime};
use crate::cli::StatusWatch;
use opssc::agent::status::{WatchEnd, WatchOptions};
use opssc::agent::{context::Context, spec_source, status};

/// Resolves the spec (the configured source is fetched and verified again on
/// every call, so a watch sees new commits) and reads the status.
async fn read(ctx: &Context, spec: Option<&Path>) -> Result<status::Status> {
    let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("status"), spec)?;
    Ok(status::status(ctx, &at).await?)
}

pub fn run(config: &Path, spec: Option<&Path>, watch: StatusWatch) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        if !watch.watch {
            let ctx = Context::connect(config).await?;
            let s = read(&ctx, spec).await?;
            print!("{}", s.text);
            return Ok(s.condition.exit_code());
        }
        let end = watch_status(config, spec.map(Path::to_path_buf), &watch).await?;
        Ok(match end {
            WatchEnd::Ready => 0,
            WatchEnd::TimedOut => {
                eprintln!(
                    "error: not Ready after {:?} (the last status read is printed above); the agents keep going, look at their logs",
                    watch.timeout.unwrap_or_default()
                );
                1
            }
            WatchEnd::Stopped(Some(c)) => c.exit_code(),
            WatchEnd::Stopped(None) => 2,
        })
    })
}

/// The watch: connects on the first read and again after a failed connect,
/// so a watch started before the peers are up waits for them like any other
/// unreadable status.
async fn watch_status(
    config: AgentConfig,
    spec: Option<PathBuf>,
    watch: &StatusWatch,
) -> Result<WatchEnd> {
    let connected: Arc<Mutex<Option<Arc<Context>>>> = Arc::new(Mutex::new(None));
    let source = move || {
        let connected = connected.clone();
        let config = config.clone();
        let spec = spec.clone();
        async move {
            let ctx = {
                let mut slot = connected.lock().await;
                match slot.as_ref() {
                    Some(ctx) => ctx.clone(),
                    None => slot
                        .insert(Arc::new(Context::connect(config).await?))
                        .clone(),
                }
            };
            read(&ctx, spec.as_deref()).await
        }
    };
    let options = WatchOptions {
        interval: watch.interval,
        until_ready: watch.until_ready,
        timeout: watch.timeout,
    };
    let stop = async {
        // If the handler cannot be installed, Ctrl-C kills the process as usual.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    Ok(status::watch(
        source,
        options,
        &mut std::io::stdout(),
        std::time::SystemTime::now,
        stop,
    )
    .await?)
}
