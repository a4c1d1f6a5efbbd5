//! `opssc status`: what the agent acts on and where each rollout stands.
//!
//! [`status`] reads the same inputs as a pass (the trusted spec, this org's
//! packages, the live observation, the plan) plus every chaincode proposal's
//! votes and tasks, and renders them for people: the spec commit (and the
//! refused one, with why), each proposal with its votes against the quorum
//! and the tasks each org reported, and one condition — `Ready` (nothing to
//! do), `Progressing` (a rollout is under way), or `Stalled` (it cannot move
//! without a person: a refused commit, a package this org cannot build, a
//! rejected or failed proposal) — with its reasons. Key decision: status
//! changes nothing; it is safe to run next to the agent.

use std::fmt::Write as _;

use anyhow::Result;
use opssc_chaincode::model::{Decision, ProposalState};

use super::context::Context;
use super::spec_source::SpecAt;

/// The overall condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Ready,
    Progressing,
    Stalled,
}

/// The rendered status and its condition.
pub struct Status {
    pub condition: Condition,
    pub text: String,
}

pub async fn status(ctx: &Context, at: &SpecAt) -> Result<Status> {
    let mut out = String::new();
    let mut stalled: Vec<String> = Vec::new();
    let mut progressing: Vec<String> = Vec::new();
    let _ = writeln!(out, "organization: {}", ctx.me);
    let _ = writeln!(
        out,
        "spec: commit {} (spec hash {})",
        at.git_commit(),
        &at.spec.spec_hash[..12.min(at.spec.spec_hash.len())]
    );
    for (c, who) in &at.signers {
        let _ = writeln!(out, "  trusted {c} signed by {who}");
    }
    if let Some((commit, why)) = &at.refused {
        let _ = writeln!(out, "  REFUSED {commit}: {why}");
        stalled.push(format!(
            "spec commit {commit} is refused ({why}); acting on {} until a trusted commit follows",
            at.git_commit()
        ));
    }
    let (built, errors) = ctx.build_packages(&at.spec);
    stalled.extend(errors);
    let observed = super::observe_live::live(ctx, &at.spec, &built).await?;
    let plan = crate::plan::plan(&at.spec, &observed, &ctx.me);
    let _ = writeln!(out, "chaincodes:");
    for ((channel, name), cc) in &at.spec.chaincodes {
        let key = crate::observe::Observed::chaincode_key(channel, name);
        let committed = observed
            .chaincodes
            .get(&key)
            .map(|c| format!("{} sequence {}", c.version, c.sequence))
            .unwrap_or_else(|| "not committed".into());
        let _ = writeln!(out, "  {key}: spec {} / chain {committed}", cc.version);
        // This organization's own side: which peers have the package, what it approved.
        if let Some(pkg) = built.get(&cc.label) {
            let have: Vec<&str> = observed
                .local
                .peers
                .iter()
                .filter(|(_, p)| {
                    p.installed_packages
                        .iter()
                        .any(|i| i.package_id == pkg.package_id)
                })
                .map(|(n, _)| n.as_str())
                .collect();
            let missing: Vec<&str> = observed
                .local
                .peers
                .keys()
                .map(String::as_str)
                .filter(|n| !have.contains(n))
                .collect();
            let approved = observed
                .local
                .approved
                .get(&key)
                .map(|a| format!("sequence {} ({})", a.sequence, a.version))
                .unwrap_or_else(|| "nothing".into());
            let _ = writeln!(
                out,
                "    {}: package {} installed on [{}], missing on [{}]; approved {approved}",
                ctx.me,
                pkg.package_id,
                have.join(", "),
                missing.join(", ")
            );
        }
    }
    let ops = ctx.ops(&at.spec.consortium.ops_channel);
    let _ = writeln!(out, "proposals:");
    let mut any = false;
    for p in &observed.proposals {
        let got = ops.get(&p.id).await?;
        let votes = ops.votes(&p.id).await?;
        let tasks = ops.tasks(&p.id, None).await?;
        any = true;
        let approvals = votes
            .iter()
            .filter(|v| v.decision == Decision::Approve)
            .count();
        let _ = writeln!(
            out,
            "  {} {} {}/{} [{}] approvals {approvals} of {} (electorate {})",
            crate::plan::short_id(&p.id),
            p.kind,
            p.target.channel,
            p.target.chaincode.as_deref().unwrap_or("-"),
            p.state,
            got.proposal.quorum,
            got.proposal.electorate.join(", ")
        );
        for v in &votes {
            let _ = writeln!(out, "    vote {}: {:?} {}", v.org, v.decision, v.reason);
        }
        for t in &tasks {
            let _ = writeln!(
                out,
                "    task {} {}: {:?} {}",
                t.org, t.task, t.status, t.detail
            );
        }
        if matches!(p.state, ProposalState::Approved) {
            let _ = writeln!(
                out,
                "    executor(s) now: {}",
                got.eligible_executors.join(", ")
            );
        }
    }
    if !any {
        let _ = writeln!(out, "  (none)");
    }
    for pp in plan.proposals.iter().filter(|p| p.kind.is_chaincode()) {
        let what = format!(
            "{} {}/{}",
            pp.kind,
            pp.target.channel,
            pp.target.chaincode.as_deref().unwrap_or("-")
        );
        match pp.on_chain.as_ref().map(|o| o.state) {
            Some(ProposalState::Rejected) | Some(ProposalState::Failed) => {
                stalled.push(format!("{what}: the proposal was rejected or failed"))
            }
            Some(s) => progressing.push(format!("{what}: proposal {s}")),
            None => {
                let rejected = pp.target.chaincode.as_ref().and_then(|name| {
                    let cc = at
                        .spec
                        .chaincodes
                        .get(&(pp.target.channel.clone(), name.clone()))?;
                    let pkg = built.get(&cc.label)?;
                    let committed = observed
                        .chaincodes
                        .get(&crate::observe::Observed::chaincode_key(&cc.channel, name))
                        .map_or(0, |c| c.sequence);
                    let payload = crate::plan::proposal::chaincode_payload(
                        cc,
                        committed + 1,
                        &pkg.package_id,
                    )?;
                    let value = serde_json::to_value(&payload).ok()?;
                    super::pass::rejected_earlier(&observed, pp, &value)
                });
                match rejected {
                    Some(id) => stalled.push(format!(
                        "{what}: proposal {} for this exact change was rejected; commit a spec that changes it",
                        crate::plan::short_id(&id)
                    )),
                    None => progressing.push(format!("{what}: to be filed")),
                }
            }
        }
    }
    let condition = if !stalled.is_empty() {
        Condition::Stalled
    } else if !progressing.is_empty() {
        Condition::Progressing
    } else {
        Condition::Ready
    };
    let _ = writeln!(out, "condition: {condition:?}");
    for r in stalled.iter().chain(progressing.iter()) {
        let _ = writeln!(out, "  - {r}");
    }
    Ok(Status {
        condition,
        text: out,
    })
}
