//! `opssc bootstrap`: run the agent's passes in the foreground until this
//! (new) organization has joined every channel it was added to and caught up
//! every committed chaincode ([`opssc::agent::bootstrap::remaining`]).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::agent::{init_logging, load_config, runtime};
use opssc::agent::{bootstrap, context::Context, observe_live, pass, spec_source};

pub fn run(config: &Path, spec: Option<&Path>, timeout: Duration) -> Result<i32> {
    init_logging();
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let started = Instant::now();
        let mut last_left: Vec<String> = Vec::new();
        loop {
            let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("bootstrap"), spec)?;
            let report = pass::run_pass(&ctx, &at).await;
            for a in &report.actions {
                println!("done: {a}");
            }
            for e in &report.errors {
                println!("failed (retried): {e}");
            }
            let (built, _) = ctx.build_packages(&at.spec);
            let left = match observe_live::live(&ctx, &at.spec, &built).await {
                Ok(observed) => bootstrap::remaining(&at.spec, &observed, &ctx.me),
                Err(e) => vec![format!(
                    "cannot observe the network yet: {}",
                    opssc::agent::error::chain(&e)
                )],
            };
            if left.is_empty() && report.actions.is_empty() {
                println!(
                    "bootstrapped: {} takes part in every channel of the spec at {} that lists it",
                    ctx.me,
                    at.git_commit()
                );
                return Ok(0);
            }
            if left != last_left {
                for l in &left {
                    println!("left: {l}");
                }
                for w in &report.waiting {
                    println!("waiting: {w}");
                }
                last_left = left.clone();
            }
            if started.elapsed() > timeout {
                println!(
                    "not done after {} s; the agent (`opssc agent`) goes on where this stops",
                    timeout.as_secs()
                );
                return Ok(1);
            }
            if report.actions.is_empty() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    })
}
