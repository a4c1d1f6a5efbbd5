//! Channel configuration changes in a pass: file, vote (with a signature),
//! execute, and join the channels this organization was added to.
//!
//! For every planned config proposal (`ChannelUpdate`, `OrgAdd`, `OrgRemove`)
//! on a channel this organization is a member of, [`config_proposal`]
//! computes the ConfigUpdate from its own spec and the channel's config
//! block as the observation decoded it (never fetched again in the pass;
//! [`crate::config_update`]) and then, by what the observation says (no
//! proposal, vote or signature is read again in the middle of acting; the
//! vote verdict, its reason and the tally are the plan's steps,
//! [`crate::plan::steps::vote_on`], cast by [`super::execute`]):
//!
//! - nothing filed → **file** it, with the base config sequence;
//! - filed with the same bytes and undecided → **vote** approve with this
//!   org admin's ConfigSignature over those bytes, then tally;
//! - another org's undecided proposal for the same target at the same base
//!   with other bytes → **vote reject** naming the difference;
//! - approved and this org an eligible executor → **submit** the update,
//!   signed by the approvals' ConfigSignatures taken from the chain, once
//!   they satisfy the policies the orderer will check; wait for the config
//!   block; **report committed**.
//!
//! A proposal is never submitted against another base than its own: when the
//! channel moved on, the executor records the proposal as failed (stale) and
//! the next pass files a fresh one from the new config; an undecided stale
//! proposal is superseded by filing the fresh one. [`unplanned`] reports
//! committed an approved config proposal the spec does not call for whose
//! update is already on the chain (an executor that stopped between
//! submitting and reporting); the votes on unplanned proposals are steps of
//! the plan ([`crate::plan::steps`]).
//! [`admission`] reads, for the new organization's side, whether the
//! orderer's config of each channel it should be in lists it; the plan's
//! join steps follow from that ([`crate::plan::steps`]).

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use base64::Engine as _;
use opssc_chaincode::api::ProposeArgs;
use opssc_chaincode::model::{Kind, ProposalState, SpecRef};
use opssc_fabric::configtx::{self, ChannelConfig, client, sign};
use opssc_fabric::deliver::Seek;
use opssc_fabric::protos::common::{ConfigSignature, ConfigUpdate};
use prost::Message;
use serde_json::Value;

use super::context::Context;
use super::ops::OpsClient;
use super::pass::PassReport;
use super::spec_source::SpecAt;
use crate::config_update;
use crate::observe::Observed;
use crate::plan::steps::Admission;
use crate::plan::{Change, Plan, PlannedProposal, short_id};

/// How long the executor waits for the config block after submitting.
const CONFIG_BLOCK_TIMEOUT: Duration = Duration::from_secs(60);

fn describe(p: &PlannedProposal) -> String {
    match &p.org {
        Some(org) => format!("{} {org} on channel {}", p.kind, p.target.channel),
        None => format!("{} of channel {}", p.kind, p.target.channel),
    }
}

/// Whether this org's peers have joined `channel` (configs are read there).
fn joined(observed: &Observed, ctx: &Context, channel: &str) -> bool {
    observed
        .local
        .peers
        .get(&ctx.main_peer().name)
        .is_some_and(|p| p.joined_channels.iter().any(|c| c == channel))
}

/// The plan's steps for one proposal, executed, with what is blocked.
async fn run_steps(
    ctx: &Context,
    at: &SpecAt,
    steps: &crate::plan::steps::Steps,
    report: &mut PassReport,
) {
    for b in &steps.blocked {
        report.blocked(b);
    }
    super::execute::execute(ctx, at, &Default::default(), &steps.steps, report).await;
}

/// One planned config proposal (see the module doc).
#[allow(clippy::too_many_arguments)]
pub async fn config_proposal(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    configs: &std::collections::BTreeMap<String, ChannelConfig>,
    input: &crate::plan::steps::PlanInput,
    plan: &Plan,
    p: &PlannedProposal,
    report: &mut PassReport,
) -> Result<()> {
    let channel = &p.target.channel;
    let what = describe(p);
    // Only the channel's current members vote on its config.
    let member = observed
        .channels
        .get(channel)
        .is_some_and(|c| c.members.contains_key(&ctx.me));
    if !member || !joined(observed, ctx, channel) {
        return Ok(());
    }
    let ops_channel = &at.spec.consortium.ops_channel;
    // The contract admits a new member to an application channel only once
    // it is a member of the ops channel (where it votes from then on).
    if let (Kind::OrgAdd, Some(org)) = (p.kind, &p.org)
        && channel != ops_channel
        && !observed
            .channels
            .get(ops_channel)
            .is_some_and(|c| c.members.contains_key(org))
    {
        report.waiting.push(format!(
            "{what}: waits until {org} is a member of the ops channel {ops_channel}"
        ));
        return Ok(());
    }
    // Removing a member is two-phase: what still needs it (a chaincode it
    // must endorse, an admin policy only it can satisfy) changes first.
    if let Some(risk) = blocking_risk(plan, p) {
        report
            .stalled
            .push(format!("{what}: not filed yet: {}", risk.message));
        return Ok(());
    }
    if let Some(pre) = p
        .changes
        .iter()
        .flat_map(|&i| &plan.shared[i].requires)
        .find(|r| matches!(r, crate::plan::Precondition::OrgCertificates { .. }))
    {
        report.waiting.push(format!("{what}: waits until {pre}"));
        return Ok(());
    }
    // An organization that only votes has nothing to compute until another
    // member files this change.
    let on_chain = observed.proposals.iter().any(|o| {
        o.kind == p.kind
            && o.target == p.target
            && matches!(o.state, ProposalState::Proposed | ProposalState::Approved)
    });
    let vote_only =
        ctx.config.channel_changes == opssc_schema::local::ChannelChangePolicy::VoteOnly;
    if vote_only && !on_chain {
        // Not this organization's to file, and nothing to vote on: it does
        // not wait on anything either (`opssc plan` shows the difference).
        tracing::debug!("{what}: left to other members (channelChanges: voteOnly)");
        return Ok(());
    }
    // The config block the observation decoded: not fetched again.
    let Some(config) = configs.get(channel) else {
        return Ok(());
    };
    let changes: Vec<&Change> = p.changes.iter().map(|&i| &plan.shared[i].change).collect();
    let bytes = config_update::channel_update(&at.spec, config, &changes)?;
    let payload = config_update::proposal_payload(p.kind, p.org.as_deref(), &bytes, &changes)?;
    let (round, id) = filing_round(p.kind, &p.target, &payload, &observed.proposals)
        .map_err(|e| anyhow!("this organization's own {what} payload is invalid: {e}"))?;
    let (_, canonical) = opssc_chaincode::api::normalize_payload(p.kind, &payload)
        .map_err(|e| anyhow!("this organization's own {what} payload is invalid: {e}"))?;
    let ops = ctx.ops(ops_channel);
    // The vote verdict, its reason and the tally are the plan's
    // (crate::plan::steps::vote_on); the executor casts them.
    let vote = |o: &crate::observe::ProposalSummary, sign: Option<&[u8]>| {
        crate::plan::steps::vote_on(&ctx.me, input, o, &canonical, sign, &what)
    };

    if let Some(mine) = observed.proposals.iter().find(|o| o.id == id) {
        return match mine.state {
            ProposalState::Proposed => {
                run_steps(ctx, at, &vote(mine, Some(&bytes)), report).await;
                Ok(())
            }
            ProposalState::Approved => {
                execute(ctx, &ops, config, mine, &bytes, &what, report).await
            }
            ProposalState::Rejected => {
                report.stalled.push(format!(
                    "{what}: proposal {} for exactly this update was rejected; commit a spec that changes it",
                    short_id(&id)
                ));
                Ok(())
            }
            ProposalState::Failed => {
                report.stalled.push(format!(
                    "{what}: proposal {} failed; fix the cause, then `opssc retry {id}`",
                    short_id(&id)
                ));
                Ok(())
            }
            other => {
                report
                    .waiting
                    .push(format!("{what}: proposal {} is {other}", short_id(&id)));
                Ok(())
            }
        };
    }

    // Another organization's undecided proposal for the same change, against
    // the same config: answer it (a reject with the difference) rather than
    // replace it, so two orgs that disagree do not supersede each other forever.
    if let Some(other) = observed.proposals.iter().find(|o| {
        o.kind == p.kind
            && o.target == p.target
            && o.state == ProposalState::Proposed
            && (p.org.is_none() || o.org == p.org)
            && o.base_config_sequence == Some(config.sequence)
    }) {
        run_steps(ctx, at, &vote(other, None), report).await;
        return Ok(());
    }

    if vote_only {
        report.waiting.push(format!(
            "{what}: this organization only votes on channel changes (channelChanges: voteOnly); the proposal on the chain is not the update it computes"
        ));
        return Ok(());
    }
    let out = ops
        .propose(&ProposeArgs {
            kind: p.kind,
            target: p.target.clone(),
            payload,
            spec_ref: SpecRef {
                git_commit: at.git_commit(),
                spec_hash: at.spec.spec_hash.clone(),
                base_config_sequence: Some(config.sequence),
                committed_chaincode_sequence: None,
            },
            deadline: None,
            round,
        })
        .await?;
    report.actions.push(format!(
        "{what}: filed proposal {} (config sequence {}, {} bytes): {}",
        short_id(&id),
        config.sequence,
        bytes.len(),
        out["outcome"].as_str().unwrap_or("filed")
    ));
    Ok(())
}

/// A risk of `p` that must be resolved by another change before `p` may be
/// filed: a removed organization that is still a sole endorser, or an admin
/// lockout.
pub fn blocking_risk<'a>(plan: &'a Plan, p: &PlannedProposal) -> Option<&'a crate::plan::Risk> {
    p.changes
        .iter()
        .flat_map(|&i| plan.shared[i].risks.iter())
        .find(|r| {
            matches!(
                r.kind,
                crate::plan::RiskKind::SoleEndorser | crate::plan::RiskKind::AdminLockout
            )
        })
}

/// The round (and so the contract's ID) under which this exact update is
/// filed ([`crate::plan::proposal::round_of`]); a rejected round that nobody
/// followed with a later one is kept, so its outcome stands until the spec
/// changes.
pub fn filing_round(
    kind: Kind,
    target: &opssc_chaincode::model::Target,
    payload: &Value,
    proposals: &[crate::observe::ProposalSummary],
) -> Result<(u32, String), opssc_chaincode::error::ContractError> {
    let r = crate::plan::proposal::round_of(kind, target, payload, proposals)?;
    let filed = proposals.iter().any(|o| o.id == r.id);
    Ok(match r.rejected_before {
        Some(rejected) if !filed => rejected,
        _ => (r.round, r.id),
    })
}

/// The ConfigSignatures of the approving votes, with their organizations,
/// as the observation read them.
fn signatures_observed(
    open: &crate::observe::OpenDetail,
    id: &str,
) -> Result<Vec<(String, ConfigSignature)>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for (org, s) in &open.config_signatures {
        out.push((
            org.clone(),
            ConfigSignature {
                signature_header: b64
                    .decode(&s.signature_header)
                    .with_context(|| format!("{org}'s signature header on {id}"))?,
                signature: b64
                    .decode(&s.signature)
                    .with_context(|| format!("{org}'s signature on {id}"))?,
            },
        ));
    }
    Ok(out)
}

/// The executor's step for an approved config proposal `o`, from what the
/// observation read (its executors, base, electorate and the approvals'
/// ConfigSignatures).
async fn execute(
    ctx: &Context,
    ops: &OpsClient,
    config: &ChannelConfig,
    o: &crate::observe::ProposalSummary,
    bytes: &[u8],
    what: &str,
    report: &mut PassReport,
) -> Result<()> {
    let channel = &config.channel_id;
    let id = o.id.as_str();
    let Some(open) = &o.open else {
        report.waiting.push(format!(
            "{what}: proposal {} was not read in full",
            short_id(id)
        ));
        return Ok(());
    };
    if !open.eligible_executors.contains(&ctx.me) {
        report.requeue_within(
            std::time::Duration::from_millis(open.execution_timeout_secs.max(1) * 1000 / 4)
                .max(std::time::Duration::from_secs(1)),
        );
        report.waiting.push(format!(
            "{what}: waiting for the executor ({}) to submit the update",
            open.eligible_executors.join(", ")
        ));
        return Ok(());
    }
    let base = o.base_config_sequence;
    if base != Some(config.sequence) {
        let error = format!(
            "stale: the update was computed against config sequence {} and channel {channel} is at {}; a new proposal is computed from the current config",
            base.map_or("?".into(), |b| b.to_string()),
            config.sequence
        );
        ops.report_failed(id, &error).await?;
        report.actions.push(format!(
            "{what}: recorded proposal {} as {error}",
            short_id(id)
        ));
        return Ok(());
    }
    let signatures = signatures_observed(open, id)?;
    let update = ConfigUpdate::decode(bytes).context("decode the approved config update")?;
    let needed = configtx::required_signatures(config, &update)
        .with_context(|| format!("the policies that {what} must satisfy"))?;
    let signed: BTreeSet<String> = signatures.iter().map(|(org, _)| org.clone()).collect();
    let electorate: BTreeSet<String> = o.electorate.iter().cloned().collect();
    if !needed.is_satisfied_by(&electorate) {
        // Even every voter's signature would not do: the policy names an
        // organization that does not vote on the OpsSC (the orderer
        // organization, for orderer settings).
        let outside: Vec<String> = needed.orgs().difference(&electorate).cloned().collect();
        report.stalled.push(format!(
            "{what}: the orderer will check {}, which needs a signature of {} — not a voter on the OpsSC, so opssc cannot collect it: an admin of {} must sign and submit this update (the approved bytes are the payload of proposal {id}), or change the spec back",
            needed
                .policies()
                .iter()
                .map(|r| r.policy().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            outside.join(", "),
            outside.join(", ")
        ));
        return Ok(());
    }
    if !needed.is_satisfied_by(&signed) {
        report.waiting.push(format!(
            "{what}: signatures of {} do not satisfy {} yet",
            if signed.is_empty() {
                "nobody".to_string()
            } else {
                signed.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            needed
                .policies()
                .iter()
                .map(|r| r.policy().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(());
    }
    let envelope = sign::submission(
        ctx.signer.as_ref(),
        channel,
        &sign::update_envelope(
            bytes.to_vec(),
            signatures.into_iter().map(|(_, s)| s).collect(),
        ),
    )?;
    let Some(orderer) = ctx.orderers.first() else {
        anyhow::bail!(
            "{what}: this organization's agent configuration lists no orderer to submit the update to (add `orderers:`)"
        );
    };
    let after = match client::submit_and_wait(
        &orderer.orderer,
        &ctx.main_peer().deliver,
        channel,
        envelope,
        CONFIG_BLOCK_TIMEOUT,
    )
    .await
    {
        Ok(after) => after,
        Err(e) if refused(&e) => {
            let error = format!("the orderer refused the update: {e:#}");
            ops.report_failed(id, &error).await?;
            report.stalled.push(format!(
                "{what}: {error}; recorded on proposal {} (fix the cause, then `opssc retry {id}`)",
                short_id(id)
            ));
            return Ok(());
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("submit {what}"))),
    };
    report.actions.push(format!(
        "{what}: submitted proposal {}; channel {channel} is at config sequence {}",
        short_id(id),
        after.sequence
    ));
    ops.report_committed(id, &format!("config sequence {}", after.sequence))
        .await?;
    report
        .actions
        .push(format!("{what}: reported {} committed", short_id(id)));
    Ok(())
}

/// A refusal by the orderer itself (a policy, a stale read set), not a
/// connection problem.
fn refused(e: &configtx::ConfigError) -> bool {
    matches!(e, configtx::ConfigError::Fabric { .. })
}

/// Approved config proposals on the chain that this org's plan does not
/// call for: report committed the ones whose update is already on the chain
/// (the plan's steps reject the undecided ones).
pub async fn unplanned(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    plan: &Plan,
    report: &mut PassReport,
) -> Result<()> {
    let ops = ctx.ops(&at.spec.consortium.ops_channel);
    for o in observed.proposals.iter().filter(|o| {
        o.kind.carries_config_update()
            && matches!(o.state, ProposalState::Proposed | ProposalState::Approved)
    }) {
        let channel = &o.target.channel;
        let Some(obs) = observed.channels.get(channel) else {
            continue;
        };
        if !obs.members.contains_key(&ctx.me) {
            continue;
        }
        let planned = plan.proposals.iter().any(|p| {
            p.kind == o.kind && p.target.channel == *channel && (p.org.is_none() || p.org == o.org)
        });
        if planned {
            continue;
        }
        let what = format!("{} {} on channel {channel}", o.kind, short_id(&o.id));
        // Votes on unplanned proposals are the plan's steps
        // (crate::plan::steps): reject, tally once rejections decide.
        if o.state != ProposalState::Approved {
            continue;
        }
        let base = o.base_config_sequence.unwrap_or(0);
        if obs.config_sequence <= base {
            continue;
        }
        let executor = o
            .open
            .as_ref()
            .is_some_and(|d| d.eligible_executors.contains(&ctx.me));
        if executor {
            ops.report_committed(
                &o.id,
                &format!(
                    "the update is on the chain (config sequence {})",
                    obs.config_sequence
                ),
            )
            .await?;
            report
                .actions
                .push(format!("{what}: reported committed (found on the chain)"));
        }
    }
    Ok(())
}

/// What the orderer says about each spec channel that lists this
/// organization and that an own peer has not joined: the planning input for
/// the join steps ([`crate::plan::steps::Admission`]).
pub async fn admission(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
) -> Result<std::collections::BTreeMap<String, Admission>> {
    let mut out = std::collections::BTreeMap::new();
    for (name, ch) in &at.spec.channels {
        if !ch.members.contains(&ctx.me) {
            continue;
        }
        let missing = ctx.peers.iter().any(|p| {
            !observed
                .local
                .peers
                .get(&p.name)
                .is_some_and(|l| l.joined_channels.iter().any(|c| c == name))
        });
        if !missing {
            continue;
        }
        let Some(orderer) = ctx.orderers.first() else {
            out.insert(name.clone(), Admission::NoOrderer);
            continue;
        };
        let a = match orderer.deliver.latest_config_block(name).await {
            Ok(block) => {
                let config = ChannelConfig::from_block(&block)
                    .with_context(|| format!("decode the config of channel {name}"))?;
                if config.application_msp_ids().contains(&ctx.me) {
                    Admission::Listed
                } else {
                    Admission::NotListed {
                        config_sequence: config.sequence,
                    }
                }
            }
            Err(e) => Admission::Unavailable {
                why: format!("orderer {}: {e}", orderer.name),
            },
        };
        out.insert(name.clone(), a);
    }
    Ok(out)
}

/// The OpsSC on this organization's own peers once they joined the ops
/// channel (a member added after founding): install the OpsSC package
/// (chaincode-as-a-service at this organization's `chaincodeServers` address
/// for `<name>_<committed version>`) and approve the committed definition, so
/// the organization endorses the OpsSC itself instead of relying on the
/// other members' peers. Without a configured server it does nothing.
pub async fn opssc_catch_up(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    report: &mut PassReport,
) -> Result<()> {
    let ops = &at.spec.consortium.ops_channel;
    if !joined(observed, ctx, ops) {
        return Ok(());
    }
    let name = ctx.config.ops_chaincode.as_deref().unwrap_or("opssc");
    let Some(committed) = observed.chaincodes.get(&Observed::chaincode_key(ops, name)) else {
        return Ok(());
    };
    let label = format!("{name}_{}", committed.version);
    let Some(address) = ctx.config.chaincode_servers.get(&label) else {
        tracing::debug!(
            "no chaincodeServers entry for {label}: the OpsSC runs on the other members' peers"
        );
        return Ok(());
    };
    let pkg = opssc_fabric::package::ccaas_package(
        &label,
        &opssc_fabric::package::Connection::plaintext(address),
    )?;
    let package_id = opssc_fabric::package::package_id(&label, &pkg);
    for peer in &ctx.peers {
        let has = observed.local.peers.get(&peer.name).is_some_and(|p| {
            p.installed_packages
                .iter()
                .any(|i| i.package_id == package_id)
        });
        if !has {
            opssc_fabric::lifecycle::install(&peer.endorser, &pkg)
                .await
                .with_context(|| {
                    format!("install the OpsSC package {label} on peer {}", peer.name)
                })?;
            report
                .actions
                .push(format!("installed {package_id} on peer {}", peer.name));
        }
    }
    let main = ctx.main_peer();
    let approved = observed
        .local
        .approved
        .get(&Observed::chaincode_key(ops, name))
        .is_some_and(|a| a.sequence >= committed.sequence);
    if !approved {
        let def = opssc_fabric::lifecycle::ChaincodeDefinition::new(
            name,
            &committed.version,
            committed.sequence as i64,
        );
        let done = opssc_fabric::lifecycle::approve(&main.gateway, ops, &def, Some(&package_id))
            .await
            .with_context(|| format!("approve {name} on {ops} as {}", ctx.me))?;
        report.actions.push(format!(
            "approved {ops}/{name} {} sequence {} for {} (block {})",
            committed.version, committed.sequence, ctx.me, done.block
        ));
    }
    Ok(())
}

/// Whether this org's main peer has every block the orderer has on
/// `channel`: a peer that just joined must not plan chaincodes from a ledger
/// that has not seen their definitions yet.
pub async fn caught_up(ctx: &Context, channel: &str) -> Result<bool> {
    let Some(orderer) = ctx.orderers.first() else {
        return Ok(true);
    };
    let ordered = orderer
        .deliver
        .block(channel, Seek::Newest)
        .await
        .with_context(|| format!("read the newest block of channel {channel} from the orderer"))?;
    let local = ctx
        .main_peer()
        .deliver
        .block(channel, Seek::Newest)
        .await
        .with_context(|| format!("read the newest block of channel {channel} from the own peer"))?;
    Ok(opssc_fabric::block::number(&local) >= opssc_fabric::block::number(&ordered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn golden(case: &str) -> Plan {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(case);
        let spec_dir = match std::fs::read_to_string(dir.join("spec.txt")) {
            Ok(rel) => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(rel.trim()),
            Err(_) => dir.join("spec"),
        };
        let spec = opssc_schema::load_dir(&spec_dir)
            .spec
            .expect("the golden spec validates");
        let observed = crate::observe::load_file(&dir.join("observed.json")).unwrap();
        crate::plan::plan(&spec, &observed, &observed.observed_by.clone())
    }

    #[test]
    fn removing_a_sole_endorser_waits_for_the_chaincode_change() {
        let plan = golden("remove-org");
        let remove = plan
            .proposals
            .iter()
            .find(|p| p.kind == Kind::OrgRemove)
            .expect("the case removes an organization");
        let risk = blocking_risk(&plan, remove).expect("the removal is blocked");
        assert!(
            risk.message.contains("sole endorser") || risk.message.contains("still needed"),
            "{}",
            risk.message
        );
        // The chaincode change it waits for is not blocked itself.
        for p in plan.proposals.iter().filter(|p| p.kind != Kind::OrgRemove) {
            assert!(blocking_risk(&plan, p).is_none(), "{:?}", p.kind);
        }
    }

    #[test]
    fn a_superseded_filing_of_the_same_bytes_moves_to_the_next_round() {
        use crate::observe::ProposalSummary;
        use opssc_chaincode::model::Target;
        let target = Target {
            channel: "trade".into(),
            chaincode: None,
        };
        let payload = serde_json::json!({"org": "Org4MSP", "config_update": "AQID"});
        let summary = |id: &str, state| ProposalSummary {
            id: id.to_string(),
            kind: Kind::OrgAdd,
            target: target.clone(),
            round: 0,
            org: None,
            state,
            votes: Default::default(),
            quorum: 0,
            electorate: Vec::new(),
            spec_commit: None,
            base_config_sequence: None,
            open: None,
        };
        let (r0, id0) = filing_round(Kind::OrgAdd, &target, &payload, &[]).unwrap();
        assert_eq!(r0, 0);
        // Superseded (e.g. by a hostile filing for the same target): round 1.
        let (r1, id1) = filing_round(
            Kind::OrgAdd,
            &target,
            &payload,
            &[summary(&id0, ProposalState::Superseded)],
        )
        .unwrap();
        assert_eq!(r1, 1);
        assert_ne!(id1, id0);
        // Rejected or live: the same round, so the outcome stands.
        for state in [
            ProposalState::Rejected,
            ProposalState::Proposed,
            ProposalState::Failed,
        ] {
            let (r, id) =
                filing_round(Kind::OrgAdd, &target, &payload, &[summary(&id0, state)]).unwrap();
            assert_eq!((r, id), (0, id0.clone()), "{state:?}");
        }
    }

    #[test]
    fn adding_an_org_is_not_blocked() {
        let plan = golden("add-org");
        let add = plan
            .proposals
            .iter()
            .find(|p| p.kind == Kind::OrgAdd)
            .expect("the case adds an organization");
        assert!(blocking_risk(&plan, add).is_none());
    }
}
