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
        // An orderer's blocks carry no validation codes (read when no own
        // peer joined the channel): their transactions are taken as they are.
        if !tx.is_valid() && tx.validation != peer::TxValidationCode::NotValidated as i32 {
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
                out.push_str(&format!(
                    "      {}\n",
                    clip(&v.reason).replace('\n', "\n      ")
                ));
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

/// A reason for people: at most [`TEXT_REASON_CHARS`] characters (a
/// reject may quote a whole config update; the JSON keeps all of it).
fn clip(s: &str) -> String {
    match s.char_indices().nth(TEXT_REASON_CHARS) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… (--format json has all of it)", &s[..i]),
    }
}

const TEXT_REASON_CHARS: usize = 300;

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
                    format!(": {}", md_escape(&clip(&v.reason)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use opssc_chaincode::model::{
        DecisionInfo, Execution, ExecutionReport, SpecRef, Target, Transition,
    };
    use serde_json::json;

    fn header(kind: common::HeaderType, tx_id: &str, channel: &str) -> common::Header {
        common::Header {
            channel_header: ChannelHeader {
                r#type: kind as i32,
                tx_id: tx_id.into(),
                channel_id: channel.into(),
                ..Default::default()
            }
            .encode_to_vec(),
            signature_header: Vec::new(),
        }
    }

    fn invoke_envelope(tx_id: &str, chaincode: &str, args: &[&[u8]]) -> Vec<u8> {
        let cis = peer::ChaincodeInvocationSpec {
            chaincode_spec: Some(peer::ChaincodeSpec {
                chaincode_id: Some(peer::ChaincodeId {
                    name: chaincode.into(),
                    ..Default::default()
                }),
                input: Some(peer::ChaincodeInput {
                    args: args.iter().map(|a| a.to_vec()).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        let cap = peer::ChaincodeActionPayload {
            chaincode_proposal_payload: peer::ChaincodeProposalPayload {
                input: cis.encode_to_vec(),
                ..Default::default()
            }
            .encode_to_vec(),
            action: None,
        };
        let tx = peer::Transaction {
            actions: vec![peer::TransactionAction {
                header: Vec::new(),
                payload: cap.encode_to_vec(),
            }],
        };
        Envelope {
            payload: Payload {
                header: Some(header(
                    common::HeaderType::EndorserTransaction,
                    tx_id,
                    "trade",
                )),
                data: tx.encode_to_vec(),
            }
            .encode_to_vec(),
            signature: Vec::new(),
        }
        .encode_to_vec()
    }

    fn block(number: u64, envelopes: Vec<Vec<u8>>, valid: &[bool]) -> Block {
        let filter: Vec<u8> = valid.iter().map(|v| if *v { 0 } else { 11 }).collect();
        Block {
            header: Some(common::BlockHeader {
                number,
                ..Default::default()
            }),
            data: Some(common::BlockData { data: envelopes }),
            metadata: Some(common::BlockMetadata {
                metadata: vec![Vec::new(), Vec::new(), filter],
            }),
        }
    }

    fn config_block(number: u64, sequence: u64, update: &[u8], update_tx: &str) -> Block {
        let last_update = Envelope {
            payload: Payload {
                header: Some(header(
                    common::HeaderType::ConfigUpdate,
                    update_tx,
                    "market",
                )),
                data: common::ConfigUpdateEnvelope {
                    config_update: update.to_vec(),
                    signatures: Vec::new(),
                }
                .encode_to_vec(),
            }
            .encode_to_vec(),
            signature: Vec::new(),
        };
        let env = Envelope {
            payload: Payload {
                header: Some(header(common::HeaderType::Config, "", "market")),
                data: common::ConfigEnvelope {
                    config: Some(common::Config {
                        sequence,
                        ..Default::default()
                    }),
                    last_update: Some(last_update),
                }
                .encode_to_vec(),
            }
            .encode_to_vec(),
            signature: Vec::new(),
        };
        block(number, vec![env.encode_to_vec()], &[true])
    }

    fn commit_args(name: &str, sequence: i64) -> Vec<u8> {
        lc::CommitChaincodeDefinitionArgs {
            name: name.into(),
            sequence,
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_block_scan_finds_lifecycle_commits_and_skips_invalid_ones() {
        let args = commit_args("kv", 2);
        let b = block(
            7,
            vec![
                invoke_envelope("t1", "kv", &[b"put", b"k"]),
                invoke_envelope("t2", "_lifecycle", &[b"CommitChaincodeDefinition", &args]),
                invoke_envelope("t3", "_lifecycle", &[b"CommitChaincodeDefinition", &args]),
                invoke_envelope(
                    "t4",
                    "_lifecycle",
                    &[b"ApproveChaincodeDefinitionForMyOrg", &args],
                ),
            ],
            &[true, true, false, true],
        );
        let mut scan = ChannelScan::default();
        let ids = scan_block(&b, &mut scan);
        assert_eq!(ids, ["t1", "t2", "t4"]);
        // Without validation codes (an orderer's block) every transaction counts.
        let mut unvalidated = b.clone();
        unvalidated.metadata = None;
        assert_eq!(
            scan_block(&unvalidated, &mut ChannelScan::default()),
            ["t1", "t2", "t3", "t4"]
        );
        assert_eq!(
            scan.lifecycle_commits,
            [LifecycleCommit {
                block: 7,
                tx_id: "t2".into(),
                name: "kv".into(),
                sequence: 2
            }]
        );
        assert!(scan.config_blocks.is_empty());
    }

    #[test]
    fn a_config_block_names_the_update_it_applied() {
        let b = config_block(4, 3, b"update bytes", "u1");
        let fact = config_block_fact(&b).unwrap();
        assert_eq!(fact.block, 4);
        assert_eq!(fact.sequence, 3);
        assert_eq!(fact.update.as_deref(), Some(b"update bytes".as_slice()));
        assert_eq!(fact.update_tx_id.as_deref(), Some("u1"));
        let not_config = block(5, vec![invoke_envelope("t", "kv", &[b"x"])], &[true]);
        assert_eq!(config_block_fact(&not_config), None);
    }

    #[test]
    fn pull_request_numbers_from_merge_and_squash_messages() {
        assert_eq!(
            pull_request_number("Merge pull request #12 from org4/join\n\nbody"),
            Some(12)
        );
        assert_eq!(pull_request_number("Org4MSP joins trade (#7)"), Some(7));
        assert_eq!(pull_request_number("fix (#3) and more (#41)"), Some(41));
        assert_eq!(pull_request_number("Org4MSP joins trade"), None);
        assert_eq!(pull_request_number("see (#abc)"), None);
        assert_eq!(
            pull_request_number("first line\nMerge pull request #9"),
            None
        );
    }

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("1970-01-01"), Ok(0));
        assert_eq!(parse_time("2026-12-05T10:00:00Z"), Ok(1_796_464_800));
        assert_eq!(time(1_796_464_800), "2026-12-05T10:00:00Z");
        assert_eq!(parse_time("2024-02-29T23:59"), Ok(1_709_251_140));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-13-01").is_err());
    }

    fn chaincode_proposal() -> ProposalFacts {
        let p = Proposal {
            id: "a".repeat(64),
            kind: Kind::ChaincodeUpgrade,
            target: Target {
                channel: "trade".into(),
                chaincode: Some("kv".into()),
            },
            round: 0,
            payload: json!({"name": "kv", "version": "2.0", "sequence": 2}),
            spec_ref: SpecRef {
                git_commit: "c".repeat(40),
                spec_hash: "0".repeat(64),
                base_config_sequence: None,
                committed_chaincode_sequence: Some(1),
            },
            proposer: "Org1MSP".into(),
            created_at: 1000,
            created_tx: "filed".into(),
            deadline: 4600,
            state: ProposalState::Committed,
            electorate: vec!["Org1MSP".into(), "Org2MSP".into(), "Org3MSP".into()],
            quorum: 2,
            quorum_rule: "MAJORITY of 3".into(),
            decision: Some(DecisionInfo {
                at: 1010,
                tx_id: "tally".into(),
                approvals: vec!["Org1MSP".into(), "Org2MSP".into()],
                rejections: vec![],
            }),
            superseded_by: None,
            also_filed_by: vec![],
            execution: Some(Execution {
                attempt: 1,
                started_at: 1010,
                timeout_secs: 600,
                order: vec!["Org2MSP".into(), "Org1MSP".into()],
                claimed_by: Some("Org2MSP".into()),
                claimed_at: Some(1020),
                failures: vec![],
                committed: Some(ExecutionReport {
                    by: "Org2MSP".into(),
                    at: 1030,
                    tx_id: "reported".into(),
                    attempt: 1,
                    detail: "committed sequence 2".into(),
                }),
            }),
            history: vec![
                Transition {
                    at: 1000,
                    tx_id: "filed".into(),
                    actor: "Org1MSP".into(),
                    from: None,
                    to: ProposalState::Proposed,
                    note: String::new(),
                },
                Transition {
                    at: 1010,
                    tx_id: "tally".into(),
                    actor: "Org2MSP".into(),
                    from: Some(ProposalState::Proposed),
                    to: ProposalState::Approved,
                    note: String::new(),
                },
                Transition {
                    at: 1030,
                    tx_id: "reported".into(),
                    actor: "Org2MSP".into(),
                    from: Some(ProposalState::Approved),
                    to: ProposalState::Committed,
                    note: String::new(),
                },
            ],
        };
        let vote = |org: &str, at: i64, tx: &str| Vote {
            proposal_id: p.id.clone(),
            org: org.into(),
            decision: Decision::Approve,
            reason: String::new(),
            config_signature: None,
            cast_at: at,
            tx_id: tx.into(),
            actor: "f".repeat(64),
        };
        ProposalFacts {
            votes: vec![vote("Org2MSP", 1005, "v2"), vote("Org1MSP", 1001, "v1")],
            signatures: vec![],
            tasks: vec![TaskEntry {
                proposal_id: p.id.clone(),
                org: "Org3MSP".into(),
                task: "install".into(),
                seq: 1,
                status: TaskStatus::Done,
                detail: "installed kv_2.0".into(),
                at: 1020,
                tx_id: "task3".into(),
                actor: "e".repeat(64),
            }],
            proposal: p,
        }
    }

    fn chain() -> ChainIndex {
        let mut c = ChainIndex {
            ops_channel: "ops".into(),
            ..Default::default()
        };
        for (tx, b) in [
            ("filed", 10),
            ("v1", 11),
            ("v2", 12),
            ("tally", 12),
            ("task3", 13),
        ] {
            c.ops_blocks.insert(tx.into(), b);
        }
        c.channels.insert(
            "trade".into(),
            ChannelScan {
                lifecycle_commits: vec![
                    LifecycleCommit {
                        block: 5,
                        tx_id: "old".into(),
                        name: "kv".into(),
                        sequence: 1,
                    },
                    LifecycleCommit {
                        block: 9,
                        tx_id: "cc-commit".into(),
                        name: "kv".into(),
                        sequence: 2,
                    },
                ],
                config_blocks: vec![],
            },
        );
        c
    }

    fn spec_commit() -> SpecCommit {
        SpecCommit {
            commit: "c".repeat(40),
            author: "Alice".into(),
            author_email: "alice@org1.example.com".into(),
            at: "2026-12-05T10:00:00Z".into(),
            subject: "kv 2.0 (#12)".into(),
            pull_request: Some(12),
            signed_by: Some(Admin {
                org: "Org1MSP".into(),
                name: "alice".into(),
                key: "SHA256:abc".into(),
            }),
            approvals: vec![ApprovalFact {
                admin: Admin {
                    org: "Org2MSP".into(),
                    name: "bob".into(),
                    key: "SHA256:def".into(),
                },
                approval_commit: "d".repeat(40),
                at: "2026-12-05T10:01:00Z".into(),
            }],
        }
    }

    #[test]
    fn join_names_every_step_with_its_block() {
        let facts = [chaincode_proposal()];
        let commits = BTreeMap::from([("c".repeat(40), spec_commit())]);
        let a = join(&facts, &commits, &chain(), &Filter::default());
        assert_eq!(a.records.len(), 1);
        let r = &a.records[0];
        assert_eq!(r.change, "ChaincodeUpgrade trade/kv 2.0");
        assert_eq!(r.spec.found.as_ref().unwrap().pull_request, Some(12));
        assert_eq!(r.filed.tx.block, Some(10));
        // Votes in the order they were cast, each with its block.
        let votes: Vec<(&str, Option<u64>)> = r
            .votes
            .iter()
            .map(|v| (v.org.as_str(), v.tx.block))
            .collect();
        assert_eq!(votes, [("Org1MSP", Some(11)), ("Org2MSP", Some(12))]);
        let d = r.decision.as_ref().unwrap();
        assert_eq!((d.outcome.as_str(), d.tx.block), ("approved", Some(12)));
        let e = r.execution.as_ref().unwrap();
        assert_eq!(e.executor.as_deref(), Some("Org2MSP"));
        // The report's transaction is not in the scanned blocks: kept, unplaced.
        assert_eq!(e.committed.as_ref().unwrap().tx.block, None);
        // The definition commit of sequence 2, not the earlier one.
        let applied = r.applied.as_ref().unwrap().tx.as_ref().unwrap();
        assert_eq!(
            (
                applied.channel.as_str(),
                applied.tx_id.as_str(),
                applied.block
            ),
            ("trade", "cc-commit", Some(9))
        );
        assert_eq!(r.tasks[0].tx.block, Some(13));
        assert_eq!(r.history.len(), 3);
        assert_eq!(tx_refs(r).len(), 1 + 2 + 1 + 1 + 3 + 1 + 1);
    }

    #[test]
    fn a_config_update_is_matched_by_its_bytes() {
        let bytes = b"the update".to_vec();
        let mut f = chaincode_proposal();
        f.proposal.kind = Kind::OrgAdd;
        f.proposal.target = Target {
            channel: "market".into(),
            chaincode: None,
        };
        f.proposal.payload = json!({
            "org": "Org4MSP",
            "config_update": base64::engine::general_purpose::STANDARD.encode(&bytes),
        });
        let mut c = chain();
        c.channels.insert(
            "market".into(),
            ChannelScan {
                lifecycle_commits: vec![],
                config_blocks: vec![
                    config_block_fact(&config_block(3, 1, b"other", "u0")).unwrap(),
                    config_block_fact(&config_block(8, 2, &bytes, "u1")).unwrap(),
                ],
            },
        );
        let a = join(&[f.clone()], &BTreeMap::new(), &c, &Filter::default());
        let r = &a.records[0];
        assert_eq!(r.change, "OrgAdd Org4MSP on channel market");
        assert!(r.spec.found.is_none());
        let ap = r.applied.as_ref().unwrap();
        assert_eq!(ap.config_sequence, Some(2));
        let tx = ap.tx.as_ref().unwrap();
        assert_eq!(
            (tx.tx_id.as_str(), tx.block, tx.kind),
            ("u1", Some(8), "config_block")
        );
        // A committed update that no block applied says so.
        c.channels.get_mut("market").unwrap().config_blocks.pop();
        let a = join(&[f], &BTreeMap::new(), &c, &Filter::default());
        let ap = a.records[0].applied.as_ref().unwrap();
        assert!(ap.tx.is_none());
        assert!(
            ap.note
                .as_ref()
                .unwrap()
                .contains("no config block of channel market")
        );
    }

    #[test]
    fn filters_by_channel_chaincode_org_and_time() {
        let facts = [chaincode_proposal()];
        let commits = BTreeMap::from([("c".repeat(40), spec_commit())]);
        let count = |f: Filter| join(&facts, &commits, &chain(), &f).records.len();
        assert_eq!(count(Filter::default()), 1);
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            count(Filter {
                channel: some("trade"),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(Filter {
                channel: some("market"),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            count(Filter {
                chaincode: some("kv"),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(Filter {
                chaincode: some("bid"),
                ..Default::default()
            }),
            0
        );
        // Org3 only reported a task; Org4 took no part.
        assert_eq!(
            count(Filter {
                org: some("Org3MSP"),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(Filter {
                org: some("Org4MSP"),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            count(Filter {
                since: Some(1000),
                until: Some(1000),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(Filter {
                since: Some(1001),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            count(Filter {
                until: Some(999),
                ..Default::default()
            }),
            0
        );
    }

    #[test]
    fn renderers_show_each_step() {
        let facts = [chaincode_proposal()];
        let commits = BTreeMap::from([("c".repeat(40), spec_commit())]);
        let a = join(&facts, &commits, &chain(), &Filter::default());
        let text = render_text(&a);
        for want in [
            "# ChaincodeUpgrade trade/kv 2.0 [committed] round 0",
            "pull request #12",
            "signed by Org1MSP/alice (SHA256:abc)",
            "approved by Org2MSP/bob",
            "+ filed by Org1MSP at 1970-01-01T00:16:40Z (tx filed in ops block 10)",
            "✓ Org1MSP approve",
            "= approved at",
            "- task Org3MSP install #1 done",
            "* executed by Org2MSP (attempt 1)",
            "(tx reported (block not found on ops))",
            "> chaincode definition kv sequence 2: tx cc-commit in trade block 9",
            "1 change\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let md = render_markdown(&a);
        assert!(md.contains("| `aaaaaaaaaaaa` | ChaincodeUpgrade trade/kv 2.0 | `cccccccccccc` (#12) | Org1MSP | Org1MSP ✓, Org2MSP ✓ | Org2MSP | `cc-commit` trade #9 | committed |"), "{md}");
        let v: serde_json::Value = serde_json::from_str(&render_json(&a)).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        let r = &v["records"][0];
        assert_eq!(
            r["votes"][1]["tx"],
            json!({"channel": "ops", "tx_id": "v2", "block": 12, "kind": "transaction"})
        );
        assert_eq!(r["spec"]["found"]["signed_by"]["org"], "Org1MSP");
        assert_eq!(r["spec"]["found"]["approvals"][0]["org"], "Org2MSP");
        assert_eq!(r["applied"]["tx"]["block"], 9);
        assert_eq!(
            render_text(&join(&[], &commits, &chain(), &Filter::default())),
            "no change matches\n"
        );
    }

    #[test]
    fn long_reasons_are_clipped_in_text_only() {
        let mut f = chaincode_proposal();
        f.votes[0].reason = "é".repeat(1000);
        let a = join(&[f], &BTreeMap::new(), &chain(), &Filter::default());
        let text = render_text(&a);
        assert!(text.contains(&format!(
            "{}… (--format json has all of it)",
            "é".repeat(300)
        )));
        assert!(!text.contains(&"é".repeat(301)));
        let v: serde_json::Value = serde_json::from_str(&render_json(&a)).unwrap();
        let reasons: Vec<usize> = v["records"][0]["votes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["reason"].as_str().unwrap().chars().count())
            .collect();
        assert!(reasons.contains(&1000), "{reasons:?}");
    }
}
