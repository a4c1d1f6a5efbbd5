//! A channel's genesis block from a description, without `configtxgen`.
//!
//! The main type is [`ChannelDescription`]: application and orderer
//! organizations, Raft consenters, policies, capabilities and batch settings.
//! [`channel_config`] builds the config tree exactly as configtxgen's encoder
//! builds an application channel for channel participation (no system
//! channel): groups `Application` and `Orderer`, every element at version 0
//! with mod policy `Admins` (the channel-level `OrdererAddresses`, when set,
//! with `/Channel/Orderer/Admins`), `ChannelRestrictions` in the orderer group
//! and Raft options defaulted as configtxgen defaults them.
//!
//! A description with [`ChannelDescription::bft`] set founds a SmartBFT
//! channel (Fabric 3) instead: consensus type `BFT` with the SmartBFT options
//! as metadata, the consenter mapping in the orderer group's `Orderers` value,
//! and the orderer `BlockValidation` policy replaced by the one Fabric
//! derives from the mapping (a quorum of the consenters' identities), since
//! the BFT orderer rejects a config whose policy is any other.
//! [`genesis_block`] wraps it in block 0 as configtxgen does. Key decision:
//! time and randomness (header timestamp, nonce) are parameters, so a block
//! can be rebuilt byte for byte in tests.

use std::collections::BTreeMap;
use std::time::SystemTime;

use prost::Message;
use sha2::{Digest, Sha256};

use crate::protos::common::{
    Block, BlockData, BlockHeader, BlockMetadata, ChannelHeader, ConfigEnvelope, Consenter,
    Envelope, Header, HeaderType, LastConfig, Metadata, MspPrincipal, OrdererBlockMetadata,
    Payload, SignatureHeader, SignaturePolicy, SignaturePolicyEnvelope, msp_principal,
    signature_policy,
};
use crate::protos::{etcdraft, msp, orderer};

use super::Result;
use super::error::ConfigError;
use super::model::{
    APPLICATION_GROUP, ChannelConfig, ConsensusMetadata, ConsensusType, Group, ORDERER_GROUP,
    PolicyRule, ValueContent,
};
use super::msp::Organization;

/// Everything a new application channel's config holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDescription {
    pub channel_id: String,
    pub application_orgs: Vec<Organization>,
    pub orderer_orgs: Vec<Organization>,
    /// Raft consenters with their PEM TLS certificates (unused when `bft` is set).
    pub consenters: Vec<etcdraft::Consenter>,
    pub raft_options: etcdraft::Options,
    /// SmartBFT ordering instead of Raft (Fabric 3 only).
    pub bft: Option<BftOrdering>,
    pub batch_size: orderer::BatchSize,
    /// A Go duration, e.g. `2s`.
    pub batch_timeout: String,
    pub channel_capabilities: Vec<String>,
    pub orderer_capabilities: Vec<String>,
    pub application_capabilities: Vec<String>,
    pub channel_policies: BTreeMap<String, PolicyRule>,
    pub orderer_policies: BTreeMap<String, PolicyRule>,
    pub application_policies: BTreeMap<String, PolicyRule>,
    /// Application ACL overrides (resource → policy reference); none means no `ACLs` value.
    pub acls: BTreeMap<String, String>,
    /// Channel-level `OrdererAddresses`; none means no value (endpoints live
    /// in the orderer organizations).
    pub orderer_addresses: Vec<String>,
}

fn implicit(pairs: &[(&str, &str)]) -> BTreeMap<String, PolicyRule> {
    pairs
        .iter()
        .map(|(name, rule)| {
            (
                name.to_string(),
                PolicyRule::implicit_meta(rule).expect("built-in implicit meta rules parse"),
            )
        })
        .collect()
}

impl ChannelDescription {
    /// A description with Fabric's sample defaults: implicit meta policies
    /// (Readers `ANY Readers`, Writers `ANY Writers`, Admins `MAJORITY Admins`;
    /// application LifecycleEndorsement and Endorsement `MAJORITY Endorsement`;
    /// orderer BlockValidation `ANY Writers`), capabilities `V2_0` everywhere,
    /// batches of 10 messages / 99 MB / 512 KB preferred every 2s, and
    /// configtxgen's Raft options.
    pub fn new(
        channel_id: &str,
        application_orgs: Vec<Organization>,
        orderer_orgs: Vec<Organization>,
        consenters: Vec<etcdraft::Consenter>,
    ) -> ChannelDescription {
        let base = [
            ("Readers", "ANY Readers"),
            ("Writers", "ANY Writers"),
            ("Admins", "MAJORITY Admins"),
        ];
        let mut application = base.to_vec();
        application.push(("LifecycleEndorsement", "MAJORITY Endorsement"));
        application.push(("Endorsement", "MAJORITY Endorsement"));
        let mut orderer_policies = base.to_vec();
        orderer_policies.push(("BlockValidation", "ANY Writers"));
        ChannelDescription {
            channel_id: channel_id.to_string(),
            application_orgs,
            orderer_orgs,
            consenters,
            raft_options: etcdraft::Options {
                tick_interval: "500ms".into(),
                election_tick: 10,
                heartbeat_tick: 1,
                max_inflight_blocks: 5,
                snapshot_interval_size: 16 * 1024 * 1024,
            },
            bft: None,
            batch_size: orderer::BatchSize {
                max_message_count: 10,
                absolute_max_bytes: 99 * 1024 * 1024,
                preferred_max_bytes: 512 * 1024,
            },
            batch_timeout: "2s".into(),
            channel_capabilities: vec!["V2_0".into()],
            orderer_capabilities: vec!["V2_0".into()],
            application_capabilities: vec!["V2_0".into()],
            channel_policies: implicit(&base),
            orderer_policies: implicit(&orderer_policies),
            application_policies: implicit(&application),
            acls: BTreeMap::new(),
            orderer_addresses: Vec::new(),
        }
    }
}

/// A SmartBFT ordering service: the consenter mapping and the options.
#[derive(Debug, Clone, PartialEq)]
pub struct BftOrdering {
    /// Ids, endpoints, MSP IDs, PEM identities and PEM TLS certificates.
    pub consenters: Vec<Consenter>,
    pub options: orderer::smartbft::Options,
}

impl BftOrdering {
    /// `consenters` with the options of Fabric's sample `configtx.yaml`
    /// (the values configtxgen writes for its BFT profile), leader rotation
    /// off as configtxgen forces it.
    pub fn new(consenters: Vec<Consenter>) -> BftOrdering {
        BftOrdering {
            consenters,
            options: orderer::smartbft::Options {
                request_batch_max_count: 100,
                request_batch_max_bytes: 10 * 1024 * 1024,
                request_batch_max_interval: "200ms".into(),
                incoming_message_buffer_size: 200,
                request_pool_size: 100_000,
                request_forward_timeout: "5s".into(),
                request_complain_timeout: "20s".into(),
                request_auto_remove_timeout: "3m0s".into(),
                request_max_bytes: 0,
                view_change_resend_interval: "5s".into(),
                view_change_timeout: "20s".into(),
                leader_heartbeat_timeout: "1m0s".into(),
                leader_heartbeat_count: 10,
                collect_timeout: "1s".into(),
                sync_on_start: false,
                speed_up_view_change: false,
                leader_rotation: orderer::smartbft::options::Rotation::Off as i32,
                decisions_per_leader: 0,
            },
        }
    }

    /// How many faulty consenters the service tolerates: f = ⌊(n-1)/3⌋.
    pub fn fault_tolerance(&self) -> usize {
        bft_fault_tolerance(self.consenters.len())
    }

    /// The orderer `BlockValidation` policy Fabric requires of a BFT
    /// channel: ⌈(n+f+1)/2⌉ signatures out of the consenters' identities, in
    /// mapping order.
    pub fn block_validation_policy(&self) -> PolicyRule {
        let n = self.consenters.len();
        let quorum = bft_quorum(n);
        let identities = self
            .consenters
            .iter()
            .map(|c| MspPrincipal {
                principal_classification: msp_principal::Classification::Identity as i32,
                principal: msp::SerializedIdentity {
                    mspid: c.msp_id.clone(),
                    id_bytes: c.identity.clone(),
                }
                .encode_to_vec(),
            })
            .collect();
        let rules = (0..n)
            .map(|i| SignaturePolicy {
                r#type: Some(signature_policy::Type::SignedBy(i as i32)),
            })
            .collect();
        PolicyRule::Signature(SignaturePolicyEnvelope {
            version: 0,
            rule: Some(SignaturePolicy {
                r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                    n: quorum as i32,
                    rules,
                })),
            }),
            identities,
        })
    }
}

/// How many of `n` BFT consenters may fail: f = ⌊(n-1)/3⌋ (0 for n = 0).
/// The fewest SmartBFT consenters opssc builds a channel with: 3f+1 with
/// f = 1. Fewer tolerate no faulty node, which is what BFT is chosen for.
pub const MIN_BFT_CONSENTERS: usize = 4;

/// The refusal of a SmartBFT consenter set below [`MIN_BFT_CONSENTERS`].
pub(super) fn too_few_bft_consenters(channel: &str, n: usize) -> ConfigError {
    ConfigError::invalid(
        format!("channel {channel}"),
        format!(
            "it has {n} BFT consenters; SmartBFT needs at least {MIN_BFT_CONSENTERS} (3f+1 with f = 1)"
        ),
    )
}

pub fn bft_fault_tolerance(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

/// The BFT quorum of `n` consenters, ⌈(n+f+1)/2⌉, as Fabric computes it.
pub fn bft_quorum(n: usize) -> usize {
    (n + bft_fault_tolerance(n) + 1).div_ceil(2)
}

fn check_channel_id(id: &str) -> Result<()> {
    // Fabric: [a-z][a-z0-9.-]*, shorter than 250 characters.
    let ok = id.len() < 250
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            format!("channel name {id:?}"),
            "it must match [a-z][a-z0-9.-]* and be shorter than 250 characters",
        ))
    }
}

fn add_policies(
    group: &mut Group,
    policies: &BTreeMap<String, PolicyRule>,
    what: &str,
    extra_required: &[&str],
) -> Result<()> {
    for required in ["Admins", "Readers", "Writers"]
        .iter()
        .chain(extra_required)
    {
        if !policies.contains_key(*required) {
            return Err(ConfigError::invalid(
                what,
                format!("it has no {required} policy, which Fabric requires"),
            ));
        }
    }
    for (name, rule) in policies {
        group.set_policy(name, rule.clone(), "Admins");
    }
    Ok(())
}

fn capabilities(list: &[String]) -> Option<ValueContent> {
    (!list.is_empty()).then(|| ValueContent::Capabilities(list.iter().cloned().collect()))
}

/// The config (sequence 0) of the channel described.
pub fn channel_config(desc: &ChannelDescription) -> Result<ChannelConfig> {
    check_channel_id(&desc.channel_id)?;
    if desc.application_orgs.is_empty() {
        return Err(ConfigError::invalid(
            format!("channel {}", desc.channel_id),
            "it has no application organization",
        ));
    }
    if desc.orderer_orgs.is_empty() {
        return Err(ConfigError::invalid(
            format!("channel {}", desc.channel_id),
            "it has no orderer organization",
        ));
    }
    match &desc.bft {
        None if desc.consenters.is_empty() => {
            return Err(ConfigError::invalid(
                format!("channel {}", desc.channel_id),
                "it has no Raft consenter",
            ));
        }
        Some(bft) if bft.consenters.len() < MIN_BFT_CONSENTERS => {
            return Err(too_few_bft_consenters(
                &desc.channel_id,
                bft.consenters.len(),
            ));
        }
        _ => {}
    }
    if super::edit::parse_go_duration(&desc.batch_timeout).is_none_or(|n| n == 0) {
        return Err(ConfigError::invalid(
            format!("batch timeout {:?}", desc.batch_timeout),
            "expected a positive Go duration such as 500ms or 2s",
        ));
    }
    let mut root = Group::new("Admins");
    add_policies(&mut root, &desc.channel_policies, "channel policies", &[])?;
    root.set_value(
        "HashingAlgorithm",
        ValueContent::HashingAlgorithm("SHA256".into()),
        "Admins",
    );
    root.set_value(
        "BlockDataHashingStructure",
        ValueContent::BlockDataHashingStructure(u32::MAX),
        "Admins",
    );
    if !desc.orderer_addresses.is_empty() {
        root.set_value(
            "OrdererAddresses",
            ValueContent::OrdererAddresses(desc.orderer_addresses.clone()),
            "/Channel/Orderer/Admins",
        );
    }
    if let Some(c) = capabilities(&desc.channel_capabilities) {
        root.set_value("Capabilities", c, "Admins");
    }

    let mut orderer = Group::new("Admins");
    add_policies(
        &mut orderer,
        &desc.orderer_policies,
        "orderer policies",
        &["BlockValidation"],
    )?;
    orderer.set_value(
        "BatchSize",
        ValueContent::BatchSize(desc.batch_size),
        "Admins",
    );
    orderer.set_value(
        "BatchTimeout",
        ValueContent::BatchTimeout(desc.batch_timeout.clone()),
        "Admins",
    );
    orderer.set_value(
        "ChannelRestrictions",
        ValueContent::ChannelRestrictions(orderer::ChannelRestrictions { max_count: 0 }),
        "Admins",
    );
    if let Some(c) = capabilities(&desc.orderer_capabilities) {
        orderer.set_value("Capabilities", c, "Admins");
    }
    let consensus = match &desc.bft {
        None => ConsensusType {
            consensus_type: "etcdraft".into(),
            state: 0,
            metadata: ConsensusMetadata::EtcdRaft(etcdraft::ConfigMetadata {
                consenters: desc.consenters.clone(),
                options: Some(desc.raft_options.clone()),
            }),
        },
        Some(bft) => {
            orderer.set_value(
                "Orderers",
                ValueContent::Orderers(bft.consenters.clone()),
                "Admins",
            );
            orderer.set_policy("BlockValidation", bft.block_validation_policy(), "Admins");
            ConsensusType {
                consensus_type: "BFT".into(),
                state: 0,
                metadata: ConsensusMetadata::Bft(Box::new(bft.options.clone())),
            }
        }
    };
    orderer.set_value(
        "ConsensusType",
        ValueContent::ConsensusType(consensus),
        "Admins",
    );
    for org in &desc.orderer_orgs {
        if orderer
            .groups
            .insert(org.name.clone(), org.to_group()?)
            .is_some()
        {
            return Err(ConfigError::invalid(
                format!("orderer organization {}", org.name),
                "it is listed twice",
            ));
        }
    }

    let mut application = Group::new("Admins");
    add_policies(
        &mut application,
        &desc.application_policies,
        "application policies",
        &[],
    )?;
    if !desc.acls.is_empty() {
        application.set_value("ACLs", ValueContent::Acls(desc.acls.clone()), "Admins");
    }
    if let Some(c) = capabilities(&desc.application_capabilities) {
        application.set_value("Capabilities", c, "Admins");
    }
    for org in &desc.application_orgs {
        if application
            .groups
            .insert(org.name.clone(), org.to_group()?)
            .is_some()
        {
            return Err(ConfigError::invalid(
                format!("application organization {}", org.name),
                "it is listed twice",
            ));
        }
    }

    root.groups.insert(ORDERER_GROUP.to_string(), orderer);
    root.groups
        .insert(APPLICATION_GROUP.to_string(), application);
    Ok(ChannelConfig {
        channel_id: desc.channel_id.clone(),
        sequence: 0,
        root,
    })
}

/// Block 0 of the channel described, stamped with `timestamp` and `nonce`
/// (configtxgen uses 24 random bytes). The header carries no creator, as
/// configtxgen's does not.
pub fn genesis_block(
    desc: &ChannelDescription,
    timestamp: SystemTime,
    nonce: &[u8],
) -> Result<Block> {
    let config = channel_config(desc)?;
    Ok(genesis_block_from_config(&config, timestamp, nonce))
}

/// [`genesis_block`] with the current time and a random nonce.
pub fn genesis_block_now(desc: &ChannelDescription) -> Result<Block> {
    let mut nonce = vec![0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    genesis_block(desc, SystemTime::now(), &nonce)
}

/// Block 0 holding `config` (whose sequence should be 0).
pub fn genesis_block_from_config(
    config: &ChannelConfig,
    timestamp: SystemTime,
    nonce: &[u8],
) -> Block {
    let seconds = timestamp
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let tx_id = hex::encode(Sha256::digest(nonce));
    let channel_header = ChannelHeader {
        r#type: HeaderType::Config as i32,
        version: 1,
        timestamp: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        channel_id: config.channel_id.clone(),
        tx_id,
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: Vec::new(),
    };
    let signature_header = SignatureHeader {
        creator: Vec::new(),
        nonce: nonce.to_vec(),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: ConfigEnvelope {
            config: Some(config.to_proto()),
            last_update: None,
        }
        .encode_to_vec(),
    };
    let envelope = Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    }
    .encode_to_vec();
    let data_hash = Sha256::digest(&envelope).to_vec();
    let signatures = Metadata {
        value: OrdererBlockMetadata {
            last_config: Some(LastConfig { index: 0 }),
            consenter_metadata: Vec::new(),
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    let last_config = Metadata {
        value: LastConfig { index: 0 }.encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    Block {
        header: Some(BlockHeader {
            number: 0,
            previous_hash: Vec::new(),
            data_hash,
        }),
        data: Some(BlockData {
            data: vec![envelope],
        }),
        metadata: Some(BlockMetadata {
            metadata: vec![signatures, last_config, Vec::new(), Vec::new(), Vec::new()],
        }),
    }
}
