//! The observed network: what one organization can see of the chain and of its
//! own nodes, as one serializable snapshot.
//!
//! [`Observed`] is the planning input that the preparation step builds (later,
//! through the Fabric client: channel config blocks, `_lifecycle` queries and
//! the OpsSC chaincode); here it is only the model, its JSON form (the
//! `--state FILE` of `opssc plan`), and two constructors for tests and founding:
//! [`empty`] (a network with no channel yet) and [`converged`] (what a network
//! that has fully applied a spec shows). Key decision: every field maps one to
//! one to something Fabric reports, in the same text syntax the spec uses
//! (policies as `MAJORITY Admins` or signature DSL, endpoints as `host:port`),
//! and settings absent from the snapshot mean "Fabric's default", so snapshots
//! stay small and comparable.

mod build;
mod load;

use std::collections::BTreeMap;

use opssc_chaincode::model::{Decision, Kind, ProposalState, Target};
use serde::{Deserialize, Serialize};

pub use build::{converged, empty, first_peer_org, synthetic_package_id};
pub use load::{StateError, from_json, load_file, to_json};

/// What one organization observed, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    /// The MSP ID of the organization whose view this is; `local` describes its nodes.
    pub observed_by: String,
    /// When the snapshot was taken (RFC 3339 text, informative only).
    pub taken_at: String,
    /// Channels that exist on the ordering service, by name.
    #[serde(default)]
    pub channels: BTreeMap<String, ObservedChannel>,
    /// Committed chaincode definitions, keyed `"<channel>/<chaincode>"`.
    #[serde(default)]
    pub chaincodes: BTreeMap<String, CommittedDefinition>,
    /// Package IDs the observer derived by building the spec's packages
    /// (byte-reproducible, so every organization derives the same), by label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, String>,
    /// The observing organization's own nodes.
    #[serde(default)]
    pub local: LocalState,
    /// Proposals on the OpsSC chaincode that are not yet terminal, plus the
    /// terminal ones the planner needs to pick the next round.
    #[serde(default)]
    pub proposals: Vec<ProposalSummary>,
    /// The governance the OpsSC registry holds (its `registry` query);
    /// absent before founding or when the OpsSC was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<opssc_chaincode::model::Governance>,
}

/// One channel, from its latest config block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedChannel {
    /// The config's `sequence`.
    pub config_sequence: u64,
    /// Number of the latest config block.
    pub last_config_block: u64,
    /// The Application group's organizations, by MSP ID.
    pub members: BTreeMap<String, ObservedOrg>,
    /// The Application group's policies by name, as text (`MAJORITY Admins`,
    /// `OutOf(2, 'A.peer', 'B.peer')`).
    pub policies: BTreeMap<String, String>,
    /// The Orderer group's organizations.
    #[serde(default)]
    pub orderer_orgs: Vec<String>,
    /// The Orderer group's policies; a missing name means Fabric's default
    /// (`Readers: ANY Readers`, `Writers: ANY Writers`, `Admins: MAJORITY Admins`,
    /// `BlockValidation: ANY Writers`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub orderer_policies: BTreeMap<String, String>,
    /// The Channel group's policies; a missing name means Fabric's default
    /// (`Readers: ANY Readers`, `Writers: ANY Writers`, `Admins: MAJORITY Admins`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channel_policies: BTreeMap<String, String>,
    /// `mod_policy` of config elements whose mod_policy is not `Admins`, keyed
    /// by element: `Channel`, `Orderer`, `Application`, `Application/<MSP>`.
    /// The value is a policy name in that element's group (or, for an org, the
    /// org's own policy) or an absolute path such as `/Channel/Application/Admins`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mod_policies: BTreeMap<String, String>,
    pub capabilities: ObservedCapabilities,
    pub batch: ObservedBatch,
    /// Raft consenters as `host:port`.
    pub consenters: Vec<String>,
    /// ACL entries whose policy differs from Fabric's default (see
    /// [`crate::plan::acl::FABRIC_DEFAULT_ACLS`]); an absent resource uses the default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub acls: BTreeMap<String, String>,
    /// Where a setting was last changed, for drift reports, keyed by setting:
    /// `members/<MSP>`, `policies/<name>`, `anchor_peers/<MSP>`, `batch`,
    /// `consenters`, `capabilities/<channel|orderer|application>`, `acls/<resource>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub last_modified: BTreeMap<String, Modification>,
}

/// One organization of a channel's Application group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedOrg {
    /// The org's `AnchorPeers` value, as `host:port`.
    pub anchor_peers: Vec<String>,
}

/// The `Capabilities` values of the Channel, Orderer and Application groups
/// (the highest capability set in each, e.g. `V2_0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedCapabilities {
    pub channel: String,
    pub orderer: String,
    pub application: String,
}

/// The Orderer group's `BatchTimeout` and `BatchSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedBatch {
    pub timeout_ms: u64,
    pub max_message_count: u32,
    pub absolute_max_bytes: u32,
    pub preferred_max_bytes: u32,
}

/// The config block that last changed a setting, and whether an opssc
/// proposal produced it (the OpsSC chaincode records what it committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modification {
    pub block: u64,
    pub by_opssc: bool,
}

/// A committed chaincode definition (`_lifecycle` QueryChaincodeDefinition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommittedDefinition {
    pub sequence: u64,
    pub version: String,
    /// The validation parameter as text: a signature policy, or a channel
    /// policy reference such as `/Channel/Application/Endorsement`.
    pub endorsement_policy: String,
    #[serde(default)]
    pub collections: Vec<CollectionDef>,
    #[serde(default)]
    pub init_required: bool,
    /// Which organizations approved the committed sequence.
    #[serde(default)]
    pub approvals: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Modification>,
}

/// A private data collection, as the spec and the committed definition state it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionDef {
    pub name: String,
    pub policy: String,
    pub required_peer_count: u32,
    pub max_peer_count: u32,
    pub block_to_live: u64,
    pub member_only_read: bool,
    pub member_only_write: bool,
}

/// The observing organization's own nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalState {
    /// The org's peers by name (the names of the spec's `peers`).
    #[serde(default)]
    pub peers: BTreeMap<String, LocalPeer>,
    /// What the org approved (`_lifecycle` QueryApprovedChaincodeDefinition),
    /// keyed `"<channel>/<chaincode>"`: the latest approved sequence.
    #[serde(default)]
    pub approved: BTreeMap<String, ApprovedDefinition>,
}

/// One of the org's peers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalPeer {
    #[serde(default)]
    pub joined_channels: Vec<String>,
    #[serde(default)]
    pub installed_packages: Vec<InstalledPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledPackage {
    pub package_id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedDefinition {
    pub sequence: u64,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<String>,
}

/// A proposal on the OpsSC chaincode, as `list` returns it; an open one also
/// with its votes, quorum and electorate (`get` and `votes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalSummary {
    pub id: String,
    pub kind: Kind,
    pub target: Target,
    #[serde(default)]
    pub round: u32,
    /// For OrgAdd / OrgRemove: the payload's organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub state: ProposalState,
    #[serde(default)]
    pub votes: BTreeMap<String, Decision>,
    /// Approvals the decision needs, as the contract fixed it at filing; 0
    /// when not observed (states saved before opssc recorded it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quorum: u32,
    /// The organizations that may vote, as the contract fixed them at
    /// filing; empty when not observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub electorate: Vec<String>,
    /// The spec commit the proposer filed it from (open proposals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_commit: Option<String>,
    /// For config kinds: the config sequence the update was computed against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_config_sequence: Option<u64>,
    /// For open proposals: what the executor and the voter need, read in the
    /// same pass (so no step re-reads the proposal in the middle of acting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenDetail>,
}

/// What `get` and `tasks` say about an open (proposed or approved) proposal,
/// and, for an approved chaincode proposal this organization may execute,
/// Fabric's commit readiness of its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenDetail {
    pub proposer: String,
    /// The payload as the contract stored it (canonical form).
    pub payload: serde_json::Value,
    /// Who may execute the approved proposal now (empty while proposed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligible_executors: Vec<String>,
    /// How long one executor has before the next organization may take over.
    #[serde(default = "default_timeout")]
    pub execution_timeout_secs: u64,
    /// Every task report, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<ObservedTask>,
    /// `_lifecycle` CheckCommitReadiness of the definition this proposal
    /// carries: which organizations approved it. Empty when not read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commit_readiness: BTreeMap<String, bool>,
    /// For approved config kinds: the ConfigSignatures the approving
    /// organizations gave with the contract's `sign` (its `signatures`
    /// query), by organization (base64 of the signature header and the
    /// signature), so the executor assembles the update without reading
    /// them again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_signatures: BTreeMap<String, opssc_chaincode::model::ConfigSignatureB64>,
    /// For an approved config kind whose channel has moved past the
    /// proposal's base sequence: whether a config block since the base was
    /// produced by exactly this proposal's update bytes. `None` when not read
    /// (the channel has not moved, or more config blocks than one pass reads
    /// lie between). A moved sequence alone proves nothing: another update
    /// may have moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_on_chain: Option<bool>,
}

fn default_timeout() -> u64 {
    600
}

/// The tasks the agents report on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Install,
    Approve,
}

impl Task {
    /// The name the contract stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Install => "install",
            Task::Approve => "approve",
        }
    }

    pub fn parse(name: &str) -> Option<Task> {
        match name {
            "install" => Some(Task::Install),
            "approve" => Some(Task::Approve),
            _ => None,
        }
    }
}

/// One task report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedTask {
    pub org: String,
    pub task: Task,
    pub seq: u32,
    pub status: opssc_chaincode::model::TaskStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl OpenDetail {
    /// `org`'s latest report of `task`.
    pub fn latest(&self, org: &str, task: Task) -> Option<&ObservedTask> {
        self.tasks
            .iter()
            .filter(|t| t.org == org && t.task == task)
            .max_by_key(|t| t.seq)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Observed {
    /// The key of a chaincode in [`Observed::chaincodes`].
    pub fn chaincode_key(channel: &str, name: &str) -> String {
        format!("{channel}/{name}")
    }

    /// The package ID for a label, if the observer derived it or a local peer has it.
    pub fn package_id(&self, label: &str) -> Option<&str> {
        if let Some(id) = self.packages.get(label) {
            return Some(id);
        }
        self.local
            .peers
            .values()
            .flat_map(|p| p.installed_packages.iter())
            .find(|p| p.label == label)
            .map(|p| p.package_id.as_str())
    }
}
