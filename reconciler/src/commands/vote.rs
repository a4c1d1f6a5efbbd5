//! `opssc vote <id> approve|reject`: a manual vote as this organization
//! (`opssc retry` and the other calls on a proposal are in
//! [`super::proposal`]).
//!
//! A manual vote works for every kind and carries no signature: the contract
//! releases ConfigSignatures only after the decision. Once a config kind
//! (ChannelUpdate, OrgAdd, OrgRemove) this organization approved is
//! approved, its agent signs the update (the plan's `Sign` step), and only
//! if the stored bytes are the ones it computes from its own verified spec
//! and the channel's config. A refusal by the contract (a second vote, a
//! decided proposal, not in the electorate) prints its reason and what to
//! do instead and exits 1; the ID may be a unique prefix, as for
//! `opssc proposal`.

use std::path::Path;

use anyhow::Result;
use opssc_chaincode::api::VoteArgs;
use opssc_chaincode::model::Decision;

use super::agent::{load_config, runtime};
use super::proposal::{Action, full_id, refusal_hint, refused};
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
        let id = match full_id(&ops, id).await? {
            Ok(id) => id,
            Err(code) => return Ok(code),
        };
        let got = match ops.get(&id).await {
            Ok(got) => got,
            Err(e) => return refused(e, |r| refusal_hint(Action::Vote, &id, r)).map(|_| 1),
        };
        let out = match ops
            .vote(&VoteArgs {
                id: id.clone(),
                decision,
                reason: reason.to_string(),
                config_signature: None,
                // The votes already recorded that agree with this one, one
                // key each: a range read of every vote would conflict with
                // the agents' votes in the same block.
                counted: Some(agreeing(&got.tally, decision)),
            })
            .await
        {
            Ok(out) => out,
            Err(e) => return refused(e, |r| refusal_hint(Action::Vote, &id, r)).map(|_| 1),
        };
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

/// The organizations of a `get` reply's tally that voted `decision`.
fn agreeing(tally: &serde_json::Value, decision: Decision) -> Vec<String> {
    let side = match decision {
        Decision::Approve => "approvals",
        Decision::Reject => "rejections",
    };
    tally[side]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_vote_counts_the_recorded_votes_that_agree() {
        let tally =
            serde_json::json!({"approvals": ["Org1MSP"], "rejections": ["Org2MSP", "Org3MSP"]});
        assert_eq!(agreeing(&tally, Decision::Approve), vec!["Org1MSP"]);
        assert_eq!(
            agreeing(&tally, Decision::Reject),
            vec!["Org2MSP", "Org3MSP"]
        );
        assert!(agreeing(&serde_json::Value::Null, Decision::Approve).is_empty());
    }
}
