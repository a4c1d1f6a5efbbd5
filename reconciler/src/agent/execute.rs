//! The executor: runs the steps of a plan ([`crate::plan::steps`]), one
//! Fabric call per step, and reports a typed outcome per step.
//!
//! It decides nothing the plan has not decided: given no steps it makes no
//! call. Two things follow from a step's outcome and are part of the step's
//! definition, not a choice: when a step fails, the later steps of the same
//! subject ([`Step::what`]) are skipped (the next pass plans again from a
//! fresh observation); an [`Step::Install`] with `report_failure_on` whose
//! source package does not compile is recorded as this organization's failed
//! `install` task (compiled here to learn why: Fabric only says "external
//! builder failed"); a [`Step::Commit`] that Fabric refuses is recorded as
//! the proposal's failure unless the definition is committed meanwhile.
//!
//! The steps of one of the plan's rounds ([`crate::plan::steps::rounds`]:
//! a vote and the approval marked to ride along with it, votes on several
//! proposals, ...) are sent at once, so their transactions share one
//! ordered round; their outcomes are then handled in plan order. The
//! round's filings, votes and signatures (each on another proposal) go in
//! one `ballots` transaction: one endorsement and one validation instead of one
//! each, which at ten organizations adding a member to three channels is
//! ten transactions a round instead of thirty. Should that transaction be
//! refused (one refused call refuses it all, or an OpsSC older than
//! `ballots`), they are sent one by one.

use std::collections::{BTreeMap, BTreeSet};

use opssc_chaincode::api::{BallotCall, ProposeArgs, ReportTaskArgs, SignArgs, TaskLine, VoteArgs};
use opssc_chaincode::model::{ConfigSignatureB64, SpecRef, TaskStatus};
use opssc_fabric::lifecycle;

use super::context::Context;
use super::error::{AgentError, Result, chain};
use super::packages::Built;
use super::pass::{PassReport, definition};
use super::spec_source::SpecAt;
use crate::observe::Task;
use crate::plan::short_id;
use crate::plan::steps::Step;

/// How one step went.
#[derive(Debug)]
pub enum Outcome {
    /// Done; the text says what happened.
    Done(String),
    /// Done, and it also did what the subject's later steps were for (a
    /// commit that another executor made meanwhile, reported committed).
    Finished(String),
    /// The network refused it for a reason a person must fix; the refusal is
    /// recorded on the proposal.
    Stalled(String),
    /// An earlier step of the same subject failed.
    Skipped,
    Failed(AgentError),
}

/// Runs `steps` in order; fills `report` with what was done, what stalled and
/// what failed, and returns each step's outcome.
pub async fn execute(
    ctx: &Context,
    at: &SpecAt,
    built: &BTreeMap<String, Built>,
    steps: &[Step],
    report: &mut PassReport,
) -> Vec<Outcome> {
    // Subjects whose later steps are skipped.
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(steps.len());
    // The plan's rounds: the calls of one are in flight at once.
    for round in crate::plan::steps::rounds(steps) {
        let group = &steps[round];
        let skip = &failed;
        let ballots: Vec<usize> = (0..group.len())
            .filter(|&i| !skip.contains(group[i].what()) && group[i].ballot().is_some())
            .collect();
        let cast = if ballots.len() > 1 {
            cast_together(ctx, at, group, &ballots).await
        } else {
            BTreeMap::new()
        };
        let cast = &cast;
        let outcomes =
            futures::future::join_all(group.iter().enumerate().map(|(i, step)| async move {
                if skip.contains(step.what()) {
                    return Outcome::Skipped;
                }
                if let Some(answer) = cast.get(&i) {
                    return ballot_outcome(step, answer);
                }
                match run(ctx, at, built, step).await {
                    Ok(o) => o,
                    Err(e) => Outcome::Failed(e),
                }
            }))
            .await;
        for (step, outcome) in group.iter().zip(outcomes) {
            handle(step, &outcome, &mut failed, report);
            out.push(outcome);
        }
    }
    out
}

/// The OpsSC call of a filing, a vote or a signature step (the signature
/// made here, over the update's bytes); `None` for any other step.
fn ballot(ctx: &Context, at: &SpecAt, step: &Step) -> Result<Option<BallotCall>> {
    Ok(match step {
        Step::File {
            kind,
            target,
            payload,
            round,
            committed_chaincode_sequence,
            base_config_sequence,
            ..
        } => Some(BallotCall::Propose(ProposeArgs {
            kind: *kind,
            target: target.clone(),
            payload: payload.clone(),
            spec_ref: SpecRef {
                git_commit: at.git_commit(),
                spec_hash: at.spec.spec_hash.clone(),
                base_config_sequence: *base_config_sequence,
                committed_chaincode_sequence: *committed_chaincode_sequence,
            },
            deadline: None,
            round: *round,
        })),
        Step::Vote {
            proposal_id,
            decision,
            reason,
            counted,
            ..
        } => Some(BallotCall::Vote(VoteArgs {
            id: proposal_id.clone(),
            decision: *decision,
            reason: reason.clone(),
            config_signature: None,
            counted: Some(counted.clone()),
        })),
        Step::Sign {
            proposal_id,
            config_update,
            counted,
            ..
        } => Some(BallotCall::Sign(SignArgs {
            id: proposal_id.clone(),
            config_signature: sign_stored_update(ctx, config_update)?,
            counted: (!counted.is_empty()).then(|| counted.clone()),
        })),
        _ => None,
    })
}

/// This organization admin's ConfigSignature over an approved update, as
/// the proposal stores it (base64).
fn sign_stored_update(ctx: &Context, config_update: &str) -> Result<ConfigSignatureB64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(config_update)
        .map_err(|e| AgentError::Plan(format!("the update to sign: {e}")))?;
    super::pass::config_signature(ctx, &bytes).map_err(|e| AgentError::Plan(chain(&e)))
}

/// What a filing, a vote or a signature step did, from the contract's
/// answer to it.
fn ballot_outcome(step: &Step, answer: &serde_json::Value) -> Outcome {
    match step {
        Step::File {
            what,
            kind,
            payload,
            proposal_id,
            base_config_sequence,
            ..
        } => {
            let on = match base_config_sequence {
                Some(base) => format!("config sequence {base}"),
                None => format!(
                    "{} sequence {}",
                    payload["version"].as_str().unwrap_or("-"),
                    payload["sequence"].as_u64().unwrap_or(0)
                ),
            };
            Outcome::Done(format!(
                "{what}: filed proposal {} ({kind} {on}): {}",
                short_id(proposal_id),
                answer["outcome"].as_str().unwrap_or("filed")
            ))
        }
        Step::Vote {
            what,
            proposal_id,
            decision,
            reason,
            ..
        } => {
            if answer["decided"] == true {
                return Outcome::Done(format!(
                    "{what}: voted {decision:?} on {} ({reason}), deciding it: {}",
                    short_id(proposal_id),
                    answer["state"].as_str().unwrap_or("decided")
                ));
            }
            Outcome::Done(format!(
                "{what}: voted {decision:?} on {} ({reason})",
                short_id(proposal_id)
            ))
        }
        Step::Sign {
            what, proposal_id, ..
        } => Outcome::Done(format!(
            "{what}: signed the update of {}",
            short_id(proposal_id)
        )),
        other => unreachable!("not a ballot: {}", other.what()),
    }
}

/// The round's filings, votes and signatures at `indices` of `group` in one
/// `ballots` transaction: each one's answer by its index, or nothing when
/// the transaction was refused or failed (then each is sent alone, and its
/// own error, if any, is reported on it).
async fn cast_together(
    ctx: &Context,
    at: &SpecAt,
    group: &[Step],
    indices: &[usize],
) -> BTreeMap<usize, serde_json::Value> {
    let mut calls = Vec::with_capacity(indices.len());
    for &i in indices {
        match ballot(ctx, at, &group[i]) {
            Ok(Some(call)) => calls.push(call),
            _ => return BTreeMap::new(),
        }
    }
    match ctx
        .ops(&at.spec.consortium.ops_channel)
        .ballots(calls)
        .await
    {
        Ok(answers) if answers.len() == indices.len() => {
            indices.iter().copied().zip(answers).collect()
        }
        Ok(answers) => {
            tracing::warn!(
                "the OpsSC answered {} of {} ballots; sending them one by one",
                answers.len(),
                indices.len()
            );
            BTreeMap::new()
        }
        Err(e) => {
            tracing::info!(error = %e, "the ballots transaction failed; sending its filings, votes and signatures one by one");
            BTreeMap::new()
        }
    }
}

/// Records `outcome` of `step` in `report`, and its subject as failed when
/// the later steps of it must be skipped.
fn handle(step: &Step, outcome: &Outcome, failed: &mut BTreeSet<String>, report: &mut PassReport) {
    match outcome {
        Outcome::Done(text) => report.actions.push(text.clone()),
        Outcome::Finished(text) => {
            failed.insert(step.what().to_string());
            report.actions.push(text.clone());
        }
        Outcome::Stalled(text) => {
            failed.insert(step.what().to_string());
            report.stalled.push(text.clone());
        }
        Outcome::Failed(e) => {
            failed.insert(step.what().to_string());
            report.fail(step.what(), e);
        }
        Outcome::Skipped => {}
    }
}

fn chaincode<'a>(at: &'a SpecAt, channel: &str, name: &str) -> Result<&'a opssc_schema::Chaincode> {
    at.spec
        .chaincodes
        .get(&(channel.to_string(), name.to_string()))
        .ok_or_else(|| AgentError::Plan(format!("chaincode {channel}/{name} is not in the spec")))
}

/// One step: one call (see the module doc for the two follow-ups).
async fn run(
    ctx: &Context,
    at: &SpecAt,
    built: &BTreeMap<String, Built>,
    step: &Step,
) -> Result<Outcome> {
    let ops = ctx.ops(&at.spec.consortium.ops_channel);
    Ok(match step {
        Step::Join { peer, channel, .. } => {
            let orderer = ctx.orderers.first().ok_or_else(|| {
                AgentError::Plan("the agent configuration lists no orderer".into())
            })?;
            let conn = ctx
                .peers
                .iter()
                .find(|p| p.name == *peer)
                .ok_or_else(|| AgentError::Plan(format!("{peer} is not an own peer")))?;
            // The genesis block is what joining is made of: read and used
            // in the same step.
            let genesis = orderer
                .deliver
                .block(channel, opssc_fabric::deliver::Seek::Oldest)
                .await
                .map_err(|e| {
                    AgentError::fabric(
                        format!(
                            "fetch block 0 of channel {channel} from orderer {}",
                            orderer.name
                        ),
                        e,
                    )
                })?;
            opssc_fabric::cscc::join_channel(&conn.endorser, &genesis)
                .await
                .map_err(|e| {
                    AgentError::fabric(format!("join peer {peer} to channel {channel}"), e)
                })?;
            Outcome::Done(format!("joined peer {peer} to channel {channel}"))
        }
        Step::File { .. } | Step::Vote { .. } | Step::Sign { .. } => {
            let answer = match ballot(ctx, at, step)? {
                Some(BallotCall::Propose(args)) => ops.propose(&args).await?,
                Some(BallotCall::Vote(args)) => ops.vote(&args).await?,
                Some(BallotCall::Sign(args)) => ops.sign(&args).await?,
                None => unreachable!("a filing, a vote or a signature is a ballot"),
            };
            ballot_outcome(step, &answer)
        }
        Step::Submit {
            what,
            proposal_id,
            channel,
            config_update,
            signatures,
            together,
        } => match super::channel_changes::submit(ctx, channel, config_update, signatures).await? {
            Ok(sequence) => Outcome::Done(format!(
                "{what}: submitted proposal {}; channel {channel} is at config sequence {sequence}",
                short_id(proposal_id)
            )),
            // Beside the tally, the proposal is not recorded approved yet,
            // so no failure can be recorded on it: the next pass submits
            // (or records the refusal) on the approved proposal.
            Err(error) if *together => {
                return Err(AgentError::Call {
                    message: format!(
                        "submit the update of proposal {} beside its tally: {error}",
                        short_id(proposal_id)
                    ),
                    fault: opssc_fabric::Fault::Rejected,
                    refusal: None,
                });
            }
            Err(error) => {
                ops.report_failed(proposal_id, &error).await?;
                Outcome::Stalled(format!(
                    "{what}: {error}; recorded on proposal {} (fix the cause, then `opssc retry {proposal_id}`)",
                    short_id(proposal_id)
                ))
            }
        },
        Step::SignAndSubmit {
            what,
            proposal_id,
            channel,
            config_update,
            signatures,
        } => {
            let mut signatures = signatures.clone();
            signatures.insert(ctx.me.clone(), sign_stored_update(ctx, config_update)?);
            match super::channel_changes::submit(ctx, channel, config_update, &signatures).await? {
                Ok(sequence) => Outcome::Done(format!(
                    "{what}: signed and submitted proposal {}; channel {channel} is at config sequence {sequence}",
                    short_id(proposal_id)
                )),
                // Not a voter: the contract takes no report from this
                // organization. The members' executor sees the update is
                // not on the chain and records the failure when it expires.
                Err(error) => Outcome::Stalled(format!(
                    "{what}: {error} (proposal {})",
                    short_id(proposal_id)
                )),
            }
        }
        Step::JoinOrderers {
            what,
            proposal_id,
            channel,
        } => {
            let endpoints = super::founding::admin_endpoints(&ctx.config)?;
            if endpoints.is_empty() {
                return Ok(Outcome::Stalled(format!(
                    "{what}: no orderer of {}'s agent configuration has an adminAddress (the channel participation API joins an orderer to a channel)",
                    ctx.me
                )));
            }
            let done = super::founding::join_orderers_to(&at.spec, &endpoints, &[channel.as_str()])
                .await?;
            Outcome::Done(format!(
                "{what}: {} (proposal {})",
                if done.is_empty() {
                    "every orderer already serves it".to_string()
                } else {
                    done.join("; ")
                },
                short_id(proposal_id)
            ))
        }
        Step::Tally {
            what,
            proposal_id,
            counted,
            ..
        } => {
            let out = ops.tally(proposal_id, Some(counted.clone())).await?;
            Outcome::Done(format!(
                "{what}: tallied {}: {}",
                short_id(proposal_id),
                out["outcome"]
                    .as_str()
                    .or(out["state"].as_str())
                    .unwrap_or("done")
            ))
        }
        Step::Install {
            what,
            peer,
            label,
            package_id,
            report_failure_on,
        } => {
            let pkg = built.get(label).ok_or_else(|| {
                AgentError::Plan(format!("package {label} was not built in this pass"))
            })?;
            let conn = ctx
                .peers
                .iter()
                .find(|p| p.name == *peer)
                .ok_or_else(|| AgentError::Plan(format!("{peer} is not an own peer")))?;
            match lifecycle::install(&conn.endorser, &pkg.bytes).await {
                Ok(done) if done.package_id != *package_id => {
                    return Err(AgentError::Plan(format!(
                        "peer {peer} derived package ID {} for the package this org built as {package_id}",
                        done.package_id
                    )));
                }
                Ok(done) => Outcome::Done(format!(
                    "installed {package_id} on peer {peer}{}",
                    if done.newly_installed {
                        ""
                    } else {
                        " (it was already there)"
                    }
                )),
                Err(e) => {
                    let e = AgentError::fabric(format!("install {package_id} on peer {peer}"), e);
                    match report_failure_on {
                        Some(id) => {
                            install_failed(ctx, &ops, at, what, label, package_id, id, e).await?
                        }
                        None => return Err(e),
                    }
                }
            }
        }
        Step::Approve {
            channel,
            chaincode: name,
            version,
            sequence,
            package_id,
            ..
        } => {
            // A chaincode of the spec gets the spec's definition; the OpsSC
            // itself (not in the spec) the one committed on the ops channel.
            let def = match at
                .spec
                .chaincodes
                .get(&(channel.to_string(), name.to_string()))
            {
                Some(cc) => definition(cc, *sequence).map_err(|e| AgentError::Plan(chain(&e)))?,
                None => lifecycle::ChaincodeDefinition::new(name, version, *sequence as i64),
            };
            let done =
                lifecycle::approve(&ctx.main_peer().gateway, channel, &def, Some(package_id))
                    .await
                    .map_err(|e| {
                        AgentError::fabric(
                            format!(
                                "approve {channel}/{name} sequence {sequence} for {}",
                                ctx.me
                            ),
                            e,
                        )
                    })?;
            Outcome::Done(format!(
                "approved {channel}/{name} {version} sequence {sequence} for {} (block {})",
                ctx.me, done.block
            ))
        }
        Step::ReportTask {
            what,
            proposal_id,
            task,
            status,
            detail,
            more,
            ..
        } => {
            ops.report_task(&ReportTaskArgs {
                id: proposal_id.clone(),
                task: task.as_str().into(),
                status: *status,
                detail: detail.clone(),
                org: None,
                more: more
                    .iter()
                    .map(|t| TaskLine {
                        task: t.task.as_str().into(),
                        status: t.status,
                        detail: t.detail.clone(),
                    })
                    .collect(),
            })
            .await?;
            let named = |task: Task, status: TaskStatus| {
                format!(
                    "{}{}",
                    task.as_str(),
                    if status == TaskStatus::Failed {
                        " failed"
                    } else {
                        ""
                    }
                )
            };
            let mut tasks = vec![named(*task, *status)];
            tasks.extend(more.iter().map(|t| named(t.task, t.status)));
            Outcome::Done(format!(
                "{what}: reported task {} on {}",
                tasks.join(", "),
                short_id(proposal_id)
            ))
        }
        Step::Commit {
            what,
            proposal_id,
            channel,
            chaincode: name,
            version,
            sequence,
            endorsers,
            together,
        } => {
            let cc = chaincode(at, channel, name)?;
            let def = definition(cc, *sequence).map_err(|e| AgentError::Plan(chain(&e)))?;
            match lifecycle::commit(&ctx.main_peer().gateway, channel, &def, endorsers).await {
                Ok(done) => Outcome::Done(format!(
                    "{what}: committed sequence {sequence} ({version}) at block {}",
                    done.block
                )),
                // Fabric refused the commit itself (not a network hiccup):
                // record the failure on the chain, where every org sees it;
                // `opssc retry` starts the next attempt (with the next
                // executor first). Another executor may have committed it
                // in the meantime.
                // Beside the tally, the proposal is not recorded approved
                // yet, so no failure can be recorded on it: the next pass
                // commits (or records the refusal) on the approved proposal.
                Err(e) if *together => {
                    return Err(AgentError::fabric(
                        format!("commit {what} sequence {sequence} beside the tally"),
                        e,
                    ));
                }
                Err(e) if e.fault() == opssc_fabric::Fault::Rejected => {
                    let now = lifecycle::query_committed(&ctx.main_peer().endorser, channel, name)
                        .await
                        .map_err(|e| AgentError::fabric(format!("read {what}"), e))?
                        .map_or(0, |d| d.sequence as u64);
                    if now >= *sequence {
                        ops.report_committed(
                            proposal_id,
                            &format!("sequence {sequence} is on the chain"),
                        )
                        .await?;
                        // The ReportCommitted step that follows is done.
                        return Ok(Outcome::Finished(format!(
                            "{what}: sequence {sequence} was committed meanwhile; reported {} committed",
                            short_id(proposal_id)
                        )));
                    }
                    let error = format!("commit {what} sequence {sequence}: {e}");
                    ops.report_failed(proposal_id, &error).await?;
                    Outcome::Stalled(format!(
                        "{what}: {error}; recorded on proposal {} (fix the cause, then `opssc retry {proposal_id}`)",
                        short_id(proposal_id)
                    ))
                }
                Err(e) => {
                    return Err(AgentError::fabric(
                        format!("commit {what} sequence {sequence}"),
                        e,
                    ));
                }
            }
        }
        Step::ReportCommitted {
            what,
            proposal_id,
            detail,
        } => {
            ops.report_committed(proposal_id, detail).await?;
            Outcome::Done(format!(
                "{what}: reported {} committed ({detail})",
                short_id(proposal_id)
            ))
        }
        Step::ReportFailed {
            what,
            proposal_id,
            error,
        } => {
            ops.report_failed(proposal_id, error).await?;
            Outcome::Done(format!(
                "{what}: reported {} failed: {error}",
                short_id(proposal_id)
            ))
        }
    })
}

/// A source package that failed to install on proposal `id`: compile it to
/// learn why and record go's messages as this organization's failed
/// `install` task (once per package: the plan does not install it again).
#[allow(clippy::too_many_arguments)]
async fn install_failed(
    ctx: &Context,
    ops: &super::ops::OpsClient,
    at: &SpecAt,
    what: &str,
    label: &str,
    package_id: &str,
    id: &str,
    e: AgentError,
) -> Result<Outcome> {
    let Some(cc) = at.spec.chaincodes.values().find(|c| c.label == label) else {
        return Err(e);
    };
    let head = format!("{package_id} does not compile:\n");
    let max = opssc_chaincode::validate::MAX_TEXT - head.len();
    let source_dir = super::packages::source_dir(&ctx.state_dir);
    let Some(errors) = tokio::task::block_in_place(|| {
        super::packages::compile_errors(&ctx.config, cc, &source_dir, max)
    }) else {
        return Err(e);
    };
    tracing::warn!(chaincode = %what, package = %package_id, error = %e, compiler = %errors, "install failed: the chaincode does not compile");
    ops.report_task(&ReportTaskArgs {
        id: id.to_string(),
        task: Task::Install.as_str().into(),
        status: TaskStatus::Failed,
        detail: format!("{head}{errors}"),
        org: None,
        more: Vec::new(),
    })
    .await?;
    Ok(Outcome::Stalled(format!(
        "{what}: package {package_id} does not compile (reported as {}'s failed install task on proposal {}); commit a spec that pins a commit that builds",
        ctx.me,
        short_id(id)
    )))
}
