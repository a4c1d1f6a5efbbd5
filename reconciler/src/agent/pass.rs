//! One reconcile pass: observe → plan → act, for chaincode rollouts.
//!
//! [`run_pass`] builds this organization's packages, observes the network
//! ([`super::observe_live::live`]), plans ([`crate::plan::plan`]) and then
//! makes at most one attempt at every step whose preconditions hold, in this
//! order per chaincode:
//!
//! 1. **File** the proposal the plan names, if it is not on the chain (the ID
//!    is deterministic: a second filing by another org is a no-op).
//! 2. **Vote** while it is `proposed`, per the vote policy: `auto` recomputes
//!    the payload from this org's own spec and package and approves only an
//!    identical one (a different one gets a reject with the difference);
//!    `manual` waits for `opssc vote`. Then **tally** once the approvals
//!    reach the quorum.
//! 3. Once `approved`: **install** the package on every own peer, **approve**
//!    the definition for this org, **report** each task once.
//! 4. If this org is an eligible executor and enough orgs approved:
//!    **commit** the definition, then **report committed**.
//! 5. Without a pending change, heal local drift: install and approve the
//!    committed definition (an org that joined late or missed a step).
//!
//! Every step is guarded by what the chain says (the committed definition
//! sequence, this org's approved sequence, the proposal's state and the tasks
//! already reported), so running a pass twice does nothing twice. The pass
//! returns what should happen next ([`Next`]); it is never told why it runs.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use opssc_chaincode::api::{ProposeArgs, ReportTaskArgs, VoteArgs, normalize_payload};
use opssc_chaincode::model::{
    ConfigSignatureB64, Decision, Kind, ProposalState, SpecRef, TaskStatus,
};
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::protos::common::{ApplicationPolicy, application_policy};
use opssc_schema::Chaincode;
use opssc_schema::local::VotePolicy;
use prost::Message;
use serde_json::Value;

use super::context::Context;
use super::packages::Built;
use super::spec_source::SpecAt;
use crate::observe::Observed;
use crate::plan::{PlannedProposal, proposal::chaincode_payload};

/// What should happen after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Something changed: observe again right away.
    Now,
    /// Waiting on others (votes, approvals, the executor): run again on the
    /// next event, or after this long at the latest.
    AwaitChange(Duration),
    /// A step failed: retry after this long.
    Retry(Duration),
}

/// What a pass did, what it waits on, and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub actions: Vec<String>,
    pub waiting: Vec<String>,
    /// Steps that cannot move without a person (a rejected change).
    pub stalled: Vec<String>,
    pub errors: Vec<String>,
    pub next: Next,
    /// The latest time to look again while waiting (e.g. when the executor
    /// role passes to the next organization, which no event announces).
    pub requeue_within: Option<Duration>,
}

impl PassReport {
    fn new() -> PassReport {
        PassReport {
            actions: Vec::new(),
            waiting: Vec::new(),
            stalled: Vec::new(),
            errors: Vec::new(),
            next: Next::AwaitChange(Duration::from_secs(30)),
            requeue_within: None,
        }
    }

    fn finish(mut self) -> PassReport {
        self.next = if !self.errors.is_empty() {
            Next::Retry(Duration::from_secs(3))
        } else if !self.actions.is_empty() {
            Next::Now
        } else {
            let bound = Duration::from_secs(30);
            Next::AwaitChange(self.requeue_within.map_or(bound, |d| d.min(bound)))
        };
        self
    }

    pub(super) fn requeue_within(&mut self, d: Duration) {
        self.requeue_within = Some(self.requeue_within.map_or(d, |old| old.min(d)));
    }
}

/// The `validation_parameter` for a spec's endorsement policy.
pub fn validation_parameter(cc: &Chaincode) -> Result<Vec<u8>> {
    let Some(p) = &cc.endorsement_policy else {
        return Ok(Vec::new());
    };
    let text = p.text.trim();
    if text.starts_with('/') {
        return Ok(lifecycle::policy_reference(text));
    }
    let env = opssc_fabric::configtx::parse_signature_policy(text).with_context(|| {
        format!(
            "chaincode {}/{}: endorsement policy {text:?}",
            cc.channel, cc.name
        )
    })?;
    Ok(ApplicationPolicy {
        r#type: Some(application_policy::Type::SignaturePolicy(env)),
    }
    .encode_to_vec())
}

/// The definition every org approves for `cc` at `sequence`.
pub fn definition(cc: &Chaincode, sequence: u64) -> Result<ChaincodeDefinition> {
    anyhow::ensure!(
        cc.collections.is_empty(),
        "chaincode {}/{}: private data collections are not applied by this agent yet",
        cc.channel,
        cc.name
    );
    let mut def = ChaincodeDefinition::new(&cc.name, &cc.version, sequence as i64)
        .with_validation_parameter(validation_parameter(cc)?);
    def.init_required = cc.init_required;
    Ok(def)
}

/// The top-level fields in which two payloads differ, for a reject reason;
/// a different package comes first, named by both package IDs.
pub fn payload_difference(on_chain: &Value, mine: &Value) -> String {
    let lead = package_mismatch(on_chain, mine);
    let rest = field_differences(on_chain, mine);
    match lead {
        Some(lead) => format!("{lead}; {rest}"),
        None => rest,
    }
}

/// "the proposal installs package A, this organization builds package B
/// from <source>": a chaincode payload whose package differs from this org's.
fn package_mismatch(on_chain: &Value, mine: &Value) -> Option<String> {
    let theirs = on_chain.get("package_id")?.as_str()?;
    let ours = mine.get("package_id")?.as_str()?;
    if theirs == ours {
        return None;
    }
    let from = match mine.get("source") {
        Some(Value::Object(s)) if s.contains_key("git") => format!(
            " from {} at commit {}",
            crate::chaincode_source::redact_url(s["git"].as_str().unwrap_or("?")),
            s.get("commit").and_then(Value::as_str).unwrap_or("?")
        ),
        _ => String::new(),
    };
    Some(format!(
        "package mismatch: the proposal installs {theirs}, this organization builds {ours}{from}"
    ))
}

fn field_differences(on_chain: &Value, mine: &Value) -> String {
    let mut keys: Vec<&String> = Vec::new();
    if let (Some(a), Some(b)) = (on_chain.as_object(), mine.as_object()) {
        keys.extend(a.keys().chain(b.keys()).filter(|k| *k != "summary"));
    }
    keys.sort();
    keys.dedup();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| on_chain.get(*k) != mine.get(*k))
        .map(|k| {
            format!(
                "{k}: proposed {}, this organization computes {}",
                on_chain.get(k).unwrap_or(&Value::Null),
                mine.get(k).unwrap_or(&Value::Null)
            )
        })
        .collect();
    if diffs.is_empty() {
        "the payload differs".to_string()
    } else {
        diffs.join("; ")
    }
}

/// One pass over `at`'s spec.
pub async fn run_pass(ctx: &Context, at: &SpecAt) -> PassReport {
    let mut report = PassReport::new();
    if let Err(e) = pass(ctx, at, &mut report).await {
        report.errors.push(format!("{e:#}"));
    }
    report.finish()
}

async fn pass(ctx: &Context, at: &SpecAt, report: &mut PassReport) -> Result<()> {
    let spec = &at.spec;
    let (built, build_errors) = ctx.build_packages(spec);
    report.errors.extend(build_errors);
    let observed = super::observe_live::live(ctx, spec, &built).await?;
    let plan = crate::plan::plan(spec, &observed, &ctx.me);
    // Membership first: a channel change may be what a chaincode waits for.
    for p in plan
        .proposals
        .iter()
        .filter(|p| p.kind.carries_config_update())
    {
        if let Err(e) =
            super::channel_changes::config_proposal(ctx, at, &observed, &plan, p, report).await
        {
            report.errors.push(format!("{}: {e:#}", p.target.channel));
        }
    }
    if let Err(e) = super::channel_changes::unplanned(ctx, at, &observed, &plan, report).await {
        report.errors.push(format!("{e:#}"));
    }
    if let Err(e) = super::channel_changes::join_channels(ctx, at, &observed, report).await {
        report.errors.push(format!("{e:#}"));
    }
    if let Err(e) = super::channel_changes::opssc_catch_up(ctx, at, &observed, report).await {
        report.errors.push(format!("{e:#}"));
    }
    let mut caught_up: BTreeMap<String, bool> = BTreeMap::new();
    for ((channel, name), cc) in &spec.chaincodes {
        // Chaincodes are read from this org's own peer: only on channels it
        // has joined.
        if !spec.channels[channel].members.contains(&ctx.me)
            || !observed.channels.contains_key(channel)
        {
            continue;
        }
        let Some(pkg) = built.get(&cc.label) else {
            continue;
        };
        let proposal = plan.proposals.iter().find(|p| {
            p.kind.is_chaincode()
                && p.target.channel == *channel
                && p.target.chaincode.as_deref() == Some(name.as_str())
        });
        let step = match proposal {
            // A peer that just joined has not seen the definitions yet: it
            // must not propose (or judge) a sequence from a partial ledger.
            Some(p) => match caught_up.get(channel) {
                Some(true) => shared_change(ctx, at, &observed, cc, pkg, p, report).await,
                Some(false) => Ok(()),
                None => {
                    let ok = super::channel_changes::caught_up(ctx, channel)
                        .await
                        .unwrap_or_else(|e| {
                            report.errors.push(format!("{e:#}"));
                            false
                        });
                    caught_up.insert(channel.clone(), ok);
                    if ok {
                        shared_change(ctx, at, &observed, cc, pkg, p, report).await
                    } else {
                        report.waiting.push(format!(
                            "channel {channel}: the own peer is catching up with the orderer"
                        ));
                        report.requeue_within(Duration::from_secs(1));
                        Ok(())
                    }
                }
            },
            None => heal(ctx, &observed, cc, pkg, report).await,
        };
        if let Err(e) = step {
            report
                .errors
                .push(format!("chaincode {channel}/{name}: {e:#}"));
        }
    }
    if let Err(e) = finish_committed(ctx, at, &observed, report).await {
        report.errors.push(format!("{e:#}"));
    }
    Ok(())
}

/// An approved proposal whose definition is already on the chain (the
/// executor stopped between the commit and the report): report it committed.
async fn finish_committed(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    report: &mut PassReport,
) -> Result<()> {
    let ops = ctx.ops(&at.spec.consortium.ops_channel);
    for p in observed
        .proposals
        .iter()
        .filter(|p| p.kind.is_chaincode() && p.state == ProposalState::Approved)
    {
        let Some(name) = &p.target.chaincode else {
            continue;
        };
        let key = Observed::chaincode_key(&p.target.channel, name);
        let Some(committed) = observed.chaincodes.get(&key) else {
            continue;
        };
        let got = ops.get(&p.id).await?;
        let sequence = got.proposal.payload["sequence"]
            .as_u64()
            .unwrap_or(u64::MAX);
        if committed.sequence >= sequence && got.eligible_executors.contains(&ctx.me) {
            ops.report_committed(&p.id, &format!("sequence {sequence} is on the chain"))
                .await?;
            report.actions.push(format!(
                "{key}: reported {} committed (found on the chain)",
                crate::plan::short_id(&p.id)
            ));
        }
    }
    Ok(())
}

/// An earlier round of exactly this proposal that was rejected, if any.
pub fn rejected_earlier(
    observed: &Observed,
    p: &PlannedProposal,
    payload: &Value,
) -> Option<String> {
    (0..p.round).find_map(|round| {
        let id = opssc_chaincode::compute_proposal_id(p.kind, &p.target, round, payload).ok()?;
        observed
            .proposals
            .iter()
            .any(|o| o.id == id && o.state == ProposalState::Rejected)
            .then_some(id)
    })
}

fn committed_sequence(observed: &Observed, cc: &Chaincode) -> u64 {
    observed
        .chaincodes
        .get(&Observed::chaincode_key(&cc.channel, &cc.name))
        .map_or(0, |c| c.sequence)
}

async fn shared_change(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    cc: &Chaincode,
    pkg: &Built,
    p: &PlannedProposal,
    report: &mut PassReport,
) -> Result<()> {
    let what = format!("{}/{}", cc.channel, cc.name);
    let committed = committed_sequence(observed, cc);
    let sequence = committed + 1;
    let payload = chaincode_payload(cc, sequence, &pkg.package_id)
        .with_context(|| format!("package ID {} has no SHA-256", pkg.package_id))?;
    let payload_value = serde_json::to_value(&payload).expect("payload serializes");
    let Some(id) = p.proposal_id.clone() else {
        report
            .waiting
            .push(format!("{what}: the proposal ID is not known yet"));
        return Ok(());
    };
    let ops = ctx.ops(&at.spec.consortium.ops_channel);
    let Some(on_chain) = &p.on_chain else {
        // The same change was rejected before: filing it again (next round)
        // would only ask the same question; wait for a spec that changes it.
        if let Some(rejected) = rejected_earlier(observed, p, &payload_value) {
            report.stalled.push(format!(
                "{what}: proposal {} for this exact change was rejected; commit a spec that changes it (or `retry` is not possible for a rejection)",
                crate::plan::short_id(&rejected)
            ));
            return Ok(());
        }
        // Another organization's undecided proposal for the same chaincode
        // with a payload this org does not compute: vote on it (a reject with
        // the difference) instead of superseding it with ours, so two orgs
        // that disagree do not replace each other's proposals forever.
        if let Some(other) = observed.proposals.iter().find(|o| {
            o.kind.is_chaincode() && o.target == p.target && o.state == ProposalState::Proposed
        }) {
            return vote_and_tally(
                ctx,
                &ops,
                &other.id,
                p.kind,
                &payload_value,
                None,
                &what,
                report,
            )
            .await;
        }
        let args = ProposeArgs {
            kind: p.kind,
            target: p.target.clone(),
            payload: payload_value,
            spec_ref: SpecRef {
                git_commit: at.git_commit(),
                spec_hash: at.spec.spec_hash.clone(),
                base_config_sequence: None,
                committed_chaincode_sequence: Some(committed),
            },
            deadline: None,
            round: p.round,
        };
        let out = ops.propose(&args).await?;
        report.actions.push(format!(
            "{what}: filed proposal {} ({} {} sequence {sequence}): {}",
            crate::plan::short_id(&id),
            p.kind,
            cc.version,
            out["outcome"].as_str().unwrap_or("filed")
        ));
        return Ok(());
    };
    // The proposal on the chain may be another organization's (the plan
    // matches by target when the exact ID is not there).
    let id = on_chain.id.clone();
    match on_chain.state {
        ProposalState::Proposed => {
            vote_and_tally(ctx, &ops, &id, p.kind, &payload_value, None, &what, report).await
        }
        ProposalState::Approved => {
            execute_tasks(ctx, &ops, observed, cc, pkg, &id, sequence, report).await
        }
        ProposalState::Failed => {
            report.stalled.push(format!(
                "{what}: proposal {} failed; fix the cause, then `opssc retry {id}`",
                crate::plan::short_id(&id)
            ));
            Ok(())
        }
        other => {
            report.waiting.push(format!(
                "{what}: proposal {} is {other}",
                crate::plan::short_id(&id)
            ));
            Ok(())
        }
    }
}

/// Votes on proposal `id` unless this org did (`auto`: approve only a payload
/// identical to `mine`), then tallies once the outcome is decided. For config
/// kinds, `config_update` holds the bytes this org computed: an approval
/// carries its admin's ConfigSignature over exactly those bytes.
#[allow(clippy::too_many_arguments)]
pub(super) async fn vote_and_tally(
    ctx: &Context,
    ops: &super::ops::OpsClient,
    id: &str,
    kind: Kind,
    mine: &Value,
    config_update: Option<&[u8]>,
    what: &str,
    report: &mut PassReport,
) -> Result<()> {
    let got = ops.get(id).await?;
    let votes = ops.votes(id).await?;
    let voted = votes.iter().any(|v| v.org == ctx.me);
    let mut cast: Option<Decision> = None;
    if !voted {
        match ctx.config.vote_policy {
            VotePolicy::Manual => {
                report.waiting.push(format!(
                    "{what}: proposal {} waits for {}'s manual vote (`opssc vote {id} approve|reject`)",
                    crate::plan::short_id(id),
                    ctx.me
                ));
            }
            VotePolicy::Auto => {
                let (_, canonical) = normalize_payload(kind, mine).map_err(|e| {
                    anyhow::anyhow!("this organization's own payload is invalid: {e}")
                })?;
                let (decision, reason) = if canonical == got.proposal.payload {
                    (
                        Decision::Approve,
                        "recomputed from the spec: identical".to_string(),
                    )
                } else {
                    (
                        Decision::Reject,
                        payload_difference(&got.proposal.payload, &canonical),
                    )
                };
                let config_signature = match (decision, config_update) {
                    (Decision::Approve, Some(bytes)) => Some(config_signature(ctx, bytes)?),
                    _ => None,
                };
                ops.vote(&VoteArgs {
                    id: id.to_string(),
                    decision,
                    reason: reason.clone(),
                    config_signature,
                })
                .await?;
                cast = Some(decision);
                report.actions.push(format!(
                    "{what}: voted {decision:?} on {} ({reason})",
                    crate::plan::short_id(id)
                ));
            }
        }
    }
    let approvals = votes
        .iter()
        .filter(|v| v.decision == Decision::Approve)
        .count()
        + usize::from(cast == Some(Decision::Approve));
    let rejections = votes
        .iter()
        .filter(|v| v.decision == Decision::Reject)
        .count()
        + usize::from(cast == Some(Decision::Reject));
    let quorum = got.proposal.quorum as usize;
    let electorate = got.proposal.electorate.len();
    if approvals >= quorum || rejections > electorate.saturating_sub(quorum) {
        let out = ops.tally(id).await?;
        report.actions.push(format!(
            "{what}: tallied {}: {}",
            crate::plan::short_id(id),
            out["outcome"]
                .as_str()
                .or(out["state"].as_str())
                .unwrap_or("done")
        ));
    } else {
        report.waiting.push(format!(
            "{what}: proposal {} has {approvals} of {quorum} approvals",
            crate::plan::short_id(id)
        ));
    }
    Ok(())
}

/// This org admin's ConfigSignature over `config_update`, as the contract stores it.
fn config_signature(ctx: &Context, config_update: &[u8]) -> Result<ConfigSignatureB64> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = opssc_fabric::configtx::sign::sign_update(ctx.signer.as_ref(), config_update)
        .context("sign the config update as this organization's admin")?;
    Ok(ConfigSignatureB64 {
        signature_header: b64.encode(&sig.signature_header),
        signature: b64.encode(&sig.signature),
    })
}

/// Installs `pkg` on every own peer that lacks it; true if all have it.
async fn install(
    ctx: &Context,
    observed: &Observed,
    pkg: &Built,
    report: &mut PassReport,
) -> Result<()> {
    for peer in &ctx.peers {
        let has = observed.local.peers.get(&peer.name).is_some_and(|p| {
            p.installed_packages
                .iter()
                .any(|i| i.package_id == pkg.package_id)
        });
        if has {
            continue;
        }
        let done = lifecycle::install(&peer.endorser, &pkg.bytes)
            .await
            .with_context(|| format!("install {} on peer {}", pkg.package_id, peer.name))?;
        anyhow::ensure!(
            done.package_id == pkg.package_id,
            "peer {} derived package ID {} for the package this org built as {}",
            peer.name,
            done.package_id,
            pkg.package_id
        );
        report.actions.push(format!(
            "installed {} on peer {}{}",
            pkg.package_id,
            peer.name,
            if done.newly_installed {
                ""
            } else {
                " (it was already there)"
            }
        ));
    }
    Ok(())
}

/// Why approved proposal `id` is not the change this org's spec asks for now
/// (the spec moved on after the vote, e.g. to a commit that fixes a package
/// that did not compile), if it is not. Executing it with today's package or
/// definition would install and approve something nobody voted on.
async fn approved_other_change(
    ops: &super::ops::OpsClient,
    cc: &Chaincode,
    pkg: &Built,
    id: &str,
    sequence: u64,
) -> Result<Option<String>> {
    let got = ops.get(id).await?;
    other_change(
        &got.proposal.payload,
        got.proposal.kind,
        cc,
        pkg,
        sequence,
        id,
    )
}

/// [`approved_other_change`] on the proposal's kind and stored payload.
fn other_change(
    on_chain: &Value,
    kind: Kind,
    cc: &Chaincode,
    pkg: &Built,
    sequence: u64,
    id: &str,
) -> Result<Option<String>> {
    let mine = chaincode_payload(cc, sequence, &pkg.package_id)
        .with_context(|| format!("package ID {} has no SHA-256", pkg.package_id))?;
    let mine = serde_json::to_value(&mine).expect("payload serializes");
    let (_, canonical) = normalize_payload(kind, &mine)
        .map_err(|e| anyhow::anyhow!("this organization's own payload is invalid: {e}"))?;
    if &canonical == on_chain {
        return Ok(None);
    }
    Ok(Some(format!(
        "approved proposal {} is not the change the spec asks for now ({}); it is not executed with this organization's current package or definition: it must commit or fail first",
        crate::plan::short_id(id),
        payload_difference(on_chain, &canonical)
    )))
}

/// [`install`] for proposal `id`; false when the package does not build. A
/// source package the peer cannot build is compiled here to learn why
/// (Fabric's reply says only "external builder failed"); go's messages go
/// into this org's failed `install` task on the proposal, once per package,
/// and the rollout stalls for this org (a pinned commit never starts to
/// compile: the fix is a spec commit that pins another one).
#[allow(clippy::too_many_arguments)]
async fn install_or_report(
    ctx: &Context,
    ops: &super::ops::OpsClient,
    observed: &Observed,
    cc: &Chaincode,
    pkg: &Built,
    id: &str,
    report: &mut PassReport,
) -> Result<bool> {
    let what = format!("{}/{}", cc.channel, cc.name);
    let installed_everywhere = ctx.peers.iter().all(|peer| {
        observed.local.peers.get(&peer.name).is_some_and(|p| {
            p.installed_packages
                .iter()
                .any(|i| i.package_id == pkg.package_id)
        })
    });
    let is_source = matches!(cc.package, opssc_schema::PackageSource::Source { .. });
    if installed_everywhere || !is_source {
        install(ctx, observed, pkg, report).await?;
        return Ok(true);
    }
    let stalled = |report: &mut PassReport| {
        report.stalled.push(format!(
            "{what}: package {} does not compile (reported as {}'s failed install task on proposal {}); commit a spec that pins a commit that builds",
            pkg.package_id,
            ctx.me,
            crate::plan::short_id(id)
        ));
    };
    let latest_install = ops
        .tasks(id, Some(&ctx.me))
        .await?
        .into_iter()
        .filter(|t| t.task == "install")
        .max_by_key(|t| t.seq);
    if latest_install.is_some_and(|t| {
        t.status == TaskStatus::Failed && t.detail.contains(pkg.package_id.as_str())
    }) {
        stalled(report);
        fail_if_uncommittable(ctx, ops, id, pkg, report).await?;
        return Ok(false);
    }
    let Err(e) = install(ctx, observed, pkg, report).await else {
        return Ok(true);
    };
    let head = format!("{} does not compile:\n", pkg.package_id);
    let max = opssc_chaincode::validate::MAX_TEXT - head.len();
    let source_dir = super::packages::source_dir(&ctx.state_dir);
    let Some(errors) = tokio::task::block_in_place(|| {
        super::packages::compile_errors(&ctx.config, cc, &source_dir, max)
    }) else {
        return Err(e);
    };
    tracing::warn!(chaincode = %what, package = %pkg.package_id, error = %format!("{e:#}"), compiler = %errors, "install failed: the chaincode does not compile");
    ops.report_task(&ReportTaskArgs {
        id: id.to_string(),
        task: "install".into(),
        status: TaskStatus::Failed,
        detail: format!("{head}{errors}"),
        org: None,
    })
    .await?;
    report.actions.push(format!(
        "{what}: reported task install failed on {} (the package does not compile)",
        crate::plan::short_id(id)
    ));
    stalled(report);
    fail_if_uncommittable(ctx, ops, id, pkg, report).await?;
    Ok(false)
}

/// As the proposal's eligible executor: once so many organizations reported
/// that `pkg` does not compile that the approvals the commit needs (a
/// majority of the electorate) cannot come, report the proposal failed, so
/// that a spec pinning a commit that builds can be proposed next.
async fn fail_if_uncommittable(
    ctx: &Context,
    ops: &super::ops::OpsClient,
    id: &str,
    pkg: &Built,
    report: &mut PassReport,
) -> Result<()> {
    let got = ops.get(id).await?;
    if got.proposal.state != ProposalState::Approved || !got.eligible_executors.contains(&ctx.me) {
        return Ok(());
    }
    let mut latest: BTreeMap<String, opssc_chaincode::model::TaskEntry> = BTreeMap::new();
    for t in ops.tasks(id, None).await? {
        if t.task == "install" && latest.get(&t.org).is_none_or(|l| t.seq > l.seq) {
            latest.insert(t.org.clone(), t);
        }
    }
    let failed: Vec<&str> = latest
        .values()
        .filter(|t| t.status == TaskStatus::Failed && t.detail.contains(pkg.package_id.as_str()))
        .map(|t| t.org.as_str())
        .collect();
    let n = got.proposal.electorate.len();
    let needed = n / 2 + 1;
    if failed.len() <= n.saturating_sub(needed) {
        return Ok(());
    }
    let error = format!(
        "package {} does not compile on {} of {n} organizations ({}), so the {needed} approvals the commit needs cannot come; commit a spec that pins a commit that builds",
        pkg.package_id,
        failed.len(),
        failed.join(", ")
    );
    ops.report_failed(id, &error).await?;
    report.actions.push(format!(
        "{}/{}: reported {} failed: {error}",
        got.proposal.target.channel,
        got.proposal.target.chaincode.as_deref().unwrap_or("-"),
        crate::plan::short_id(id)
    ));
    Ok(())
}

/// Approves `cc` at `sequence` for this org unless it already did.
async fn approve(
    ctx: &Context,
    observed: &Observed,
    cc: &Chaincode,
    pkg: &Built,
    sequence: u64,
    report: &mut PassReport,
) -> Result<()> {
    let key = Observed::chaincode_key(&cc.channel, &cc.name);
    let done = observed.local.approved.get(&key).is_some_and(|a| {
        a.sequence == sequence
            && a.version == cc.version
            && a.package_id.as_deref() == Some(pkg.package_id.as_str())
    });
    if done {
        return Ok(());
    }
    let def = definition(cc, sequence)?;
    let committed = lifecycle::approve(
        &ctx.main_peer().gateway,
        &cc.channel,
        &def,
        Some(&pkg.package_id),
    )
    .await
    .with_context(|| format!("approve {key} sequence {sequence} for {}", ctx.me))?;
    report.actions.push(format!(
        "approved {key} {} sequence {sequence} for {} (block {})",
        cc.version, ctx.me, committed.block
    ));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn execute_tasks(
    ctx: &Context,
    ops: &super::ops::OpsClient,
    observed: &Observed,
    cc: &Chaincode,
    pkg: &Built,
    id: &str,
    sequence: u64,
    report: &mut PassReport,
) -> Result<()> {
    let what = format!("{}/{}", cc.channel, cc.name);
    if let Some(why) = approved_other_change(ops, cc, pkg, id, sequence).await? {
        report.stalled.push(format!("{what}: {why}"));
        return Ok(());
    }
    let reported: Vec<String> = ops
        .tasks(id, Some(&ctx.me))
        .await?
        .into_iter()
        .filter(|t| t.status == TaskStatus::Done)
        .map(|t| t.task)
        .collect();
    if !install_or_report(ctx, ops, observed, cc, pkg, id, report).await? {
        return Ok(());
    }
    // The install report (ops channel) and the approval (the chaincode's
    // channel) are independent transactions: order them in the same round.
    let report_install = async {
        if reported.iter().any(|t| t == "install") {
            return Ok(None);
        }
        ops.report_task(&ReportTaskArgs {
            id: id.to_string(),
            task: "install".into(),
            status: TaskStatus::Done,
            detail: pkg.package_id.clone(),
            org: None,
        })
        .await
        .map(|_| {
            Some(format!(
                "{what}: reported task install on {}",
                crate::plan::short_id(id)
            ))
        })
    };
    let mut approve_report = PassReport::new();
    let (installed, approved) = tokio::join!(
        report_install,
        approve(ctx, observed, cc, pkg, sequence, &mut approve_report)
    );
    report.actions.extend(approve_report.actions);
    if let Some(a) = installed? {
        report.actions.push(a);
    }
    approved?;
    if !reported.iter().any(|t| t == "approve") {
        ops.report_task(&ReportTaskArgs {
            id: id.to_string(),
            task: "approve".into(),
            status: TaskStatus::Done,
            detail: format!("sequence {sequence}"),
            org: None,
        })
        .await?;
        report.actions.push(format!(
            "{what}: reported task approve on {}",
            crate::plan::short_id(id)
        ));
    }
    // The shared step.
    let got = ops.get(id).await?;
    if !is_executor(
        ctx,
        &got,
        report,
        &format!("{what}: waiting for the executor"),
        &format!("to commit sequence {sequence}"),
    ) {
        return Ok(());
    }
    let committed_now =
        lifecycle::query_committed(&ctx.main_peer().endorser, &cc.channel, &cc.name)
            .await?
            .map_or(0, |d| d.sequence as u64);
    if committed_now < sequence {
        let def = definition(cc, sequence)?;
        let readiness =
            lifecycle::check_commit_readiness(&ctx.main_peer().endorser, &cc.channel, &def).await?;
        let approved: Vec<String> = readiness
            .approvals
            .iter()
            .filter(|(_, ok)| **ok)
            .map(|(org, _)| org.clone())
            .collect();
        let members = at_least_majority(&readiness.approvals);
        if approved.len() < members {
            report.waiting.push(format!(
                "{what}: executor {} waits for approvals of sequence {sequence}: {} of {members} ({})",
                ctx.me,
                approved.len(),
                approved.join(", ")
            ));
            return Ok(());
        }
        let done = match lifecycle::commit(&ctx.main_peer().gateway, &cc.channel, &def, &approved)
            .await
        {
            Ok(done) => done,
            // Fabric refused the commit itself (not a network hiccup): record
            // the failure on the chain, where every org sees it; `opssc retry`
            // starts the next attempt (with the next executor first).
            Err(e) if e.fault() == opssc_fabric::Fault::Rejected => {
                // Another executor may have committed it in the meantime.
                let now =
                    lifecycle::query_committed(&ctx.main_peer().endorser, &cc.channel, &cc.name)
                        .await?
                        .map_or(0, |d| d.sequence as u64);
                if now >= sequence {
                    ops.report_committed(id, &format!("sequence {sequence} is on the chain"))
                        .await?;
                    report.actions.push(format!(
                        "{what}: sequence {sequence} was committed meanwhile; reported {} committed",
                        crate::plan::short_id(id)
                    ));
                    return Ok(());
                }
                let error = format!("commit {what} sequence {sequence}: {e}");
                ops.report_failed(id, &error).await?;
                report.stalled.push(format!(
                    "{what}: {error}; recorded on proposal {} (fix the cause, then `opssc retry {id}`)",
                    crate::plan::short_id(id)
                ));
                return Ok(());
            }
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("commit {what} sequence {sequence}"))
                );
            }
        };
        report.actions.push(format!(
            "{what}: committed sequence {sequence} ({}) at block {}",
            cc.version, done.block
        ));
    }
    ops.report_committed(id, &format!("sequence {sequence} committed"))
        .await?;
    report.actions.push(format!(
        "{what}: reported {} committed",
        crate::plan::short_id(id)
    ));
    Ok(())
}

/// Whether this org may do proposal `got`'s shared step now. If not, says who
/// may (`{waiting} ({executors}) {step}`) and looks again a few times per
/// executor timeout: the next organization becomes eligible when it runs
/// out, which no event announces.
pub(super) fn is_executor(
    ctx: &Context,
    got: &super::ops::Got,
    report: &mut PassReport,
    waiting: &str,
    step: &str,
) -> bool {
    if got.eligible_executors.contains(&ctx.me) {
        return true;
    }
    let timeout = got
        .proposal
        .execution
        .as_ref()
        .map_or(600, |e| e.timeout_secs)
        .max(1) as u64;
    report.requeue_within(Duration::from_millis(timeout * 1000 / 4).max(Duration::from_secs(1)));
    report.waiting.push(format!(
        "{waiting} ({}) {step}",
        got.eligible_executors.join(", ")
    ));
    false
}

/// A majority of the channel's members (the default LifecycleEndorsement).
fn at_least_majority(approvals: &BTreeMap<String, bool>) -> usize {
    approvals.len() / 2 + 1
}

/// No pending change: make sure this org runs the committed definition.
async fn heal(
    ctx: &Context,
    observed: &Observed,
    cc: &Chaincode,
    pkg: &Built,
    report: &mut PassReport,
) -> Result<()> {
    let key = Observed::chaincode_key(&cc.channel, &cc.name);
    let Some(c) = observed.chaincodes.get(&key) else {
        return Ok(());
    };
    if c.version != cc.version {
        return Ok(());
    }
    install(ctx, observed, pkg, report).await?;
    approve(ctx, observed, cc, pkg, c.sequence, report).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use opssc_schema::{PackageSource, PolicyText};
    use serde_json::json;

    fn kv(policy: Option<&str>) -> Chaincode {
        Chaincode {
            name: "kv".into(),
            channel: "trade".into(),
            version: "1.0".into(),
            label: "kv_1.0".into(),
            package: PackageSource::Ccaas {
                artifact: None,
                tls: false,
            },
            endorsement_policy: policy.map(|t| PolicyText {
                text: t.to_string(),
                parsed: opssc_schema::policy::parse_policy(t, true).unwrap(),
            }),
            collections: Vec::new(),
            init_required: false,
        }
    }

    #[test]
    fn signature_policy_round_trips_through_the_definition() {
        let text = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
        let def = definition(&kv(Some(text)), 3).unwrap();
        assert_eq!(def.sequence, 3);
        let back = super::super::observe_live::policy_text(&def.validation_parameter);
        assert!(
            crate::plan::desired::same_policy(&back, text),
            "{back} vs {text}"
        );
    }

    #[test]
    fn no_policy_means_the_channel_default() {
        let def = definition(&kv(None), 1).unwrap();
        assert!(def.validation_parameter.is_empty());
        assert_eq!(
            super::super::observe_live::policy_text(&def.validation_parameter),
            lifecycle::DEFAULT_ENDORSEMENT_POLICY
        );
        let def = definition(&kv(Some("/Channel/Application/Writers")), 1).unwrap();
        assert_eq!(
            super::super::observe_live::policy_text(&def.validation_parameter),
            "/Channel/Application/Writers"
        );
    }

    #[test]
    fn a_payload_difference_names_each_field() {
        let chain =
            json!({"name": "kv", "version": "1.0", "package_id": "kv_1.0:aa", "summary": "x"});
        let mine = json!({"name": "kv", "version": "1.0", "package_id": "kv_1.0:bb"});
        let d = payload_difference(&chain, &mine);
        assert_eq!(
            d,
            "package mismatch: the proposal installs kv_1.0:aa, this organization builds kv_1.0:bb; package_id: proposed \"kv_1.0:aa\", this organization computes \"kv_1.0:bb\""
        );
        let src = json!({"git": "https://bot:pw@git.example.com/cc.git", "commit": "c".repeat(40), "path": "cc"});
        let chain =
            json!({"name": "cc", "package_id": "cc_1:aa", "package_hash": "aa", "source": src});
        let mine =
            json!({"name": "cc", "package_id": "cc_1:bb", "package_hash": "bb", "source": src});
        let d = payload_difference(&chain, &mine);
        assert!(
            d.starts_with(&format!(
                "package mismatch: the proposal installs cc_1:aa, this organization builds cc_1:bb from https://***@git.example.com/cc.git at commit {}; ",
                "c".repeat(40)
            )),
            "{d}"
        );
        assert!(
            d.contains("package_hash: proposed \"aa\", this organization computes \"bb\""),
            "{d}"
        );
        assert!(!d.contains("pw@"), "{d}");
        let same = json!({"name": "cc", "version": "1"});
        assert_eq!(
            payload_difference(&same, &json!({"name": "cc", "version": "2"})),
            "version: proposed \"1\", this organization computes \"2\""
        );
    }

    #[test]
    fn an_approved_proposal_is_executed_only_for_the_change_it_carries() {
        let cc = kv(Some(
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
        ));
        let built = |hash: char| Built {
            label: "kv_1.0".into(),
            bytes: Vec::new(),
            package_id: format!("kv_1.0:{}", hash.to_string().repeat(64)),
        };
        let voted = chaincode_payload(&cc, 2, &built('a').package_id).unwrap();
        let (_, on_chain) = normalize_payload(
            Kind::ChaincodeUpgrade,
            &serde_json::to_value(&voted).unwrap(),
        )
        .unwrap();
        let id = "f".repeat(64);
        let same = other_change(&on_chain, Kind::ChaincodeUpgrade, &cc, &built('a'), 2, &id);
        assert_eq!(same.unwrap(), None);
        let moved = other_change(&on_chain, Kind::ChaincodeUpgrade, &cc, &built('b'), 2, &id)
            .unwrap()
            .unwrap();
        assert!(
            moved.starts_with("approved proposal ffffffffffff is not the change the spec asks for now (package mismatch: the proposal installs kv_1.0:aaaa"),
            "{moved}"
        );
        assert!(moved.contains(&built('b').package_id), "{moved}");
        let later = other_change(&on_chain, Kind::ChaincodeUpgrade, &cc, &built('a'), 3, &id)
            .unwrap()
            .unwrap();
        assert!(
            later.contains("sequence: proposed 2, this organization computes 3"),
            "{later}"
        );
    }

    #[test]
    fn the_pass_reports_what_happens_next() {
        let mut r = PassReport::new();
        r.requeue_within(Duration::from_secs(2));
        assert_eq!(
            r.clone().finish().next,
            Next::AwaitChange(Duration::from_secs(2))
        );
        r.actions.push("x".into());
        assert_eq!(r.clone().finish().next, Next::Now);
        r.errors.push("y".into());
        assert!(matches!(r.finish().next, Next::Retry(_)));
    }
}
