//! `opssc reconcile --once`: one pass of the agent, printed.

use std::path::Path;

use anyhow::Result;

use super::agent::{init_logging, load_config, runtime};
use opssc::agent::{context::Context, pass, spec_source};

pub fn run(config: &Path, once: bool, spec: Option<&Path>) -> Result<i32> {
    anyhow::ensure!(
        once,
        "`opssc reconcile` runs one pass: pass --once (the loop is `opssc agent`)"
    );
    init_logging();
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        // Its own mirror: an agent of the same org may be running next to it.
        let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("once"), spec)?;
        if let Some((commit, why)) = &at.refused {
            println!("refused spec commit {commit}: {why}");
        }
        let report = pass::run_pass(&ctx, &at).await;
        for a in &report.actions {
            println!("done: {a}");
        }
        for w in &report.waiting {
            println!("waiting: {w}");
        }
        for s in &report.stalled {
            println!("stalled: {s}");
        }
        for e in &report.errors {
            println!("failed: {e}");
        }
        if report.actions.is_empty()
            && report.waiting.is_empty()
            && report.stalled.is_empty()
            && report.errors.is_empty()
        {
            println!(
                "nothing to do: the chaincodes match the spec at {}",
                at.git_commit()
            );
        }
        Ok(if report.errors.is_empty() { 0 } else { 1 })
    })
}
