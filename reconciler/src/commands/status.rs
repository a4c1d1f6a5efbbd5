//! `opssc status`, once or `--watch`ed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use super::agent::{load_config, runtime};
use crate::cli::StatusWatch;
use opssc::agent::status::{WatchEnd, WatchOptions};
use opssc::agent::{context::Context, spec_source, status};

/// Resolves the spec (the configured source is fetched and verified again on
/// every call, so a watch sees new commits) and reads the status.
async fn read(ctx: &Context, spec: Option<&Path>) -> Result<status::Status> {
    let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("status"), spec)?;
    status::status(ctx, &at).await
}

pub fn run(config: &Path, spec: Option<&Path>, watch: StatusWatch) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Arc::new(Context::connect(config).await?);
        if !watch.watch {
            let s = read(&ctx, spec).await?;
            print!("{}", s.text);
            return Ok(s.condition.exit_code());
        }
        let spec: Option<PathBuf> = spec.map(Path::to_path_buf);
        let source = move || {
            let ctx = ctx.clone();
            let spec = spec.clone();
            async move { read(&ctx, spec.as_deref()).await }
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
        let end = status::watch(
            source,
            options,
            &mut std::io::stdout(),
            std::time::SystemTime::now,
            stop,
        )
        .await?;
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
