//! `opssc vote <id> approve|reject`: a manual vote as this organization;
//! `opssc retry <id>`: the next attempt of a failed proposal.

use std::path::Path;

use anyhow::Result;
use opssc_chaincode::api::VoteArgs;
use opssc_chaincode::model::Decision;

use super::agent::{load_config, runtime};
use crate::cli::VoteDecision;
use opssc::agent::context::Context;

pub fn run(
    config: &Path,
    id: &str,
    decision: VoteDecision,
    reason: &str,
    ops_channel: &str,
) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let ops = ctx.ops(ops_channel);
        let decision = match decision {
            VoteDecision::Approve => Decision::Approve,
            VoteDecision::Reject => Decision::Reject,
        };
        let out = ops
            .vote(&VoteArgs {
                id: id.to_string(),
                decision,
                reason: reason.to_string(),
                config_signature: None,
            })
            .await?;
        println!("{} voted {decision:?} on {id}: {}", ctx.me, out);
        Ok(0)
    })
}

pub fn retry(config: &Path, id: &str, reason: &str, ops_channel: &str) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let out = ctx.ops(ops_channel).retry(id, reason).await?;
        println!("{} asked for another attempt of {id}: {}", ctx.me, out);
        Ok(0)
    })
}
