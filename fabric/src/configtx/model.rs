//! The typed model of a channel configuration and its decoding from (and
//! encoding to) Fabric's `common.Config`.
//!
//! Key decision: [`Value`] and [`Policy`] remember the bytes they were decoded
//! from together with what those bytes decoded to; encoding writes the
//! remembered bytes back as long as the typed content still equals the decoded
//! content. An untouched value therefore re-encodes byte for byte, even when
//! Go wrote its maps in an order prost would not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use prost::Message;

use crate::protos::common::{
    self, Block, BlockDataHashingStructure, Capabilities, Capability, ChannelHeader,
    ConfigEnvelope, ConfigGroup, ConfigPolicy, ConfigValue, Consortium, Envelope, HashingAlgorithm,
    HeaderType, ImplicitMetaPolicy, OrdererAddresses, Payload, SignaturePolicyEnvelope,
};
use crate::protos::{etcdraft, msp, orderer, protos as peer};

use super::Result;
use super::dsl;
use super::error::ConfigError;

/// Name of the root group (only used in paths: `/Channel/...`).
pub const CHANNEL_GROUP: &str = "Channel";
/// Key of the application group under the root.
pub const APPLICATION_GROUP: &str = "Application";
/// Key of the orderer group under the root.
pub const ORDERER_GROUP: &str = "Orderer";

/// A channel's configuration at one sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// The channel the config belongs to (from the config block's header).
    pub channel_id: String,
    /// The config sequence: how many config updates the channel has had.
    pub sequence: u64,
    /// The root group (`/Channel`).
    pub root: Group,
}

/// A group of the configuration tree (`/Channel`, `/Channel/Application`,
/// `/Channel/Application/Org1MSP`, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub version: u64,
    pub mod_policy: String,
    pub groups: BTreeMap<String, Group>,
    pub values: BTreeMap<String, Value>,
    pub policies: BTreeMap<String, Policy>,
}

/// What a value or policy was decoded from, to write the same bytes back.
#[derive(Debug, Clone, PartialEq)]
struct Original<T> {
    bytes: Vec<u8>,
    decoded: T,
}

/// A value of a group, decoded according to its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub version: u64,
    pub mod_policy: String,
    pub content: ValueContent,
    original: Option<Original<ValueContent>>,
}

/// The content of a config value, by key.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueContent {
    /// `MSP` of an organization group. Type 0 (X.509) is decoded.
    Msp(MspValue),
    /// `AnchorPeers` of an application organization.
    AnchorPeers(Vec<peer::AnchorPeer>),
    /// `Endpoints` of an orderer organization (`host:port`).
    Endpoints(Vec<String>),
    /// `OrdererAddresses` of the channel group (legacy global endpoints).
    OrdererAddresses(Vec<String>),
    /// `ConsensusType` of the orderer group.
    ConsensusType(ConsensusType),
    /// `Orderers` of the orderer group: the BFT consenter mapping (Fabric 3).
    Orderers(Vec<common::Consenter>),
    /// `BatchSize` of the orderer group.
    BatchSize(orderer::BatchSize),
    /// `BatchTimeout` of the orderer group, a Go duration such as `2s`.
    BatchTimeout(String),
    /// `ChannelRestrictions` of the orderer group.
    ChannelRestrictions(orderer::ChannelRestrictions),
    /// `Capabilities` of the channel, orderer or application group.
    Capabilities(BTreeSet<String>),
    /// `ACLs` of the application group: resource → policy reference.
    Acls(BTreeMap<String, String>),
    /// `HashingAlgorithm` of the channel group.
    HashingAlgorithm(String),
    /// `BlockDataHashingStructure` of the channel group (Merkle width).
    BlockDataHashingStructure(u32),
    /// `Consortium` of the channel group (channels made through a system channel).
    Consortium(String),
    /// A key this module does not interpret; kept as bytes.
    Other(Vec<u8>),
}

/// The `MSP` value: an X.509 Fabric MSP, or another MSP type kept as bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum MspValue {
    Fabric(Box<msp::FabricMspConfig>),
    Other { msp_type: i32, config: Vec<u8> },
}

/// The `ConsensusType` value with its metadata decoded for `etcdraft` and `BFT`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsensusType {
    /// `etcdraft`, `BFT`, ...
    pub consensus_type: String,
    /// `orderer.ConsensusType.State`: 0 normal, 1 maintenance.
    pub state: i32,
    pub metadata: ConsensusMetadata,
}

/// Consensus metadata: Raft's and SmartBFT's are decoded, any other kind
/// kept as bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsensusMetadata {
    EtcdRaft(etcdraft::ConfigMetadata),
    /// SmartBFT options; the consenters live in the `Orderers` value.
    /// Boxed: the options are many times larger than any other value.
    Bft(Box<orderer::smartbft::Options>),
    Other(Vec<u8>),
}

/// A named policy of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: u64,
    pub mod_policy: String,
    pub rule: PolicyRule,
    original: Option<Original<PolicyRule>>,
}

/// What a policy requires.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyRule {
    /// A signature policy over MSP principals.
    Signature(SignaturePolicyEnvelope),
    /// A rule over the same-named policies of the sub-groups.
    ImplicitMeta {
        rule: ImplicitMetaRule,
        sub_policy: String,
    },
    /// Another policy type (or an unknown implicit meta rule), kept as is.
    Other { policy_type: i32, value: Vec<u8> },
    /// A `ConfigPolicy` without a policy (never in a valid channel config).
    Unset,
}

/// How an implicit meta policy combines its sub-policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImplicitMetaRule {
    Any = 0,
    All = 1,
    Majority = 2,
}

impl ImplicitMetaRule {
    /// How many of `count` sub-policies must be satisfied (Fabric: 0 when
    /// there are none).
    pub fn threshold(self, count: usize) -> usize {
        if count == 0 {
            return 0;
        }
        match self {
            ImplicitMetaRule::Any => 1,
            ImplicitMetaRule::All => count,
            ImplicitMetaRule::Majority => count / 2 + 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImplicitMetaRule::Any => "ANY",
            ImplicitMetaRule::All => "ALL",
            ImplicitMetaRule::Majority => "MAJORITY",
        }
    }
}

impl fmt::Display for ImplicitMetaRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PolicyRule {
    /// A signature policy from Fabric's policy language, e.g. `OR('Org1MSP.admin')`.
    pub fn signature(expression: &str) -> Result<PolicyRule> {
        dsl::parse_signature_policy(expression).map(PolicyRule::Signature)
    }

    /// An implicit meta policy from configtxgen's form, e.g. `MAJORITY Admins`.
    pub fn implicit_meta(expression: &str) -> Result<PolicyRule> {
        let p = dsl::parse_implicit_meta(expression)?;
        Ok(PolicyRule::ImplicitMeta {
            rule: match p.rule {
                0 => ImplicitMetaRule::Any,
                1 => ImplicitMetaRule::All,
                _ => ImplicitMetaRule::Majority,
            },
            sub_policy: p.sub_policy,
        })
    }

    fn to_proto(&self) -> Option<common::Policy> {
        Some(match self {
            PolicyRule::Signature(env) => common::Policy {
                r#type: common::policy::PolicyType::Signature as i32,
                value: env.encode_to_vec(),
            },
            PolicyRule::ImplicitMeta { rule, sub_policy } => common::Policy {
                r#type: common::policy::PolicyType::ImplicitMeta as i32,
                value: ImplicitMetaPolicy {
                    sub_policy: sub_policy.clone(),
                    rule: *rule as i32,
                }
                .encode_to_vec(),
            },
            PolicyRule::Other { policy_type, value } => common::Policy {
                r#type: *policy_type,
                value: value.clone(),
            },
            PolicyRule::Unset => return None,
        })
    }

    fn from_proto(policy: Option<&common::Policy>, path: &str) -> Result<PolicyRule> {
        let Some(policy) = policy else {
            return Ok(PolicyRule::Unset);
        };
        let signature = common::policy::PolicyType::Signature as i32;
        let implicit = common::policy::PolicyType::ImplicitMeta as i32;
        Ok(if policy.r#type == signature {
            PolicyRule::Signature(
                SignaturePolicyEnvelope::decode(policy.value.as_slice())
                    .map_err(|e| ConfigError::decode(format!("signature policy {path}"), e))?,
            )
        } else if policy.r#type == implicit {
            let p = ImplicitMetaPolicy::decode(policy.value.as_slice())
                .map_err(|e| ConfigError::decode(format!("implicit meta policy {path}"), e))?;
            let rule = match p.rule {
                0 => Some(ImplicitMetaRule::Any),
                1 => Some(ImplicitMetaRule::All),
                2 => Some(ImplicitMetaRule::Majority),
                _ => None,
            };
            match rule {
                Some(rule) => PolicyRule::ImplicitMeta {
                    rule,
                    sub_policy: p.sub_policy,
                },
                None => PolicyRule::Other {
                    policy_type: policy.r#type,
                    value: policy.value.clone(),
                },
            }
        } else {
            PolicyRule::Other {
                policy_type: policy.r#type,
                value: policy.value.clone(),
            }
        })
    }
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyRule::Signature(env) => f.write_str(&dsl::signature_policy_to_dsl(env)),
            PolicyRule::ImplicitMeta { rule, sub_policy } => write!(f, "{rule} {sub_policy}"),
            PolicyRule::Other { policy_type, .. } => write!(f, "<policy of type {policy_type}>"),
            PolicyRule::Unset => f.write_str("<unset>"),
        }
    }
}

impl Policy {
    /// A new policy (version 0).
    pub fn new(rule: PolicyRule, mod_policy: impl Into<String>) -> Policy {
        Policy {
            version: 0,
            mod_policy: mod_policy.into(),
            rule,
            original: None,
        }
    }

    /// The `common.Policy` this policy encodes to: the decoded bytes when the
    /// rule is untouched.
    pub fn to_proto(&self) -> Option<common::Policy> {
        match &self.original {
            Some(o) if o.decoded == self.rule => {
                let ty = match &self.rule {
                    PolicyRule::Signature(_) => common::policy::PolicyType::Signature as i32,
                    PolicyRule::ImplicitMeta { .. } => {
                        common::policy::PolicyType::ImplicitMeta as i32
                    }
                    PolicyRule::Other { policy_type, .. } => *policy_type,
                    PolicyRule::Unset => return None,
                };
                Some(common::Policy {
                    r#type: ty,
                    value: o.bytes.clone(),
                })
            }
            _ => self.rule.to_proto(),
        }
    }

    fn from_proto(p: &ConfigPolicy, path: &str) -> Result<Policy> {
        let rule = PolicyRule::from_proto(p.policy.as_ref(), path)?;
        Ok(Policy {
            version: p.version,
            mod_policy: p.mod_policy.clone(),
            original: p.policy.as_ref().map(|pol| Original {
                bytes: pol.value.clone(),
                decoded: rule.clone(),
            }),
            rule,
        })
    }
}

impl Value {
    /// A new value (version 0).
    pub fn new(content: ValueContent, mod_policy: impl Into<String>) -> Value {
        Value {
            version: 0,
            mod_policy: mod_policy.into(),
            content,
            original: None,
        }
    }

    /// The encoded value: the decoded bytes when the content is untouched.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.original {
            Some(o) if o.decoded == self.content => o.bytes.clone(),
            _ => self.content.encode(),
        }
    }

    fn from_proto(key: &str, v: &ConfigValue, path: &str) -> Result<Value> {
        let content = ValueContent::decode(key, &v.value, path)?;
        Ok(Value {
            version: v.version,
            mod_policy: v.mod_policy.clone(),
            original: Some(Original {
                bytes: v.value.clone(),
                decoded: content.clone(),
            }),
            content,
        })
    }
}

impl ValueContent {
    /// Decodes the bytes of the value stored under `key`. Unknown keys are
    /// kept as [`ValueContent::Other`].
    pub fn decode(key: &str, bytes: &[u8], path: &str) -> Result<ValueContent> {
        fn dec<M: Message + Default>(bytes: &[u8], path: &str, ty: &str) -> Result<M> {
            M::decode(bytes)
                .map_err(|e| ConfigError::decode(format!("config value {path} as {ty}"), e))
        }
        Ok(match key {
            "MSP" => {
                let m: msp::MspConfig = dec(bytes, path, "msp.MSPConfig")?;
                if m.r#type == 0 {
                    ValueContent::Msp(MspValue::Fabric(Box::new(dec(
                        &m.config,
                        path,
                        "msp.FabricMSPConfig",
                    )?)))
                } else {
                    ValueContent::Msp(MspValue::Other {
                        msp_type: m.r#type,
                        config: m.config,
                    })
                }
            }
            "AnchorPeers" => {
                let a: peer::AnchorPeers = dec(bytes, path, "protos.AnchorPeers")?;
                ValueContent::AnchorPeers(a.anchor_peers)
            }
            "Endpoints" => {
                let a: OrdererAddresses = dec(bytes, path, "common.OrdererAddresses")?;
                ValueContent::Endpoints(a.addresses)
            }
            "OrdererAddresses" => {
                let a: OrdererAddresses = dec(bytes, path, "common.OrdererAddresses")?;
                ValueContent::OrdererAddresses(a.addresses)
            }
            "ConsensusType" => {
                let c: orderer::ConsensusType = dec(bytes, path, "orderer.ConsensusType")?;
                let metadata = match c.r#type.as_str() {
                    "etcdraft" => ConsensusMetadata::EtcdRaft(dec(
                        &c.metadata,
                        path,
                        "etcdraft.ConfigMetadata",
                    )?),
                    "BFT" => {
                        ConsensusMetadata::Bft(dec(&c.metadata, path, "orderer.smartbft.Options")?)
                    }
                    _ => ConsensusMetadata::Other(c.metadata),
                };
                ValueContent::ConsensusType(ConsensusType {
                    consensus_type: c.r#type,
                    state: c.state,
                    metadata,
                })
            }
            "Orderers" => {
                let o: common::Orderers = dec(bytes, path, "common.Orderers")?;
                ValueContent::Orderers(o.consenter_mapping)
            }
            "BatchSize" => ValueContent::BatchSize(dec(bytes, path, "orderer.BatchSize")?),
            "BatchTimeout" => {
                let t: orderer::BatchTimeout = dec(bytes, path, "orderer.BatchTimeout")?;
                ValueContent::BatchTimeout(t.timeout)
            }
            "ChannelRestrictions" => {
                ValueContent::ChannelRestrictions(dec(bytes, path, "orderer.ChannelRestrictions")?)
            }
            "Capabilities" => {
                let c: Capabilities = dec(bytes, path, "common.Capabilities")?;
                ValueContent::Capabilities(c.capabilities.into_keys().collect())
            }
            "ACLs" => {
                let a: peer::AcLs = dec(bytes, path, "protos.ACLs")?;
                ValueContent::Acls(a.acls.into_iter().map(|(k, v)| (k, v.policy_ref)).collect())
            }
            "HashingAlgorithm" => {
                let h: HashingAlgorithm = dec(bytes, path, "common.HashingAlgorithm")?;
                ValueContent::HashingAlgorithm(h.name)
            }
            "BlockDataHashingStructure" => {
                let b: BlockDataHashingStructure =
                    dec(bytes, path, "common.BlockDataHashingStructure")?;
                ValueContent::BlockDataHashingStructure(b.width)
            }
            "Consortium" => {
                let c: Consortium = dec(bytes, path, "common.Consortium")?;
                ValueContent::Consortium(c.name)
            }
            _ => ValueContent::Other(bytes.to_vec()),
        })
    }

    /// Encodes the content (maps in sorted order).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ValueContent::Msp(MspValue::Fabric(c)) => msp::MspConfig {
                r#type: 0,
                config: c.encode_to_vec(),
            }
            .encode_to_vec(),
            ValueContent::Msp(MspValue::Other { msp_type, config }) => msp::MspConfig {
                r#type: *msp_type,
                config: config.clone(),
            }
            .encode_to_vec(),
            ValueContent::AnchorPeers(a) => peer::AnchorPeers {
                anchor_peers: a.clone(),
            }
            .encode_to_vec(),
            ValueContent::Endpoints(a) | ValueContent::OrdererAddresses(a) => OrdererAddresses {
                addresses: a.clone(),
            }
            .encode_to_vec(),
            ValueContent::ConsensusType(c) => orderer::ConsensusType {
                r#type: c.consensus_type.clone(),
                metadata: match &c.metadata {
                    ConsensusMetadata::EtcdRaft(m) => m.encode_to_vec(),
                    ConsensusMetadata::Bft(m) => m.encode_to_vec(),
                    ConsensusMetadata::Other(b) => b.clone(),
                },
                state: c.state,
            }
            .encode_to_vec(),
            ValueContent::Orderers(c) => common::Orderers {
                consenter_mapping: c.clone(),
            }
            .encode_to_vec(),
            ValueContent::BatchSize(b) => b.encode_to_vec(),
            ValueContent::BatchTimeout(t) => {
                orderer::BatchTimeout { timeout: t.clone() }.encode_to_vec()
            }
            ValueContent::ChannelRestrictions(r) => r.encode_to_vec(),
            ValueContent::Capabilities(c) => Capabilities {
                capabilities: c.iter().map(|k| (k.clone(), Capability {})).collect(),
            }
            .encode_to_vec(),
            ValueContent::Acls(a) => peer::AcLs {
                acls: a
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            peer::ApiResource {
                                policy_ref: v.clone(),
                            },
                        )
                    })
                    .collect(),
            }
            .encode_to_vec(),
            ValueContent::HashingAlgorithm(n) => {
                HashingAlgorithm { name: n.clone() }.encode_to_vec()
            }
            ValueContent::BlockDataHashingStructure(w) => {
                BlockDataHashingStructure { width: *w }.encode_to_vec()
            }
            ValueContent::Consortium(n) => Consortium { name: n.clone() }.encode_to_vec(),
            ValueContent::Other(b) => b.clone(),
        }
    }
}

impl Group {
    /// An empty group with the given mod policy (version 0).
    pub fn new(mod_policy: impl Into<String>) -> Group {
        Group {
            mod_policy: mod_policy.into(),
            ..Group::default()
        }
    }

    /// Decodes a `ConfigGroup`; `path` names it in errors (`/Channel/Orderer`).
    pub fn from_proto(g: &ConfigGroup, path: &str) -> Result<Group> {
        let mut groups = BTreeMap::new();
        for (k, sub) in &g.groups {
            groups.insert(k.clone(), Group::from_proto(sub, &format!("{path}/{k}"))?);
        }
        let mut values = BTreeMap::new();
        for (k, v) in &g.values {
            values.insert(k.clone(), Value::from_proto(k, v, &format!("{path}/{k}"))?);
        }
        let mut policies = BTreeMap::new();
        for (k, p) in &g.policies {
            policies.insert(k.clone(), Policy::from_proto(p, &format!("{path}/{k}"))?);
        }
        Ok(Group {
            version: g.version,
            mod_policy: g.mod_policy.clone(),
            groups,
            values,
            policies,
        })
    }

    /// Encodes the group.
    pub fn to_proto(&self) -> ConfigGroup {
        ConfigGroup {
            version: self.version,
            groups: self
                .groups
                .iter()
                .map(|(k, g)| (k.clone(), g.to_proto()))
                .collect(),
            values: self
                .values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ConfigValue {
                            version: v.version,
                            value: v.to_bytes(),
                            mod_policy: v.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            policies: self
                .policies
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        ConfigPolicy {
                            version: p.version,
                            policy: p.to_proto(),
                            mod_policy: p.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            mod_policy: self.mod_policy.clone(),
        }
    }

    /// Sets the value under `key`: replaces the content of an existing value
    /// (keeping its version and mod policy) or adds a new one with `mod_policy`.
    pub fn set_value(&mut self, key: &str, content: ValueContent, mod_policy: &str) {
        match self.values.get_mut(key) {
            Some(v) => v.content = content,
            None => {
                self.values
                    .insert(key.to_string(), Value::new(content, mod_policy));
            }
        }
    }

    /// Sets the policy `name`: replaces the rule of an existing policy or
    /// adds a new one with `mod_policy`.
    pub fn set_policy(&mut self, name: &str, rule: PolicyRule, mod_policy: &str) {
        match self.policies.get_mut(name) {
            Some(p) => p.rule = rule,
            None => {
                self.policies
                    .insert(name.to_string(), Policy::new(rule, mod_policy));
            }
        }
    }

    /// The MSP ID of an organization group, from its `MSP` value.
    pub fn msp_id(&self) -> Option<&str> {
        match self.values.get("MSP").map(|v| &v.content) {
            Some(ValueContent::Msp(MspValue::Fabric(m))) => Some(&m.name),
            _ => None,
        }
    }

    /// The Fabric MSP config of an organization group.
    pub fn fabric_msp(&self) -> Option<&msp::FabricMspConfig> {
        match self.values.get("MSP").map(|v| &v.content) {
            Some(ValueContent::Msp(MspValue::Fabric(m))) => Some(m),
            _ => None,
        }
    }

    /// The group at a path of keys below this one.
    pub fn find(&self, path: &[&str]) -> Option<&Group> {
        let mut g = self;
        for k in path {
            g = g.groups.get(*k)?;
        }
        Some(g)
    }

    /// The mutable group at a path of keys below this one.
    pub fn find_mut(&mut self, path: &[&str]) -> Option<&mut Group> {
        let mut g = self;
        for k in path {
            g = g.groups.get_mut(*k)?;
        }
        Some(g)
    }
}

/// The first envelope of a block (a config block has exactly one).
fn first_envelope(block: &Block, what: &str) -> Result<Envelope> {
    let data = block
        .data
        .as_ref()
        .and_then(|d| d.data.first())
        .ok_or_else(|| ConfigError::malformed(what, "has no transaction"))?;
    Envelope::decode(data.as_slice())
        .map_err(|e| ConfigError::decode(format!("the envelope of {what}"), e))
}

/// `Envelope → Payload → ConfigEnvelope` of a `CONFIG` transaction, with the
/// channel it belongs to.
fn decode_config_envelope(envelope: &Envelope, what: &str) -> Result<(String, ConfigEnvelope)> {
    let payload = Payload::decode(envelope.payload.as_slice())
        .map_err(|e| ConfigError::decode(format!("the payload of {what}"), e))?;
    let header = payload
        .header
        .as_ref()
        .ok_or_else(|| ConfigError::malformed(what, "payload has no header"))?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| ConfigError::decode(format!("the channel header of {what}"), e))?;
    if channel_header.r#type != HeaderType::Config as i32 {
        return Err(ConfigError::malformed(
            what,
            format!(
                "is not a config block (transaction type {} instead of CONFIG); \
                 read the block that the last-config index of the newest block points to",
                channel_header.r#type
            ),
        ));
    }
    let config_envelope = ConfigEnvelope::decode(payload.data.as_slice())
        .map_err(|e| ConfigError::decode(format!("the config envelope of {what}"), e))?;
    Ok((channel_header.channel_id, config_envelope))
}

/// What a config block records about the update that produced it: the
/// config's sequence and the `ConfigUpdate` bytes exactly as their signers
/// signed them (the orderer keeps the submitted `CONFIG_UPDATE` envelope as
/// the config's `last_update`); `None` for a genesis block, which no update
/// produced. Comparing these bytes is how a reader proves that one given
/// update, and not merely some update, moved the channel.
pub fn applied_config_update(block: &Block) -> Result<(u64, Option<Vec<u8>>)> {
    let number = block.header.as_ref().map(|h| h.number).unwrap_or_default();
    let what = format!("block {number}");
    let (_, config_envelope) = decode_config_envelope(&first_envelope(block, &what)?, &what)?;
    let sequence = config_envelope.config.as_ref().map_or(0, |c| c.sequence);
    let Some(last_update) = config_envelope.last_update else {
        return Ok((sequence, None));
    };
    if last_update.payload.is_empty() {
        return Ok((sequence, None));
    }
    let payload = Payload::decode(last_update.payload.as_slice())
        .map_err(|e| ConfigError::decode(format!("the last update of {what}"), e))?;
    let update = common::ConfigUpdateEnvelope::decode(payload.data.as_slice())
        .map_err(|e| ConfigError::decode(format!("the config update envelope of {what}"), e))?;
    Ok((sequence, Some(update.config_update)))
}

impl ChannelConfig {
    /// Decodes the config of a config block (a channel's genesis block or any
    /// later config block): `Block → Envelope → Payload → ConfigEnvelope → Config`.
    pub fn from_block(block: &Block) -> Result<ChannelConfig> {
        let number = block.header.as_ref().map(|h| h.number).unwrap_or_default();
        let what = format!("block {number}");
        Self::from_config_envelope(&first_envelope(block, &what)?, &what)
    }

    /// Decodes an encoded config block.
    pub fn from_block_bytes(bytes: &[u8]) -> Result<ChannelConfig> {
        let block = Block::decode(bytes).map_err(|e| ConfigError::decode("config block", e))?;
        Self::from_block(&block)
    }

    /// Decodes the `CONFIG` envelope of a config block.
    pub fn from_config_envelope(envelope: &Envelope, what: &str) -> Result<ChannelConfig> {
        let (channel_id, config_envelope) = decode_config_envelope(envelope, what)?;
        let config = config_envelope
            .config
            .ok_or_else(|| ConfigError::malformed(what, "config envelope has no config"))?;
        Self::from_config(&channel_id, &config)
    }

    /// Decodes a `common.Config` of channel `channel_id`.
    pub fn from_config(channel_id: &str, config: &common::Config) -> Result<ChannelConfig> {
        let root = config.channel_group.as_ref().ok_or_else(|| {
            ConfigError::malformed(
                format!("config of channel {channel_id}"),
                "has no channel group",
            )
        })?;
        Ok(ChannelConfig {
            channel_id: channel_id.to_string(),
            sequence: config.sequence,
            root: Group::from_proto(root, &format!("/{CHANNEL_GROUP}"))?,
        })
    }

    /// Encodes the config as a `common.Config`.
    pub fn to_proto(&self) -> common::Config {
        common::Config {
            sequence: self.sequence,
            channel_group: Some(self.root.to_proto()),
        }
    }

    /// The same config with every value and policy encoded by this crate
    /// (maps sorted) instead of by the bytes it was read from: compares
    /// configs by content when they were written by different encoders.
    pub fn canonical(&self) -> ChannelConfig {
        fn strip(g: &mut Group) {
            for v in g.values.values_mut() {
                v.original = None;
            }
            for p in g.policies.values_mut() {
                p.original = None;
            }
            for sub in g.groups.values_mut() {
                strip(sub);
            }
        }
        let mut c = self.clone();
        strip(&mut c.root);
        c
    }

    /// The application group, if the channel has one.
    pub fn application(&self) -> Option<&Group> {
        self.root.groups.get(APPLICATION_GROUP)
    }

    /// The orderer group, if the channel has one.
    pub fn orderer(&self) -> Option<&Group> {
        self.root.groups.get(ORDERER_GROUP)
    }

    /// The MSP IDs of the application organizations, sorted.
    pub fn application_msp_ids(&self) -> Vec<String> {
        self.application()
            .map(|a| {
                a.groups
                    .values()
                    .filter_map(|g| g.msp_id().map(str::to_string))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The MSP IDs of the orderer organizations, sorted.
    pub fn orderer_msp_ids(&self) -> Vec<String> {
        self.orderer()
            .map(|a| {
                a.groups
                    .values()
                    .filter_map(|g| g.msp_id().map(str::to_string))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The application organization group whose key or MSP ID is `name`, with its key.
    pub fn application_org(&self, name: &str) -> Option<(&str, &Group)> {
        let app = self.application()?;
        if let Some((k, g)) = app.groups.get_key_value(name) {
            return Some((k.as_str(), g));
        }
        app.groups
            .iter()
            .find(|(_, g)| g.msp_id() == Some(name))
            .map(|(k, g)| (k.as_str(), g))
    }

    /// The value content at `group path / key`, e.g. `(&["Orderer"], "BatchTimeout")`.
    pub fn value(&self, group: &[&str], key: &str) -> Option<&ValueContent> {
        self.root
            .find(group)
            .and_then(|g| g.values.get(key))
            .map(|v| &v.content)
    }

    /// The orderer's batch timeout (`2s`).
    pub fn batch_timeout(&self) -> Option<&str> {
        match self.value(&[ORDERER_GROUP], "BatchTimeout") {
            Some(ValueContent::BatchTimeout(t)) => Some(t),
            _ => None,
        }
    }

    /// The orderer's batch size.
    pub fn batch_size(&self) -> Option<&orderer::BatchSize> {
        match self.value(&[ORDERER_GROUP], "BatchSize") {
            Some(ValueContent::BatchSize(b)) => Some(b),
            _ => None,
        }
    }

    /// The BFT consenter mapping of the orderer (`Orderers`, Fabric 3).
    pub fn bft_consenters(&self) -> Option<&[common::Consenter]> {
        match self.value(&[ORDERER_GROUP], "Orderers") {
            Some(ValueContent::Orderers(c)) => Some(c),
            _ => None,
        }
    }

    /// The Raft metadata of the orderer (consenters and options).
    pub fn etcdraft(&self) -> Option<&etcdraft::ConfigMetadata> {
        match self.value(&[ORDERER_GROUP], "ConsensusType") {
            Some(ValueContent::ConsensusType(ConsensusType {
                metadata: ConsensusMetadata::EtcdRaft(m),
                ..
            })) => Some(m),
            _ => None,
        }
    }

    /// The anchor peers of an application organization (by key or MSP ID).
    pub fn anchor_peers(&self, org: &str) -> Vec<peer::AnchorPeer> {
        match self
            .application_org(org)
            .and_then(|(_, g)| g.values.get("AnchorPeers"))
            .map(|v| &v.content)
        {
            Some(ValueContent::AnchorPeers(a)) => a.clone(),
            _ => Vec::new(),
        }
    }

    /// The capabilities of a group (`&[]` for the channel, `&["Orderer"]`, `&["Application"]`).
    pub fn capabilities(&self, group: &[&str]) -> BTreeSet<String> {
        match self.value(group, "Capabilities") {
            Some(ValueContent::Capabilities(c)) => c.clone(),
            _ => BTreeSet::new(),
        }
    }

    /// The application ACL overrides.
    pub fn acls(&self) -> BTreeMap<String, String> {
        match self.value(&[APPLICATION_GROUP], "ACLs") {
            Some(ValueContent::Acls(a)) => a.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// The rule of the policy at an absolute path such as `/Channel/Application/Admins`.
    pub fn policy(&self, path: &str) -> Option<&PolicyRule> {
        let rest = path.strip_prefix(&format!("/{CHANNEL_GROUP}/"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let (name, groups) = parts.split_last()?;
        self.root
            .find(groups)
            .and_then(|g| g.policies.get(*name))
            .map(|p| &p.rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    /// A config block at `sequence` whose config envelope records
    /// `config_update` as the update that produced it.
    fn config_block(sequence: u64, config_update: Option<&[u8]>) -> Block {
        let config = ChannelConfig {
            channel_id: "c".into(),
            sequence,
            root: Group::default(),
        };
        let mut block =
            super::super::genesis::genesis_block_from_config(&config, SystemTime::UNIX_EPOCH, b"n");
        let Some(update) = config_update else {
            return block;
        };
        let raw = &mut block.data.as_mut().unwrap().data[0];
        let mut envelope = Envelope::decode(raw.as_slice()).unwrap();
        let mut payload = Payload::decode(envelope.payload.as_slice()).unwrap();
        let mut config_envelope = ConfigEnvelope::decode(payload.data.as_slice()).unwrap();
        let update_payload = Payload {
            header: payload.header.clone(),
            data: common::ConfigUpdateEnvelope {
                config_update: update.to_vec(),
                signatures: Vec::new(),
            }
            .encode_to_vec(),
        };
        config_envelope.last_update = Some(Envelope {
            payload: update_payload.encode_to_vec(),
            signature: b"sig".to_vec(),
        });
        payload.data = config_envelope.encode_to_vec();
        envelope.payload = payload.encode_to_vec();
        *raw = envelope.encode_to_vec();
        block
    }

    #[test]
    fn a_config_block_names_the_update_bytes_that_produced_it() {
        assert_eq!(
            applied_config_update(&config_block(0, None)).unwrap(),
            (0, None),
            "a genesis block was produced by no update"
        );
        assert_eq!(
            applied_config_update(&config_block(3, Some(b"update bytes"))).unwrap(),
            (3, Some(b"update bytes".to_vec()))
        );
        let block = config_block(3, Some(b"update bytes"));
        assert_eq!(ChannelConfig::from_block(&block).unwrap().sequence, 3);
        let mut not_config = block.clone();
        not_config.data.as_mut().unwrap().data.clear();
        assert!(applied_config_update(&not_config).is_err());
    }
}
