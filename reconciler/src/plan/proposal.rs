//! From shared changes to OpsSC proposals, and their deterministic IDs.
//!
//! Grouping: a new channel is one `ChannelCreate`; each organization added to
//! (removed from) a channel is one `OrgAdd` (`OrgRemove`); every other config
//! change of a channel goes into one `ChannelUpdate` (one ConfigUpdate, so the
//! changes cannot conflict with each other); each chaincode is one
//! `ChaincodeDeploy` or `ChaincodeUpgrade`.
//!
//! IDs: every proposal gets an `intent_id`, the OpsSC chaincode's own hash
//! ([`opssc_chaincode::canon::proposal_id`]) over the kind, the target, round 0
//! and the canonical intent `{"changes": [...]}`. For chaincode kinds whose
//! package ID is known, the plan also gives the exact `proposal_id` the
//! contract will assign ([`opssc_chaincode::compute_proposal_id`] over
//! [`chaincode_payload`]). Config kinds hash the ConfigUpdate bytes, which are
//! computed later from the config block, so their contract ID is not known here.

use std::collections::BTreeMap;

use opssc_chaincode::api::ChaincodePayload;
use opssc_chaincode::model::{Kind, ProposalState, Target};
use opssc_schema::{ChangeKind, Quorum, Spec};
use serde_json::{Value, json};

use super::approval::{Approval, Need};
use super::{Change, OnChain, PlannedProposal, Precondition, SharedChange, VoteQuorum, desired};
use crate::observe::{Observed, ProposalSummary};

/// The OpsSC proposal kind and target a change belongs to.
pub fn proposal_key(change: &Change) -> (Kind, Target, Option<String>) {
    let target = |chaincode: Option<&str>| Target {
        channel: change.channel().to_string(),
        chaincode: chaincode.map(str::to_string),
    };
    match change {
        Change::ChannelCreate { .. } => (Kind::ChannelCreate, target(None), None),
        Change::OrgAddedToChannel { org, .. } => (Kind::OrgAdd, target(None), Some(org.clone())),
        Change::OrgRemovedFromChannel { org, .. } => {
            (Kind::OrgRemove, target(None), Some(org.clone()))
        }
        Change::ChaincodeDeploy { name, .. } => (Kind::ChaincodeDeploy, target(Some(name)), None),
        Change::ChaincodeUpgrade { name, .. } | Change::ChaincodeDefinitionChanged { name, .. } => {
            (Kind::ChaincodeUpgrade, target(Some(name)), None)
        }
        Change::GovernanceChanged { .. } => (Kind::GovernanceChange, target(None), None),
        _ => (Kind::ChannelUpdate, target(None), None),
    }
}

fn governance_kind(kind: Kind) -> ChangeKind {
    match kind {
        Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade => ChangeKind::Chaincode,
        Kind::ChannelCreate => ChangeKind::ChannelCreate,
        Kind::OrgAdd => ChangeKind::OrgAdd,
        Kind::OrgRemove => ChangeKind::OrgRemove,
        Kind::GovernanceChange | Kind::RegistryChange => ChangeKind::Governance,
        Kind::ChannelUpdate => ChangeKind::ChannelUpdate,
    }
}

/// The payload of a ChaincodeDeploy / ChaincodeUpgrade proposal, as every
/// organization derives it from the spec: `None` when the package ID does not
/// end in a SHA-256 (`label:<64 hex>`).
pub fn chaincode_payload(
    cc: &opssc_schema::Chaincode,
    sequence: u64,
    package_id: &str,
) -> Option<ChaincodePayload> {
    let (_, hash) = package_id.rsplit_once(':')?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let collections = desired::collections(cc);
    Some(ChaincodePayload {
        name: cc.name.clone(),
        version: cc.version.clone(),
        sequence,
        package_id: package_id.to_string(),
        package_hash: hash.to_ascii_lowercase(),
        endorsement_policy: cc
            .endorsement_policy
            .as_ref()
            .map(|p| p.text.trim().to_string()),
        collections: (!collections.is_empty())
            .then(|| serde_json::to_value(&collections).expect("collections serialize")),
        init_required: cc.init_required,
        source: Some(desired::package_source_json(&cc.package)),
        summary: None,
    })
}

fn dead(state: ProposalState) -> bool {
    matches!(
        state,
        ProposalState::Rejected
            | ProposalState::Expired
            | ProposalState::Withdrawn
            | ProposalState::Superseded
    )
}

fn on_chain(p: &ProposalSummary) -> OnChain {
    let by = |d: opssc_chaincode::model::Decision| {
        p.votes
            .iter()
            .filter(|(_, v)| **v == d)
            .map(|(k, _)| k.clone())
            .collect()
    };
    OnChain {
        id: p.id.clone(),
        round: p.round,
        state: p.state,
        approved_by: by(opssc_chaincode::model::Decision::Approve),
        rejected_by: by(opssc_chaincode::model::Decision::Reject),
    }
}

/// Groups the (sorted) shared changes into proposals, sets each change's
/// `proposal` index and the preconditions between proposals.
pub(super) fn group(
    spec: &Spec,
    observed: &Observed,
    shared: &mut [SharedChange],
) -> Vec<PlannedProposal> {
    let mut index: BTreeMap<(Kind, Target, Option<String>), usize> = BTreeMap::new();
    let mut proposals: Vec<PlannedProposal> = Vec::new();
    for (i, sc) in shared.iter_mut().enumerate() {
        let key = proposal_key(&sc.change);
        let p = *index.entry(key.clone()).or_insert_with(|| {
            proposals.push(PlannedProposal {
                kind: key.0,
                target: key.1.clone(),
                org: key.2.clone(),
                changes: Vec::new(),
                intent: Value::Null,
                intent_id: String::new(),
                proposal_id: None,
                round: 0,
                approval: Approval::default(),
                vote: None,
                on_chain: None,
            });
            proposals.len() - 1
        });
        proposals[p].changes.push(i);
        sc.proposal = p;
    }
    for p in &mut proposals {
        let changes: Vec<Value> = p
            .changes
            .iter()
            .map(|&i| serde_json::to_value(&shared[i].change).expect("changes serialize"))
            .collect();
        p.intent = opssc_chaincode::canon::canonicalize(&json!({ "changes": changes }));
        p.intent_id = opssc_chaincode::canon::proposal_id(p.kind, &p.target, 0, &p.intent);
        p.approval = Approval::all_of(p.changes.iter().map(|&i| &shared[i].approval));
        exact_id(spec, observed, shared, p);
        if p.on_chain.is_none() {
            p.on_chain = observed
                .proposals
                .iter()
                .find(|o| {
                    o.kind == p.kind
                        && o.target == p.target
                        && (p.org.is_none() || o.org == p.org)
                        && !dead(o.state)
                        && o.state != ProposalState::Committed
                        // A failed proposal for another change (the exact ID
                        // is known and it is not this one: e.g. a package that
                        // did not compile) does not stand for this change.
                        && !(p.proposal_id.is_some() && o.state == ProposalState::Failed)
                })
                .map(on_chain);
        }
        p.vote = vote_quorum(spec, observed, p);
    }
    // Everything on a channel that this plan creates waits for the creation.
    let creates: BTreeMap<String, String> = proposals
        .iter()
        .filter(|p| p.kind == Kind::ChannelCreate)
        .map(|p| (p.target.channel.clone(), p.id().to_string()))
        .collect();
    for sc in shared.iter_mut() {
        if matches!(sc.change, Change::ChannelCreate { .. }) {
            continue;
        }
        if let Some(id) = creates.get(sc.change.channel()) {
            sc.requires.push(Precondition::ProposalCommitted {
                proposal: id.clone(),
                what: format!("create channel {}", sc.change.channel()),
            });
        }
    }
    proposals
}

/// The contract's own ID, for chaincode proposals whose package ID is known.
fn exact_id(spec: &Spec, observed: &Observed, shared: &[SharedChange], p: &mut PlannedProposal) {
    let Some(&i) = p.changes.first() else { return };
    let (channel, name, label, sequence) = match &shared[i].change {
        Change::ChaincodeDeploy {
            channel,
            name,
            label,
            after,
        }
        | Change::ChaincodeUpgrade {
            channel,
            name,
            label,
            after,
            ..
        }
        | Change::ChaincodeDefinitionChanged {
            channel,
            name,
            label,
            after,
            ..
        } => (channel, name, label, after.sequence),
        _ => return,
    };
    let Some(cc) = spec.chaincodes.get(&(channel.clone(), name.clone())) else {
        return;
    };
    let Some(package_id) = observed.package_id(label) else {
        return;
    };
    let Some(payload) = chaincode_payload(cc, sequence, package_id) else {
        return;
    };
    let value = serde_json::to_value(&payload).expect("payload serializes");
    let Ok(r) = round_of(p.kind, &p.target, &value, &observed.proposals) else {
        return;
    };
    p.on_chain = observed
        .proposals
        .iter()
        .find(|o| o.id == r.id)
        .map(on_chain);
    p.proposal_id = Some(r.id);
    p.round = r.round;
}

/// The round under which a payload is (to be) filed, and the contract ID
/// that gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub round: u32,
    pub id: String,
    /// The latest earlier round of exactly this payload that was rejected.
    pub rejected_before: Option<(u32, String)>,
}

/// The round rules, in one place: a proposal of exactly this payload that
/// ended without being carried out (rejected, expired, withdrawn,
/// superseded — for instance by a hostile filing for the same target) does
/// not block the change; the next round is a new ID. A rejection is kept
/// in [`Round::rejected_before`]: whoever files must not ask the same
/// question again (the agent waits for a spec that changes it), while a
/// later round that someone did file is followed.
pub fn round_of(
    kind: Kind,
    target: &Target,
    payload: &Value,
    proposals: &[ProposalSummary],
) -> Result<Round, opssc_chaincode::error::ContractError> {
    const MAX_ROUNDS: u32 = 64;
    let mut rejected_before = None;
    let mut round = 0;
    loop {
        let id = opssc_chaincode::compute_proposal_id(kind, target, round, payload)?;
        match proposals.iter().find(|o| o.id == id) {
            Some(o) if dead(o.state) && round < MAX_ROUNDS => {
                if o.state == ProposalState::Rejected {
                    rejected_before = Some((round, id));
                }
                round += 1;
            }
            _ => {
                return Ok(Round {
                    round,
                    id,
                    rejected_before,
                });
            }
        }
    }
}

/// The round (and so the contract's ID) under which a config update is
/// filed ([`round_of`]); a rejected round that nobody followed with a later
/// one is kept, so its outcome stands until the spec changes.
pub fn filing_round(
    kind: Kind,
    target: &Target,
    payload: &Value,
    proposals: &[ProposalSummary],
) -> Result<(u32, String), opssc_chaincode::error::ContractError> {
    let r = round_of(kind, target, payload, proposals)?;
    let filed = proposals.iter().any(|o| o.id == r.id);
    Ok(match r.rejected_before {
        Some(rejected) if !filed => rejected,
        _ => (r.round, r.id),
    })
}

/// The vote quorum when the consortium's governance raises it above the
/// count Fabric's policy needs.
fn vote_quorum(spec: &Spec, observed: &Observed, p: &PlannedProposal) -> Option<VoteQuorum> {
    let gk = governance_kind(p.kind);
    let (quorum, _) = spec.consortium.governance.rule(gk);
    let electorate: Vec<String> = match observed.channels.get(&p.target.channel) {
        Some(ch) => ch.members.keys().cloned().collect(),
        None => spec
            .channels
            .get(&p.target.channel)
            .map(|c| c.members.clone())
            .unwrap_or_default(),
    };
    let n = electorate.len();
    let level = match quorum {
        Quorum::Policy => return None,
        Quorum::Majority => super::approval::majority(n),
        Quorum::TwoThirds => (2 * n).div_ceil(3),
        Quorum::All => n,
    };
    let policy_count = p
        .approval
        .requirements
        .iter()
        .filter_map(|r| match &r.need {
            Need::Threshold { count, of } if *of == electorate => Some(*count),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    if level <= policy_count {
        return None;
    }
    let name = ChangeKind::ALL
        .iter()
        .find(|(_, k)| *k == gk)
        .map_or("?", |(s, _)| *s);
    let qname = Quorum::ALL
        .iter()
        .find(|(_, q)| *q == quorum)
        .map_or("?", |(s, _)| *s);
    Some(VoteQuorum {
        count: level,
        of: electorate,
        rule: format!("governance {name}: {qname}"),
    })
}
