//! The kinds of the network spec, as they are written in YAML.
//!
//! Each YAML document is one object, Kubernetes-style: `apiVersion: opssc/v1alpha1`,
//! `kind`, `metadata.name` and `spec`. The types here are the *raw* shape: they
//! deserialize (unknown fields denied) and generate the JSON Schema, and every
//! value that a later check may complain about is wrapped in [`Spanned`] so the
//! complaint can point at its line and column. Cross-document rules live in
//! `validate`; only validation builds a [`crate::Spec`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The only `apiVersion` this release reads.
pub const API_VERSION: &str = "opssc/v1alpha1";

/// A value with the position it was read from.
pub type S<T> = Spanned<T>;

/// The kinds a document can have.
pub const KINDS: &[&str] = &[
    "Consortium",
    "Organization",
    "Channel",
    "Chaincode",
    "Governance",
];

/// `metadata` of every document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The document's name, unique per kind.
    #[schemars(with = "String")]
    pub name: S<String>,
    /// Free-form labels; opssc does not interpret them.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One document: `apiVersion`, `kind`, `metadata`, `spec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Document<T> {
    #[schemars(with = "String")]
    pub api_version: S<String>,
    #[schemars(with = "String")]
    pub kind: S<String>,
    pub metadata: Metadata,
    pub spec: T,
}

// ---------------------------------------------------------------------------
// Consortium
// ---------------------------------------------------------------------------

/// The consortium as a whole: its ordering service and the ops channel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsortiumSpec {
    /// The Fabric release the network runs, `major.minor` (e.g. `"2.5"`).
    #[schemars(with = "String")]
    pub fabric_version: S<String>,
    /// The channel every member joins, where the OpsSC chaincode runs.
    #[schemars(with = "String")]
    pub ops_channel: S<String>,
    /// The ordering service.
    pub orderer: OrdererSpec,
    /// The `metadata.name` of the Governance document to apply (optional: Fabric's defaults).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub governance: Option<S<String>>,
}

/// The ordering service: a Raft (or, on Fabric 3.1, SmartBFT) cluster of
/// orderer nodes of orderer organizations.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrdererSpec {
    /// Consensus type: `etcdraft` (default) or `bft` (SmartBFT; Fabric 3.1,
    /// at least 4 consenters, each with a `signCert`).
    #[serde(default = "default_consensus")]
    #[schemars(with = "String")]
    pub consensus: S<String>,
    /// The consenters, each an orderer node declared by an orderer Organization.
    pub consenters: Vec<ConsenterRef>,
    /// Default batch settings of new channels.
    #[serde(default)]
    pub batch: Option<BatchSpec>,
}

fn default_consensus() -> S<String> {
    unspanned("etcdraft".to_string())
}

/// A Raft consenter: `org` (MSP ID) and the orderer node's `name` in that Organization.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsenterRef {
    #[schemars(with = "String")]
    pub org: S<String>,
    #[schemars(with = "String")]
    pub node: S<String>,
}

/// Block cutting: how long to wait and how much to put in a block.
#[derive(Debug, Deserialize, JsonSchema, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BatchSpec {
    /// Fabric duration, e.g. `500ms`, `2s`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_message_count: Option<S<u32>>,
    /// Bytes, or with a unit: `10 MB`, `512 KB`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub absolute_max_bytes: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub preferred_max_bytes: Option<S<String>>,
}

// ---------------------------------------------------------------------------
// Organization
// ---------------------------------------------------------------------------

/// A member organization: its MSP, its nodes and the keys its admins sign git commits with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrganizationSpec {
    /// The MSP ID, as used in policies (`'Org1MSP.admin'`).
    #[schemars(with = "String")]
    pub msp_id: S<String>,
    /// `peer` (default) or `orderer`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub role: Option<S<String>>,
    /// Certificates of the MSP. May be absent while an organization is being
    /// prepared (a warning): it cannot join a channel until they are committed.
    #[serde(default)]
    pub msp: Option<MspSpec>,
    /// Peer nodes (peer organizations).
    #[serde(default)]
    pub peers: Vec<NodeSpec>,
    /// Orderer nodes (orderer organizations).
    #[serde(default)]
    pub orderers: Vec<OrdererNodeSpec>,
    /// The admins whose signed git commits this organization vouches for.
    #[serde(default)]
    pub admins: Vec<AdminSpec>,
}

/// The certificates that make up the organization's verifying MSP.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MspSpec {
    /// Root CA certificates (identities).
    pub ca_certs: Vec<CertSource>,
    /// Intermediate CA certificates.
    #[serde(default)]
    pub intermediate_certs: Vec<CertSource>,
    /// Root CA certificates of the TLS CA.
    #[serde(default)]
    pub tls_ca_certs: Vec<CertSource>,
    /// Explicit admin certificates (only needed without NodeOUs).
    #[serde(default)]
    pub admin_certs: Vec<CertSource>,
    /// Classify identities by OU (client, peer, admin, orderer); default true.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub node_ous: Option<S<bool>>,
}

/// A certificate given inline (`pem`) or as a file relative to the YAML file (`file`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertSource {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub pem: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub file: Option<S<String>>,
}

/// A peer node.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSpec {
    #[schemars(with = "String")]
    pub name: S<String>,
    /// `host:port` other organizations use to reach the node.
    #[schemars(with = "String")]
    pub endpoint: S<String>,
    /// Whether the peer is an anchor peer of the organization in its channels.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub anchor: Option<S<bool>>,
}

/// An orderer node.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrdererNodeSpec {
    #[schemars(with = "String")]
    pub name: S<String>,
    /// `host:port` for Broadcast / Deliver and cluster traffic.
    #[schemars(with = "String")]
    pub endpoint: S<String>,
    /// The node's TLS server certificate (Raft identifies consenters by it).
    #[serde(default)]
    pub tls_cert: Option<CertSource>,
    /// The node's signing (enrollment) certificate: a BFT consenter's
    /// identity, which signs the blocks it orders (needed with `consensus: bft`).
    #[serde(default)]
    pub sign_cert: Option<CertSource>,
}

/// An admin of the organization, identified by the key that signs their git commits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdminSpec {
    #[schemars(with = "String")]
    pub name: S<String>,
    /// An OpenSSH public key line (`ssh-ed25519 AAAA... comment`).
    #[schemars(with = "String")]
    pub signing_key: S<String>,
}

// ---------------------------------------------------------------------------
// Channel
// ---------------------------------------------------------------------------

/// An application channel (or the ops channel): members, policies, settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelSpec {
    /// MSP IDs of the member organizations.
    #[schemars(with = "Vec<String>")]
    pub members: Vec<S<String>>,
    /// Application policies by name (`Readers`, `Writers`, `Admins`,
    /// `Endorsement`, `LifecycleEndorsement`, or your own). Each is an implicit
    /// meta policy (`MAJORITY Admins`) or a signature policy
    /// (`OR('Org1MSP.admin', 'Org2MSP.admin')`). Missing ones get Fabric's
    /// defaults, except the ops channel's `Endorsement` (the OpsSC's
    /// endorsement policy): the members' majority spelled out, e.g.
    /// `OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')`, which
    /// peers check faster and which every member change rewrites. One
    /// written by hand as a signature policy is kept as written; `validate`
    /// warns when it leaves out a member.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub policies: BTreeMap<String, S<String>>,
    /// Capability levels; defaults: channel `V2_0`, orderer `V2_0`, application `V2_5`.
    #[serde(default)]
    pub capabilities: Option<CapabilitiesSpec>,
    /// Block cutting for this channel (overrides the consortium's default).
    #[serde(default)]
    pub batch: Option<BatchSpec>,
    /// ACL overrides: resource (`lifecycle/CommitChaincodeDefinition`) → policy path.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub acls: BTreeMap<String, S<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CapabilitiesSpec {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub channel: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub orderer: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub application: Option<S<String>>,
}

// ---------------------------------------------------------------------------
// Chaincode
// ---------------------------------------------------------------------------

/// A chaincode on a channel. The definition sequence is computed, never written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChaincodeSpec {
    /// The channel's `metadata.name`.
    #[schemars(with = "String")]
    pub channel: S<String>,
    /// The chaincode name on the channel (default: `metadata.name`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<S<String>>,
    #[schemars(with = "String")]
    pub version: S<String>,
    /// Where the code comes from.
    pub package: PackageSpec,
    /// A signature policy, or a channel policy reference (`/Channel/Application/Endorsement`).
    /// Default: the channel's `Endorsement` policy.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endorsement_policy: Option<S<String>>,
    /// Private data collections.
    #[serde(default)]
    pub collections: Vec<CollectionSpec>,
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub init_required: Option<S<bool>>,
}

/// The package source: exactly one of `ccaas` or `source`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PackageSpec {
    /// Package label (default `<name>_<version>`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub label: Option<S<String>>,
    /// Chaincode-as-a-service: a server each organization runs.
    #[serde(default)]
    pub ccaas: Option<CcaasSpec>,
    /// A source package built by every organization from a pinned git commit.
    #[serde(default)]
    pub source: Option<SourceSpec>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CcaasSpec {
    /// The server artifact every org runs: `sha256:<hex>` of the binary or image
    /// digest. When given, each organization's agent checks its server against it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub artifact: Option<S<String>>,
    /// Whether peers connect to the server with TLS.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub tls: Option<S<bool>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceSpec {
    /// Repository URL (credentials for private ones come from each org's local config).
    #[schemars(with = "String")]
    pub git: S<String>,
    /// A full 40-hex commit hash, never a branch or tag.
    #[schemars(with = "String")]
    pub commit: S<String>,
    /// Path of the chaincode inside the repository.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<S<String>>,
    /// `golang` (the only language supported so far).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub language: Option<S<String>>,
}

/// A private data collection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CollectionSpec {
    #[schemars(with = "String")]
    pub name: S<String>,
    /// Signature policy over the member orgs, e.g. `OR('Org1MSP.member', 'Org2MSP.member')`.
    #[schemars(with = "String")]
    pub policy: S<String>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub required_peer_count: Option<S<u32>>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_peer_count: Option<S<u32>>,
    /// Blocks after which private data is purged; 0 = never.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub block_to_live: Option<S<u64>>,
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub member_only_read: Option<S<bool>>,
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub member_only_write: Option<S<bool>>,
}

// ---------------------------------------------------------------------------
// Governance
// ---------------------------------------------------------------------------

/// How proposals are decided: quorums per kind of change and deadlines.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GovernanceSpec {
    /// Default voting deadline (Fabric duration, e.g. `72h`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub voting_deadline: Option<S<String>>,
    /// Quorum per kind of change. A rule can only raise Fabric's own requirement.
    #[serde(default)]
    pub rules: Vec<GovernanceRule>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GovernanceRule {
    /// `chaincode`, `channelCreate`, `channelUpdate`, `orgAdd`, `orgRemove` or `governance`.
    #[schemars(with = "String")]
    pub change: S<String>,
    /// `policy` (what Fabric requires), `majority`, `twoThirds` (2f+1) or `all`.
    #[schemars(with = "String")]
    pub quorum: S<String>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub voting_deadline: Option<S<String>>,
}

/// The header every document shares, read first to learn the kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    #[serde(default)]
    pub api_version: Option<S<String>>,
    #[serde(default)]
    pub kind: Option<S<String>>,
}

/// A spanned value with no position (defaults).
pub fn unspanned<T>(value: T) -> S<T> {
    let unknown = serde_saphyr::Location::UNKNOWN;
    Spanned::new(value, unknown, unknown)
}
