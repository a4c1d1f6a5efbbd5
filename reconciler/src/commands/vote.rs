//! `opssc vote <id> approve|reject`: a manual vote as this organization;
//! `opssc retry <id>`: the next attempt of a failed proposal.
//!
//! A manual vote works for every kind and carries no signature: the contract
//! releases ConfigSignatures only after the decision. Once a config kind
//! (ChannelUpdate, OrgAdd, OrgRemove) this organization approved is
//! approved, its agent signs the update (the plan's `Sign` step), and only
//! if the stored bytes are the ones it computes from its own verified spec
//! and the channel's config.

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
        let got = ops.get(id).await?;
        let out = ops
            .vote(&VoteArgs {
                id: id.to_string(),
                decision,
                reason: reason.to_string(),
                config_signature: None,
            })
            .await?;
        println!("{} voted {decision:?} on {id}: {}", ctx.me, out);
        if decision == Decision::Approve && got.proposal.kind.carries_config_update() {
            println!(
                "once the proposal is approved, the agent of {} signs its update, if the stored bytes are the ones it computes from its own spec",
                ctx.me
            );
        }
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
