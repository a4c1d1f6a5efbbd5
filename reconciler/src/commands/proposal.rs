//! `opssc proposal list|show|withdraw|retry|expire`: the OpsSC's proposals
//! for people, and the three calls a person makes to end or restart one.
//!
//! `list` and `show` read the contract as this organization (`list`, `get`,
//! `votes`, `signatures`, `tasks`) and render what they read with pure
//! functions ([`render_list`], [`render_show`]), as text or `--json`.
//! `withdraw`, `retry` and `expire` submit one call each. When the contract
//! refuses, the command prints the contract's reason and what to do instead
//! ([`refusal_hint`]) and exits 1. An ID may be given in full or as a
//! unique prefix (status and list show 12 digits), resolved against the
//! contract's list ([`resolve_id`]).
//!
//! Key decision: the CLI decides nothing. Who may withdraw (the proposer,
//! while no other organization backs it), when a proposal expires (enough
//! of the electorate attested its deadline passed) and what may be retried
//! (a failed proposal) are the contract's rules, quoted as the contract
//! states them; the hints only name the next command.
//!
//! Exit codes: 0 done, 1 refused by the contract (or an unknown or
//! ambiguous ID), 2 any other error (configuration, network).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use opssc::agent::context::Context;
use opssc::agent::error::AgentError;
use opssc::agent::ops::{Got, OpsClient};
use opssc::agent::status::rfc3339_utc;
use opssc_chaincode::error::ContractError;
use opssc_chaincode::model::{Kind, ProposalState, SignatureEntry, Target, TaskEntry, Vote};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agent::{load_config, runtime};

/// The calls a person makes on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `opssc vote`.
    Vote,
    /// `proposed` → `withdrawn`, by the proposer.
    Withdraw,
    /// `failed` → `approved`, the next attempt.
    Retry,
    /// This organization attests the deadline passed.
    Expire,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Vote => "vote on",
            Action::Withdraw => "withdraw",
            Action::Retry => "retry",
            Action::Expire => "expire",
        }
    }
}

/// One row of the contract's `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub id: String,
    pub kind: Kind,
    pub target: Target,
    pub state: ProposalState,
    pub proposer: String,
    pub created_at: i64,
    pub deadline: i64,
    pub quorum: u32,
    /// The electorate's size.
    pub electorate: usize,
}

/// Everything `show` reads about one proposal.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub proposal: opssc_chaincode::model::Proposal,
    pub tally: Value,
    pub eligible_executors: Vec<String>,
    pub deadline_passed: bool,
    pub expiry_attested_by: Vec<String>,
    pub votes: Vec<Vote>,
    pub signatures: Vec<SignatureEntry>,
    pub tasks: Vec<TaskEntry>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Unix seconds as `2026-11-25T10:00:03Z`.
fn time(at: i64) -> String {
    rfc3339_utc(SystemTime::UNIX_EPOCH + Duration::from_secs(at.max(0) as u64))
}

/// `in 59m`, `2h ago`: a deadline relative to `now`.
fn relative(at: i64, now: i64) -> String {
    let d = (at - now).unsigned_abs();
    let span = if d < 120 {
        format!("{d}s")
    } else if d < 2 * 3600 {
        format!("{}m", d / 60)
    } else if d < 2 * 86400 {
        format!("{}h", d / 3600)
    } else {
        format!("{}d", d / 86400)
    };
    if at >= now {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The full ID that `given` names among `ids`: itself when it is one of
/// them, else the one ID it is a prefix of. `Err` says why not (unknown, or
/// which IDs it could mean).
pub fn resolve_id(given: &str, ids: &[String]) -> Result<String, String> {
    if ids.iter().any(|i| i == given) {
        return Ok(given.to_string());
    }
    let matching: Vec<&String> = ids
        .iter()
        .filter(|i| !given.is_empty() && i.starts_with(given))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "no proposal has the ID {given:?}; `opssc proposal list` shows every proposal's ID"
        )),
        many => Err(format!(
            "{given:?} is the start of {} proposal IDs ({}); give more digits",
            many.len(),
            many.iter().map(|i| short(i)).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// `OrgAdd Org4MSP on channel ops`, `ChaincodeUpgrade trade/kv 2.0`.
fn describe(kind: Kind, target: &Target, payload: Option<&Value>) -> String {
    let field = |k: &str| {
        payload
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match (&target.chaincode, field("org")) {
        (Some(cc), _) => match field("version") {
            Some(v) => format!("{kind} {}/{cc} {v}", target.channel),
            None => format!("{kind} {}/{cc}", target.channel),
        },
        (None, Some(org)) => format!("{kind} {org} on channel {}", target.channel),
        (None, None) => format!("{kind} of channel {}", target.channel),
    }
}

/// The proposals as a table: ID (12 digits), state, what, proposer,
/// quorum, deadline.
pub fn render_list(items: &[Listed], open_only: bool, now: i64) -> String {
    if items.is_empty() {
        return if open_only {
            "no open proposal\n".into()
        } else {
            "no proposal\n".into()
        };
    }
    let rows: Vec<[String; 6]> = items
        .iter()
        .map(|p| {
            [
                short(&p.id).to_string(),
                p.state.to_string(),
                describe(p.kind, &p.target, None),
                p.proposer.clone(),
                format!("{} of {}", p.quorum, p.electorate),
                if p.state.is_undecided() {
                    format!("{} ({})", time(p.deadline), relative(p.deadline, now))
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    let header = ["ID", "STATE", "CHANGE", "PROPOSER", "QUORUM", "DEADLINE"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header);
    for r in &rows {
        out.push_str(&line(&r.each_ref().map(String::as_str)));
    }
    out.push_str(&format!(
        "{} proposal{}; `opssc proposal show <ID>` shows votes, signatures and tasks\n",
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    ));
    out
}

/// One proposal for people: what it changes, its state and deadline, the
/// votes against the quorum (who has not voted too), the signatures over
/// a config update, the execution, the tasks, the history, and what `me`
/// can do next.
pub fn render_show(s: &Shown, me: &str, now: i64) -> String {
    let p = &s.proposal;
    let mut out = format!("proposal {}\n", p.id);
    let line = |out: &mut String, label: &str, text: String| {
        out.push_str(&format!("  {label:<10}{text}\n"));
    };
    line(
        &mut out,
        "change",
        format!(
            "{} (round {})",
            describe(p.kind, &p.target, Some(&p.payload)),
            p.round
        ),
    );
    line(&mut out, "state", p.state.to_string());
    let base = match (
        p.spec_ref.base_config_sequence,
        p.spec_ref.committed_chaincode_sequence,
    ) {
        (Some(b), _) => format!(", against config sequence {b}"),
        (None, Some(c)) => format!(", against committed sequence {c}"),
        _ => String::new(),
    };
    line(
        &mut out,
        "proposer",
        format!(
            "{}, filed {} from spec commit {}{base}",
            p.proposer,
            time(p.created_at),
            short(&p.spec_ref.git_commit)
        ),
    );
    let mut deadline = format!("{} ({})", time(p.deadline), relative(p.deadline, now));
    if s.deadline_passed && p.state.is_undecided() {
        deadline.push_str(&format!(
            "; passed, expiry attested by {} of the {} needed{}",
            s.expiry_attested_by.len(),
            expiry_needed(p.electorate.len(), p.quorum),
            if s.expiry_attested_by.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.expiry_attested_by.join(", "))
            }
        ));
    }
    line(&mut out, "deadline", deadline);
    line(
        &mut out,
        "quorum",
        format!("{} of {} ({})", p.quorum, p.electorate.len(), p.quorum_rule),
    );
    let approvals = s
        .votes
        .iter()
        .filter(|v| v.decision == opssc_chaincode::model::Decision::Approve)
        .count();
    out.push_str(&format!(
        "votes: {approvals} approve, {} reject, {} needed\n",
        s.votes.len() - approvals,
        p.quorum
    ));
    for org in &p.electorate {
        match s.votes.iter().find(|v| &v.org == org) {
            Some(v) => out.push_str(&format!(
                "  {org:<12}{:<8}{}{}\n",
                format!("{:?}", v.decision).to_lowercase(),
                time(v.cast_at),
                if v.reason.is_empty() {
                    String::new()
                } else {
                    format!("  {}", v.reason)
                }
            )),
            None => out.push_str(&format!("  {org:<12}not voted\n")),
        }
    }
    if p.kind.carries_config_update() {
        if s.signatures.is_empty() {
            out.push_str("signatures over the config update: none\n");
        } else {
            out.push_str("signatures over the config update:\n");
            for sig in &s.signatures {
                out.push_str(&format!("  {:<12}{}\n", sig.org, time(sig.at)));
            }
        }
    }
    if let Some(e) = &p.execution {
        let mut text = format!(
            "attempt {}, executors in turn {}",
            e.attempt,
            e.order.join(", ")
        );
        if !s.eligible_executors.is_empty() && p.state == ProposalState::Approved {
            text.push_str(&format!(
                "; eligible now: {}",
                s.eligible_executors.join(", ")
            ));
        }
        if let Some(by) = &e.claimed_by {
            text.push_str(&format!("; claimed by {by}"));
        }
        out.push_str(&format!("execution: {text}\n"));
        for f in &e.failures {
            out.push_str(&format!(
                "  attempt {} failed ({} at {}): {}\n",
                f.attempt,
                f.by,
                time(f.at),
                f.detail
            ));
        }
        if let Some(c) = &e.committed {
            out.push_str(&format!(
                "  committed by {} at {}: {}\n",
                c.by,
                time(c.at),
                c.detail
            ));
        }
    }
    if !s.tasks.is_empty() {
        out.push_str("tasks:\n");
        for t in &s.tasks {
            out.push_str(&format!(
                "  {:<12}{:<10}{:<7}{}{}\n",
                t.org,
                t.task,
                format!("{:?}", t.status).to_lowercase(),
                time(t.at),
                if t.detail.is_empty() {
                    String::new()
                } else {
                    format!("  {}", t.detail)
                }
            ));
        }
    }
    out.push_str("history:\n");
    for t in &p.history {
        out.push_str(&format!(
            "  {}  {:<10}{} → {}{}\n",
            time(t.at),
            actor(&t.actor),
            t.from.map_or("-".to_string(), |f| f.to_string()),
            t.to,
            if t.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", t.note)
            }
        ));
    }
    let next = next_steps(s, me);
    if !next.is_empty() {
        out.push_str("next:\n");
        for n in next {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
}

/// A transition's actor: an MSP ID, or a certificate hash shortened.
fn actor(a: &str) -> &str {
    if a.len() == 64 && a.bytes().all(|b| b.is_ascii_hexdigit()) {
        short(a)
    } else {
        a
    }
}

/// How many of the electorate must attest the deadline for a proposal to
/// expire: as many as a rejection needs (see the contract's crate doc).
fn expiry_needed(electorate: usize, quorum: u32) -> usize {
    electorate.saturating_sub(quorum as usize) + 1
}

/// What organization `me` can do with the proposal now.
fn next_steps(s: &Shown, me: &str) -> Vec<String> {
    let p = &s.proposal;
    let id = short(&p.id);
    let member = p.electorate.iter().any(|m| m == me);
    let voted = s.votes.iter().any(|v| v.org == me);
    let mut out = Vec::new();
    match p.state {
        ProposalState::Proposed => {
            if member && !voted && !s.deadline_passed {
                out.push(format!(
                    "vote as {me}: `opssc vote {} approve|reject --reason \"...\"`",
                    p.id
                ));
            }
            if p.proposer == me {
                out.push(format!(
                    "withdraw it (as its proposer, while no other organization backs it): `opssc proposal withdraw {id}`"
                ));
            }
            if s.deadline_passed && member && !s.expiry_attested_by.iter().any(|o| o == me) {
                out.push(format!(
                    "attest that its deadline passed: `opssc proposal expire {id}`"
                ));
            }
        }
        ProposalState::Approved => out.push(format!(
            "being carried out by its executor ({}); the agents report the result",
            if s.eligible_executors.is_empty() {
                "none eligible now".to_string()
            } else {
                s.eligible_executors.join(", ")
            }
        )),
        ProposalState::Failed if member => out.push(format!(
            "fix the cause of the failure, then start the next attempt: `opssc proposal retry {id}`"
        )),
        _ => {}
    }
    out
}

/// What to do when the contract refused `action` on proposal `id`.
pub fn refusal_hint(action: Action, id: &str, e: &ContractError) -> String {
    let id = short(id);
    match (action, e) {
        (_, ContractError::NotFound { .. }) => {
            "`opssc proposal list` shows every proposal's ID".into()
        }
        (Action::Vote, ContractError::Conflict { .. }) => format!(
            "votes are one per organization and close at the decision; `opssc proposal show {id}` shows the votes and the state"
        ),
        (Action::Withdraw, ContractError::Forbidden { .. }) => format!(
            "to oppose it, vote reject as your organization: `opssc vote {id} reject --reason \"...\"`"
        ),
        (Action::Withdraw, ContractError::Conflict { .. }) => format!(
            "it is decided already and cannot be withdrawn; `opssc proposal show {id}` shows what happened"
        ),
        (Action::Retry, ContractError::Conflict { .. }) => format!(
            "only a failed proposal can be retried; `opssc proposal show {id}` shows its state"
        ),
        (Action::Expire, ContractError::Conflict { .. }) => format!(
            "wait for its deadline (`opssc proposal show {id}` shows it), or vote reject to end it sooner"
        ),
        (_, ContractError::Forbidden { .. }) => format!(
            "only an organization of its electorate may {} it; `opssc proposal show {id}` lists the electorate",
            action.verb()
        ),
        _ => format!("`opssc proposal show {id}` shows its state"),
    }
}

/// The outcome of a successful call, for people.
fn outcome_text(action: Action, me: &str, id: &str, answer: &Value) -> String {
    let id = short(id);
    match action {
        Action::Vote => format!("{me} voted on proposal {id}"),
        Action::Withdraw => format!("{me} withdrew proposal {id}"),
        Action::Retry => format!(
            "{me} started attempt {} of proposal {id}; executors in turn: {}",
            answer["attempt"],
            answer["order"]
                .as_array()
                .map(|o| o
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        Action::Expire => match answer["outcome"].as_str() {
            Some("decided") => format!("proposal {id} expired"),
            Some("already_decided") => {
                format!("proposal {id} is decided already ({})", answer["state"])
            }
            _ => format!(
                "{me} attested that the deadline of proposal {id} passed ({} of {} attestations); it expires once enough of the electorate attested",
                answer["attested"].as_array().map_or(0, Vec::len),
                answer["needed"]
            ),
        },
    }
}

/// The full ID of `given` (see [`resolve_id`]); `Err(exit code)` after
/// printing why when it names no single proposal.
pub(super) async fn full_id(ops: &OpsClient, given: &str) -> Result<Result<String, i32>> {
    if given.len() == 64 {
        return Ok(Ok(given.to_string()));
    }
    let ids: Vec<String> = ops
        .list(false)
        .await?
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_string))
        .collect();
    Ok(resolve_id(given, &ids).map_err(|why| {
        eprintln!("error: {why}");
        1
    }))
}

/// `opssc proposal list [--open] [--json]`.
pub fn list(config: &Path, open: bool, json: bool, ops_channel: &str) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let raw = ctx.ops(ops_channel).list(open).await?;
        let items: Vec<Listed> = raw
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("the OpsSC's list has an unexpected shape: {e}"))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&items)?);
        } else {
            print!("{}", render_list(&items, open, now()));
        }
        Ok(0)
    })
}

/// `opssc proposal show <id> [--json]`.
pub fn show(config: &Path, id: &str, json: bool, ops_channel: &str) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let ops = ctx.ops(ops_channel);
        let id = match full_id(&ops, id).await? {
            Ok(id) => id,
            Err(code) => return Ok(code),
        };
        let got: Got = match ops.get(&id).await {
            Ok(g) => g,
            Err(e) => {
                return refused(e, |_| {
                    "`opssc proposal list` shows every proposal's ID".into()
                })
                .map(|_| 1);
            }
        };
        let shown = Shown {
            votes: ops.votes(&id).await?,
            signatures: ops.signatures(&id).await?,
            tasks: ops.tasks(&id, None).await?,
            proposal: got.proposal,
            tally: got.tally,
            eligible_executors: got.eligible_executors,
            deadline_passed: got.deadline_passed,
            expiry_attested_by: got.expiry_attested_by,
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&shown)?);
        } else {
            print!("{}", render_show(&shown, &ctx.me, now()));
        }
        Ok(0)
    })
}

/// `opssc proposal withdraw|retry|expire <id>` (and `opssc retry`).
pub fn act(
    config: &Path,
    action: Action,
    id: &str,
    reason: &str,
    ops_channel: &str,
) -> Result<i32> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let ops = ctx.ops(ops_channel);
        let id = match full_id(&ops, id).await? {
            Ok(id) => id,
            Err(code) => return Ok(code),
        };
        let answer = match action {
            // Votes go through `opssc vote` (commands::vote), which reads
            // the proposal's kind first.
            Action::Vote => anyhow::bail!("to vote, run `opssc vote {id} approve|reject`"),
            Action::Withdraw => ops.withdraw(&id, reason).await,
            Action::Retry => ops.retry(&id, reason).await,
            Action::Expire => ops.expire(&id).await,
        };
        match answer {
            Ok(answer) => {
                println!("{}", outcome_text(action, &ctx.me, &id, &answer));
                Ok(0)
            }
            Err(e) => refused(e, |r| refusal_hint(action, &id, r)).map(|_| 1),
        }
    })
}

/// Runs one `opssc proposal` subcommand.
pub fn run(command: crate::cli::ProposalCommand) -> Result<i32> {
    use crate::cli::ProposalCommand as P;
    match command {
        P::List { open, json, target } => list(&target.config, open, json, &target.ops_channel),
        P::Show { id, json, target } => show(&target.config, &id, json, &target.ops_channel),
        P::Withdraw { id, reason, target } => act(
            &target.config,
            Action::Withdraw,
            &id,
            &reason,
            &target.ops_channel,
        ),
        P::Retry { id, reason, target } => act(
            &target.config,
            Action::Retry,
            &id,
            &reason,
            &target.ops_channel,
        ),
        P::Expire { id, target } => {
            act(&target.config, Action::Expire, &id, "", &target.ops_channel)
        }
    }
}

/// Prints the contract's refusal and what to do instead (`hint`); any
/// other error (the network, the identity) is returned.
pub(super) fn refused(e: AgentError, hint: impl FnOnce(&ContractError) -> String) -> Result<()> {
    match e.refusal() {
        Some(r) => {
            eprintln!("refused by the OpsSC: {r}");
            eprintln!("  what to do: {}", hint(r));
            Ok(())
        }
        None => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opssc_chaincode::model::{Decision, Execution, Proposal, SpecRef, Transition};
    use serde_json::json;

    const ID: &str = "3f2a9c4be1d07a5588cc00112233445566778899aabbccddeeff001122334455";
    const T0: i64 = 1_796_000_000;

    fn proposal(state: ProposalState) -> Proposal {
        Proposal {
            id: ID.into(),
            kind: Kind::OrgAdd,
            target: Target {
                channel: "ops".into(),
                chaincode: None,
            },
            round: 0,
            payload: json!({"org": "Org4MSP", "config_update": "AQID"}),
            spec_ref: SpecRef {
                git_commit: "c".repeat(40),
                spec_hash: "0".repeat(64),
                base_config_sequence: Some(4),
                committed_chaincode_sequence: None,
            },
            proposer: "Org1MSP".into(),
            created_at: T0,
            created_tx: "tx0".into(),
            deadline: T0 + 3600,
            state,
            electorate: vec!["Org1MSP".into(), "Org2MSP".into(), "Org3MSP".into()],
            quorum: 2,
            quorum_rule: "MAJORITY of the channel's Admins".into(),
            decision: None,
            superseded_by: None,
            also_filed_by: Vec::new(),
            execution: None,
            history: vec![Transition {
                at: T0,
                tx_id: "tx0".into(),
                actor: "Org1MSP".into(),
                from: None,
                to: ProposalState::Proposed,
                note: String::new(),
            }],
        }
    }

    fn vote(org: &str, decision: Decision, reason: &str) -> Vote {
        Vote {
            proposal_id: ID.into(),
            org: org.into(),
            decision,
            reason: reason.into(),
            config_signature: None,
            cast_at: T0 + 5,
            tx_id: "tx1".into(),
            actor: "a".repeat(64),
        }
    }

    fn shown(state: ProposalState) -> Shown {
        Shown {
            proposal: proposal(state),
            tally: Value::Null,
            eligible_executors: Vec::new(),
            deadline_passed: false,
            expiry_attested_by: Vec::new(),
            votes: vec![vote("Org1MSP", Decision::Approve, "recomputed: identical")],
            signatures: Vec::new(),
            tasks: Vec::new(),
        }
    }

    #[test]
    fn show_lists_every_vote_and_who_has_not_voted() {
        let text = render_show(&shown(ProposalState::Proposed), "Org3MSP", T0 + 60);
        assert!(text.starts_with(&format!("proposal {ID}\n")), "{text}");
        assert!(
            text.contains("OrgAdd Org4MSP on channel ops (round 0)"),
            "{text}"
        );
        assert!(text.contains("against config sequence 4"), "{text}");
        assert!(
            text.contains("votes: 1 approve, 0 reject, 2 needed"),
            "{text}"
        );
        assert!(text.contains("Org1MSP     approve 2026-"), "{text}");
        assert!(text.contains("recomputed: identical"), "{text}");
        assert!(text.contains("Org2MSP     not voted"), "{text}");
        assert!(text.contains("Org3MSP     not voted"), "{text}");
        assert!(
            text.contains("signatures over the config update: none"),
            "{text}"
        );
        assert!(text.contains("(in 59m)"), "{text}");
        // Org3 may vote; only the proposer may withdraw.
        assert!(
            text.contains(&format!("`opssc vote {ID} approve|reject")),
            "{text}"
        );
        assert!(!text.contains("withdraw"), "{text}");
        let as_proposer = render_show(&shown(ProposalState::Proposed), "Org1MSP", T0 + 60);
        assert!(
            as_proposer.contains("`opssc proposal withdraw 3f2a9c4be1d0`"),
            "{as_proposer}"
        );
        assert!(
            !as_proposer.contains("opssc vote"),
            "Org1 voted: {as_proposer}"
        );
    }

    #[test]
    fn show_says_what_a_failed_or_expiring_proposal_needs() {
        let mut failed = shown(ProposalState::Failed);
        failed.proposal.execution = Some(Execution {
            attempt: 1,
            started_at: T0 + 10,
            timeout_secs: 600,
            order: vec!["Org1MSP".into(), "Org3MSP".into()],
            claimed_by: None,
            claimed_at: None,
            failures: vec![opssc_chaincode::model::ExecutionReport {
                by: "Org1MSP".into(),
                at: T0 + 20,
                tx_id: "tx2".into(),
                attempt: 1,
                detail: "the orderer refused the update".into(),
            }],
            committed: None,
        });
        let text = render_show(&failed, "Org2MSP", T0 + 60);
        assert!(
            text.contains("executors in turn Org1MSP, Org3MSP"),
            "{text}"
        );
        assert!(
            text.contains("attempt 1 failed (Org1MSP at 2026-") && text.contains("orderer refused"),
            "{text}"
        );
        assert!(
            text.contains("`opssc proposal retry 3f2a9c4be1d0`"),
            "{text}"
        );
        let mut late = shown(ProposalState::Proposed);
        late.deadline_passed = true;
        late.expiry_attested_by = vec!["Org1MSP".into()];
        let text = render_show(&late, "Org2MSP", T0 + 7200);
        assert!(
            text.contains("passed, expiry attested by 1 of the 2 needed (Org1MSP)"),
            "{text}"
        );
        assert!(
            text.contains("`opssc proposal expire 3f2a9c4be1d0`"),
            "{text}"
        );
        assert!(!text.contains("opssc vote"), "too late to vote: {text}");
    }

    #[test]
    fn list_is_a_table_with_short_ids() {
        let items = vec![Listed {
            id: ID.into(),
            kind: Kind::ChaincodeUpgrade,
            target: Target {
                channel: "trade".into(),
                chaincode: Some("kv".into()),
            },
            state: ProposalState::Proposed,
            proposer: "Org1MSP".into(),
            created_at: T0,
            deadline: T0 + 3600,
            quorum: 3,
            electorate: 3,
        }];
        let text = render_list(&items, true, T0);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("ID            STATE     CHANGE"),
            "{text}"
        );
        assert!(
            lines[1].starts_with(
                "3f2a9c4be1d0  proposed  ChaincodeUpgrade trade/kv  Org1MSP   3 of 3  2026-"
            ),
            "{text}"
        );
        assert!(lines[1].ends_with("(in 60m)"), "{text}");
        assert!(lines[2].starts_with("1 proposal;"), "{text}");
        assert_eq!(render_list(&[], true, T0), "no open proposal\n");
    }

    #[test]
    fn an_id_prefix_names_one_proposal_or_says_why_not() {
        let ids = vec![ID.to_string(), format!("3f2b{}", &ID[4..]), "ab".repeat(32)];
        assert_eq!(resolve_id("ab", &ids), Ok("ab".repeat(32)));
        assert_eq!(resolve_id("3f2a", &ids), Ok(ID.to_string()));
        assert_eq!(resolve_id(ID, &ids), Ok(ID.to_string()));
        let e = resolve_id("3f2", &ids).unwrap_err();
        assert!(e.contains("start of 2 proposal IDs"), "{e}");
        let e = resolve_id("99", &ids).unwrap_err();
        assert!(e.contains("opssc proposal list"), "{e}");
        assert!(resolve_id("", &ids).is_err());
    }

    #[test]
    fn a_refusal_says_what_to_do_instead() {
        let forbidden = ContractError::Forbidden {
            msp: "Org2MSP".into(),
            action: format!("withdraw proposal {ID}"),
            reason: "only its proposer Org1MSP may withdraw it; vote reject instead".into(),
        };
        assert_eq!(
            refusal_hint(Action::Withdraw, ID, &forbidden),
            "to oppose it, vote reject as your organization: `opssc vote 3f2a9c4be1d0 reject --reason \"...\"`"
        );
        let conflict = ContractError::Conflict {
            what: format!("proposal {ID}"),
            state: "proposed".into(),
            reason: "only a failed proposal can be retried".into(),
        };
        assert!(refusal_hint(Action::Retry, ID, &conflict).contains("only a failed proposal"));
        assert!(refusal_hint(Action::Expire, ID, &conflict).contains("wait for its deadline"));
        assert!(
            refusal_hint(Action::Expire, ID, &forbidden)
                .contains("only an organization of its electorate may expire it")
        );
        let missing = ContractError::NotFound {
            what: "proposal x".into(),
            hint: String::new(),
        };
        assert!(refusal_hint(Action::Retry, ID, &missing).contains("opssc proposal list"));
    }

    #[test]
    fn outcomes_say_what_happened() {
        assert_eq!(
            outcome_text(
                Action::Withdraw,
                "Org1MSP",
                ID,
                &json!({"outcome": "withdrawn"})
            ),
            "Org1MSP withdrew proposal 3f2a9c4be1d0"
        );
        assert_eq!(
            outcome_text(
                Action::Retry,
                "Org2MSP",
                ID,
                &json!({"outcome": "retrying", "attempt": 2, "order": ["Org3MSP", "Org1MSP"]})
            ),
            "Org2MSP started attempt 2 of proposal 3f2a9c4be1d0; executors in turn: Org3MSP, Org1MSP"
        );
        assert!(
            outcome_text(
                Action::Expire,
                "Org2MSP",
                ID,
                &json!({"outcome": "attested", "attested": ["Org2MSP"], "needed": 2})
            )
            .contains("(1 of 2 attestations)")
        );
        assert_eq!(
            outcome_text(
                Action::Expire,
                "Org2MSP",
                ID,
                &json!({"outcome": "decided"})
            ),
            "proposal 3f2a9c4be1d0 expired"
        );
    }
}
