//! The validated spec: what every other part of opssc consumes.
//!
//! Only [`crate::load_dir`] builds a [`Spec`], and only when validation found no
//! error, so code downstream never re-checks names, references or policies.
//! Defaults (Fabric's policies, batch settings, capabilities) are filled in here,
//! so the planner compares like with like.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::policy::Policy;

/// The whole desired network.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The spec directory it was loaded from.
    pub root: PathBuf,
    /// sha256 over every spec file (sorted relative path and content): identifies
    /// exactly which spec a proposal was computed from.
    pub spec_hash: String,
    pub consortium: Consortium,
    /// By MSP ID.
    pub organizations: BTreeMap<String, Organization>,
    /// By channel name.
    pub channels: BTreeMap<String, Channel>,
    /// By (channel, chaincode name).
    pub chaincodes: BTreeMap<(String, String), Chaincode>,
}

/// The spec's name of Raft ordering (`orderer.consensus`).
pub const CONSENSUS_RAFT: &str = "etcdraft";
/// The spec's name of SmartBFT ordering; Fabric calls it `BFT`.
pub const CONSENSUS_BFT: &str = "bft";

#[derive(Debug, Clone, PartialEq)]
pub struct Consortium {
    pub name: String,
    pub fabric_version: String,
    pub ops_channel: String,
    /// `etcdraft` or `bft`, as the spec writes it (see [`Consortium::is_bft`]).
    pub consensus: String,
    /// (orderer org MSP ID, orderer node name)
    pub consenters: Vec<(String, String)>,
    pub governance: Governance,
}

impl Consortium {
    /// Whether the ordering service runs SmartBFT (`consensus: bft`).
    pub fn is_bft(&self) -> bool {
        self.consensus == CONSENSUS_BFT
    }

    /// The Fabric release line the network runs. Validation admits only
    /// versions [`crate::FabricVersion`] knows; a `Consortium` built by hand
    /// with another (e.g. empty) string counts as 2.5.
    pub fn fabric(&self) -> crate::FabricVersion {
        crate::FabricVersion::parse(&self.fabric_version).unwrap_or(crate::FabricVersion::V2_5)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgRole {
    Peer,
    Orderer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// `metadata.name`
    pub name: String,
    pub msp_id: String,
    pub role: OrgRole,
    /// `None` while the organization has not committed its certificates yet.
    pub msp: Option<Msp>,
    pub peers: Vec<Peer>,
    pub orderers: Vec<OrdererNode>,
    pub admins: Vec<Admin>,
}

impl Organization {
    pub fn anchor_peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter().filter(|p| p.anchor)
    }
}

/// PEM texts of the organization's verifying MSP.
#[derive(Debug, Clone, PartialEq)]
pub struct Msp {
    pub ca_certs: Vec<String>,
    pub intermediate_certs: Vec<String>,
    pub tls_ca_certs: Vec<String>,
    pub admin_certs: Vec<String>,
    pub node_ous: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub name: String,
    pub endpoint: Endpoint,
    pub anchor: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrdererNode {
    pub name: String,
    pub endpoint: Endpoint,
    /// PEM of the node's TLS server certificate.
    pub tls_cert: Option<String>,
    /// PEM of the node's signing certificate (a BFT consenter's identity).
    pub sign_cert: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Admin {
    pub name: String,
    /// OpenSSH public key line.
    pub signing_key: String,
}

/// A policy as written (for display and hashing) and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyText {
    pub text: String,
    pub parsed: Policy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    /// Member MSP IDs, sorted.
    pub members: Vec<String>,
    /// Application policies by name, Fabric's defaults filled in.
    pub policies: BTreeMap<String, PolicyText>,
    pub capabilities: Capabilities,
    pub batch: Batch,
    pub acls: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub channel: String,
    pub orderer: String,
    pub application: String,
}

/// Block cutting, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub timeout_ms: u64,
    pub max_message_count: u32,
    pub absolute_max_bytes: u32,
    pub preferred_max_bytes: u32,
}

impl Default for Batch {
    /// Fabric's defaults (configtxgen's sample profile).
    fn default() -> Self {
        Batch {
            timeout_ms: 2000,
            max_message_count: 500,
            absolute_max_bytes: 10 * 1024 * 1024,
            preferred_max_bytes: 2 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chaincode {
    pub name: String,
    pub channel: String,
    pub version: String,
    pub label: String,
    pub package: PackageSource,
    /// `None`: the channel's `Endorsement` policy.
    pub endorsement_policy: Option<PolicyText>,
    pub collections: Vec<Collection>,
    pub init_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageSource {
    Ccaas {
        artifact: Option<String>,
        tls: bool,
    },
    Source {
        git: String,
        commit: String,
        path: String,
        language: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub name: String,
    pub policy: PolicyText,
    pub required_peer_count: u32,
    pub max_peer_count: u32,
    pub block_to_live: u64,
    pub member_only_read: bool,
    pub member_only_write: bool,
}

/// The kinds of change a governance rule can govern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Chaincode,
    ChannelCreate,
    ChannelUpdate,
    OrgAdd,
    OrgRemove,
    Governance,
}

impl ChangeKind {
    pub const ALL: [(&'static str, ChangeKind); 6] = [
        ("chaincode", ChangeKind::Chaincode),
        ("channelCreate", ChangeKind::ChannelCreate),
        ("channelUpdate", ChangeKind::ChannelUpdate),
        ("orgAdd", ChangeKind::OrgAdd),
        ("orgRemove", ChangeKind::OrgRemove),
        ("governance", ChangeKind::Governance),
    ];
}

/// How many of the electorate must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// What Fabric itself requires (the channel's policy).
    Policy,
    Majority,
    /// 2f+1 of n = 3f+1.
    TwoThirds,
    All,
}

impl Quorum {
    pub const ALL: [(&'static str, Quorum); 4] = [
        ("policy", Quorum::Policy),
        ("majority", Quorum::Majority),
        ("twoThirds", Quorum::TwoThirds),
        ("all", Quorum::All),
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct Governance {
    /// Default voting deadline in seconds.
    pub voting_deadline_secs: u64,
    pub rules: BTreeMap<ChangeKind, (Quorum, u64)>,
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            voting_deadline_secs: 72 * 3600,
            rules: BTreeMap::new(),
        }
    }
}

impl Governance {
    /// The quorum and deadline for a kind of change (governance changes always need all).
    pub fn rule(&self, kind: ChangeKind) -> (Quorum, u64) {
        if kind == ChangeKind::Governance {
            return (
                Quorum::All,
                self.rules
                    .get(&kind)
                    .map_or(self.voting_deadline_secs, |r| r.1),
            );
        }
        self.rules
            .get(&kind)
            .copied()
            .unwrap_or((Quorum::Policy, self.voting_deadline_secs))
    }
}
