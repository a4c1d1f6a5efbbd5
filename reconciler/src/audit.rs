//! `opssc audit`'s pure core: who changed what, and who agreed.
//!
//! The facts come from three places that any organization (or an auditor
//! with read access) reads alike: the OpsSC contract on the ops channel (each
//! proposal with its history, votes, signatures and task reports, every one
//! carrying its transaction ID), the blocks of the ops channel and of the
//! target channels (in which block each of those transactions is, the
//! `_lifecycle` commit of a chaincode definition, the config block of a
//! channel update), and the spec repository (the commit a proposal was filed
//! from: its author, the admin who signed it, the admins who approved its
//! tree, the pull request its message names). The shell
//! (`commands/audit.rs`) reads them; [`join`] turns them into one
//! [`AuditRecord`] per proposal, and [`render_text`], [`render_markdown`]
//! and [`render_json`] print them.
//!
//! Key decisions:
//! - The contract records the transaction ID of every step but not its
//!   block; the block is found by scanning the ops channel once
//!   ([`ChainIndex::ops_blocks`]). A step whose transaction is not found
//!   keeps its ID with `block: null`.
//! - The executor's shared step is not recorded by the contract beyond a
//!   free-text detail: a chaincode definition is matched to the valid
//!   `_lifecycle` `CommitChaincodeDefinition` transaction of the target
//!   channel with the proposal's name and sequence ([`lifecycle_commit`]);
//!   a config update to the config block whose `last_update` carries the
//!   proposal's exact `ConfigUpdate` bytes ([`ConfigBlockFact`]). A config
//!   block's own envelope has no transaction ID (the orderer makes it), so
//!   the record names the ID of the `CONFIG_UPDATE` transaction the block
//!   applied, marked `kind: "config_block"`.
//! - Every transaction reference names its channel, ID and block, so a tool
//!   checks a record against the chain without knowing the schema.
//! - The JSON schema is versioned ([`SCHEMA`]); fields are only added.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use opssc_chaincode::model::{
    Decision, Kind, Proposal, ProposalState, SignatureEntry, TaskEntry, TaskStatus, Vote,
};
use opssc_fabric::protos::common::{self, Block, ChannelHeader, Envelope, Payload};
use opssc_fabric::protos::lifecycle as lc;
use opssc_fabric::protos::peer;
use prost::Message;
use serde::Serialize;

use crate::agent::status::rfc3339_utc;

/// The `schema` field of the JSON output.
pub const SCHEMA: &str = "opssc.audit/v1";

// ------------------------------------------------------------------ inputs

/// What the contract holds about one proposal.
#[derive(Debug, Clone)]
pub struct ProposalFacts {
    pub proposal: Proposal,
    pub votes: Vec<Vote>,
    pub signatures: Vec<SignatureEntry>,
    pub tasks: Vec<TaskEntry>,
}

/// An admin as the spec lists them, with the key they used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Admin {
    pub org: String,
    pub name: String,
    /// The SSH key's SHA-256 fingerprint.
    pub key: String,
}

/// An admin's signed approval of a commit's spec tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalFact {
    #[serde(flatten)]
    pub admin: Admin,
    /// The approval commit under `refs/opssc/approvals/`.
    pub approval_commit: String,
    pub at: String,
}

/// A spec commit as the repository shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecCommit {
    pub commit: String,
    pub author: String,
    pub author_email: String,
    pub at: String,
    /// The message's first line.
    pub subject: String,
    /// The pull request the message names (`Merge pull request #12`, `(#12)`).
    pub pull_request: Option<u64>,
    /// The admin whose key signed the commit, judged by its parent's spec.
    pub signed_by: Option<Admin>,
    /// Admins who approved the commit's spec tree.
    pub approvals: Vec<ApprovalFact>,
}

/// A valid `_lifecycle` `CommitChaincodeDefinition` transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleCommit {
    pub block: u64,
    pub tx_id: String,
    pub name: String,
    pub sequence: i64,
}

/// A config block of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigBlockFact {
    pub block: u64,
    pub sequence: u64,
    /// The `ConfigUpdate` bytes the block applied (none for a genesis block).
    pub update: Option<Vec<u8>>,
    /// The ID of the `CONFIG_UPDATE` transaction the block applied.
    pub update_tx_id: Option<String>,
}

/// What one channel's blocks say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelScan {
    pub lifecycle_commits: Vec<LifecycleCommit>,
    pub config_blocks: Vec<ConfigBlockFact>,
}

/// What the blocks say, read once per audit.
#[derive(Debug, Clone, Default)]
pub struct ChainIndex {
    pub ops_channel: String,
    /// Transaction ID → block number on the ops channel (valid transactions).
    pub ops_blocks: HashMap<String, u64>,
    /// By channel name.
    pub channels: BTreeMap<String, ChannelScan>,
}

/// Which records to keep. Times are Unix seconds, compared with the filing time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub channel: Option<String>,
    pub chaincode: Option<String>,
    /// Records this organization took part in (filed, voted, signed, executed,
    /// reported a task, approved the spec commit, or is added/removed).
    pub org: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

// ------------------------------------------------------------------ output

/// A transaction on a channel, and the block it is in (`None`: not found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxRef {
    pub channel: String,
    pub tx_id: String,
    pub block: Option<u64>,
    /// `transaction`, or `config_block` (the ID is the applied CONFIG_UPDATE's).
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filed {
    pub proposer: String,
    pub at: String,
    pub tx: TxRef,
    /// Other organizations that filed the same change while it was open.
    pub also_filed_by: Vec<String>,
    pub electorate: Vec<String>,
    pub quorum: u32,
    pub quorum_rule: String,
    pub deadline: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoteRecord {
    pub org: String,
    /// SHA-256 of the submitting identity's certificate.
    pub identity: String,
    pub decision: &'static str,
    pub reason: String,
    pub at: String,
    pub tx: TxRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    pub outcome: String,
    pub at: String,
    pub tx: TxRef,
    pub approvals: Vec<String>,
    pub rejections: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureRecord {
    pub org: String,
    /// SHA-256 of the signing certificate.
    pub signer: String,
    pub at: String,
    pub tx: TxRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRecord {
    pub by: String,
    pub attempt: u32,
    pub at: String,
    pub detail: String,
    pub tx: TxRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutionRecord {
    /// Who reported the shared step done (or the claimant, while open).
    pub executor: Option<String>,
    /// The executor order of the current attempt.
    pub order: Vec<String>,
    pub failures: Vec<ReportRecord>,
    pub committed: Option<ReportRecord>,
}

/// The change on the target channel: the definition commit or config block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedRecord {
    /// What the transaction is: `chaincode definition`, `config update`,
    /// `channel genesis`, `registry (applied by the deciding tally)`.
    pub what: String,
    pub tx: Option<TxRef>,
    /// The config sequence the block set (config kinds).
    pub config_sequence: Option<u64>,
    /// Why it is unknown, when it is.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRecord {
    pub org: String,
    pub task: String,
    pub seq: u32,
    pub status: &'static str,
    pub detail: String,
    pub at: String,
    pub tx: TxRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionRecord {
    pub from: Option<String>,
    pub to: String,
    pub by: String,
    pub at: String,
    pub note: String,
    pub tx: TxRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecRecord {
    pub commit: String,
    /// The repository's facts; `None` when the commit is not in it (or the
    /// proposal was filed without one: all zeros).
    pub found: Option<SpecCommit>,
}

/// One change, from the spec commit to the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub proposal_id: String,
    pub kind: String,
    pub channel: String,
    pub chaincode: Option<String>,
    /// For people: `OrgAdd Org4MSP on channel ops`, `ChaincodeUpgrade trade/kv 2.0`.
    pub change: String,
    pub round: u32,
    /// The proposal's state now: committed, rejected, failed, ...
    pub outcome: String,
    pub spec: SpecRecord,
    pub filed: Filed,
    pub votes: Vec<VoteRecord>,
    pub decision: Option<DecisionRecord>,
    pub signatures: Vec<SignatureRecord>,
    pub execution: Option<ExecutionRecord>,
    pub applied: Option<AppliedRecord>,
    pub tasks: Vec<TaskRecord>,
    pub history: Vec<TransitionRecord>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Audit {
    pub schema: &'static str,
    pub ops_channel: String,
    pub filter: Filter,
    pub records: Vec<AuditRecord>,
}

// ------------------------------------------------------------------ reading blocks

/// `Merge pull request #12 from ...` or `Title (#12)`: the pull request a
/// commit message names, if any.
pub fn pull_request_number(message: &str) -> Option<u64> {
    let first = message.lines().next().unwrap_or("");
    let digits = |s: &str| -> Option<u64> {
        let n: String = s.chars().take_while(char::is_ascii_digit).collect();
        n.parse().ok()
    };
    if let Some(rest) = first.strip_prefix("Merge pull request #") {
        return digits(rest);
    }
    // The last "(#N)" of the subject (GitHub's squash merge).
    let mut found = None;
    let mut from = 0;
    while let Some(i) = first[from..].find("(#") {
        let at = from + i + 2;
        if let Some(n) = digits(&first[at..])
            && first[at..]
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with(')')
        {
            found = Some(n);
        }
        from = at;
    }
    found
}

/// A chaincode invocation read from a block's endorser transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub tx_id: String,
    pub chaincode: String,
    pub args: Vec<Vec<u8>>,
}

/// The chaincode invocation of an endorser transaction envelope (raw bytes
/// as in a block); `None` for any other transaction.
pub fn invocation(raw_envelope: &[u8]) -> Option<Invocation> {
    let env = Envelope::decode(raw_envelope).ok()?;
    let payload = Payload::decode(env.payload.as_slice()).ok()?;
    let header = payload.header?;
    let ch = ChannelHeader::decode(header.channel_header.as_slice()).ok()?;
    if ch.r#type != common::HeaderType::EndorserTransaction as i32 {
        return None;
    }
    let tx = peer::Transaction::decode(payload.data.as_slice()).ok()?;
    let action = tx.actions.first()?;
    let cap = peer::ChaincodeActionPayload::decode(action.payload.as_slice()).ok()?;
    let ccpp =
        peer::ChaincodeProposalPayload::decode(cap.chaincode_proposal_payload.as_slice()).ok()?;
    let cis = peer::ChaincodeInvocationSpec::decode(ccpp.input.as_slice()).ok()?;
    let spec = cis.chaincode_spec?;
    Some(Invocation {
        tx_id: ch.tx_id,
        chaincode: spec.chaincode_id.map(|c| c.name).unwrap_or_default(),
        args: spec.input.map(|i| i.args).unwrap_or_default(),
    })
}

/// `(name, sequence)` when the invocation commits a chaincode definition.
pub fn lifecycle_commit(inv: &Invocation) -> Option<(String, i64)> {
    if inv.chaincode != "_lifecycle"
        || inv.args.first().map(Vec::as_slice) != Some(b"CommitChaincodeDefinition".as_slice())
    {
        return None;
    }
    let a = lc::CommitChaincodeDefinitionArgs::decode(inv.args.get(1)?.as_slice()).ok()?;
    Some((a.name, a.sequence))
}

/// The config block's facts: the sequence, the update it applied and that
/// update's transaction ID; `None` when the block is not a config block.
pub fn config_block_fact(block: &Block) -> Option<ConfigBlockFact> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let raw = block.data.as_ref()?.data.first()?;
    let env = Envelope::decode(raw.as_slice()).ok()?;
    let payload = Payload::decode(env.payload.as_slice()).ok()?;
    let ch = ChannelHeader::decode(payload.header?.channel_header.as_slice()).ok()?;
    if ch.r#type != common::HeaderType::Config as i32 {
        return None;
    }
    let ce = common::ConfigEnvelope::decode(payload.data.as_slice()).ok()?;
    let sequence = ce.config.as_ref().map_or(0, |c| c.sequence);
    let (update, update_tx_id) = match ce.last_update.filter(|u| !u.payload.is_empty()) {
        None => (None, None),
        Some(last) => {
            let p = Payload::decode(last.payload.as_slice()).ok()?;
            let tx_id = p
                .header
                .and_then(|h| ChannelHeader::decode(h.channel_header.as_slice()).ok())
                .map(|c| c.tx_id)
                .filter(|t| !t.is_empty());
            let u = common::ConfigUpdateEnvelope::decode(p.data.as_slice()).ok()?;
            (Some(u.config_update), tx_id)
        }
    };
    Some(ConfigBlockFact {
        block: number,
        sequence,
        update,
        update_tx_id,
    })
}

/// What a block adds to its channel's scan, and its valid transaction IDs.
pub fn scan_block(block: &Block, scan: &mut ChannelScan) -> Vec<String> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    if let Some(fact) = config_block_fact(block) {
        scan.config_blocks.push(fact);
    }
    let Ok(txs) = opssc_fabric::block::transactions(block) else {
        return Vec::new();
    };
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or(&[]);
    let mut ids = Vec::new();
    for (tx, raw) in txs.iter().zip(data) {
        if !tx.is_valid() {
            continue;
        }
        ids.push(tx.tx_id.clone());
        if let Some((name, sequence)) = invocation(raw).as_ref().and_then(lifecycle_commit) {
            scan.lifecycle_commits.push(LifecycleCommit {
                block: number,
                tx_id: tx.tx_id.clone(),
                name,
                sequence,
            });
        }
    }
    ids
}

// ------------------------------------------------------------------ joining

fn time(at: i64) -> String {
    rfc3339_utc(SystemTime::UNIX_EPOCH + Duration::from_secs(at.max(0) as u64))
}

fn ops_tx(chain: &ChainIndex, tx_id: &str) -> TxRef {
    TxRef {
        channel: chain.ops_channel.clone(),
        tx_id: tx_id.to_string(),
        block: chain.ops_blocks.get(tx_id).copied(),
        kind: "transaction",
    }
}

/// `OrgAdd Org4MSP on channel ops`, `ChaincodeUpgrade trade/kv 2.0`.
pub fn describe(p: &Proposal) -> String {
    let field = |k: &str| p.payload.get(k).and_then(|v| v.as_str());
    match (&p.target.chaincode, field("org")) {
        (Some(cc), _) => match field("version") {
            Some(v) => format!("{} {}/{cc} {v}", p.kind, p.target.channel),
            None => format!("{} {}/{cc}", p.kind, p.target.channel),
        },
        (None, Some(org)) => format!("{} {org} on channel {}", p.kind, p.target.channel),
        (None, None) => format!("{} of channel {}", p.kind, p.target.channel),
    }
}

/// The shared step's result on the target channel.
fn applied(p: &Proposal, chain: &ChainIndex) -> Option<AppliedRecord> {
    let committed = p.state == ProposalState::Committed;
    let scan = chain.channels.get(&p.target.channel);
    let unknown = |what: &str, note: String| AppliedRecord {
        what: what.into(),
        tx: None,
        config_sequence: None,
        note: Some(note),
    };
    match p.kind {
        k if k.is_chaincode() => {
            let name = p.target.chaincode.clone().unwrap_or_default();
            let sequence = p.payload.get("sequence").and_then(|s| s.as_i64())?;
            let found = scan.and_then(|s| {
                s.lifecycle_commits
                    .iter()
                    .find(|c| c.name == name && c.sequence == sequence)
            });
            match found {
                Some(c) => Some(AppliedRecord {
                    what: format!("chaincode definition {name} sequence {sequence}"),
                    tx: Some(TxRef {
                        channel: p.target.channel.clone(),
                        tx_id: c.tx_id.clone(),
                        block: Some(c.block),
                        kind: "transaction",
                    }),
                    config_sequence: None,
                    note: None,
                }),
                None if committed => Some(unknown(
                    "chaincode definition",
                    format!(
                        "no valid _lifecycle commit of {name} sequence {sequence} in the blocks of channel {}",
                        p.target.channel
                    ),
                )),
                None => None,
            }
        }
        k if k.carries_config_update() => {
            let bytes = p
                .payload
                .get("config_update")
                .and_then(|v| v.as_str())
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())?;
            let found = scan.and_then(|s| {
                s.config_blocks
                    .iter()
                    .find(|b| b.update.as_deref() == Some(bytes.as_slice()))
            });
            match found {
                Some(b) => Some(AppliedRecord {
                    what: "config update".into(),
                    tx: Some(TxRef {
                        channel: p.target.channel.clone(),
                        tx_id: b.update_tx_id.clone().unwrap_or_default(),
                        block: Some(b.block),
                        kind: "config_block",
                    }),
                    config_sequence: Some(b.sequence),
                    note: None,
                }),
                None if committed => Some(unknown(
                    "config update",
                    format!(
                        "no config block of channel {} applied the proposal's update",
                        p.target.channel
                    ),
                )),
                None => None,
            }
        }
        Kind::ChannelCreate if committed => {
            let genesis = scan.and_then(|s| s.config_blocks.iter().find(|b| b.block == 0));
            Some(match genesis {
                Some(b) => AppliedRecord {
                    what: "channel genesis".into(),
                    tx: None,
                    config_sequence: Some(b.sequence),
                    note: Some(format!("block 0 of channel {}", p.target.channel)),
                },
                None => unknown(
                    "channel genesis",
                    format!("channel {} was not read", p.target.channel),
                ),
            })
        }
        k if k.is_meta() && committed => p.decision.as_ref().map(|d| AppliedRecord {
            what: "registry (applied by the deciding tally)".into(),
            tx: Some(ops_tx(chain, &d.tx_id)),
            config_sequence: None,
            note: None,
        }),
        _ => None,
    }
}

fn report(chain: &ChainIndex, r: &opssc_chaincode::model::ExecutionReport) -> ReportRecord {
    ReportRecord {
        by: r.by.clone(),
        attempt: r.attempt,
        at: time(r.at),
        detail: r.detail.clone(),
        tx: ops_tx(chain, &r.tx_id),
    }
}

/// Whether `org` took part in the record.
fn involves(r: &AuditRecord, org: &str) -> bool {
    let spec_orgs = r.spec.found.iter().flat_map(|s| {
        s.signed_by
            .iter()
            .map(|a| a.org.as_str())
            .chain(s.approvals.iter().map(|a| a.admin.org.as_str()))
    });
    r.filed.proposer == org
        || r.filed.also_filed_by.iter().any(|o| o == org)
        || r.votes.iter().any(|v| v.org == org)
        || r.signatures.iter().any(|s| s.org == org)
        || r.tasks.iter().any(|t| t.org == org)
        || r.execution.as_ref().is_some_and(|e| {
            e.executor.as_deref() == Some(org) || e.failures.iter().any(|f| f.by == org)
        })
        || r.change.split(' ').any(|w| w == org)
        || spec_orgs.into_iter().any(|o| o == org)
}

/// One record per proposal, oldest filing first, the filter applied.
pub fn join(
    facts: &[ProposalFacts],
    commits: &BTreeMap<String, SpecCommit>,
    chain: &ChainIndex,
    filter: &Filter,
) -> Audit {
    let mut records: Vec<(i64, AuditRecord)> = Vec::new();
    for f in facts {
        let p = &f.proposal;
        if filter
            .channel
            .as_ref()
            .is_some_and(|c| *c != p.target.channel)
            || filter
                .chaincode
                .as_ref()
                .is_some_and(|c| Some(c) != p.target.chaincode.as_ref())
            || filter.since.is_some_and(|s| p.created_at < s)
            || filter.until.is_some_and(|u| p.created_at > u)
        {
            continue;
        }
        let mut votes: Vec<VoteRecord> = f
            .votes
            .iter()
            .map(|v| VoteRecord {
                org: v.org.clone(),
                identity: v.actor.clone(),
                decision: match v.decision {
                    Decision::Approve => "approve",
                    Decision::Reject => "reject",
                },
                reason: v.reason.clone(),
                at: time(v.cast_at),
                tx: ops_tx(chain, &v.tx_id),
            })
            .collect();
        votes.sort_by(|a, b| (&a.at, &a.org).cmp(&(&b.at, &b.org)));
        let decision = p.decision.as_ref().map(|d| DecisionRecord {
            outcome: p
                .history
                .iter()
                .find(|t| t.tx_id == d.tx_id && t.from == Some(ProposalState::Proposed))
                .map_or_else(|| p.state.to_string(), |t| t.to.to_string()),
            at: time(d.at),
            tx: ops_tx(chain, &d.tx_id),
            approvals: d.approvals.clone(),
            rejections: d.rejections.clone(),
        });
        let execution = p.execution.as_ref().map(|e| ExecutionRecord {
            executor: e
                .committed
                .as_ref()
                .map(|c| c.by.clone())
                .or_else(|| e.claimed_by.clone()),
            order: e.order.clone(),
            failures: e.failures.iter().map(|r| report(chain, r)).collect(),
            committed: e.committed.as_ref().map(|r| report(chain, r)),
        });
        let mut tasks: Vec<&TaskEntry> = f.tasks.iter().collect();
        tasks.sort_by(|a, b| (a.at, &a.org, &a.task, a.seq).cmp(&(b.at, &b.org, &b.task, b.seq)));
        let record = AuditRecord {
            proposal_id: p.id.clone(),
            kind: p.kind.to_string(),
            channel: p.target.channel.clone(),
            chaincode: p.target.chaincode.clone(),
            change: describe(p),
            round: p.round,
            outcome: p.state.to_string(),
            spec: SpecRecord {
                commit: p.spec_ref.git_commit.clone(),
                found: commits.get(&p.spec_ref.git_commit).cloned(),
            },
            filed: Filed {
                proposer: p.proposer.clone(),
                at: time(p.created_at),
                tx: ops_tx(chain, &p.created_tx),
                also_filed_by: p.also_filed_by.clone(),
                electorate: p.electorate.clone(),
                quorum: p.quorum,
                quorum_rule: p.quorum_rule.clone(),
                deadline: time(p.deadline),
            },
            votes,
            decision,
            signatures: f
                .signatures
                .iter()
                .map(|s| SignatureRecord {
                    org: s.org.clone(),
                    signer: s.signer.clone(),
                    at: time(s.at),
                    tx: ops_tx(chain, &s.tx_id),
                })
                .collect(),
            execution,
            applied: applied(p, chain),
            tasks: tasks
                .into_iter()
                .map(|t| TaskRecord {
                    org: t.org.clone(),
                    task: t.task.clone(),
                    seq: t.seq,
                    status: match t.status {
                        TaskStatus::Done => "done",
                        TaskStatus::Failed => "failed",
                    },
                    detail: t.detail.clone(),
                    at: time(t.at),
                    tx: ops_tx(chain, &t.tx_id),
                })
                .collect(),
            history: p
                .history
                .iter()
                .map(|t| TransitionRecord {
                    from: t.from.map(|s| s.to_string()),
                    to: t.to.to_string(),
                    by: t.actor.clone(),
                    at: time(t.at),
                    note: t.note.clone(),
                    tx: ops_tx(chain, &t.tx_id),
                })
                .collect(),
        };
        if filter.org.as_ref().is_some_and(|o| !involves(&record, o)) {
            continue;
        }
        records.push((p.created_at, record));
    }
    records.sort_by(|a, b| (a.0, &a.1.proposal_id).cmp(&(b.0, &b.1.proposal_id)));
    Audit {
        schema: SCHEMA,
        ops_channel: chain.ops_channel.clone(),
        filter: filter.clone(),
        records: records.into_iter().map(|(_, r)| r).collect(),
    }
}

// ------------------------------------------------------------------ rendering

fn tx_text(t: &TxRef) -> String {
    let id = if t.tx_id.is_empty() {
        "(no ID)"
    } else {
        &t.tx_id
    };
    match t.block {
        Some(b) => format!("tx {id} in {} block {b}", t.channel),
        None => format!("tx {id} (block not found on {})", t.channel),
    }
}

fn spec_lines(s: &SpecRecord) -> Vec<String> {
    let Some(c) = &s.found else {
        return vec![format!(
            "spec commit {} (not in the spec repository)",
            s.commit
        )];
    };
    let mut out = vec![format!(
        "spec commit {} by {} <{}> at {}: {}",
        c.commit, c.author, c.author_email, c.at, c.subject
    )];
    if let Some(pr) = c.pull_request {
        out.push(format!("  pull request #{pr}"));
    }
    match &c.signed_by {
        Some(a) => out.push(format!("  signed by {}/{} ({})", a.org, a.name, a.key)),
        None => out.push("  not signed by an admin key the spec lists".into()),
    }
    for a in &c.approvals {
        out.push(format!(
            "  approved by {}/{} ({}) in {} at {}",
            a.admin.org, a.admin.name, a.admin.key, a.approval_commit, a.at
        ));
    }
    out
}

/// For people: one block per change, Terraform-like markers
/// (`+` filed, `✓`/`✗` votes, `=` decision, `*` executed, `-` tasks).
pub fn render_text(a: &Audit) -> String {
    if a.records.is_empty() {
        return "no change matches\n".into();
    }
    let mut out = String::new();
    for r in &a.records {
        out.push_str(&format!(
            "# {} [{}] round {}\n  proposal {}\n",
            r.change, r.outcome, r.round, r.proposal_id
        ));
        for l in spec_lines(&r.spec) {
            out.push_str(&format!("  {l}\n"));
        }
        out.push_str(&format!(
            "  + filed by {} at {} ({}); quorum {} of {} ({})\n",
            r.filed.proposer,
            r.filed.at,
            tx_text(&r.filed.tx),
            r.filed.quorum,
            r.filed.electorate.len(),
            r.filed.quorum_rule
        ));
        if !r.filed.also_filed_by.is_empty() {
            out.push_str(&format!(
                "    also filed by {}\n",
                r.filed.also_filed_by.join(", ")
            ));
        }
        for v in &r.votes {
            let mark = if v.decision == "approve" {
                "✓"
            } else {
                "✗"
            };
            out.push_str(&format!(
                "  {mark} {} {} at {} by {} ({})\n",
                v.org,
                v.decision,
                v.at,
                &v.identity[..v.identity.len().min(16)],
                tx_text(&v.tx)
            ));
            if !v.reason.is_empty() {
                out.push_str(&format!("      {}\n", v.reason.replace('\n', "\n      ")));
            }
        }
        if let Some(d) = &r.decision {
            out.push_str(&format!(
                "  = {} at {} (approvals: {}; rejections: {}) ({})\n",
                d.outcome,
                d.at,
                if d.approvals.is_empty() {
                    "none".into()
                } else {
                    d.approvals.join(", ")
                },
                if d.rejections.is_empty() {
                    "none".into()
                } else {
                    d.rejections.join(", ")
                },
                tx_text(&d.tx)
            ));
        }
        for s in &r.signatures {
            out.push_str(&format!(
                "  ~ {} signed the config update at {} ({})\n",
                s.org,
                s.at,
                tx_text(&s.tx)
            ));
        }
        for t in &r.tasks {
            out.push_str(&format!(
                "  - task {} {} #{} {} at {}: {} ({})\n",
                t.org,
                t.task,
                t.seq,
                t.status,
                t.at,
                t.detail.lines().next().unwrap_or(""),
                tx_text(&t.tx)
            ));
        }
        if let Some(e) = &r.execution {
            for f in &e.failures {
                out.push_str(&format!(
                    "  ! attempt {} failed, reported by {} at {}: {} ({})\n",
                    f.attempt,
                    f.by,
                    f.at,
                    f.detail,
                    tx_text(&f.tx)
                ));
            }
            if let Some(c) = &e.committed {
                out.push_str(&format!(
                    "  * executed by {} (attempt {}) at {}: {} ({})\n",
                    c.by,
                    c.attempt,
                    c.at,
                    c.detail,
                    tx_text(&c.tx)
                ));
            }
        }
        if let Some(ap) = &r.applied {
            let mut line = format!("  > {}", ap.what);
            if let Some(t) = &ap.tx {
                line.push_str(&format!(": {}", tx_text(t)));
            }
            if let Some(s) = ap.config_sequence {
                line.push_str(&format!(", config sequence {s}"));
            }
            if let Some(n) = &ap.note {
                line.push_str(&format!(" ({n})"));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!("  outcome: {}\n\n", r.outcome));
    }
    out.push_str(&format!(
        "{} change{}\n",
        a.records.len(),
        if a.records.len() == 1 { "" } else { "s" }
    ));
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_tx(t: &TxRef) -> String {
    match t.block {
        Some(b) => format!("`{}` {} #{b}", short(&t.tx_id), t.channel),
        None => format!("`{}` (block not found)", short(&t.tx_id)),
    }
}

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}

/// A summary table, then one section per change (for a report or an issue).
pub fn render_markdown(a: &Audit) -> String {
    let mut out = String::from("## Audit\n\n");
    if a.records.is_empty() {
        out.push_str("No change matches.\n");
        return out;
    }
    out.push_str("| Proposal | Change | Spec commit | Proposer | Votes | Executor | Applied | Outcome |\n|---|---|---|---|---|---|---|---|\n");
    for r in &a.records {
        let votes: Vec<String> = r
            .votes
            .iter()
            .map(|v| {
                format!(
                    "{} {}",
                    v.org,
                    if v.decision == "approve" {
                        "✓"
                    } else {
                        "✗"
                    }
                )
            })
            .collect();
        let spec = match &r.spec.found {
            Some(c) => match c.pull_request {
                Some(pr) => format!("`{}` (#{pr})", short(&c.commit)),
                None => format!("`{}`", short(&c.commit)),
            },
            None => format!("`{}` (not found)", short(&r.spec.commit)),
        };
        let applied = r
            .applied
            .as_ref()
            .and_then(|ap| ap.tx.as_ref().map(md_tx))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            short(&r.proposal_id),
            md_escape(&r.change),
            spec,
            r.filed.proposer,
            votes.join(", "),
            r.execution
                .as_ref()
                .and_then(|e| e.executor.clone())
                .unwrap_or_else(|| "-".into()),
            applied,
            r.outcome
        ));
    }
    for r in &a.records {
        out.push_str(&format!(
            "\n### {} — {}\n\nProposal `{}`, round {}.\n\n",
            md_escape(&r.change),
            r.outcome,
            r.proposal_id,
            r.round
        ));
        for l in spec_lines(&r.spec) {
            out.push_str(&format!("- {}\n", md_escape(l.trim())));
        }
        out.push_str(&format!(
            "- filed by {} at {} ({})\n",
            r.filed.proposer,
            r.filed.at,
            md_tx(&r.filed.tx)
        ));
        for v in &r.votes {
            out.push_str(&format!(
                "- {} voted {} at {} ({}){}\n",
                v.org,
                v.decision,
                v.at,
                md_tx(&v.tx),
                if v.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", md_escape(&v.reason))
                }
            ));
        }
        if let Some(d) = &r.decision {
            out.push_str(&format!(
                "- decided {} at {} ({})\n",
                d.outcome,
                d.at,
                md_tx(&d.tx)
            ));
        }
        for t in &r.tasks {
            out.push_str(&format!(
                "- task {} {} {} at {} ({}): {}\n",
                t.org,
                t.task,
                t.status,
                t.at,
                md_tx(&t.tx),
                md_escape(t.detail.lines().next().unwrap_or(""))
            ));
        }
        if let Some(c) = r.execution.as_ref().and_then(|e| e.committed.as_ref()) {
            out.push_str(&format!(
                "- executed by {} at {} ({}): {}\n",
                c.by,
                c.at,
                md_tx(&c.tx),
                md_escape(&c.detail)
            ));
        }
        if let Some(ap) = &r.applied {
            out.push_str(&format!(
                "- {}{}{}\n",
                ap.what,
                ap.tx
                    .as_ref()
                    .map(|t| format!(": {}", md_tx(t)))
                    .unwrap_or_default(),
                ap.note
                    .as_ref()
                    .map(|n| format!(" ({})", md_escape(n)))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// The stable JSON document ([`SCHEMA`]).
pub fn render_json(a: &Audit) -> String {
    let mut s = serde_json::to_string_pretty(a).expect("the audit serializes");
    s.push('\n');
    s
}

/// Every transaction reference of a record, for checks against the chain.
pub fn tx_refs(r: &AuditRecord) -> Vec<&TxRef> {
    let mut out = vec![&r.filed.tx];
    out.extend(r.votes.iter().map(|v| &v.tx));
    out.extend(r.decision.iter().map(|d| &d.tx));
    out.extend(r.signatures.iter().map(|s| &s.tx));
    out.extend(r.tasks.iter().map(|t| &t.tx));
    out.extend(r.history.iter().map(|t| &t.tx));
    if let Some(e) = &r.execution {
        out.extend(e.failures.iter().map(|f| &f.tx));
        out.extend(e.committed.iter().map(|c| &c.tx));
    }
    out.extend(r.applied.iter().filter_map(|a| a.tx.as_ref()));
    out
}

/// `--since` / `--until`: Unix seconds, or a UTC date `2026-12-05`,
/// `2026-12-05T10:00:00Z` (the `Z` optional).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let bad = || {
        format!("{s:?} is not a time: give Unix seconds, 2026-12-05 or 2026-12-05T10:00:00Z (UTC)")
    };
    let (date, clock) = match s.split_once(['T', ' ']) {
        Some((d, c)) => (d, c.trim_end_matches('Z')),
        None => (s, "00:00:00"),
    };
    let num = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let c: Vec<&str> = clock.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&c.len()) {
        return Err(bad());
    }
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (hh, mm) = (num(c[0])?, num(c[1])?);
    let ss = c.get(2).map_or(Ok(0), |x| num(x))?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days from civil (proleptic Gregorian), the inverse of `rfc3339_utc`.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + hh * 3600 + mm * 60 + ss)
}
