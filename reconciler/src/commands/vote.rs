//! `opssc vote <id> approve|reject`: a manual vote as this organization;
//! `opssc retry <id>`: the next attempt of a failed proposal.
//!
//! A manual vote works for every kind. Approving a config kind (ChannelUpdate,
//! OrgAdd, OrgRemove) needs this organization's `ConfigSignature` over the
//! proposal's ConfigUpdate: the command recomputes the update from its own
//! verified spec and the channel's current config block, as the agent does,
//! refuses to sign bytes it did not derive itself, and signs them with the
//! organization's admin identity.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use opssc_chaincode::api::VoteArgs;
use opssc_chaincode::model::{ConfigSignatureB64, Decision, Proposal};
use opssc_fabric::configtx::client;

use super::agent::{load_config, runtime};
use crate::cli::VoteDecision;
use opssc::agent::context::Context;
use opssc::agent::spec_source;

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
        let config_signature = match decision {
            Decision::Approve if got.proposal.kind.carries_config_update() => {
                Some(sign_own_update(&ctx, &got.proposal).await?)
            }
            _ => None,
        };
        let out = ops
            .vote(&VoteArgs {
                id: id.to_string(),
                decision,
                reason: reason.to_string(),
                config_signature,
            })
            .await?;
        println!("{} voted {decision:?} on {id}: {}", ctx.me, out);
        Ok(0)
    })
}

/// This organization's ConfigSignature over the proposal's ConfigUpdate,
/// after recomputing the same bytes from its own spec and the channel's config.
async fn sign_own_update(ctx: &Context, proposal: &Proposal) -> Result<ConfigSignatureB64> {
    use base64::Engine as _;
    let channel = &proposal.target.channel;
    let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("vote"), None)?;
    let observed = opssc::agent::observe_live::live(ctx, &at.spec, &BTreeMap::new()).await?;
    let plan = opssc::plan::plan(&at.spec, &observed, &ctx.me);
    let org = proposal.payload["org"].as_str();
    let Some(planned) = opssc::consent::planned_for(&plan, proposal.kind, &proposal.target, org)
    else {
        bail!(
            "the spec this organization acts on (commit {}) calls for no {} on channel {channel}: \
             it cannot recompute the update to sign; vote reject, or approve after the spec commit \
             that makes this change is trusted",
            at.git_commit(),
            proposal.kind
        );
    };
    let config = client::fetch_config(&ctx.main_peer().deliver, channel)
        .await
        .with_context(|| format!("read the config of channel {channel}"))?;
    let changes: Vec<&opssc::plan::Change> = planned
        .changes
        .iter()
        .map(|&i| &plan.shared[i].change)
        .collect();
    let mine = opssc::config_update::channel_update(&at.spec, &config, &changes)?;
    let stored = opssc::config_update::update_bytes(&proposal.payload)?;
    opssc::consent::same_update(
        &stored,
        &mine,
        config.sequence,
        proposal.spec_ref.base_config_sequence,
    )
    .map_err(|why| anyhow::anyhow!("{why}; not signing (spec commit {})", at.git_commit()))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = opssc_fabric::configtx::sign::sign_update(ctx.signer.as_ref(), &mine)
        .context("sign the config update as this organization's admin")?;
    Ok(ConfigSignatureB64 {
        signature_header: b64.encode(&sig.signature_header),
        signature: b64.encode(&sig.signature),
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
