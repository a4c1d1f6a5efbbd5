//! The planner: what the chain has, what the spec wants, and who must approve.
//!
//! [`plan`] is a pure, deterministic function of a validated [`Spec`], an
//! [`Observed`] snapshot and the planning organization's MSP ID. It returns a
//! [`Plan`]: the shared changes (channel config updates, chaincode
//! definitions), each with the organizations whose approval Fabric requires,
//! its risks and any drift; the OpsSC proposals they map to (with their
//! deterministic IDs); and the local changes of the planning organization's
//! own peers (join, install, approve). The plan is complete: an executor
//! makes no choice of its own. Re-planning against the state a successful
//! apply leaves ([`crate::observe::converged`]) gives an empty plan.
//!
//! Key decision: the spec wins. Every setting on the chain that differs from
//! the spec is a change (drift outside opssc is labelled as such), and the
//! required approvals are computed from the policies *observed* on the chain,
//! because those are what Fabric will evaluate, not the ones the spec wants.

pub mod acl;
pub mod approval;
mod chaincodes;
mod channels;
pub mod desired;
pub mod governance;
mod local;
pub mod proposal;
pub mod quorum;
pub mod render;
pub mod steps;

use std::fmt;

use opssc_chaincode::model::{Kind, ProposalState, Target};
use opssc_schema::Spec;
use serde::{Deserialize, Serialize};

pub use approval::{Approval, Need, Requirement};

use crate::observe::{CollectionDef, Observed, ObservedBatch, ObservedCapabilities};

/// Everything that must happen for the network to match the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub consortium: String,
    /// The spec's hash ([`Spec::spec_hash`]).
    pub spec_hash: String,
    pub observed_by: String,
    pub taken_at: String,
    /// The organization the local changes are for.
    pub me: String,
    /// Changes to shared state: channel configs and chaincode definitions.
    pub shared: Vec<SharedChange>,
    /// The OpsSC proposals the shared changes map to (indices into `shared`).
    pub proposals: Vec<PlannedProposal>,
    /// The quorum and electorate the OpsSC chaincode fixed when each proposal
    /// of [`PlannedProposal::on_chain`] was filed, by proposal ID; absent when
    /// the observation does not carry them (states saved by older versions).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ballots: std::collections::BTreeMap<String, Ballot>,
    /// Changes to `me`'s own nodes.
    pub local: Vec<LocalChange>,
    /// Things the planner noticed but does not change.
    pub notes: Vec<String>,
    /// What `me`'s agent does in this pass, in order ([`plan_with`]); empty
    /// when planned without a [`steps::PlanInput`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<steps::Step>,
    /// Why the other things the spec asks for do not happen in this pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<steps::Blocked>,
}

impl Plan {
    /// No change at all, shared or local.
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.local.is_empty()
    }

    pub fn risks(&self) -> impl Iterator<Item = (&SharedChange, &Risk)> {
        self.shared
            .iter()
            .flat_map(|c| c.risks.iter().map(move |r| (c, r)))
    }
}

/// One change to shared state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedChange {
    pub change: Change,
    /// Who Fabric requires to sign (config updates) or approve (chaincode definitions).
    pub approval: Approval,
    pub risks: Vec<Risk>,
    /// Set when the chain's current value was written outside opssc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    /// What must be true before the change can be applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Precondition>,
    /// Index into [`Plan::proposals`].
    pub proposal: usize,
}

/// The three capability levels of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityGroup {
    Channel,
    Orderer,
    Application,
}

impl CapabilityGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            CapabilityGroup::Channel => "channel",
            CapabilityGroup::Orderer => "orderer",
            CapabilityGroup::Application => "application",
        }
    }
}

/// A chaincode definition as `_lifecycle` stores it (without the per-org package).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaincodeDefinition {
    pub sequence: u64,
    pub version: String,
    pub endorsement_policy: String,
    pub collections: Vec<CollectionDef>,
    pub init_required: bool,
}

/// A typed change to shared state. `before`/`after` hold the chain's and the
/// spec's values; `None` for a policy or ACL means "not set" (for ACLs:
/// Fabric's default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Change {
    ChannelCreate {
        channel: String,
        members: Vec<String>,
        anchor_peers: std::collections::BTreeMap<String, Vec<String>>,
        policies: std::collections::BTreeMap<String, String>,
        orderer_orgs: Vec<String>,
        consenters: Vec<String>,
        capabilities: ObservedCapabilities,
        batch: ObservedBatch,
        acls: std::collections::BTreeMap<String, String>,
    },
    OrgAddedToChannel {
        channel: String,
        org: String,
        anchor_peers: Vec<String>,
    },
    OrgRemovedFromChannel {
        channel: String,
        org: String,
    },
    PolicyChanged {
        channel: String,
        name: String,
        before: Option<String>,
        after: Option<String>,
    },
    AclChanged {
        channel: String,
        resource: String,
        before: Option<String>,
        after: Option<String>,
    },
    CapabilityChanged {
        channel: String,
        group: CapabilityGroup,
        before: String,
        after: String,
    },
    BatchChanged {
        channel: String,
        before: ObservedBatch,
        after: ObservedBatch,
    },
    ConsentersChanged {
        channel: String,
        before: Vec<String>,
        after: Vec<String>,
        /// On a SmartBFT ordering service: the faults it tolerates before
        /// and after, f = ⌊(n-1)/3⌋. Absent for Raft, so Raft changes
        /// serialize as they always did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bft_fault_tolerance: Option<(usize, usize)>,
    },
    AnchorPeersChanged {
        channel: String,
        org: String,
        before: Vec<String>,
        after: Vec<String>,
    },
    ChaincodeDeploy {
        channel: String,
        name: String,
        label: String,
        after: ChaincodeDefinition,
    },
    ChaincodeUpgrade {
        channel: String,
        name: String,
        label: String,
        before: ChaincodeDefinition,
        after: ChaincodeDefinition,
    },
    /// Same version, another endorsement policy, collections or init flag.
    ChaincodeDefinitionChanged {
        channel: String,
        name: String,
        label: String,
        before: ChaincodeDefinition,
        after: ChaincodeDefinition,
    },
    /// The OpsSC's governance settings (meta-governance, not a channel
    /// config): `channel` is the ops channel, where they live.
    GovernanceChanged {
        channel: String,
        /// `name: before -> after`, one per difference.
        differences: Vec<String>,
        after: opssc_chaincode::model::Governance,
    },
}

impl Change {
    pub fn channel(&self) -> &str {
        match self {
            Change::ChannelCreate { channel, .. }
            | Change::OrgAddedToChannel { channel, .. }
            | Change::OrgRemovedFromChannel { channel, .. }
            | Change::PolicyChanged { channel, .. }
            | Change::AclChanged { channel, .. }
            | Change::CapabilityChanged { channel, .. }
            | Change::BatchChanged { channel, .. }
            | Change::ConsentersChanged { channel, .. }
            | Change::AnchorPeersChanged { channel, .. }
            | Change::ChaincodeDeploy { channel, .. }
            | Change::ChaincodeUpgrade { channel, .. }
            | Change::ChaincodeDefinitionChanged { channel, .. }
            | Change::GovernanceChanged { channel, .. } => channel,
        }
    }

    /// The chaincode name, for chaincode changes.
    pub fn chaincode(&self) -> Option<&str> {
        match self {
            Change::ChaincodeDeploy { name, .. }
            | Change::ChaincodeUpgrade { name, .. }
            | Change::ChaincodeDefinitionChanged { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The kind name, as serialized.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Change::ChannelCreate { .. } => "ChannelCreate",
            Change::OrgAddedToChannel { .. } => "OrgAddedToChannel",
            Change::OrgRemovedFromChannel { .. } => "OrgRemovedFromChannel",
            Change::PolicyChanged { .. } => "PolicyChanged",
            Change::AclChanged { .. } => "AclChanged",
            Change::CapabilityChanged { .. } => "CapabilityChanged",
            Change::BatchChanged { .. } => "BatchChanged",
            Change::ConsentersChanged { .. } => "ConsentersChanged",
            Change::AnchorPeersChanged { .. } => "AnchorPeersChanged",
            Change::ChaincodeDeploy { .. } => "ChaincodeDeploy",
            Change::ChaincodeUpgrade { .. } => "ChaincodeUpgrade",
            Change::ChaincodeDefinitionChanged { .. } => "ChaincodeDefinitionChanged",
            Change::GovernanceChanged { .. } => "GovernanceChanged",
        }
    }

    /// Order inside a channel: create, members in, settings, chaincodes, members out.
    fn rank(&self) -> u8 {
        match self {
            Change::ChannelCreate { .. } => 0,
            Change::OrgAddedToChannel { .. } => 1,
            Change::PolicyChanged { .. } => 2,
            Change::AclChanged { .. } => 3,
            Change::CapabilityChanged { .. } => 4,
            Change::BatchChanged { .. } => 5,
            Change::ConsentersChanged { .. } => 6,
            Change::AnchorPeersChanged { .. } => 7,
            Change::ChaincodeDeploy { .. }
            | Change::ChaincodeUpgrade { .. }
            | Change::ChaincodeDefinitionChanged { .. } => 8,
            Change::OrgRemovedFromChannel { .. } => 9,
            Change::GovernanceChanged { .. } => 10,
        }
    }

    fn subkey(&self) -> String {
        match self {
            Change::OrgAddedToChannel { org, .. }
            | Change::OrgRemovedFromChannel { org, .. }
            | Change::AnchorPeersChanged { org, .. } => org.clone(),
            Change::PolicyChanged { name, .. } => name.clone(),
            Change::AclChanged { resource, .. } => resource.clone(),
            Change::CapabilityChanged { group, .. } => group.as_str().to_string(),
            Change::ChaincodeDeploy { name, .. }
            | Change::ChaincodeUpgrade { name, .. }
            | Change::ChaincodeDefinitionChanged { name, .. } => name.clone(),
            _ => String::new(),
        }
    }

    /// The key of this setting in [`crate::observe::ObservedChannel::last_modified`].
    pub fn setting_key(&self) -> Option<String> {
        match self {
            Change::OrgAddedToChannel { org, .. } | Change::OrgRemovedFromChannel { org, .. } => {
                Some(format!("members/{org}"))
            }
            Change::PolicyChanged { name, .. } => Some(format!("policies/{name}")),
            Change::AclChanged { resource, .. } => Some(format!("acls/{resource}")),
            Change::CapabilityChanged { group, .. } => {
                Some(format!("capabilities/{}", group.as_str()))
            }
            Change::BatchChanged { .. } => Some("batch".into()),
            Change::ConsentersChanged { .. } => Some("consenters".into()),
            Change::AnchorPeersChanged { org, .. } => Some(format!("anchor_peers/{org}")),
            _ => None,
        }
    }
}

/// Something that makes a change dangerous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    pub kind: RiskKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// More than one Raft consenter added or removed in one update.
    ConsenterQuorum,
    /// A consenter change that lowers the faults a BFT service tolerates.
    BftFaultTolerance,
    /// A capability raised: it cannot be lowered again.
    IrreversibleCapability,
    /// A capability lowered.
    CapabilityDowngrade,
    /// An organization left with no anchor peer on a channel.
    LastAnchorPeer,
    /// After the change, no set of members can satisfy an admin policy.
    AdminLockout,
    /// A removed organization is still needed to endorse a chaincode.
    SoleEndorser,
    /// A chaincode's endorsement policy cannot be satisfied by the members.
    UnsatisfiableEndorsement,
}

impl RiskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskKind::ConsenterQuorum => "consenter quorum",
            RiskKind::BftFaultTolerance => "bft fault tolerance",
            RiskKind::IrreversibleCapability => "irreversible",
            RiskKind::CapabilityDowngrade => "capability downgrade",
            RiskKind::LastAnchorPeer => "last anchor peer",
            RiskKind::AdminLockout => "lockout",
            RiskKind::SoleEndorser => "sole endorser",
            RiskKind::UnsatisfiableEndorsement => "unsatisfiable endorsement",
        }
    }
}

/// Something that must hold before a change can be applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Precondition {
    /// The OpsSC proposal ([`PlannedProposal::id`]) has been approved by vote.
    ProposalApproved { proposal: String, what: String },
    /// The OpsSC proposal's shared step has been committed on the chain.
    ProposalCommitted { proposal: String, what: String },
    /// The organization has committed its certificates to the spec.
    OrgCertificates { org: String },
    /// The package is installed, so its package ID is known.
    PackageInstalled { label: String },
    /// A peer of the organization has joined the channel.
    JoinedChannel { channel: String },
}

impl fmt::Display for Precondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Precondition::ProposalApproved { proposal, what } => {
                write!(f, "proposal {} ({what}) approved", short_id(proposal))
            }
            Precondition::ProposalCommitted { proposal, what } => {
                write!(f, "proposal {} ({what}) committed", short_id(proposal))
            }
            Precondition::OrgCertificates { org } => {
                write!(f, "{org} has committed its certificates to the spec")
            }
            Precondition::PackageInstalled { label } => write!(f, "package {label} installed"),
            Precondition::JoinedChannel { channel } => write!(f, "a peer joined channel {channel}"),
        }
    }
}

/// The first 12 hex digits of an ID, for display.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// An OpsSC proposal that carries one or more shared changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedProposal {
    pub kind: Kind,
    pub target: Target,
    /// For OrgAdd / OrgRemove: the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Indices into [`Plan::shared`].
    pub changes: Vec<usize>,
    /// The canonical intent: `{"changes": [...]}`, hashed into `intent_id`.
    pub intent: serde_json::Value,
    /// `opssc_chaincode::canon::proposal_id(kind, target, 0, intent)`: stable
    /// for the same change against the same chain state.
    pub intent_id: String,
    /// The ID the OpsSC chaincode will give the proposal, when the plan holds
    /// everything its payload needs (chaincode kinds with a known package ID).
    /// Config kinds hash the ConfigUpdate bytes, built later from the config block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    /// The round that `proposal_id` was computed for.
    pub round: u32,
    /// Every requirement of every change.
    pub approval: Approval,
    /// Set when the consortium's governance raises the vote quorum above the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote: Option<VoteQuorum>,
    /// The matching proposal already on the OpsSC chaincode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_chain: Option<OnChain>,
}

impl PlannedProposal {
    /// The contract's ID when known, else the intent ID: what the plan shows
    /// and what preconditions refer to.
    pub fn id(&self) -> &str {
        self.proposal_id.as_deref().unwrap_or(&self.intent_id)
    }
}

/// The OpsSC vote quorum the governance requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteQuorum {
    pub count: usize,
    pub of: Vec<String>,
    /// e.g. `governance orgRemove: twoThirds`.
    pub rule: String,
}

/// A proposal found on the OpsSC chaincode for this change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnChain {
    pub id: String,
    pub round: u32,
    pub state: ProposalState,
    pub approved_by: Vec<String>,
    pub rejected_by: Vec<String>,
}

/// Who may vote on an on-chain proposal and how many approvals it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    pub quorum: u32,
    pub electorate: Vec<String>,
}

/// A change to the planning organization's own nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalChange {
    pub action: LocalAction,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Precondition>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum LocalAction {
    JoinChannel {
        peer: String,
        channel: String,
    },
    InstallPackage {
        peer: String,
        channel: String,
        chaincode: String,
        label: String,
    },
    ApproveDefinition {
        channel: String,
        chaincode: String,
        sequence: u64,
        version: String,
        label: String,
    },
}

/// Plans the changes that take the network observed in `observed` to `spec`,
/// with local changes for organization `me`.
pub fn plan(spec: &Spec, observed: &Observed, me: &str) -> Plan {
    let mut notes = Vec::new();
    let mut shared = channels::plan_channels(spec, observed, &mut notes);
    shared.extend(chaincodes::plan_chaincodes(spec, observed, &mut notes));
    shared.extend(governance_shared(spec, observed));
    shared.sort_by(|a, b| {
        (a.change.channel(), a.change.rank(), a.change.subkey()).cmp(&(
            b.change.channel(),
            b.change.rank(),
            b.change.subkey(),
        ))
    });
    channels::add_removal_risks(spec, observed, &mut shared);
    let proposals = proposal::group(spec, observed, &mut shared);
    let local = if me == observed.observed_by {
        local::plan_local(spec, observed, me, &shared, &proposals, &mut notes)
    } else {
        notes.push(format!(
            "no local changes planned: the state was observed by {}, not {me}",
            observed.observed_by
        ));
        Vec::new()
    };
    if shared
        .iter()
        .any(|c| matches!(&c.change, Change::ChannelCreate { channel, .. } if *channel == spec.consortium.ops_channel))
    {
        notes.push(format!(
            "channel {} is the ops channel: it is created when the network is founded, before the OpsSC chaincode can take proposals",
            spec.consortium.ops_channel
        ));
    }
    notes.sort();
    notes.dedup();
    let ballots = proposals
        .iter()
        .filter_map(|p| p.on_chain.as_ref())
        .filter_map(|o| {
            let s = observed
                .proposals
                .iter()
                .find(|s| s.id == o.id && !s.electorate.is_empty())?;
            Some((
                o.id.clone(),
                Ballot {
                    quorum: s.quorum,
                    electorate: s.electorate.clone(),
                },
            ))
        })
        .collect();
    Plan {
        consortium: spec.consortium.name.clone(),
        spec_hash: spec.spec_hash.clone(),
        observed_by: observed.observed_by.clone(),
        taken_at: observed.taken_at.clone(),
        me: me.to_string(),
        shared,
        proposals,
        ballots,
        local,
        notes,
        steps: Vec::new(),
        blocked: Vec::new(),
    }
}

/// The GovernanceChange the spec's `Governance` document calls for, when
/// the registry's governance was observed and differs. Every ops-channel
/// member must approve it (the contract's rule for meta-governance).
fn governance_shared(spec: &Spec, observed: &Observed) -> Option<SharedChange> {
    let registered = observed.governance.as_ref()?;
    let from_spec = crate::agent::founding::governance(spec);
    let change = governance::governance_change(&from_spec, registered)?;
    let ops = &spec.consortium.ops_channel;
    let members: Vec<String> = match observed.channels.get(ops) {
        Some(ch) => ch.members.keys().cloned().collect(),
        None => spec.channels.get(ops)?.members.clone(),
    };
    Some(SharedChange {
        change: Change::GovernanceChanged {
            channel: ops.clone(),
            differences: change.differences,
            after: change.after,
        },
        approval: Approval {
            requirements: vec![Requirement {
                label: format!("every member of channel {ops} (OpsSC meta-governance)"),
                policy: "opssc:GovernanceChange".into(),
                need: Need::Threshold {
                    count: members.len(),
                    of: members,
                },
            }],
        },
        risks: Vec::new(),
        drift: None,
        requires: Vec::new(),
        proposal: 0,
    })
}

/// [`plan`], with the steps `me`'s agent takes in this pass and why the
/// rest is blocked ([`steps::steps`]).
pub fn plan_with(spec: &Spec, observed: &Observed, me: &str, input: &steps::PlanInput) -> Plan {
    let mut p = plan(spec, observed, me);
    let s = steps::steps(spec, observed, &p, input);
    p.steps = s.steps;
    p.blocked = s.blocked;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe;

    fn reference() -> Spec {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        opssc_schema::load_dir(&dir)
            .spec
            .expect("network-spec is valid")
    }

    #[test]
    fn an_org_left_without_anchor_peers_is_a_risk() {
        // The validator refuses a spec like this; a spec built in code can
        // still produce it, and the planner must not stay silent.
        let mut spec = reference();
        let org = spec.organizations.get_mut("Org2MSP").unwrap();
        org.peers.iter_mut().for_each(|p| p.anchor = false);
        let observed = observe::converged(&reference(), "Org1MSP");
        let p = plan(&spec, &observed, "Org1MSP");
        let anchors: Vec<&SharedChange> = p
            .shared
            .iter()
            .filter(|c| matches!(c.change, Change::AnchorPeersChanged { .. }))
            .collect();
        assert_eq!(anchors.len(), 2, "ops and trade");
        for c in anchors {
            assert_eq!(c.risks.len(), 1);
            assert_eq!(c.risks[0].kind, RiskKind::LastAnchorPeer);
            assert!(
                c.risks[0]
                    .message
                    .contains("removes the last anchor peer of Org2MSP")
            );
        }
    }

    #[test]
    fn local_changes_only_for_the_observer() {
        let spec = reference();
        let observed = observe::empty(&spec, "Org1MSP");
        let p = plan(&spec, &observed, "Org2MSP");
        assert!(p.local.is_empty());
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("observed by Org1MSP, not Org2MSP"))
        );
        let p = plan(&spec, &observed, "Org1MSP");
        assert_eq!(p.local.len(), 4, "{:#?}", p.local);
    }

    #[test]
    fn semantically_equal_policies_are_not_changes() {
        let spec = reference();
        let mut observed = observe::converged(&spec, "Org1MSP");
        // The same policies in other spellings, as a config block decoder may print them.
        observed
            .chaincodes
            .get_mut("trade/kv")
            .unwrap()
            .endorsement_policy = "OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')".into();
        observed
            .channels
            .get_mut("trade")
            .unwrap()
            .acls
            .insert("peer/Propose".into(), "/Channel/Application/Writers".into());
        assert!(plan(&spec, &observed, "Org1MSP").is_empty());
        observed
            .chaincodes
            .get_mut("trade/kv")
            .unwrap()
            .endorsement_policy = "AND('Org1MSP.peer', 'Org2MSP.peer')".into();
        let p = plan(&spec, &observed, "Org1MSP");
        assert!(matches!(
            p.shared[0].change,
            Change::ChaincodeDefinitionChanged { .. }
        ));
    }
}
