//! `opssc status`.

use std::path::Path;

use anyhow::Result;

use super::agent::{load_config, runtime};
use opssc::agent::status::Condition;
use opssc::agent::{context::Context, spec_source, status};

pub fn run(config: &Path, spec: Option<&Path>) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("status"), spec)?;
        let s = status::status(&ctx, &at).await?;
        print!("{}", s.text);
        Ok(match s.condition {
            Condition::Ready => 0,
            Condition::Progressing => 3,
            Condition::Stalled => 4,
        })
    })
}
