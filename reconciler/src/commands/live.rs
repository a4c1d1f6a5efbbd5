//! Observing the live network for `opssc plan --config` and `opssc state save`:
//! the agent's own [`Context`], package builder and observer, run once.
//! Key decision: no second observer — what these commands show is exactly
//! what the agent's next pass would see.

use std::path::Path;

use anyhow::Result;
use opssc::agent::context::Context;
use opssc::agent::{observe_live, spec_source};
use opssc::observe::Observed;
use opssc_schema::Spec;

use super::agent::{load_config, runtime};

/// Connects as the organization of `config` and reads what it sees of the
/// network for `spec` (or, when `spec` is `None`, for the spec of the
/// configured source). Package build errors are printed as warnings: the
/// chaincodes concerned show no package.
pub fn observe(config: &Path, spec: Option<Spec>) -> Result<(Spec, Observed)> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let spec = match spec {
            Some(s) => s,
            None => spec_source::resolve(&ctx.config, &ctx.state_dir.join("plan"), None)?.spec,
        };
        let (built, errors) = ctx.build_packages(&spec);
        for e in errors {
            eprintln!("warning: {e}");
        }
        let observed = observe_live::live(&ctx, &spec, &built).await?;
        Ok((spec, observed))
    })
}
