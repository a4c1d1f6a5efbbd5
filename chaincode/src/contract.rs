//! The contract functions: one pure function per call, over a transaction
//! that reads the state and collects writes.
//!
//! [`invoke`] parses the call, runs it, and returns an [`Outcome`] — the
//! writes, at most one event, and the JSON response — or a
//! [`ContractError`] with nothing written. Time is the transaction timestamp
//! only. A vote writes its own key and, when the votes it counts decide the
//! proposal, the decision (the same `settle` and `conclude` as `tally`). A
//! vote that names the votes it counts (`counted`) reads just the proposal
//! and those keys, which are immutable once written, so organizations voting
//! in the same block never conflict; one that counts every vote reads the
//! vote range and conflicts with a vote ordered before it in the block (the
//! agents and `opssc vote` name theirs). A deadline ends a proposal only through
//! expiry attestations of enough of the electorate (`expire`, or a vote past
//! the deadline): see the crate doc, "Against a hostile member".

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::{
    self, BallotCall, BallotsArgs, ChannelInput, ChannelUpdatePayload, FoundArgs, IdArgs, ListArgs,
    OrgChangePayload, Payload, ProposeArgs, ReasonArgs, RegistryAction, ReportCommittedArgs,
    ReportFailedArgs, ReportTaskArgs, SignArgs, TallyArgs, TasksArgs, VoteArgs,
};
use crate::error::ContractError;
use crate::keys;
use crate::model::{
    ChannelEntry, ChannelPolicies, Decision, DecisionInfo, Execution, ExecutionReport,
    ExpiryAttestation, FoundingConfirmation, Governance, Kind, Proposal, ProposalState,
    QuorumLevel, RegistryMeta, Rule, SignatureEntry, TaskEntry, Transition, Vote,
};
use crate::sig;
use crate::state::{StateRead, Tx, Write, prefix_end};
use crate::update_rules;
use crate::validate;

/// Who calls, when, in which transaction. Filled by the shell from the
/// signed proposal; the contract trusts it as Fabric does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxContext {
    /// The creator's MSP ID (`SerializedIdentity.mspid`).
    pub creator_msp: String,
    /// The creator's certificate bytes (`SerializedIdentity.id_bytes`);
    /// recorded as a SHA-256 fingerprint.
    pub creator_cert: Vec<u8>,
    pub tx_id: String,
    /// The transaction timestamp from the channel header, Unix seconds.
    pub timestamp: i64,
}

/// The chaincode event of a transaction (Fabric keeps one per transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    /// JSON, see the crate doc ("Events").
    pub payload: Vec<u8>,
}

/// What a successful call produces; the shell applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Sorted by key; at most one write per key.
    pub writes: Vec<Write>,
    pub event: Option<Event>,
    /// JSON.
    pub response: Vec<u8>,
}

/// Functions that change state (submit them as transactions).
pub const INVOKE_FUNCTIONS: [&str; 13] = [
    "found",
    "sign",
    "propose",
    "vote",
    "ballots",
    "tally",
    "expire",
    "withdraw",
    "report_task",
    "claim_execution",
    "report_committed",
    "report_failed",
    "retry",
];

/// Functions that only read (evaluate them).
pub const QUERY_FUNCTIONS: [&str; 8] = [
    "get",
    "list",
    "overview",
    "votes",
    "signatures",
    "tasks",
    "history",
    "registry",
];

/// Open (not terminal) proposals one organization may have filed when its
/// whole open set is counted (see [`OPEN_SHARD_FREE`]).
pub const MAX_OPEN_PER_ORG: usize = 64;
/// A filing whose shard of the proposer's open set (16 shards by the ID's
/// first hex digit) holds fewer than this is accepted after reading only
/// that shard; otherwise the whole set is counted against
/// [`MAX_OPEN_PER_ORG`]. Range reads in an update transaction conflict with
/// any concurrent insert into the range (Fabric's phantom check), so this
/// keeps one organization's concurrent filings from invalidating each other,
/// at the price of a looser bound: an organization never holds more than
/// `MAX_OPEN_PER_ORG + 16 × OPEN_SHARD_FREE` (128) open proposals.
pub const OPEN_SHARD_FREE: usize = 4;
/// The most open proposals an organization can hold.
pub const MAX_OPEN_PER_ORG_BOUND: usize = MAX_OPEN_PER_ORG + 16 * OPEN_SHARD_FREE;

/// Index entries `list` reads at most per call.
const LIST_SCAN_LIMIT: usize = 1000;
/// Most entries any per-proposal range read returns: votes, expiry
/// attestations and signatures are one per organization (at most
/// [`validate::MAX_MEMBERS`] in an electorate); tasks are bounded by
/// [`MAX_TASK_REPORTS`] per organization and [`MAX_TASKS_PER_ORG`].
const RANGE_LIMIT: usize = 10_000;
/// Reports one organization may make of one task on one proposal.
pub const MAX_TASK_REPORTS: usize = 100;
/// Task reports one organization may make on one proposal, all tasks together.
pub const MAX_TASKS_PER_ORG: usize = 1000;
/// Calls one `ballots` transaction carries at most.
pub const MAX_BALLOTS: usize = 32;
/// The shortest voting period `propose` accepts for an explicit deadline: a
/// filing cannot leave the other organizations no time to vote.
pub const MIN_VOTING_PERIOD_SECS: i64 = 3600;

/// Runs one call. `args` is the chaincode input after the function name:
/// nothing, or one JSON object.
pub fn invoke(
    state: &dyn StateRead,
    ctx: &TxContext,
    function: &str,
    args: &[Vec<u8>],
) -> Result<Outcome, ContractError> {
    validate::msp_id("creator", &ctx.creator_msp)?;
    validate::short("tx_id", &ctx.tx_id)?;
    if ctx.timestamp <= 0 {
        return Err(ContractError::bad(
            "timestamp",
            "the transaction has no timestamp",
        ));
    }
    let arg: &[u8] = match args {
        [] => b"{}",
        [a] => a,
        _ => {
            return Err(ContractError::bad(
                "args",
                format!("{} arguments given; pass one JSON object", args.len()),
            ));
        }
    };
    if arg.len() > validate::MAX_ARG_BYTES {
        return Err(ContractError::bad(
            "args",
            format!(
                "is {} bytes; at most {} are allowed",
                arg.len(),
                validate::MAX_ARG_BYTES
            ),
        ));
    }
    let mut call = Call {
        tx: Tx::new(state),
        ctx,
        now: ctx.timestamp,
        actor: sig::fingerprint(&ctx.creator_cert),
        event: None,
    };
    // Only an organization's admin identities act for it (`found` checks
    // against the admin certificates its own arguments list).
    if INVOKE_FUNCTIONS.contains(&function) && function != "found" {
        call.require_admin()?;
    }
    let response = match function {
        "found" => call.found(parse(arg)?)?,
        "sign" => call.sign(parse(arg)?)?,
        "signatures" => call.query_signatures(parse(arg)?)?,
        "propose" => call.propose(parse(arg)?)?,
        "vote" => call.vote(parse(arg)?)?,
        "ballots" => call.ballots(parse(arg)?)?,
        "tally" => call.tally(parse(arg)?, false)?,
        "expire" => {
            let a: IdArgs = parse(arg)?;
            call.tally(
                TallyArgs {
                    id: a.id,
                    counted: None,
                },
                true,
            )?
        }
        "withdraw" => call.withdraw(parse(arg)?)?,
        "report_task" => call.report_task(parse(arg)?)?,
        "claim_execution" => call.claim_execution(parse(arg)?)?,
        "report_committed" => call.report_committed(parse(arg)?)?,
        "report_failed" => call.report_failed(parse(arg)?)?,
        "retry" => call.retry(parse(arg)?)?,
        "get" => call.query_get(parse(arg)?)?,
        "list" => call.query_list(parse(arg)?)?,
        "overview" => call.query_overview(parse(arg)?)?,
        "votes" => call.query_votes(parse(arg)?)?,
        "tasks" => call.query_tasks(parse(arg)?)?,
        "history" => call.query_history(parse(arg)?)?,
        "registry" => call.query_registry(parse(arg)?)?,
        other => {
            let known: Vec<&str> = INVOKE_FUNCTIONS
                .iter()
                .chain(QUERY_FUNCTIONS.iter())
                .copied()
                .collect();
            return Err(ContractError::UnknownFunction {
                name: truncate(other, 64),
                known: known.join(", "),
            });
        }
    };
    let is_query = QUERY_FUNCTIONS.contains(&function);
    let writes = call.tx.into_writes();
    debug_assert!(!is_query || (writes.is_empty() && call.event.is_none()));
    let (writes, event) = if is_query {
        (Vec::new(), None)
    } else {
        (writes, call.event)
    };
    Ok(Outcome {
        writes,
        event,
        // A serde_json::Value always serializes.
        response: serde_json::to_vec(&response).expect("JSON value serializes"),
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Unused fields are refused, as `ListArgs` etc. say `deny_unknown_fields`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

fn parse<T: DeserializeOwned>(arg: &[u8]) -> Result<T, ContractError> {
    serde_json::from_slice(arg).map_err(|e| {
        ContractError::bad("args", format!("{e}; see the crate doc for the JSON shape"))
    })
}

/// The approving organizations sorted by `sha256(proposal_id || msp)`.
pub fn executor_order(proposal_id: &str, approvals: &[String]) -> Vec<String> {
    let mut keyed: Vec<([u8; 32], String)> = approvals
        .iter()
        .map(|m| {
            let mut h = Sha256::new();
            h.update(proposal_id.as_bytes());
            h.update(m.as_bytes());
            (h.finalize().into(), m.clone())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, m)| m).collect()
}

/// A new channel's creation is seen first by its own members (their peers
/// join it; the other approvers cannot read it): they execute first, the
/// rest keep their order after them.
fn channel_members_first(p: &Proposal, order: Vec<String>) -> Vec<String> {
    let Ok(api::Payload::ChannelCreate(c)) = api::parse_payload(p.kind, &p.payload) else {
        return order;
    };
    let (mut first, rest): (Vec<String>, Vec<String>) =
        order.into_iter().partition(|m| c.members.contains(m));
    first.extend(rest);
    first
}

fn rotated(order: &[String], attempt: u32) -> Vec<String> {
    let mut v = order.to_vec();
    if !v.is_empty() {
        let k = (attempt.saturating_sub(1) as usize) % v.len();
        v.rotate_left(k);
    }
    v
}

/// Votes counted for a proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub approvals: Vec<String>,
    pub rejections: Vec<String>,
    /// The latest vote's recorded time (0 without votes).
    #[serde(skip)]
    pub latest: i64,
}

impl Count {
    /// The decision these votes force, if any: approvals reach the quorum, or
    /// so many rejected that the quorum can no longer be reached.
    pub fn decides(&self, electorate: usize, quorum: u32) -> Option<ProposalState> {
        let n = electorate as u32;
        if self.approvals.len() as u32 >= quorum {
            Some(ProposalState::Approved)
        } else if self.rejections.len() as u32 > n.saturating_sub(quorum) {
            Some(ProposalState::Rejected)
        } else {
            None
        }
    }
}

struct Call<'a> {
    tx: Tx<'a>,
    ctx: &'a TxContext,
    now: i64,
    actor: String,
    event: Option<Event>,
}

/// A recorded change of one proposal's state (goes into the event).
#[derive(Debug, Clone, Serialize)]
struct Moved {
    proposal_id: String,
    from: Option<ProposalState>,
    to: ProposalState,
}

impl<'a> Call<'a> {
    // ------------------------------------------------------------ plumbing

    fn me(&self) -> &str {
        &self.ctx.creator_msp
    }

    /// The registry's admin certificate fingerprints of `msp` (none before
    /// founding).
    fn listed_admins(&self, msp: &str) -> Result<Vec<String>, ContractError> {
        let meta: Option<RegistryMeta> = self.get_json(keys::META)?;
        Ok(meta
            .and_then(|m| m.admin_certs.get(msp).cloned())
            .unwrap_or_default())
    }

    /// Refuses a creator that is not an admin of its organization.
    fn require_admin(&self) -> Result<(), ContractError> {
        let listed = self.listed_admins(self.me())?;
        self.require_admin_among(&listed)
    }

    fn require_admin_among(&self, listed: &[String]) -> Result<(), ContractError> {
        if sig::is_admin_cert(&self.ctx.creator_cert, listed) {
            Ok(())
        } else {
            Err(ContractError::forbidden(
                self.me(),
                "act for its organization",
                format!(
                    "the creator is not an admin identity of {} (no OU={} in its certificate, and the registry does not list it); submit with the organization's admin",
                    self.me(),
                    sig::ADMIN_OU
                ),
            ))
        }
    }

    fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ContractError> {
        match self.tx.get(key).map_err(ContractError::State)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ContractError::corrupt(key, e)),
        }
    }

    fn put_json<T: Serialize>(&mut self, key: String, v: &T) {
        // Model types are plain data and always serialize.
        let bytes = serde_json::to_vec(v).expect("model types serialize");
        self.tx.put(key, bytes);
    }

    fn range_json<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, ContractError> {
        let rows = self
            .tx
            .range(prefix, &prefix_end(prefix), RANGE_LIMIT)
            .map_err(ContractError::State)?;
        rows.into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v)
                    .map(|t| (k.clone(), t))
                    .map_err(|e| ContractError::corrupt(k, e))
            })
            .collect()
    }

    fn meta(&self) -> Result<RegistryMeta, ContractError> {
        self.get_json(keys::META)?.ok_or_else(|| {
            ContractError::conflict(
                "the registry",
                "empty",
                "the contract has not been founded yet; call `found` with the ops channel's members first",
            )
        })
    }

    fn channel(&self, name: &str) -> Result<Option<ChannelEntry>, ContractError> {
        self.get_json(&keys::channel(name))
    }

    fn registered(&self, name: &str) -> Result<ChannelEntry, ContractError> {
        self.channel(name)?.ok_or_else(|| {
            ContractError::not_found(
                format!("channel {name} in the registry"),
                "register it with a ChannelCreate or RegistryChange proposal",
            )
        })
    }

    fn governance(&self) -> Result<Governance, ContractError> {
        Ok(self.get_json(keys::GOVERNANCE)?.unwrap_or_default())
    }

    fn load(&self, id: &str) -> Result<Proposal, ContractError> {
        validate::proposal_id("id", id)?;
        self.get_json(&keys::proposal(id))?.ok_or_else(|| {
            ContractError::not_found(
                format!("proposal {id}"),
                "check the ID, or find proposals with the `list` query",
            )
        })
    }

    /// Stores the proposal; one that reached a terminal state leaves the
    /// open indexes (the agents' hot path and the proposer's limit).
    fn save(&mut self, p: &Proposal) {
        self.put_json(keys::proposal(&p.id), p);
        if p.state.is_terminal() {
            self.tx.delete(keys::open(p.created_at, &p.id));
            self.tx.delete(keys::open_by(&p.proposer, &p.id));
        }
    }

    fn emit(&mut self, name: &str, p: Option<&Proposal>, moved: &[Moved], detail: Value) {
        debug_assert!(self.event.is_none(), "one event per transaction");
        let payload = json!({
            "event": name,
            "tx_id": self.ctx.tx_id,
            "actor": self.me(),
            "at": self.now,
            "proposal_id": p.map(|p| p.id.clone()),
            "kind": p.map(|p| p.kind),
            "channel": p.map(|p| p.target.channel.clone()),
            "chaincode": p.and_then(|p| p.target.chaincode.clone()),
            "state": p.map(|p| p.state),
            "transitions": moved,
            "detail": detail,
        });
        self.event = Some(Event {
            name: name.to_string(),
            // A serde_json::Value always serializes.
            payload: serde_json::to_vec(&payload).expect("JSON value serializes"),
        });
    }

    /// Moves `p` to `to` (checked against the transition table) and records it.
    fn move_to(
        &self,
        p: &mut Proposal,
        to: ProposalState,
        note: impl Into<String>,
    ) -> Result<Moved, ContractError> {
        let from = p.state;
        if !from.can_move_to(to) {
            return Err(ContractError::corrupt(
                keys::proposal(&p.id),
                format!("illegal transition {from} -> {to}"),
            ));
        }
        p.state = to;
        p.history.push(Transition {
            at: self.now,
            tx_id: self.ctx.tx_id.clone(),
            actor: self.me().to_string(),
            from: Some(from),
            to,
            note: note.into(),
        });
        Ok(Moved {
            proposal_id: p.id.clone(),
            from: Some(from),
            to,
        })
    }

    fn count(&self, p: &Proposal) -> Result<Count, ContractError> {
        self.count_of(p, None)
    }

    /// Counts the votes of the electorate on `p`: every one (a range read),
    /// or, given `named`, only those organizations' votes plus the caller's
    /// own, one key read each (see [`crate::api::VoteArgs::counted`]).
    /// Each organization counts once whatever the list repeats.
    fn count_of(&self, p: &Proposal, named: Option<&[String]>) -> Result<Count, ContractError> {
        let votes: Vec<Vote> = match named {
            None => self
                .range_json::<Vote>(&keys::vote_prefix(&p.id))?
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
            Some(named) => {
                let mut orgs: Vec<&str> = named.iter().map(String::as_str).collect();
                orgs.push(self.me());
                orgs.sort_unstable();
                orgs.dedup();
                let mut votes = Vec::new();
                for org in orgs
                    .into_iter()
                    .filter(|o| p.electorate.iter().any(|m| m == o))
                {
                    if let Some(v) = self.get_json::<Vote>(&keys::vote(&p.id, org))? {
                        votes.push(v);
                    }
                }
                votes
            }
        };
        let mut c = Count::default();
        for v in votes {
            if !p.electorate.contains(&v.org) {
                continue;
            }
            c.latest = c.latest.max(v.cast_at);
            match v.decision {
                Decision::Approve => c.approvals.push(v.org),
                Decision::Reject => c.rejections.push(v.org),
            }
        }
        Ok(c)
    }

    /// The organizations of the electorate that attested the deadline passed.
    fn attestations(&self, p: &Proposal) -> Result<Vec<String>, ContractError> {
        Ok(self
            .range_json::<ExpiryAttestation>(&keys::expiry_prefix(&p.id))?
            .into_iter()
            .map(|(_, a)| a.org)
            .filter(|o| p.electorate.contains(o))
            .collect())
    }

    /// Expiry attestations needed: as many organizations as a rejection
    /// (`n - quorum + 1`), so expiring gives no coalition more power than
    /// voting reject would, and one organization's clock cannot end another
    /// organization's change.
    fn expiry_needed(p: &Proposal) -> usize {
        (p.electorate.len() as u32)
            .saturating_sub(p.quorum)
            .saturating_add(1) as usize
    }

    /// Decides an undecided proposal from its votes, or expires it when
    /// enough of the electorate attested that the deadline passed. Writes
    /// nothing; returns the moves made on `p` (empty when it stays
    /// undecided). The decision time is the transaction time, but never
    /// before the latest vote it counts.
    fn settle(&self, p: &mut Proposal) -> Result<Vec<Moved>, ContractError> {
        self.settle_counting(p, None)
    }

    /// [`Self::settle`], counting only the `named` votes when given (see
    /// [`Self::count_of`]).
    fn settle_counting(
        &self,
        p: &mut Proposal,
        named: Option<&[String]>,
    ) -> Result<Vec<Moved>, ContractError> {
        if !p.state.is_undecided() {
            return Ok(Vec::new());
        }
        let count = self.count_of(p, named)?;
        let decided_at = self.now.max(count.latest);
        match count.decides(p.electorate.len(), p.quorum) {
            Some(ProposalState::Approved) => {
                let note = format!(
                    "{} of {} approved (quorum {})",
                    count.approvals.len(),
                    p.electorate.len(),
                    p.quorum
                );
                self.record_decision(p, &count, decided_at);
                if p.kind.is_meta() {
                    let m = self.move_to(p, ProposalState::Committed, note)?;
                    Ok(vec![m])
                } else {
                    let gov = self.governance()?;
                    p.execution = Some(Execution {
                        attempt: 1,
                        started_at: decided_at,
                        timeout_secs: gov.executor_timeout_secs,
                        order: channel_members_first(p, executor_order(&p.id, &count.approvals)),
                        claimed_by: None,
                        claimed_at: None,
                        failures: Vec::new(),
                        committed: None,
                    });
                    Ok(vec![self.move_to(p, ProposalState::Approved, note)?])
                }
            }
            Some(_) => {
                let note = format!(
                    "{} of {} rejected; {} approvals can no longer be reached",
                    count.rejections.len(),
                    p.electorate.len(),
                    p.quorum
                );
                self.record_decision(p, &count, decided_at);
                Ok(vec![self.move_to(p, ProposalState::Rejected, note)?])
            }
            None => {
                let attested = self.attestations(p)?;
                if attested.len() >= Self::expiry_needed(p) {
                    let note = format!(
                        "deadline {} passed by the clocks of {} with {} of {} approvals needed",
                        p.deadline,
                        attested.join(", "),
                        count.approvals.len(),
                        p.quorum
                    );
                    Ok(vec![self.move_to(p, ProposalState::Expired, note)?])
                } else {
                    Ok(Vec::new())
                }
            }
        }
    }

    fn record_decision(&self, p: &mut Proposal, c: &Count, at: i64) {
        let mut approvals = c.approvals.clone();
        approvals.sort();
        let mut rejections = c.rejections.clone();
        rejections.sort();
        p.decision = Some(DecisionInfo {
            at,
            tx_id: self.ctx.tx_id.clone(),
            approvals,
            rejections,
        });
    }

    /// Records this organization's expiry attestation (its clock says the
    /// deadline of the undecided `p` passed) and settles `p` when enough of
    /// the electorate attested. Returns the moves (empty while more
    /// attestations are needed); saves `p` when it moved.
    fn attest_expiry(&mut self, p: &mut Proposal) -> Result<Vec<Moved>, ContractError> {
        let key = keys::expiry(&p.id, self.me());
        if self.tx.get(&key).map_err(ContractError::State)?.is_none() {
            let a = ExpiryAttestation {
                proposal_id: p.id.clone(),
                org: self.me().to_string(),
                at: self.now,
                tx_id: self.ctx.tx_id.clone(),
                actor: self.actor.clone(),
            };
            self.put_json(key, &a);
        }
        let moved = self.settle(p)?;
        if !moved.is_empty() {
            self.apply_if_committed(p)?;
            self.save(p);
        }
        Ok(moved)
    }

    /// After a meta proposal moved to Committed in `settle`, applies it.
    fn apply_if_committed(&mut self, p: &Proposal) -> Result<(), ContractError> {
        if p.kind.is_meta() && p.state == ProposalState::Committed {
            self.apply_effects(p)?;
        }
        Ok(())
    }

    /// Records a decision `settle` made on `p` (the moves `moved`, not
    /// empty): applies a committed meta proposal, saves `p` and emits the
    /// event of its new state with the decision, the execution and `extra`
    /// (merged into the event's detail). The one path by which `tally` and
    /// a deciding `vote` finish.
    fn conclude(
        &mut self,
        p: &Proposal,
        moved: &[Moved],
        extra: Value,
    ) -> Result<(), ContractError> {
        self.apply_if_committed(p)?;
        self.save(p);
        let to = moved.last().map(|m| m.to).unwrap_or(p.state);
        let mut detail = json!({ "decision": p.decision, "execution": p.execution });
        if let (Some(d), Value::Object(x)) = (detail.as_object_mut(), extra) {
            d.extend(x);
        }
        self.emit(Self::event_name_for(to), Some(p), moved, detail);
        Ok(())
    }

    fn event_name_for(to: ProposalState) -> &'static str {
        match to {
            ProposalState::Proposed => "ProposalFiled",
            ProposalState::Approved => "ProposalApproved",
            ProposalState::Committed => "ProposalCommitted",
            ProposalState::Failed => "ProposalFailed",
            ProposalState::Rejected => "ProposalRejected",
            ProposalState::Expired => "ProposalExpired",
            ProposalState::Withdrawn => "ProposalWithdrawn",
            ProposalState::Superseded => "ProposalSuperseded",
        }
    }

    /// The reply to a call that found the proposal past its deadline (by
    /// the caller's clock): the call counted as the caller's expiry
    /// attestation instead of doing what was asked.
    fn attested_instead(&mut self, p: &Proposal, moved: Vec<Moved>, asked: &str) -> Value {
        let name = match moved.last() {
            Some(m) => Self::event_name_for(m.to),
            None => "ExpiryAttested",
        };
        self.emit(
            name,
            Some(p),
            &moved,
            json!({ "trigger": asked, "org": self.me() }),
        );
        let message = if p.state.is_undecided() {
            format!(
                "the voting deadline {} has passed by this transaction's time; the {asked} was recorded as {}'s expiry attestation instead ({} of the electorate must attest)",
                p.deadline,
                self.me(),
                Self::expiry_needed(p)
            )
        } else {
            format!(
                "the voting deadline {} has passed; the proposal was settled as {} and the {asked} was not applied",
                p.deadline, p.state
            )
        };
        json!({
            "outcome": "not_applied",
            "id": p.id,
            "state": p.state,
            "message": message,
        })
    }

    fn require_member(&self, p: &Proposal, action: &str) -> Result<(), ContractError> {
        if p.electorate.iter().any(|m| m == self.me()) {
            Ok(())
        } else {
            Err(ContractError::forbidden(
                self.me(),
                action,
                format!(
                    "it is not in the electorate of proposal {} ({})",
                    p.id,
                    p.electorate.join(", ")
                ),
            ))
        }
    }

    // ------------------------------------------------------------ found

    fn found(&mut self, a: FoundArgs) -> Result<Value, ContractError> {
        validate::channel_name("ops_channel", &a.ops_channel)?;
        let members = validate::member_list("members", &a.members)?;
        let mut channels: Vec<ChannelInput> = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, c) in a.channels.iter().enumerate() {
            let f = format!("channels[{i}]");
            validate::channel_name(&format!("{f}.name"), &c.name)?;
            if c.name == a.ops_channel || !seen.insert(c.name.clone()) {
                return Err(ContractError::bad(
                    format!("{f}.name"),
                    format!(
                        "channel {} is listed twice (the ops channel is listed by ops_channel)",
                        c.name
                    ),
                ));
            }
            let cm = validate::member_list(&format!("{f}.members"), &c.members)?;
            if let Some(m) = cm.iter().find(|m| !members.contains(m)) {
                return Err(ContractError::bad(
                    format!("{f}.members"),
                    format!(
                        "{m} is not a member of the ops channel; every organization votes there"
                    ),
                ));
            }
            channels.push(ChannelInput {
                name: c.name.clone(),
                members: cm,
                policies: c.policies,
            });
        }
        if let Some(g) = &a.governance {
            api::check_governance("governance", g)?;
        }
        let mut admin_certs = std::collections::BTreeMap::new();
        for (msp, fps) in &a.admin_certs {
            validate::msp_id("admin_certs", msp)?;
            if !members.contains(msp) {
                return Err(ContractError::bad(
                    "admin_certs",
                    format!("{msp} is not a founding member"),
                ));
            }
            if fps.len() > validate::MAX_MEMBERS {
                return Err(ContractError::bad(
                    format!("admin_certs.{msp}"),
                    format!("lists more than {} certificates", validate::MAX_MEMBERS),
                ));
            }
            let mut list = Vec::new();
            for fp in fps {
                validate::hex_digits(&format!("admin_certs.{msp}"), fp, &[64])?;
                list.push(fp.to_ascii_lowercase());
            }
            list.sort();
            list.dedup();
            admin_certs.insert(msp.clone(), list);
        }
        if self
            .tx
            .get(keys::META)
            .map_err(ContractError::State)?
            .is_some()
        {
            let meta = self.meta()?;
            return Err(ContractError::conflict(
                "the registry",
                "founded",
                format!(
                    "it was founded by {} at {} (tx {}); change it with a RegistryChange proposal",
                    meta.founded_by, meta.founded_at, meta.tx_id
                ),
            ));
        }
        if !members.iter().any(|m| m == self.me()) {
            return Err(ContractError::forbidden(
                self.me(),
                "found the registry",
                "the founder must be one of the founding members",
            ));
        }
        let listed = admin_certs.get(self.me()).cloned().unwrap_or_default();
        self.require_admin_among(&listed)?;
        let gov = a.governance.unwrap_or_default();
        // The content every founding member confirms: the arguments in
        // canonical form (lists sorted, defaults written out), hashed.
        channels.sort_by(|x, y| x.name.cmp(&y.name));
        let content = json!({
            "ops_channel": a.ops_channel,
            "members": members,
            "ops_policies": a.ops_policies,
            "channels": channels,
            "governance": gov,
            "admin_certs": admin_certs,
        });
        let content_hash = hex::encode(Sha256::digest(
            crate::canon::canonical_json(&crate::canon::canonicalize(&content)).as_bytes(),
        ));
        let confirmation = FoundingConfirmation {
            content: content_hash.clone(),
            org: self.me().to_string(),
            at: self.now,
            tx_id: self.ctx.tx_id.clone(),
            actor: self.actor.clone(),
        };
        self.put_json(keys::founding(&content_hash, self.me()), &confirmation);
        let mut waiting_for = Vec::new();
        for m in &members {
            let key = keys::founding(&content_hash, m);
            if self.tx.get(&key).map_err(ContractError::State)?.is_none() {
                waiting_for.push(m.clone());
            }
        }
        if !waiting_for.is_empty() {
            self.emit(
                "FoundingConfirmed",
                None,
                &[],
                json!({ "content": content_hash, "org": self.me(), "waiting_for": waiting_for }),
            );
            return Ok(json!({
                "outcome": "confirmed",
                "content": content_hash,
                "waiting_for": waiting_for,
                "message": "recorded; the registry takes effect when every founding member has called `found` with the same arguments",
            }));
        }
        let meta = RegistryMeta {
            ops_channel: a.ops_channel.clone(),
            founders: members.clone(),
            founded_by: self.me().to_string(),
            founded_at: self.now,
            tx_id: self.ctx.tx_id.clone(),
            admin_certs,
        };
        self.put_json(keys::META.to_string(), &meta);
        let ops = ChannelEntry {
            name: a.ops_channel.clone(),
            members: members.clone(),
            policies: a.ops_policies,
            updated_at: self.now,
            updated_by: "found".into(),
        };
        self.put_json(keys::channel(&ops.name), &ops);
        for c in &channels {
            let e = ChannelEntry {
                name: c.name.clone(),
                members: c.members.clone(),
                policies: c.policies,
                updated_at: self.now,
                updated_by: "found".into(),
            };
            self.put_json(keys::channel(&e.name), &e);
        }
        self.put_json(keys::GOVERNANCE.to_string(), &gov);
        let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
        self.emit(
            "RegistryFounded",
            None,
            &[],
            json!({ "ops_channel": a.ops_channel, "members": members, "channels": names, "content": content_hash }),
        );
        Ok(json!({ "outcome": "founded", "registry": meta, "governance": gov }))
    }

    // ------------------------------------------------------------ propose

    fn propose(&mut self, a: ProposeArgs) -> Result<Value, ContractError> {
        // 1. Arguments alone.
        let (payload, normalized) = api::normalize_payload(a.kind, &a.payload)?;
        self.check_target(&a, &payload)?;
        self.check_spec_ref(&a, &payload)?;
        let id = api::id_of_normalized(a.kind, &a.target, a.round, &normalized);

        // 2. Against the registry: electorate, quorum, preconditions.
        let meta = self.meta()?;
        let gov = self.governance()?;
        let (electorate, quorum, quorum_rule) = self.electorate(&a, &payload, &meta, &gov)?;
        if !electorate.iter().any(|m| m == self.me()) {
            return Err(ContractError::forbidden(
                self.me(),
                format!("propose a {} on {}", a.kind, a.target.channel),
                format!(
                    "only the electorate may propose it ({})",
                    electorate.join(", ")
                ),
            ));
        }

        // 3. Filing again returns the first filing; another organization
        // filing the same open change backs it (its proposer can then no
        // longer withdraw it).
        if let Some(mut existing) = self.get_json::<Proposal>(&keys::proposal(&id))? {
            let backs = !existing.state.is_terminal()
                && existing.proposer != self.me()
                && !existing.also_filed_by.iter().any(|m| m == self.me());
            if backs {
                existing.also_filed_by.push(self.me().to_string());
                existing.also_filed_by.sort();
                self.save(&existing);
                self.emit(
                    "ProposalBacked",
                    Some(&existing),
                    &[],
                    json!({ "org": self.me() }),
                );
            }
            return Ok(json!({
                "outcome": "exists",
                "id": id,
                "state": existing.state,
                "proposer": existing.proposer,
                "deadline": existing.deadline,
                "message": "this change was already filed; the existing proposal is returned",
            }));
        }

        self.check_preconditions(&a, &payload, &meta)?;
        let deadline = match a.deadline {
            None => self.now.saturating_add(gov.voting_period_secs),
            Some(d) => {
                let earliest = self
                    .now
                    .saturating_add(MIN_VOTING_PERIOD_SECS.min(gov.voting_period_secs));
                let latest = self.now.saturating_add(gov.max_voting_period_secs);
                if d < earliest || d > latest {
                    return Err(ContractError::bad(
                        "deadline",
                        format!(
                            "must be between {earliest} and {latest}: at least {} s after the transaction time {} (the minimum voting period) and at most governance max_voting_period_secs = {} after it",
                            MIN_VOTING_PERIOD_SECS.min(gov.voting_period_secs),
                            self.now,
                            gov.max_voting_period_secs
                        ),
                    ));
                }
                d
            }
        };
        self.check_open_limit(&id)?;

        // 4. Supersede this organization's own undecided (or failed)
        // proposal for the same target, once its votes are counted: one
        // that already has its quorum (or enough rejections) is decided
        // instead. Another organization's proposal is never superseded by
        // this filing.
        let mut moved = vec![Moved {
            proposal_id: id.clone(),
            from: None,
            to: ProposalState::Proposed,
        }];
        let target_key = keys::target_of(a.kind, &a.target, self.me());
        let mut superseded = Vec::new();
        if let Some(old_id) = self.get_json::<String>(&target_key)?
            && let Some(mut old) = self.get_json::<Proposal>(&keys::proposal(&old_id))?
            && matches!(old.state, ProposalState::Proposed | ProposalState::Failed)
            && old.proposer == self.me()
        {
            // A failed execution is closed by its proposer's newer change
            // (the alternative, `retry`, stays open until then).
            let mut m = self.settle(&mut old)?;
            if matches!(old.state, ProposalState::Proposed | ProposalState::Failed) {
                m.push(self.move_to(
                    &mut old,
                    ProposalState::Superseded,
                    format!("superseded by {id}, filed by the same organization"),
                )?);
                old.superseded_by = Some(id.clone());
                superseded.push(old.id.clone());
            } else {
                self.apply_if_committed(&old)?;
            }
            self.save(&old);
            moved.extend(m);
        }

        let p = Proposal {
            id: id.clone(),
            kind: a.kind,
            target: a.target.clone(),
            round: a.round,
            payload: normalized,
            spec_ref: a.spec_ref.clone(),
            proposer: self.me().to_string(),
            created_at: self.now,
            created_tx: self.ctx.tx_id.clone(),
            deadline,
            state: ProposalState::Proposed,
            electorate,
            quorum,
            quorum_rule,
            decision: None,
            superseded_by: None,
            also_filed_by: Vec::new(),
            execution: None,
            history: vec![Transition {
                at: self.now,
                tx_id: self.ctx.tx_id.clone(),
                actor: self.me().to_string(),
                from: None,
                to: ProposalState::Proposed,
                note: String::new(),
            }],
        };
        self.save(&p);
        self.put_json(keys::index(p.created_at, &id), &Value::Null);
        self.put_json(keys::open(p.created_at, &id), &Value::Null);
        self.put_json(keys::open_by(self.me(), &id), &Value::Null);
        self.put_json(target_key, &id);
        self.emit(
            "ProposalFiled",
            Some(&p),
            &moved,
            json!({ "deadline": deadline, "quorum": p.quorum, "electorate": p.electorate, "superseded": superseded }),
        );
        Ok(json!({
            "outcome": "filed",
            "id": id,
            "state": p.state,
            "deadline": deadline,
            "quorum": p.quorum,
            "quorum_rule": p.quorum_rule,
            "electorate": p.electorate,
            "superseded": superseded,
        }))
    }

    /// The limit on the caller's open proposals (see [`OPEN_SHARD_FREE`]).
    fn check_open_limit(&self, id: &str) -> Result<(), ContractError> {
        let shard = keys::open_by_shard_prefix(self.me(), id);
        let in_shard = self
            .tx
            .range(&shard, &prefix_end(&shard), OPEN_SHARD_FREE)
            .map_err(ContractError::State)?
            .len();
        if in_shard < OPEN_SHARD_FREE {
            return Ok(());
        }
        let all = keys::open_by_prefix(self.me());
        let total = self
            .tx
            .range(&all, &prefix_end(&all), MAX_OPEN_PER_ORG)
            .map_err(ContractError::State)?
            .len();
        if total >= MAX_OPEN_PER_ORG {
            return Err(ContractError::conflict(
                format!("the open proposals of {}", self.me()),
                "full",
                format!(
                    "it has {total} proposals that are not yet committed, rejected, expired, withdrawn or superseded (at most {MAX_OPEN_PER_ORG}); withdraw or settle some first"
                ),
            ));
        }
        Ok(())
    }

    fn check_target(&self, a: &ProposeArgs, payload: &Payload) -> Result<(), ContractError> {
        validate::channel_name("target.channel", &a.target.channel)?;
        match (a.kind.is_chaincode(), &a.target.chaincode) {
            (true, None) => {
                return Err(ContractError::bad(
                    "target.chaincode",
                    format!("a {} names the chaincode", a.kind),
                ));
            }
            (false, Some(_)) => {
                return Err(ContractError::bad(
                    "target.chaincode",
                    format!("a {} is about a channel; leave chaincode out", a.kind),
                ));
            }
            (true, Some(name)) => {
                validate::chaincode_name("target.chaincode", name)?;
                if let Payload::Chaincode(cc) = payload
                    && &cc.name != name
                {
                    return Err(ContractError::bad(
                        "payload.name",
                        format!("is {:?} but the target chaincode is {name:?}", cc.name),
                    ));
                }
            }
            (false, None) => {}
        }
        Ok(())
    }

    fn check_spec_ref(&self, a: &ProposeArgs, payload: &Payload) -> Result<(), ContractError> {
        let s = &a.spec_ref;
        validate::hex_digits("spec_ref.git_commit", &s.git_commit, &[40, 64])?;
        validate::hex_digits("spec_ref.spec_hash", &s.spec_hash, &[64])?;
        if a.kind.carries_config_update() && s.base_config_sequence.is_none() {
            return Err(ContractError::bad(
                "spec_ref.base_config_sequence",
                format!(
                    "a {} names the config sequence its ConfigUpdate was computed against",
                    a.kind
                ),
            ));
        }
        if let Payload::Chaincode(cc) = payload {
            let Some(committed) = s.committed_chaincode_sequence else {
                return Err(ContractError::bad(
                    "spec_ref.committed_chaincode_sequence",
                    format!(
                        "a {} names the committed definition sequence (0 if none)",
                        a.kind
                    ),
                ));
            };
            if a.kind == Kind::ChaincodeDeploy && committed != 0 {
                return Err(ContractError::bad(
                    "kind",
                    format!(
                        "{} is already committed at sequence {committed}; propose a ChaincodeUpgrade",
                        cc.name
                    ),
                ));
            }
            if a.kind == Kind::ChaincodeUpgrade && committed == 0 {
                return Err(ContractError::bad(
                    "kind",
                    format!(
                        "{} is not committed yet; propose a ChaincodeDeploy",
                        cc.name
                    ),
                ));
            }
            if cc.sequence != committed + 1 {
                return Err(ContractError::bad(
                    "payload.sequence",
                    format!(
                        "is {} but the next sequence after {committed} is {}",
                        cc.sequence,
                        committed + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The electorate (sorted), the quorum and how it was derived.
    fn electorate(
        &self,
        a: &ProposeArgs,
        payload: &Payload,
        meta: &RegistryMeta,
        gov: &Governance,
    ) -> Result<(Vec<String>, u32, String), ContractError> {
        let registered = |name: &str| self.registered(name);
        let raise = |base_name: &str, rule: Rule, level: QuorumLevel, n: u32| -> (u32, String) {
            let base = rule.required(n);
            let raised = level.required(n);
            let q = base.max(raised).max(1);
            let rule_text = format!("{rule:?}").to_uppercase();
            let mut text = format!("{q} of {n}: {base_name} {rule_text} requires {base}");
            if raised > base {
                text.push_str(&format!(
                    "; governance level {level:?} raises it to {raised}"
                ));
            }
            (q, text)
        };
        Ok(match a.kind {
            Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade => {
                let ch = registered(&a.target.channel)?;
                let n = ch.members.len() as u32;
                let (q, t) = raise(
                    "the channel's LifecycleEndorsement",
                    ch.policies.lifecycle_endorsement,
                    gov.quorum.chaincode,
                    n,
                );
                (ch.members, q, t)
            }
            Kind::ChannelUpdate | Kind::OrgAdd | Kind::OrgRemove => {
                let ch = registered(&a.target.channel)?;
                let n = ch.members.len() as u32;
                let level = match a.kind {
                    Kind::OrgAdd => gov.quorum.org_add,
                    Kind::OrgRemove => gov.quorum.org_remove,
                    _ => gov.quorum.channel_update,
                };
                let (q, t) = raise("the channel's Admins policy", ch.policies.admins, level, n);
                (ch.members, q, t)
            }
            Kind::ChannelCreate => {
                // The new channel's name and members are the consortium's
                // business: the ops channel decides, not the members the
                // payload names (one organization could otherwise file,
                // approve and squat a channel name alone).
                let ops = registered(&meta.ops_channel)?;
                let n = ops.members.len() as u32;
                let (q, t) = raise(
                    "the ops channel's Admins policy",
                    ops.policies.admins,
                    gov.quorum.channel_create,
                    n,
                );
                (ops.members, q, t)
            }
            Kind::RegistryChange if a.target.channel == meta.ops_channel => {
                // Repairing the ops channel's own entry: its electorate is
                // the registered members and the members the change names
                // (every organization that can call the contract is on the
                // ops channel, so a listed organization that votes proves
                // its membership), deciding by a majority of them. A
                // captured registry can so be repaired by the real members,
                // and no single member can rewrite it.
                let ops = registered(&meta.ops_channel)?;
                let mut members: BTreeSet<String> = ops.members.into_iter().collect();
                if let Payload::Registry(r) = payload {
                    members.extend(r.members.iter().cloned());
                }
                let members: Vec<String> = members.into_iter().collect();
                let n = members.len() as u32;
                let q = Rule::Majority.required(n).max(1);
                (
                    members,
                    q,
                    format!(
                        "{q} of {n}: a change of the ops channel's entry needs a majority of its registered and named members"
                    ),
                )
            }
            Kind::GovernanceChange | Kind::RegistryChange => {
                let ops = registered(&meta.ops_channel)?;
                let n = ops.members.len() as u32;
                (
                    ops.members,
                    n,
                    format!("{n} of {n}: meta-governance needs every member of the ops channel"),
                )
            }
        })
    }

    /// Relations between the proposal and the registry.
    fn check_preconditions(
        &self,
        a: &ProposeArgs,
        payload: &Payload,
        meta: &RegistryMeta,
    ) -> Result<(), ContractError> {
        let ch = &a.target.channel;
        let ops_members = self
            .channel(&meta.ops_channel)?
            .map(|e| e.members)
            .unwrap_or_default();
        match payload {
            Payload::OrgChange(OrgChangePayload {
                org, config_update, ..
            }) => {
                let entry = self.registered(ch)?;
                // An OrgAdd/OrgRemove cannot state new rules, so it may not
                // change the policies the quorum is counted with.
                let update = validate::base64_bytes("payload.config_update", config_update)?;
                if update_rules::written(&update).any() {
                    return Err(ContractError::bad(
                        "payload.config_update",
                        format!(
                            "the update changes {ch}'s Admins or LifecycleEndorsement policy, which an {} cannot record; file that change as a ChannelUpdate",
                            a.kind
                        ),
                    ));
                }
                let is_member = entry.members.contains(org);
                if a.kind == Kind::OrgAdd {
                    if is_member {
                        return Err(ContractError::bad(
                            "payload.org",
                            format!("{org} is already a member of {ch}"),
                        ));
                    }
                    // Not required to be on the ops channel yet: the
                    // OrgAdds of every channel a new member joins are
                    // filed together, and one for an application channel
                    // is recorded committed only once the member is on the
                    // ops channel (`report_committed`).
                } else {
                    if !is_member {
                        return Err(ContractError::bad(
                            "payload.org",
                            format!("{org} is not a member of {ch}"),
                        ));
                    }
                    if entry.members.len() == 1 {
                        return Err(ContractError::bad(
                            "payload.org",
                            format!("{org} is the last member of {ch}"),
                        ));
                    }
                }
            }
            Payload::ChannelUpdate(u) => {
                let entry = self.registered(ch)?;
                self.check_update_rules(ch, &entry, u)?;
                if let Some(m) = u.add_members.iter().find(|m| entry.members.contains(m)) {
                    return Err(ContractError::bad(
                        "payload.add_members",
                        format!("{m} is already a member of {ch}"),
                    ));
                }
                if let Some(m) = u.remove_members.iter().find(|m| !entry.members.contains(m)) {
                    return Err(ContractError::bad(
                        "payload.remove_members",
                        format!("{m} is not a member of {ch}"),
                    ));
                }
                let after = entry.members.len() + u.add_members.len() - u.remove_members.len();
                if after == 0 {
                    return Err(ContractError::bad(
                        "payload.remove_members",
                        format!("would leave {ch} with no member"),
                    ));
                }
            }
            Payload::ChannelCreate(c) => {
                if self.channel(ch)?.is_some() {
                    return Err(ContractError::bad(
                        "target.channel",
                        format!("channel {ch} is already registered"),
                    ));
                }
                if let Some(m) = c.members.iter().find(|m| !ops_members.contains(m)) {
                    return Err(ContractError::bad(
                        "payload.members",
                        format!(
                            "{m} is not a member of the ops channel {}; add it there first",
                            meta.ops_channel
                        ),
                    ));
                }
            }
            Payload::Governance(_) => {
                if ch != &meta.ops_channel {
                    return Err(ContractError::bad(
                        "target.channel",
                        format!("governance lives on the ops channel {}", meta.ops_channel),
                    ));
                }
            }
            Payload::Registry(r) => match r.action {
                RegistryAction::Remove => {
                    if ch == &meta.ops_channel {
                        return Err(ContractError::bad(
                            "payload.action",
                            "the ops channel cannot be removed",
                        ));
                    }
                    if self.channel(ch)?.is_none() {
                        return Err(ContractError::bad(
                            "target.channel",
                            format!("channel {ch} is not registered"),
                        ));
                    }
                }
                RegistryAction::Set => {
                    if ch != &meta.ops_channel
                        && let Some(m) = r.members.iter().find(|m| !ops_members.contains(m))
                    {
                        return Err(ContractError::bad(
                            "payload.members",
                            format!(
                                "{m} is not a member of the ops channel {}",
                                meta.ops_channel
                            ),
                        ));
                    }
                }
            },
            Payload::Chaincode(_) => {}
        }
        Ok(())
    }

    /// A ChannelUpdate's stated rules are the ones its update leaves the
    /// channel with ([`update_rules`]): they become the registry's when it
    /// commits, and so the quorum of every later change of the channel. An
    /// update that writes a rule must state it.
    fn check_update_rules(
        &self,
        ch: &str,
        entry: &ChannelEntry,
        u: &ChannelUpdatePayload,
    ) -> Result<(), ContractError> {
        let update = validate::base64_bytes("payload.config_update", &u.config_update)?;
        let written = update_rules::written(&update);
        let expected = update_rules::expected(entry.policies, written);
        let rules = |p: ChannelPolicies| {
            format!(
                "Admins {:?}, LifecycleEndorsement {:?}",
                p.admins, p.lifecycle_endorsement
            )
            .to_uppercase()
        };
        match u.policies {
            None if written.any() => Err(ContractError::bad(
                "payload.policies",
                format!(
                    "the update changes {ch}'s policies to {}; state them in payload.policies",
                    rules(expected)
                ),
            )),
            Some(stated) if stated != expected => Err(ContractError::bad(
                "payload.policies",
                format!(
                    "states {} but {ch} has {} after this update (registered: {}); when the registry is out of step with the channel, repair it with a RegistryChange",
                    rules(stated),
                    rules(expected),
                    rules(entry.policies)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Applies a committed proposal's effect on the registry or governance.
    fn apply_effects(&mut self, p: &Proposal) -> Result<(), ContractError> {
        let payload = api::parse_payload(p.kind, &p.payload)
            .map_err(|e| ContractError::corrupt(keys::proposal(&p.id), e))?;
        let ch = &p.target.channel;
        let change_entry =
            |this: &mut Self, f: &dyn Fn(&mut ChannelEntry)| -> Result<(), ContractError> {
                let mut e = this.channel(ch)?.unwrap_or(ChannelEntry {
                    name: ch.clone(),
                    members: Vec::new(),
                    policies: ChannelPolicies::default(),
                    updated_at: this.now,
                    updated_by: p.id.clone(),
                });
                f(&mut e);
                e.members.sort();
                e.members.dedup();
                e.updated_at = this.now;
                e.updated_by = p.id.clone();
                this.put_json(keys::channel(ch), &e);
                Ok(())
            };
        match payload {
            Payload::Chaincode(_) => {}
            Payload::OrgChange(o) => {
                let add = p.kind == Kind::OrgAdd;
                change_entry(self, &|e: &mut ChannelEntry| {
                    if add {
                        e.members.push(o.org.clone());
                    } else {
                        e.members.retain(|m| m != &o.org);
                    }
                })?;
            }
            Payload::ChannelUpdate(u) => {
                if !u.add_members.is_empty() || !u.remove_members.is_empty() || u.policies.is_some()
                {
                    change_entry(self, &|e: &mut ChannelEntry| {
                        e.members.extend(u.add_members.iter().cloned());
                        e.members.retain(|m| !u.remove_members.contains(m));
                        if let Some(pol) = u.policies {
                            e.policies = pol;
                        }
                    })?;
                }
            }
            Payload::ChannelCreate(c) => {
                change_entry(self, &|e: &mut ChannelEntry| {
                    e.members = c.members.clone();
                    e.policies = c.policies;
                })?;
            }
            Payload::Governance(g) => self.put_json(keys::GOVERNANCE.to_string(), &g.governance),
            Payload::Registry(r) => match r.action {
                RegistryAction::Set => change_entry(self, &|e: &mut ChannelEntry| {
                    e.members = r.members.clone();
                    e.policies = r.policies;
                })?,
                RegistryAction::Remove => self.tx.delete(keys::channel(ch)),
            },
        }
        Ok(())
    }

    // ------------------------------------------------------------ vote

    fn vote(&mut self, a: VoteArgs) -> Result<Value, ContractError> {
        validate::text("reason", &a.reason, validate::MAX_TEXT)?;
        if a.config_signature.is_some() {
            return Err(ContractError::bad(
                "config_signature",
                "votes carry no ConfigSignature: a signature on the ledger before the decision would let anyone submit the update whatever the vote; once the proposal is approved, each approving organization gives it with `sign`",
            ));
        }
        let mut p = self.load(&a.id)?;
        if !p.state.is_undecided() {
            return Err(ContractError::conflict(
                format!("proposal {}", p.id),
                p.state,
                "it is decided; votes are accepted only while it is proposed",
            ));
        }
        self.require_member(&p, "vote")?;
        if self.now >= p.deadline {
            let moved = self.attest_expiry(&mut p)?;
            return Ok(self.attested_instead(&p, moved, "vote"));
        }
        let key = keys::vote(&p.id, self.me());
        if let Some(existing) = self.get_json::<Vote>(&key)? {
            return Err(ContractError::conflict(
                format!("{}'s vote on proposal {}", self.me(), p.id),
                "cast",
                format!(
                    "it voted {:?} at {} (tx {}); votes are immutable",
                    existing.decision, existing.cast_at, existing.tx_id
                ),
            ));
        }
        let v = Vote {
            proposal_id: p.id.clone(),
            org: self.me().to_string(),
            decision: a.decision,
            reason: a.reason,
            config_signature: None,
            cast_at: self.now,
            tx_id: self.ctx.tx_id.clone(),
            actor: self.actor.clone(),
        };
        self.put_json(key, &v);
        // The vote that reaches the quorum (or makes it unreachable) decides,
        // through the same `settle` a tally runs: no separate tally round.
        let moved = self.settle_counting(&mut p, a.counted.as_deref())?;
        let vote_detail = json!({ "org": v.org, "decision": v.decision });
        if moved.is_empty() {
            self.emit("VoteCast", Some(&p), &[], vote_detail);
        } else {
            self.conclude(&p, &moved, json!({ "vote": vote_detail }))?;
        }
        Ok(json!({
            "outcome": "vote_recorded",
            "id": p.id,
            "state": p.state,
            "decision": v.decision,
            "decided": !moved.is_empty(),
            "execution": p.execution,
            "message": if moved.is_empty() {
                "recorded; the proposal stays undecided until a vote (or a `tally`) counts enough votes"
            } else {
                "recorded; this vote decided the proposal"
            },
        }))
    }

    // ------------------------------------------------------------ ballots

    /// Several of the caller's filings, votes and signatures, each on
    /// another proposal, in one transaction: what the calls do as separate
    /// transactions in one block (each is checked exactly as alone, and they
    /// touch disjoint keys; filings see each other, so one organization's
    /// filings count against its open-proposal bound together and do not
    /// invalidate each other as separate transactions reading the same
    /// shard of its open set would), in one endorsement and one validation
    /// instead of one each. One event, `BallotsCast`, lists theirs. A
    /// refused call refuses the whole transaction.
    fn ballots(&mut self, a: BallotsArgs) -> Result<Value, ContractError> {
        if a.calls.is_empty() || a.calls.len() > MAX_BALLOTS {
            return Err(ContractError::bad(
                "calls",
                format!(
                    "{} calls given; pass 1 to {MAX_BALLOTS} (more go in another transaction)",
                    a.calls.len()
                ),
            ));
        }
        let twice = |id: &str| {
            ContractError::bad(
                "calls",
                format!(
                    "two calls on proposal {}; each call must be about another proposal (a vote follows its filing, and a signature its vote, in a later transaction)",
                    truncate(id, 64)
                ),
            )
        };
        let mut ids = BTreeSet::new();
        for id in a.calls.iter().filter_map(BallotCall::id) {
            if !ids.insert(id.to_string()) {
                return Err(twice(id));
            }
        }
        let mut touched = BTreeSet::new();
        let mut results = Vec::with_capacity(a.calls.len());
        let mut events = Vec::with_capacity(a.calls.len());
        for c in a.calls {
            let result = match c {
                BallotCall::Propose(p) => self.propose(p)?,
                BallotCall::Vote(v) => self.vote(v)?,
                BallotCall::Sign(s) => self.sign(s)?,
            };
            // A filing's proposal is known once filed.
            let id = result["id"].as_str().unwrap_or_default().to_string();
            if !touched.insert(id.clone()) {
                return Err(twice(&id));
            }
            results.push(result);
            if let Some(e) = self.event.take() {
                // The contract's own JSON.
                events.push(serde_json::from_slice::<Value>(&e.payload).expect("event JSON"));
            }
        }
        self.emit("BallotsCast", None, &[], json!({ "events": events }));
        Ok(json!({
            "outcome": "ballots_recorded",
            "results": results,
        }))
    }

    // ------------------------------------------------------------ sign

    /// Records an approving organization's ConfigSignature over the approved
    /// proposal's stored ConfigUpdate bytes; the executor reads them with
    /// the `signatures` query. Signing again replaces the organization's
    /// signature (e.g. after its admin certificate was renewed).
    fn sign(&mut self, a: SignArgs) -> Result<Value, ContractError> {
        let header = validate::base64_bytes(
            "config_signature.signature_header",
            &a.config_signature.signature_header,
        )?;
        let signature =
            validate::base64_bytes("config_signature.signature", &a.config_signature.signature)?;
        let p = self.load(&a.id)?;
        if !p.kind.carries_config_update() {
            return Err(ContractError::bad(
                "id",
                format!(
                    "proposal {} is a {}; only ChannelUpdate, OrgAdd and OrgRemove are signed",
                    p.id, p.kind
                ),
            ));
        }
        // Approved, or decided in effect: recorded approvals (the named
        // ones) reach the quorum, and nothing can end such a proposal other
        // than approved (settling counts them before anything else, and
        // `withdraw` refuses it), so the signature follows the decision
        // either way.
        let approvals = match (p.state, &a.counted) {
            (ProposalState::Approved, _) => p
                .decision
                .as_ref()
                .map(|d| d.approvals.clone())
                .unwrap_or_default(),
            (ProposalState::Proposed, Some(named)) => {
                let count = self.count_of(&p, Some(named))?;
                if count.decides(p.electorate.len(), p.quorum) != Some(ProposalState::Approved) {
                    return Err(ContractError::conflict(
                        format!("proposal {}", p.id),
                        p.state,
                        format!(
                            "the named recorded approvals ({}) do not reach the quorum {}: signatures over a ConfigUpdate are released only after the decision, or they would let anyone submit the update whatever the vote",
                            count.approvals.join(", "),
                            p.quorum
                        ),
                    ));
                }
                count.approvals
            }
            _ => {
                return Err(ContractError::conflict(
                    format!("proposal {}", p.id),
                    p.state,
                    "signatures over a ConfigUpdate are given only once the proposal is approved (or its recorded approvals, named in `counted`, reach the quorum): released before the decision, they would let anyone submit the update whatever the vote",
                ));
            }
        };
        // An organization whose approval the decision did not count signs
        // too: its vote was recorded while the proposal was undecided (a
        // decided proposal takes no vote), but the decision counts only the
        // votes it names, and it did not name this one (the two were in one
        // block, or the decider had not seen it). Its consent is on the
        // ledger as surely as the counted ones', and an update may need more
        // signatures than the quorum.
        let voted_approve = || -> Result<bool, ContractError> {
            Ok(self
                .get_json::<Vote>(&keys::vote(&p.id, self.me()))?
                .is_some_and(|v| v.decision == Decision::Approve))
        };
        if !approvals.iter().any(|m| m == self.me()) && !voted_approve()? {
            return Err(ContractError::forbidden(
                self.me(),
                format!("sign the update of proposal {}", p.id),
                format!(
                    "only the organizations that voted to approve it sign (counted by the decision: {})",
                    approvals.join(", ")
                ),
            ));
        }
        let payload = api::parse_payload(p.kind, &p.payload)
            .map_err(|e| ContractError::corrupt(keys::proposal(&p.id), e))?;
        let update_b64 = payload
            .config_update_b64()
            .ok_or_else(|| ContractError::corrupt(keys::proposal(&p.id), "no config_update"))?;
        let update = validate::base64_bytes("payload.config_update", update_b64)
            .map_err(|e| ContractError::corrupt(keys::proposal(&p.id), e))?;
        let listed = self.listed_admins(self.me())?;
        let signer = sig::verify_config_signature(
            self.me(),
            &listed,
            &header,
            &signature,
            &update,
            self.now,
        )
        .map_err(|r| ContractError::bad("config_signature", r))?;
        let entry = SignatureEntry {
            proposal_id: p.id.clone(),
            org: self.me().to_string(),
            config_signature: a.config_signature,
            signer: signer.fingerprint,
            at: self.now,
            tx_id: self.ctx.tx_id.clone(),
        };
        self.put_json(keys::signature(&p.id, self.me()), &entry);
        self.emit(
            "UpdateSigned",
            Some(&p),
            &[],
            json!({ "org": entry.org, "signer": entry.signer }),
        );
        Ok(json!({ "outcome": "signed", "id": p.id, "state": p.state, "org": entry.org }))
    }

    // ------------------------------------------------------------ tally / expire

    fn tally(&mut self, a: TallyArgs, expire: bool) -> Result<Value, ContractError> {
        let mut p = self.load(&a.id)?;
        if !p.state.is_undecided() {
            return Ok(json!({
                "outcome": "already_decided",
                "id": p.id,
                "state": p.state,
                "decision": p.decision,
            }));
        }
        if expire {
            if self.now < p.deadline {
                return Err(ContractError::conflict(
                    format!("proposal {}", p.id),
                    p.state,
                    format!(
                        "its deadline {} has not passed (transaction time {})",
                        p.deadline, self.now
                    ),
                ));
            }
            // An attestation, not a decision: one organization's clock
            // cannot end a proposal (see `expiry_needed`).
            self.require_member(&p, "attest the expiry of")?;
            let moved = self.attest_expiry(&mut p)?;
            let attested = self.attestations(&p)?;
            let name = match moved.last() {
                Some(m) => Self::event_name_for(m.to),
                None => "ExpiryAttested",
            };
            self.emit(
                name,
                Some(&p),
                &moved,
                json!({ "org": self.me(), "attested": attested }),
            );
            return Ok(json!({
                "outcome": if moved.is_empty() { "attested" } else { "decided" },
                "id": p.id,
                "state": p.state,
                "attested": attested,
                "needed": Self::expiry_needed(&p),
            }));
        }
        let count = self.count_of(&p, a.counted.as_deref())?;
        let moved = self.settle_counting(&mut p, a.counted.as_deref())?;
        if moved.is_empty() {
            return Ok(json!({
                "outcome": "pending",
                "id": p.id,
                "state": p.state,
                "approvals": count.approvals,
                "rejections": count.rejections,
                "quorum": p.quorum,
                "electorate": p.electorate,
                "deadline": p.deadline,
            }));
        }
        self.conclude(&p, &moved, json!({}))?;
        Ok(json!({
            "outcome": "decided",
            "id": p.id,
            "state": p.state,
            "approvals": count.approvals,
            "rejections": count.rejections,
            "quorum": p.quorum,
            "execution": p.execution,
        }))
    }

    // ------------------------------------------------------------ withdraw

    fn withdraw(&mut self, a: ReasonArgs) -> Result<Value, ContractError> {
        validate::text("reason", &a.reason, validate::MAX_TEXT)?;
        let mut p = self.load(&a.id)?;
        if !p.state.is_undecided() {
            return Err(ContractError::conflict(
                format!("proposal {}", p.id),
                p.state,
                "only an undecided proposal can be withdrawn",
            ));
        }
        if p.proposer != self.me() {
            return Err(ContractError::forbidden(
                self.me(),
                format!("withdraw proposal {}", p.id),
                format!(
                    "only its proposer {} may withdraw it; vote reject instead",
                    p.proposer
                ),
            ));
        }
        let count = self.count(&p)?;
        // Recorded votes that reach the quorum decide the proposal whether or
        // not a tally recorded it yet: its executor may already be carrying
        // it out (see the agent's commit beside the tally), so it is no
        // longer anyone's to withdraw.
        if count.decides(p.electorate.len(), p.quorum) == Some(ProposalState::Approved) {
            return Err(ContractError::conflict(
                format!("proposal {}", p.id),
                p.state,
                format!(
                    "its recorded votes reach the quorum ({} of {} approved): it is decided, and a `tally` records it",
                    count.approvals.len(),
                    p.quorum
                ),
            ));
        }
        // A change another organization backs (filed it too, or approved
        // it) is no longer the proposer's alone to end.
        let backers: Vec<String> = p
            .also_filed_by
            .iter()
            .chain(count.approvals.iter())
            .filter(|m| *m != self.me())
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !backers.is_empty() {
            return Err(ContractError::forbidden(
                self.me(),
                format!("withdraw proposal {}", p.id),
                format!(
                    "{} backed it (filed it too or approved it); vote reject instead",
                    backers.join(", ")
                ),
            ));
        }
        let m = self.move_to(&mut p, ProposalState::Withdrawn, a.reason)?;
        self.save(&p);
        self.emit("ProposalWithdrawn", Some(&p), &[m], Value::Null);
        Ok(json!({ "outcome": "withdrawn", "id": p.id, "state": p.state }))
    }

    // ------------------------------------------------------------ execution

    fn report_task(&mut self, a: ReportTaskArgs) -> Result<Value, ContractError> {
        // The first task and the ones riding along with it, each checked
        // alike.
        let mut lines = vec![(a.task.clone(), a.status, a.detail.clone())];
        lines.extend(
            a.more
                .iter()
                .map(|t| (t.task.clone(), t.status, t.detail.clone())),
        );
        for (i, (task, _, detail)) in lines.iter().enumerate() {
            let (tf, df) = if i == 0 {
                ("task".to_string(), "detail".to_string())
            } else {
                (
                    format!("more[{}].task", i - 1),
                    format!("more[{}].detail", i - 1),
                )
            };
            validate::task_name(&tf, task)?;
            validate::text(&df, detail, validate::MAX_TEXT)?;
            // A range read does not see the transaction's own writes: two
            // reports of one task here would get the same sequence number.
            if lines[..i].iter().any(|(t, _, _)| t == task) {
                return Err(ContractError::bad(
                    tf,
                    format!("task {task} is reported twice in one call; report it once"),
                ));
            }
        }
        if let Some(org) = &a.org {
            validate::msp_id("org", org)?;
            if org != self.me() {
                return Err(ContractError::forbidden(
                    self.me(),
                    format!("report the {} task of {org}", a.task),
                    "an organization reports only its own tasks",
                ));
            }
        }
        let p = self.load(&a.id)?;
        if !matches!(
            p.state,
            ProposalState::Approved | ProposalState::Committed | ProposalState::Failed
        ) {
            return Err(ContractError::conflict(
                format!("proposal {}", p.id),
                p.state,
                "tasks are reported once a proposal is approved",
            ));
        }
        let added = self.added_orgs(&p)?;
        if !p
            .electorate
            .iter()
            .chain(added.iter())
            .any(|m| m == self.me())
        {
            return Err(ContractError::forbidden(
                self.me(),
                format!("report tasks on proposal {}", p.id),
                "it is neither in the proposal's electorate nor an organization the proposal adds",
            ));
        }
        let all = keys::task_prefix_org(&p.id, self.me());
        let total = self
            .tx
            .range(&all, &prefix_end(&all), MAX_TASKS_PER_ORG)
            .map_err(ContractError::State)?
            .len();
        let mut entries = Vec::with_capacity(lines.len());
        for (task, status, detail) in lines {
            let prefix = keys::task_prefix_org_task(&p.id, self.me(), &task);
            let seq = self
                .tx
                .range(&prefix, &prefix_end(&prefix), MAX_TASK_REPORTS)
                .map_err(ContractError::State)?
                .len() as u32;
            if seq as usize >= MAX_TASK_REPORTS || total + entries.len() >= MAX_TASKS_PER_ORG {
                return Err(ContractError::conflict(
                    format!("the task history of {} on proposal {}", self.me(), p.id),
                    "full",
                    format!(
                        "it holds {seq} reports of {task} and {total} in all (at most {MAX_TASK_REPORTS} per task and {MAX_TASKS_PER_ORG} in all)"
                    ),
                ));
            }
            entries.push(TaskEntry {
                proposal_id: p.id.clone(),
                org: self.me().to_string(),
                task,
                seq,
                status,
                detail,
                at: self.now,
                tx_id: self.ctx.tx_id.clone(),
                actor: self.actor.clone(),
            });
        }
        for e in &entries {
            self.put_json(keys::task(&p.id, self.me(), &e.task, e.seq), e);
        }
        // One event per transaction: the first task, the others listed.
        let first = &entries[0];
        let more: Vec<Value> = entries[1..]
            .iter()
            .map(|e| json!({ "task": e.task, "seq": e.seq, "status": e.status }))
            .collect();
        let mut detail = json!({ "org": first.org, "task": first.task, "seq": first.seq, "status": first.status });
        if !more.is_empty() {
            detail["more"] = Value::Array(more.clone());
        }
        self.emit("TaskReported", Some(&p), &[], detail);
        let mut out = json!({ "outcome": "task_recorded", "id": p.id, "state": p.state, "task": first.task, "seq": first.seq });
        if !more.is_empty() {
            out["more"] = Value::Array(more);
        }
        Ok(out)
    }

    /// Organizations a proposal brings into its channel (they report tasks
    /// such as joining, though they did not vote).
    fn added_orgs(&self, p: &Proposal) -> Result<Vec<String>, ContractError> {
        let payload = api::parse_payload(p.kind, &p.payload)
            .map_err(|e| ContractError::corrupt(keys::proposal(&p.id), e))?;
        Ok(match payload {
            Payload::OrgChange(o) if p.kind == Kind::OrgAdd => vec![o.org],
            Payload::ChannelUpdate(u) => u.add_members,
            _ => Vec::new(),
        })
    }

    fn executing(&self, id: &str) -> Result<(Proposal, Execution), ContractError> {
        let p = self.load(id)?;
        if p.state != ProposalState::Approved {
            return Err(ContractError::conflict(
                format!("proposal {}", p.id),
                p.state,
                "the shared step runs only while a proposal is approved (retry a failed one first)",
            ));
        }
        let exec = p.execution.clone().ok_or_else(|| {
            ContractError::corrupt(keys::proposal(&p.id), "approved without execution data")
        })?;
        Ok((p, exec))
    }

    fn require_eligible(
        &self,
        p: &Proposal,
        exec: &Execution,
        action: &str,
    ) -> Result<(), ContractError> {
        let eligible = exec.eligible(self.now);
        if eligible.iter().any(|m| m == self.me()) {
            return Ok(());
        }
        let when = match exec.order.iter().position(|m| m == self.me()) {
            Some(i) => format!(
                "it becomes eligible at {} (position {} in the executor order)",
                exec.started_at
                    .saturating_add(exec.timeout_secs.saturating_mul(i as i64)),
                i + 1
            ),
            None => "it did not approve the proposal, so it is not in the executor order".into(),
        };
        Err(ContractError::forbidden(
            self.me(),
            format!("{action} proposal {}", p.id),
            format!("the current executor is {}; {when}", eligible.join(" or ")),
        ))
    }

    fn claim_execution(&mut self, a: IdArgs) -> Result<Value, ContractError> {
        let (mut p, mut exec) = self.executing(&a.id)?;
        // A claim's time is the claimant's clock: it is accepted only within
        // the executors' turns counted from the decision, so a claim dated
        // decades ahead cannot hold the shared step.
        if self.now > exec.claim_deadline() {
            return Err(ContractError::conflict(
                format!("the execution of proposal {}", p.id),
                "unclaimable",
                format!(
                    "claims are accepted until {} (every executor's turn after the decision at {}); the transaction time {} is later. Report the outcome without a claim",
                    exec.claim_deadline(),
                    exec.started_at,
                    self.now
                ),
            ));
        }
        self.require_eligible(&p, &exec, "claim the execution of")?;
        exec.claimed_by = Some(self.me().to_string());
        exec.claimed_at = Some(self.now);
        p.execution = Some(exec.clone());
        self.save(&p);
        self.emit(
            "ExecutionClaimed",
            Some(&p),
            &[],
            json!({ "executor": self.me(), "attempt": exec.attempt, "until": self.now.saturating_add(exec.timeout_secs) }),
        );
        Ok(json!({
            "outcome": "claimed",
            "id": p.id,
            "state": p.state,
            "attempt": exec.attempt,
            "until": self.now.saturating_add(exec.timeout_secs),
        }))
    }

    fn report_committed(&mut self, a: ReportCommittedArgs) -> Result<Value, ContractError> {
        validate::text("detail", &a.detail, validate::MAX_TEXT)?;
        let (mut p, mut exec) = self.executing(&a.id)?;
        self.require_eligible(&p, &exec, "report the commit of")?;
        self.require_on_ops_first(&p)?;
        exec.committed = Some(ExecutionReport {
            by: self.me().to_string(),
            at: self.now,
            tx_id: self.ctx.tx_id.clone(),
            attempt: exec.attempt,
            detail: a.detail,
        });
        p.execution = Some(exec);
        let m = self.move_to(&mut p, ProposalState::Committed, "")?;
        self.apply_effects(&p)?;
        self.save(&p);
        self.emit(
            "ProposalCommitted",
            Some(&p),
            &[m],
            json!({ "executor": self.me() }),
        );
        Ok(json!({ "outcome": "committed", "id": p.id, "state": p.state }))
    }

    /// An application channel's member is a member of the ops channel,
    /// where it votes: an OrgAdd of an application channel is recorded
    /// committed (the registry lists the new member there) only once the
    /// registry lists it on the ops channel.
    fn require_on_ops_first(&self, p: &Proposal) -> Result<(), ContractError> {
        if p.kind != Kind::OrgAdd {
            return Ok(());
        }
        let meta = self.meta()?;
        if p.target.channel == meta.ops_channel {
            return Ok(());
        }
        let Some(org) = self.added_orgs(p)?.into_iter().next() else {
            return Ok(());
        };
        let on_ops = self
            .channel(&meta.ops_channel)?
            .is_some_and(|e| e.members.contains(&org));
        if on_ops {
            return Ok(());
        }
        Err(ContractError::conflict(
            format!("proposal {}", p.id),
            p.state,
            format!(
                "{org} is not a member of the ops channel {} yet: report this OrgAdd committed once the ops channel's OrgAdd of {org} is",
                meta.ops_channel
            ),
        ))
    }

    fn report_failed(&mut self, a: ReportFailedArgs) -> Result<Value, ContractError> {
        validate::text("error", &a.error, validate::MAX_TEXT)?;
        if a.error.trim().is_empty() {
            return Err(ContractError::bad("error", "is empty; say what failed"));
        }
        let (mut p, mut exec) = self.executing(&a.id)?;
        self.require_eligible(&p, &exec, "report the failure of")?;
        exec.failures.push(ExecutionReport {
            by: self.me().to_string(),
            at: self.now,
            tx_id: self.ctx.tx_id.clone(),
            attempt: exec.attempt,
            detail: a.error.clone(),
        });
        exec.claimed_by = None;
        exec.claimed_at = None;
        p.execution = Some(exec);
        let m = self.move_to(&mut p, ProposalState::Failed, truncate(&a.error, 256))?;
        self.save(&p);
        self.emit(
            "ProposalFailed",
            Some(&p),
            &[m],
            json!({ "executor": self.me(), "error": a.error }),
        );
        Ok(json!({ "outcome": "failed", "id": p.id, "state": p.state }))
    }

    fn retry(&mut self, a: ReasonArgs) -> Result<Value, ContractError> {
        validate::text("reason", &a.reason, validate::MAX_TEXT)?;
        let mut p = self.load(&a.id)?;
        if p.state != ProposalState::Failed {
            return Err(ContractError::conflict(
                format!("proposal {}", p.id),
                p.state,
                "only a failed proposal can be retried",
            ));
        }
        self.require_member(&p, "retry")?;
        let gov = self.governance()?;
        let mut exec = p.execution.clone().ok_or_else(|| {
            ContractError::corrupt(keys::proposal(&p.id), "failed without execution data")
        })?;
        let approvals = p
            .decision
            .as_ref()
            .map(|d| d.approvals.clone())
            .unwrap_or_default();
        exec.attempt += 1;
        exec.started_at = self.now;
        exec.timeout_secs = gov.executor_timeout_secs;
        exec.order = rotated(&executor_order(&p.id, &approvals), exec.attempt);
        exec.claimed_by = None;
        exec.claimed_at = None;
        p.execution = Some(exec.clone());
        let m = self.move_to(&mut p, ProposalState::Approved, a.reason)?;
        self.save(&p);
        self.emit(
            "ExecutionRetried",
            Some(&p),
            &[m],
            json!({ "attempt": exec.attempt, "order": exec.order }),
        );
        Ok(
            json!({ "outcome": "retrying", "id": p.id, "state": p.state, "attempt": exec.attempt, "order": exec.order }),
        )
    }

    // ------------------------------------------------------------ queries

    fn query_get(&mut self, a: IdArgs) -> Result<Value, ContractError> {
        let p = self.load(&a.id)?;
        let stored_state = p.state;
        let count = self.count(&p)?;
        let voted: BTreeSet<&String> = count
            .approvals
            .iter()
            .chain(count.rejections.iter())
            .collect();
        let missing: Vec<&String> = p.electorate.iter().filter(|m| !voted.contains(m)).collect();
        let eligible = match (&p.execution, p.state) {
            (Some(e), ProposalState::Approved) => e.eligible(self.now),
            _ => Vec::new(),
        };
        Ok(json!({
            "proposal": p,
            "stored_state": stored_state,
            "tally": {
                "approvals": count.approvals,
                "rejections": count.rejections,
                "not_voted": missing,
                "quorum": p.quorum,
                "electorate": p.electorate.len(),
            },
            "eligible_executors": eligible,
            "deadline_passed": p.state.is_undecided() && self.now >= p.deadline,
            "expiry_attested_by": self.attestations(&p)?,
        }))
    }

    fn query_list(&mut self, a: ListArgs) -> Result<Value, ContractError> {
        if let Some(c) = &a.channel {
            validate::channel_name("channel", c)?;
        }
        let page_size = a.page_size.unwrap_or(50);
        if page_size == 0 || page_size > validate::MAX_PAGE {
            return Err(ContractError::bad(
                "page_size",
                format!("must be 1..={}", validate::MAX_PAGE),
            ));
        }
        // `open`: the open index, which holds only proposals not yet in a
        // terminal state, so the agents' pass costs O(open).
        let (prefix, sample) = if a.open {
            (keys::OPEN_PREFIX, keys::open(0, &"0".repeat(64)))
        } else {
            (keys::INDEX_PREFIX, keys::index(0, &"0".repeat(64)))
        };
        let start = match &a.bookmark {
            None => prefix.to_string(),
            Some(b) => {
                if b.len() != sample.len()
                    || !b.starts_with(prefix)
                    || !b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'~')
                {
                    return Err(ContractError::bad(
                        "bookmark",
                        "is not a bookmark returned by `list` (with the same `open`)",
                    ));
                }
                format!("{b}~")
            }
        };
        // Without filters a page needs page_size rows (one more tells
        // whether there is a next page); filters may skip rows, up to the
        // scan limit. The read never asks for more than that.
        let filtered = a.state.is_some() || a.kind.is_some() || a.channel.is_some();
        let scan_limit = if filtered {
            LIST_SCAN_LIMIT
        } else {
            page_size + 1
        };
        let rows = self
            .tx
            .range(&start, &prefix_end(prefix), scan_limit)
            .map_err(ContractError::State)?;
        let scanned_all = rows.len() < scan_limit;
        let mut items = Vec::new();
        let mut bookmark: Option<String> = None;
        for (i, (key, _)) in rows.iter().enumerate() {
            let Some(id) = keys::id_from_index(key) else {
                continue;
            };
            let Some(p) = self.get_json::<Proposal>(&keys::proposal(id))? else {
                return Err(ContractError::corrupt(
                    key.clone(),
                    "index entry without proposal",
                ));
            };
            let keep = a.state.is_none_or(|s| s == p.state)
                && a.kind.is_none_or(|k| k == p.kind)
                && a.channel.as_ref().is_none_or(|c| c == &p.target.channel);
            if keep {
                items.push(json!({
                    "id": p.id,
                    "kind": p.kind,
                    "target": p.target,
                    "state": p.state,
                    "proposer": p.proposer,
                    "created_at": p.created_at,
                    "deadline": p.deadline,
                    "quorum": p.quorum,
                    "electorate": p.electorate.len(),
                }));
                if items.len() == page_size {
                    if i + 1 < rows.len() || !scanned_all {
                        bookmark = Some(key.clone());
                    }
                    break;
                }
            }
            if i + 1 == rows.len() && !scanned_all {
                bookmark = Some(key.clone());
            }
        }
        Ok(json!({ "items": items, "bookmark": bookmark }))
    }

    /// A page of `list`, the registry, and every listed proposal still open
    /// (proposed or approved) as `get`, `votes`, `tasks` (once approved) and
    /// `signatures` (of a config proposal) answer it: what an agent's
    /// observation reads, in one call instead of one per record.
    fn query_overview(&mut self, a: ListArgs) -> Result<Value, ContractError> {
        let page = self.query_list(a)?;
        let registry = self.query_registry(NoArgs {})?;
        let mut open = serde_json::Map::new();
        for item in page["items"].as_array().into_iter().flatten() {
            let state: ProposalState = serde_json::from_value(item["state"].clone())
                .map_err(|e| ContractError::corrupt("list", e.to_string()))?;
            if !matches!(state, ProposalState::Proposed | ProposalState::Approved) {
                continue;
            }
            let kind: Kind = serde_json::from_value(item["kind"].clone())
                .map_err(|e| ContractError::corrupt("list", e.to_string()))?;
            let id = item["id"].as_str().unwrap_or_default().to_string();
            let of = |id: &str| IdArgs { id: id.to_string() };
            let got = self.query_get(of(&id))?;
            let votes = self.query_votes(of(&id))?["votes"].take();
            let tasks = if state == ProposalState::Approved {
                self.query_tasks(TasksArgs {
                    id: id.clone(),
                    org: None,
                })?["tasks"]
                    .take()
            } else {
                json!([])
            };
            let signatures = if kind.carries_config_update() {
                self.query_signatures(of(&id))?["signatures"].take()
            } else {
                json!([])
            };
            open.insert(
                id,
                json!({ "get": got, "votes": votes, "tasks": tasks, "signatures": signatures }),
            );
        }
        Ok(json!({
            "items": page["items"],
            "bookmark": page["bookmark"],
            "registry": registry,
            "open": open,
        }))
    }

    fn query_votes(&mut self, a: IdArgs) -> Result<Value, ContractError> {
        let p = self.load(&a.id)?;
        let votes: Vec<Vote> = self
            .range_json::<Vote>(&keys::vote_prefix(&p.id))?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        Ok(json!({ "id": p.id, "votes": votes }))
    }

    fn query_signatures(&mut self, a: IdArgs) -> Result<Value, ContractError> {
        let p = self.load(&a.id)?;
        let signatures: Vec<SignatureEntry> = self
            .range_json::<SignatureEntry>(&keys::signature_prefix(&p.id))?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        Ok(json!({ "id": p.id, "state": p.state, "signatures": signatures }))
    }

    fn query_tasks(&mut self, a: TasksArgs) -> Result<Value, ContractError> {
        let p = self.load(&a.id)?;
        let prefix = match &a.org {
            Some(org) => {
                validate::msp_id("org", org)?;
                keys::task_prefix_org(&p.id, org)
            }
            None => keys::task_prefix(&p.id),
        };
        let mut tasks: Vec<TaskEntry> = self
            .range_json::<TaskEntry>(&prefix)?
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        tasks.sort_by(|x, y| (x.at, &x.org, &x.task, x.seq).cmp(&(y.at, &y.org, &y.task, y.seq)));
        Ok(json!({ "id": p.id, "tasks": tasks }))
    }

    fn query_history(&mut self, a: IdArgs) -> Result<Value, ContractError> {
        let p = self.load(&a.id)?;
        let mut entries: Vec<(i64, u8, Value)> = Vec::new();
        for t in &p.history {
            entries.push((t.at, 0, json!({ "type": "transition", "at": t.at, "tx_id": t.tx_id, "actor": t.actor, "from": t.from, "to": t.to, "note": t.note })));
        }
        for (_, v) in self.range_json::<Vote>(&keys::vote_prefix(&p.id))? {
            entries.push((v.cast_at, 1, json!({ "type": "vote", "at": v.cast_at, "tx_id": v.tx_id, "actor": v.org, "decision": v.decision, "reason": v.reason })));
        }
        for (_, t) in self.range_json::<TaskEntry>(&keys::task_prefix(&p.id))? {
            entries.push((t.at, 2, json!({ "type": "task", "at": t.at, "tx_id": t.tx_id, "actor": t.org, "task": t.task, "seq": t.seq, "status": t.status, "detail": t.detail })));
        }
        // Stable sort: entries of one time keep transition, vote, task order.
        entries.sort_by_key(|(at, rank, _)| (*at, *rank));
        let history: Vec<Value> = entries.into_iter().map(|(_, _, v)| v).collect();
        Ok(json!({ "id": p.id, "state": p.state, "history": history }))
    }

    fn query_registry(&mut self, _a: NoArgs) -> Result<Value, ContractError> {
        let meta: Option<RegistryMeta> = self.get_json(keys::META)?;
        let channels: Vec<ChannelEntry> = self
            .range_json::<ChannelEntry>(keys::CHANNEL_PREFIX)?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let gov = self.governance()?;
        Ok(json!({ "meta": meta, "channels": channels, "governance": gov }))
    }
}
