//! Founding a consortium from its spec: every founding organization's agent
//! does its own part, and together they create the channels and the OpsSC.
//!
//! - [`genesis_block`]: block 0 of a spec channel, from the spec alone
//!   ([`channel_description`]), stamped deterministically, so every
//!   organization computes the same bytes and any of them may hand it over.
//!   With `consensus: bft` (Fabric 3.1) it founds a SmartBFT channel: the
//!   consenter mapping from the spec's consenters (ids 1..n in the spec's
//!   order, each node's `signCert` as identity), Fabric's sample options.
//! - [`join_orderers`]: the orderer organization joins each of its orderers
//!   (channel participation API) to every spec channel it does not serve yet.
//! - [`peer_step`]: a peer organization joins its own peers to its channels
//!   from block 0 as the orderer serves it, installs the OpsSC package and
//!   approves its definition; the first ops-channel member by MSP ID commits
//!   it once a majority approved; then every ops-channel member confirms the
//!   registry with the contract's `found` (the spec's channels, identical
//!   arguments from every member) and waits until the last confirmation
//!   wrote it, naming who has not confirmed yet.
//!
//! Key decision: every step reads the chain before it acts (is the channel
//! served, the peer joined, the package installed, the definition approved,
//! committed, the registry founded), so any number of `opssc found` runs, at
//! once or one after the other, do each thing once. The genesis block's
//! timestamp is the Unix epoch and its nonce a hash of the channel's config:
//! the block depends on the channel's spec only, not on when or by whom it
//! was built (a later spec commit that touches nothing of the channel gives
//! the same block).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use opssc_chaincode::api::{ChannelInput, FoundArgs};
use opssc_chaincode::model::Governance;
use opssc_fabric::configtx::genesis::{self, BftOrdering, ChannelDescription};
use opssc_fabric::configtx::{ChannelConfig, ConfigError, Organization};
use opssc_fabric::deliver::Seek;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::package::{self, Connection};
use opssc_fabric::participation::{AdminEndpoint, ChannelParticipation, JoinOutcome};
use opssc_fabric::protos::common::Block;
use opssc_fabric::protos::{etcdraft, orderer};
use opssc_schema::Spec;
use opssc_schema::local::AgentConfig;
use opssc_schema::spec::OrgRole;
use prost::Message;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::context::Context;
use super::error::{AgentError, FabricCall};
use crate::config_update::{self, ConfigUpdateError};
use crate::plan::quorum::spec_registry_policies;
use opssc_chaincode::error::ContractError;

pub type Result<T, E = FoundingError> = std::result::Result<T, E>;

/// Why founding could not do its part: the spec or the agent configuration
/// lacks what founding needs (say what to add), or a Fabric call failed
/// (its [`opssc_fabric::Error`] kept as the source, so the agent's retry
/// policy finds its fault in the chain: [`super::error::AgentError`]).
#[derive(Debug, thiserror::Error)]
pub enum FoundingError {
    #[error("channel {channel} is not in the spec")]
    NoChannel { channel: String },
    #[error("channel {channel}: member {member} is not in the spec")]
    NoMember { channel: String, member: String },
    /// A part of the channel (`what`: a member, the orderer organization,
    /// a policy) that the spec does not describe well enough.
    #[error("channel {channel}{what}")]
    Channel {
        channel: String,
        what: String,
        #[source]
        source: Box<ConfigUpdateError>,
    },
    #[error("the config group of {msp_id}")]
    OrdererGroup {
        msp_id: String,
        #[source]
        source: ConfigError,
    },
    #[error("channel {channel}: the spec has no orderer organization")]
    NoOrdererOrg { channel: String },
    #[error("channel {channel}: the spec names no consenter (consortium.orderer.consenters)")]
    NoConsenter { channel: String },
    /// The spec's consenters (the message says which one and what it lacks).
    #[error(transparent)]
    Consenters(Box<ConfigUpdateError>),
    #[error("channel {channel}: building its genesis config")]
    Genesis {
        channel: String,
        #[source]
        source: ConfigError,
    },
    #[error("the ops channel {ops} is not a channel of the spec")]
    NoOpsChannel { ops: String },
    #[error(
        "orderer {orderer} has an adminAddress but the configuration of {msp_id} has no tlsClient (the admin endpoint needs the orderer admin's TLS client certificate)"
    )]
    NoTlsClient { orderer: String, msp_id: String },
    #[error("read {}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the agent configuration of {msp_id} has no chaincodeServers entry for the OpsSC package {label}: add `{label}: <host:port of your OpsSC server>`"
    )]
    NoOpsServer { msp_id: String, label: String },
    #[error("the agent configuration of {msp_id} lists no orderer to fetch the channels from")]
    NoOrderer { msp_id: String },
    /// A call to a peer or an orderer failed.
    #[error(transparent)]
    Fabric(Box<FabricCall>),
    #[error("decode block 0 of channel {channel}")]
    BadBlock {
        channel: String,
        #[source]
        source: ConfigError,
    },
    #[error(
        "channel {channel}: block 0 served by orderer {orderer} does not list {msp_id} (was the channel created from another spec?)"
    )]
    ForeignBlock {
        channel: String,
        orderer: String,
        msp_id: String,
    },
    /// Connecting to this organization's nodes (the agent's context).
    #[error(transparent)]
    Connect(#[from] super::context::ConnectError),
}

impl FoundingError {
    fn fabric(action: String, source: opssc_fabric::Error) -> FoundingError {
        FoundingError::Fabric(FabricCall::boxed(action, source))
    }
}

/// The OpsSC's version on a founded channel: this build's version (the
/// package label is `<name>_<version>`, as the devnet labels it).
pub const OPSSC_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Raft options of a founded channel: a 200 ms tick, so a leader is
/// elected about 2 s after the channel starts (the spec does not state them).
pub fn raft_options() -> etcdraft::Options {
    etcdraft::Options {
        tick_interval: "200ms".into(),
        election_tick: 10,
        heartbeat_tick: 1,
        max_inflight_blocks: 5,
        snapshot_interval_size: 16 * 1024 * 1024,
    }
}

fn go_duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// What block 0 of spec channel `channel` holds: its members (MSPs from the
/// spec, anchor peers as the spec marks them), every orderer organization
/// with its orderer nodes' endpoints, the spec's consenters, and the
/// channel's policies, capabilities, batch settings and ACLs.
pub fn channel_description(spec: &Spec, channel: &str) -> Result<ChannelDescription> {
    let ch = spec
        .channels
        .get(channel)
        .ok_or_else(|| FoundingError::NoChannel {
            channel: channel.to_string(),
        })?;
    let mut app_orgs = Vec::new();
    for member in &ch.members {
        let org = spec
            .organizations
            .get(member)
            .ok_or_else(|| FoundingError::NoMember {
                channel: channel.to_string(),
                member: member.clone(),
            })?;
        let anchors: Vec<String> = org
            .anchor_peers()
            .map(|p| format!("{}:{}", p.endpoint.host, p.endpoint.port))
            .collect();
        app_orgs.push(
            config_update::organization(spec, member, &anchors)
                .map_err(in_channel(channel, format!(": member {member}")))?,
        );
    }
    let mut orderer_orgs = Vec::new();
    for org in spec
        .organizations
        .values()
        .filter(|o| o.role == OrgRole::Orderer)
    {
        let def = config_update::msp_definition(spec, &org.msp_id)
            .map_err(in_channel(channel, ": orderer organization".into()))?;
        let endpoints = org
            .orderers
            .iter()
            .map(|o| format!("{}:{}", o.endpoint.host, o.endpoint.port))
            .collect();
        orderer_orgs.push(Organization::orderer(def, endpoints).map_err(|source| {
            FoundingError::OrdererGroup {
                msp_id: org.msp_id.clone(),
                source,
            }
        })?);
    }
    if orderer_orgs.is_empty() {
        return Err(FoundingError::NoOrdererOrg {
            channel: channel.to_string(),
        });
    }
    let consenters = if spec.consortium.is_bft() {
        Vec::new()
    } else {
        config_update::consenters(spec).map_err(|e| FoundingError::Consenters(Box::new(e)))?
    };
    if spec.consortium.consenters.is_empty() {
        return Err(FoundingError::NoConsenter {
            channel: channel.to_string(),
        });
    }
    let mut desc = ChannelDescription::new(channel, app_orgs, orderer_orgs, consenters);
    desc.raft_options = raft_options();
    if spec.consortium.is_bft() {
        desc.bft = Some(BftOrdering::new(
            config_update::bft_consenters(spec).map_err(in_channel(channel, String::new()))?,
        ));
    }
    desc.batch_timeout = go_duration(ch.batch.timeout_ms);
    desc.batch_size = orderer::BatchSize {
        max_message_count: ch.batch.max_message_count,
        absolute_max_bytes: ch.batch.absolute_max_bytes,
        preferred_max_bytes: ch.batch.preferred_max_bytes,
    };
    desc.channel_capabilities = vec![ch.capabilities.channel.clone()];
    desc.orderer_capabilities = vec![ch.capabilities.orderer.clone()];
    desc.application_capabilities = vec![ch.capabilities.application.clone()];
    desc.application_policies = ch
        .policies
        .iter()
        .map(|(name, p)| {
            config_update::policy_rule(&p.text)
                .map(|r| (name.clone(), r))
                .map_err(in_channel(channel, format!(": policy {name}")))
        })
        .collect::<Result<_>>()?;
    desc.acls = ch.acls.clone();
    Ok(desc)
}

/// A spec problem found while building `channel` (`what` continues the
/// `channel <name>` prefix).
fn in_channel(channel: &str, what: String) -> impl FnOnce(ConfigUpdateError) -> FoundingError {
    let channel = channel.to_string();
    move |source| FoundingError::Channel {
        channel,
        what,
        source: Box::new(source),
    }
}

/// Block 0 of spec channel `channel`, the same bytes for everyone with the
/// same channel spec (see the module doc).
pub fn genesis_block(spec: &Spec, channel: &str) -> Result<Block> {
    let desc = channel_description(spec, channel)?;
    let config = genesis::channel_config(&desc).map_err(|source| FoundingError::Genesis {
        channel: channel.to_string(),
        source,
    })?;
    let mut h = Sha256::new();
    h.update(b"opssc genesis nonce\0");
    h.update(config.to_proto().encode_to_vec());
    let nonce = &h.finalize()[..24];
    Ok(genesis::genesis_block_from_config(
        &config,
        SystemTime::UNIX_EPOCH,
        nonce,
    ))
}

/// The contract's `found` arguments from the spec: the ops channel and its
/// members, every other channel with its members (sorted by name), each with
/// the Admins and LifecycleEndorsement rules its genesis block is built with
/// ([`spec_registry_policies`]), so that the contract's quorum is the one
/// Fabric checks from the first proposal on.
pub fn found_args(spec: &Spec) -> Result<FoundArgs> {
    let ops = &spec.consortium.ops_channel;
    let ops_ch = spec
        .channels
        .get(ops)
        .ok_or_else(|| FoundingError::NoOpsChannel { ops: ops.clone() })?;
    let mut members = ops_ch.members.clone();
    members.sort();
    let channels = spec
        .channels
        .values()
        .filter(|c| &c.name != ops)
        .map(|c| {
            let mut m = c.members.clone();
            m.sort();
            ChannelInput {
                name: c.name.clone(),
                members: m,
                policies: spec_registry_policies(c),
            }
        })
        .collect();
    Ok(FoundArgs {
        ops_channel: ops.clone(),
        members,
        ops_policies: spec_registry_policies(ops_ch),
        channels,
        governance: Some(governance(spec)),
        admin_certs: Default::default(),
    })
}

/// The contract's governance from the spec's `Governance` document: the
/// default voting period (the contract's bounds: 60 s to 90 days) and the
/// quorum per kind of change; what the spec leaves out keeps the contract's
/// default (the executor timeout, the longest deadline a proposal may ask for,
/// quorums the spec does not name).
pub fn governance(spec: &Spec) -> Governance {
    use opssc_chaincode::model::QuorumLevel;
    use opssc_schema::{ChangeKind, Quorum};
    const DAY: u64 = 24 * 3600;
    let g = &spec.consortium.governance;
    let mut out = Governance::default();
    out.voting_period_secs = g.voting_deadline_secs.clamp(60, 90 * DAY) as i64;
    out.max_voting_period_secs = out.max_voting_period_secs.max(out.voting_period_secs);
    for (kind, (quorum, _)) in &g.rules {
        let level = match quorum {
            Quorum::Policy => QuorumLevel::Policy,
            Quorum::Majority => QuorumLevel::Majority,
            Quorum::TwoThirds => QuorumLevel::TwoThirds,
            Quorum::All => QuorumLevel::All,
        };
        match kind {
            ChangeKind::Chaincode => out.quorum.chaincode = level,
            ChangeKind::ChannelCreate => out.quorum.channel_create = level,
            ChangeKind::ChannelUpdate => out.quorum.channel_update = level,
            ChangeKind::OrgAdd => out.quorum.org_add = level,
            ChangeKind::OrgRemove => out.quorum.org_remove = level,
            // Changing the governance itself always needs every ops member
            // (the contract's rule), whatever the spec says.
            ChangeKind::Governance => {}
        }
    }
    out
}

/// The orderer admin endpoints of an orderer organization's configuration
/// (every orderer with an `adminAddress`; `tlsClient` is required then).
pub fn admin_endpoints(config: &AgentConfig) -> Result<Vec<(String, AdminEndpoint)>> {
    let mut out = Vec::new();
    for o in &config.orderers {
        let Some(address) = &o.admin_address else {
            continue;
        };
        let tls = config
            .tls_client
            .as_ref()
            .ok_or_else(|| FoundingError::NoTlsClient {
                orderer: o.name.clone(),
                msp_id: config.msp_id.clone(),
            })?;
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| FoundingError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        out.push((
            o.name.clone(),
            AdminEndpoint {
                address: address.clone(),
                server_name: o.server_name.clone(),
                tls_ca_pem: read(&o.tls_root_cert)?,
                client_cert_pem: read(&tls.cert)?,
                client_key_pem: read(&tls.key)?,
            },
        ));
    }
    Ok(out)
}

/// Joins every orderer of `endpoints` to every spec channel it does not
/// serve yet, from [`genesis_block`]. Returns what it did.
pub async fn join_orderers(
    spec: &Spec,
    endpoints: &[(String, AdminEndpoint)],
) -> Result<Vec<String>> {
    let channels: Vec<&str> = spec.channels.keys().map(String::as_str).collect();
    join_orderers_to(spec, endpoints, &channels).await
}

/// [`join_orderers`] for the spec channels `channels` only (a channel
/// created by proposal after founding).
pub async fn join_orderers_to(
    spec: &Spec,
    endpoints: &[(String, AdminEndpoint)],
    channels: &[&str],
) -> Result<Vec<String>> {
    let mut blocks = BTreeMap::new();
    for name in channels {
        blocks.insert(name.to_string(), genesis_block(spec, name)?);
    }
    let mut done = Vec::new();
    for (node, ep) in endpoints {
        let api = ChannelParticipation::new(ep).map_err(|e| {
            FoundingError::fabric(
                format!("orderer {node}: the channel participation client"),
                e,
            )
        })?;
        for (name, block) in &blocks {
            let served = api.get(name).await.map_err(|e| {
                FoundingError::fabric(
                    format!("ask orderer {node} whether it serves channel {name}"),
                    e,
                )
            })?;
            if served.is_some() {
                continue;
            }
            match api.join(block).await.map_err(|e| {
                FoundingError::fabric(format!("join orderer {node} to channel {name}"), e)
            })? {
                JoinOutcome::Joined(_) => {
                    done.push(format!("joined orderer {node} to channel {name}"))
                }
                JoinOutcome::AlreadyMember => {}
            }
        }
    }
    Ok(done)
}

/// One round of a peer organization's founding work.
#[derive(Debug, Default)]
pub struct Progress {
    /// What this round did.
    pub actions: Vec<String>,
    /// What is not done yet (empty: this organization's founding is complete).
    pub left: Vec<String>,
}

/// The OpsSC package of this organization: ccaas, its address from
/// `chaincodeServers` under the label `<name>_<version>`.
pub fn opssc_package(config: &AgentConfig) -> Result<(String, Vec<u8>, String)> {
    let name = config.ops_chaincode.as_deref().unwrap_or("opssc");
    let label = format!("{name}_{OPSSC_VERSION}");
    let address =
        config
            .chaincode_servers
            .get(&label)
            .ok_or_else(|| FoundingError::NoOpsServer {
                msp_id: config.msp_id.clone(),
                label: label.clone(),
            })?;
    let bytes = package::ccaas_package(&label, &Connection::plaintext(address))
        .map_err(|e| FoundingError::fabric(format!("build the OpsSC package {label}"), e))?;
    let id = package::package_id(&label, &bytes);
    Ok((label, bytes, id))
}

/// `count` of `n` is a majority.
fn majority(count: usize, n: usize) -> bool {
    count * 2 > n
}

/// One round of this peer organization's founding (see the module doc).
/// Each step checks the chain first; a step that must wait for others says
/// so in `left` and the caller runs the round again.
pub async fn peer_step(ctx: &Context, spec: &Spec, confirmed: &mut bool) -> Result<Progress> {
    let mut p = Progress::default();
    let ops = spec.consortium.ops_channel.clone();
    // 1. Own peers join their channels from block 0 as the orderer serves it.
    let orderer = ctx
        .orderers
        .first()
        .ok_or_else(|| FoundingError::NoOrderer {
            msp_id: ctx.me.clone(),
        })?;
    for (name, ch) in &spec.channels {
        if !ch.members.contains(&ctx.me) {
            continue;
        }
        let mut missing = Vec::new();
        for peer in &ctx.peers {
            let joined = opssc_fabric::cscc::channels(&peer.endorser)
                .await
                .map_err(|e| {
                    FoundingError::fabric(format!("list the channels of peer {}", peer.name), e)
                })?;
            if !joined.iter().any(|c| c == name) {
                missing.push(peer);
            }
        }
        if missing.is_empty() {
            continue;
        }
        let block = match orderer.deliver.block(name, Seek::Oldest).await {
            Ok(b) => b,
            Err(e) => {
                p.left.push(format!(
                    "channel {name}: orderer {} does not serve it yet ({e})",
                    orderer.name
                ));
                continue;
            }
        };
        let config =
            ChannelConfig::from_block(&block).map_err(|source| FoundingError::BadBlock {
                channel: name.clone(),
                source,
            })?;
        if !config.application_msp_ids().contains(&ctx.me) {
            return Err(FoundingError::ForeignBlock {
                channel: name.clone(),
                orderer: orderer.name.clone(),
                msp_id: ctx.me.clone(),
            });
        }
        for peer in missing {
            opssc_fabric::cscc::join_channel(&peer.endorser, &block)
                .await
                .map_err(|e| {
                    FoundingError::fabric(format!("join peer {} to channel {name}", peer.name), e)
                })?;
            p.actions
                .push(format!("joined peer {} to channel {name}", peer.name));
        }
    }
    let Some(ops_ch) = spec.channels.get(&ops) else {
        return Err(FoundingError::NoOpsChannel { ops });
    };
    if !ops_ch.members.contains(&ctx.me) {
        return Ok(p);
    }
    if !p.left.is_empty() {
        return Ok(p);
    }
    // 2. Install the OpsSC package on every own peer.
    let (label, pkg, package_id) = opssc_package(&ctx.config)?;
    for peer in &ctx.peers {
        let installed = lifecycle::query_installed(&peer.endorser)
            .await
            .map_err(|e| {
                FoundingError::fabric(
                    format!("query the packages installed on peer {}", peer.name),
                    e,
                )
            })?;
        if installed.iter().any(|i| i.package_id == package_id) {
            continue;
        }
        lifecycle::install(&peer.endorser, &pkg)
            .await
            .map_err(|e| {
                FoundingError::fabric(
                    format!("install the OpsSC package {label} on peer {}", peer.name),
                    e,
                )
            })?;
        p.actions
            .push(format!("installed {package_id} on peer {}", peer.name));
    }
    // 3. Approve (also after the commit: every member approves).
    let name = ctx
        .config
        .ops_chaincode
        .clone()
        .unwrap_or_else(|| "opssc".into());
    let def = ChaincodeDefinition::new(&name, OPSSC_VERSION, 1);
    let main = ctx.main_peer();
    let approved = lifecycle::query_approved(&main.endorser, &ops, &name, Some(1))
        .await
        .map_err(|e| {
            FoundingError::fabric(format!("query {}'s approval of {name} on {ops}", ctx.me), e)
        })?;
    if approved.is_none() {
        lifecycle::approve(&main.gateway, &ops, &def, Some(&package_id))
            .await
            .map_err(|e| {
                FoundingError::fabric(
                    format!("approve the {name} definition on {ops} as {}", ctx.me),
                    e,
                )
            })?;
        p.actions.push(format!(
            "approved {name} {OPSSC_VERSION} sequence 1 on {ops}"
        ));
    }
    // 4. Commit: the first member by MSP ID, once a majority approved.
    let committed = lifecycle::query_committed(&main.endorser, &ops, &name)
        .await
        .map_err(|e| {
            FoundingError::fabric(format!("query the committed {name} definition on {ops}"), e)
        })?;
    let mut members = ops_ch.members.clone();
    members.sort();
    let committer = members.first().cloned().unwrap_or_default();
    if committed.is_none() {
        if ctx.me != committer {
            p.left.push(format!(
                "{name} on {ops}: waiting for {committer} to commit it"
            ));
            return Ok(p);
        }
        let readiness = lifecycle::check_commit_readiness(&main.endorser, &ops, &def)
            .await
            .map_err(|e| {
                FoundingError::fabric(format!("check the commit readiness of {name} on {ops}"), e)
            })?;
        let approving: Vec<String> = members
            .iter()
            .filter(|m| readiness.approvals.get(*m) == Some(&true))
            .cloned()
            .collect();
        if !majority(approving.len(), members.len()) {
            p.left.push(format!(
                "{name} on {ops}: approved by {} of {} members, waiting for a majority",
                approving.len(),
                members.len()
            ));
            return Ok(p);
        }
        match lifecycle::commit(&main.gateway, &ops, &def, &approving).await {
            Ok(c) => p.actions.push(format!(
                "committed {name} {OPSSC_VERSION} on {ops} (block {}), endorsed by {}",
                c.block,
                approving.join(", ")
            )),
            Err(e) => {
                // Another org's peer may not see every approval yet, or
                // discovery not know it: the next round tries again.
                p.left
                    .push(format!("{name} on {ops}: the commit failed, retried: {e}"));
                return Ok(p);
            }
        }
    }
    // 5. Confirm the registry, and wait until every member confirmed it.
    let client = ctx.ops(&ops);
    let registry: Value = match client
        .gateway
        .evaluate_transaction(&ops, &name, "registry", [b"{}".as_slice()])
        .await
    {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(e) => {
            p.left.push(format!(
                "{name} on {ops}: the chaincode does not answer yet ({e})"
            ));
            return Ok(p);
        }
    };
    if !registry["meta"].is_null() {
        return Ok(p);
    }
    // Every founding member confirms the same content; the last one's
    // confirmation writes the registry. This org submits its confirmation
    // once per run, then only evaluates `found` (never committed) to learn
    // who has not confirmed yet: the answer is computed against the ledger,
    // where its own confirmation already is.
    let args = serde_json::to_vec(&found_args(spec)?).expect("FoundArgs serialize");
    let answer = if *confirmed {
        client
            .gateway
            .evaluate_transaction(&ops, &name, "found", [args.as_slice()])
            .await
            .map_err(|e| AgentError::fabric(format!("OpsSC found (evaluated) on {ops}"), e))
            .and_then(|bytes| parse_answer(&bytes))
    } else {
        client
            .gateway
            .submit_transaction(&ops, &name, "found", [args.as_slice()])
            .await
            .map_err(|e| AgentError::fabric(format!("OpsSC found on {ops}"), e))
            .and_then(|done| parse_answer(&done.result))
    };
    match answer {
        Ok(FoundAnswer::Founded) if *confirmed => {
            // Every confirmation is on the ledger but the registry is not
            // written (the last confirmer's transaction lost a race):
            // submitting completes it.
            *confirmed = false;
            p.left.push(format!(
                "registry on {ops}: every member confirmed, writing it"
            ));
        }
        Ok(FoundAnswer::Founded) => {
            p.actions.push(format!("founded the registry on {ops}"));
        }
        Ok(FoundAnswer::Waiting {
            content,
            waiting_for,
        }) => {
            if !*confirmed {
                *confirmed = true;
                p.actions.push(format!(
                    "confirmed the registry content {} on {ops} as {}",
                    short(&content),
                    ctx.me
                ));
            }
            p.left.push(waiting_message(&ops, &content, &waiting_for));
        }
        Err(e) if e.refusal().is_some_and(is_founded_refusal) => {}
        Err(e) => {
            // A confirmation that lost an MVCC race with another member's
            // is submitted again.
            *confirmed = false;
            p.left
                .push(format!("registry on {ops}: `found` failed, retried: {e}"));
        }
    }
    Ok(p)
}

/// What `found` answered (see the contract's crate doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundAnswer {
    /// `outcome: founded`: the registry is written.
    Founded,
    /// `outcome: confirmed`: this content still waits for these members.
    Waiting {
        content: String,
        waiting_for: Vec<String>,
    },
}

fn parse_answer(bytes: &[u8]) -> std::result::Result<FoundAnswer, AgentError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        AgentError::Answer(format!(
            "OpsSC found answered something that is not JSON: {e}"
        ))
    })?;
    found_answer(&v)
}

/// The typed answer of `found`, from its JSON.
pub fn found_answer(v: &Value) -> std::result::Result<FoundAnswer, AgentError> {
    match v["outcome"].as_str() {
        Some("founded") => Ok(FoundAnswer::Founded),
        Some("confirmed") => Ok(FoundAnswer::Waiting {
            content: v["content"].as_str().unwrap_or_default().to_string(),
            waiting_for: serde_json::from_value(v["waiting_for"].clone()).map_err(|e| {
                AgentError::Answer(format!("OpsSC found: `waiting_for` is not a list: {e}"))
            })?,
        }),
        other => Err(AgentError::Answer(format!(
            "OpsSC found answered outcome {other:?}; this version knows `founded` and `confirmed` (is the OpsSC of another version?)"
        ))),
    }
}

/// The contract's refusal of `found` because the registry exists already.
pub fn is_founded_refusal(r: &ContractError) -> bool {
    matches!(r, ContractError::Conflict { state, .. } if state == "founded")
}

/// The "left" line while other founding members have not confirmed.
pub fn waiting_message(ops: &str, content: &str, waiting_for: &[String]) -> String {
    format!(
        "registry on {ops}: waiting for {} to confirm it (content {}): each runs `opssc found` with the same spec commit; a member that confirmed another content has a different spec",
        waiting_for.join(", "),
        short(content)
    )
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// How long a round waits before the next when it had to wait on others.
pub const ROUND_PAUSE: Duration = Duration::from_millis(700);

/// This organization's whole part in founding (what `opssc found` runs, and
/// `opssc dev up` for each organization): with orderer admin endpoints, join
/// the orderers to every spec channel; with peers, repeat [`peer_step`] until
/// nothing is left. Progress lines go to `out` (`done: ...`, `left: ...`,
/// `failed (retried): ...`). `Ok(false)` when `timeout` passed first.
pub async fn found(
    config: AgentConfig,
    spec: &Spec,
    timeout: Duration,
    out: &mut (dyn FnMut(&str) + Send),
) -> Result<bool> {
    let started = std::time::Instant::now();
    let me = config.msp_id.clone();
    let endpoints = admin_endpoints(&config)?;
    if !endpoints.is_empty() {
        let mut last_err = String::new();
        loop {
            match join_orderers(spec, &endpoints).await {
                Ok(done) => {
                    for a in &done {
                        out(&format!("done: {a}"));
                    }
                    break;
                }
                Err(e) => {
                    let text = super::error::chain(&e);
                    if text != last_err {
                        out(&format!("failed (retried): {text}"));
                        last_err = text;
                    }
                    if started.elapsed() > timeout {
                        out(&format!("not done after {} s", timeout.as_secs()));
                        return Ok(false);
                    }
                    tokio::time::sleep(ROUND_PAUSE).await;
                }
            }
        }
        out(&format!(
            "orderers of {me} serve every channel of the spec ({} channel(s))",
            spec.channels.len()
        ));
    }
    if config.peers.is_empty() {
        return Ok(true);
    }
    let ctx = Context::connect(config).await?;
    let mut last_left: Vec<String> = Vec::new();
    let mut confirmed = false;
    loop {
        let (actions, left) = match peer_step(&ctx, spec, &mut confirmed).await {
            Ok(p) => (p.actions, p.left),
            Err(e) => (
                Vec::new(),
                vec![format!("failed (retried): {}", super::error::chain(&e))],
            ),
        };
        for a in &actions {
            out(&format!("done: {a}"));
        }
        if left.is_empty() && actions.is_empty() {
            out(&format!(
                "founded: {me} joined its channels, the OpsSC is committed on {} and the registry founded",
                spec.consortium.ops_channel
            ));
            return Ok(true);
        }
        if left != last_left {
            for l in &left {
                out(&format!("left: {l}"));
            }
            last_left = left.clone();
        }
        if started.elapsed() > timeout {
            out(&format!("not done after {} s", timeout.as_secs()));
            return Ok(false);
        }
        if actions.is_empty() {
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The add-org example, every organization's certificates committed.
    fn spec() -> Spec {
        crate::test_fixtures::spec_with_certificates("examples/add-org")
    }

    /// [`spec`] on Fabric 3.1 with SmartBFT over four orderer nodes, each
    /// with a signing certificate when `sign_certs`.
    fn bft_spec(sign_certs: bool) -> Spec {
        let mut spec = spec();
        spec.consortium.fabric_version = "3.1".into();
        spec.consortium.consensus = opssc_schema::spec::CONSENSUS_BFT.into();
        let (msp, org) = spec
            .organizations
            .iter_mut()
            .find(|(_, o)| o.role == OrgRole::Orderer)
            .unwrap();
        let first = org.orderers[0].clone();
        org.orderers = (0..4)
            .map(|i| {
                let mut n = first.clone();
                n.name = format!("orderer{i}");
                n.endpoint.host = format!("orderer{i}.example.com");
                n.tls_cert = Some(crate::test_fixtures::placeholder_pem(&format!("tls.{i}")));
                n.sign_cert =
                    sign_certs.then(|| crate::test_fixtures::placeholder_pem(&format!("id.{i}")));
                n
            })
            .collect();
        spec.consortium.consenters = (0..4)
            .map(|i| (msp.clone(), format!("orderer{i}")))
            .collect();
        spec
    }

    #[test]
    fn a_bft_spec_founds_bft_channels_with_its_consenter_mapping() {
        let spec = bft_spec(true);
        let block = genesis_block(&spec, &spec.consortium.ops_channel).unwrap();
        let config = ChannelConfig::from_block(&block).unwrap();
        assert!(config.etcdraft().is_none());
        let mapping = config.bft_consenters().expect("an Orderers value");
        let ids: Vec<(u32, &str)> = mapping.iter().map(|c| (c.id, c.host.as_str())).collect();
        assert_eq!(
            ids,
            [
                (1, "orderer0.example.com"),
                (2, "orderer1.example.com"),
                (3, "orderer2.example.com"),
                (4, "orderer3.example.com")
            ]
        );
        let orderer_msp = &spec.consortium.consenters[0].0;
        assert!(mapping.iter().all(|c| &c.msp_id == orderer_msp));
        assert_eq!(
            mapping[2].identity,
            crate::test_fixtures::placeholder_pem("id.2").into_bytes()
        );
        assert_eq!(
            mapping[2].server_tls_cert,
            crate::test_fixtures::placeholder_pem("tls.2").into_bytes()
        );
    }

    #[test]
    fn a_bft_consenter_without_a_signing_certificate_is_named() {
        let err = genesis_block(&bft_spec(false), "ops").unwrap_err();
        let text = super::super::error::chain(&err);
        assert!(text.contains("orderer0 has no signCert"), "{text}");
        assert!(
            matches!(
                &err,
                FoundingError::Channel { source, .. }
                    if matches!(**source, ConfigUpdateError::BftCert { cert: "signCert", .. })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn the_genesis_block_is_the_same_bytes_every_time() {
        let spec = spec();
        for name in spec.channels.keys() {
            let a = genesis_block(&spec, name).unwrap().encode_to_vec();
            let b = genesis_block(&spec, name).unwrap().encode_to_vec();
            assert_eq!(a, b, "channel {name}");
        }
        let names: Vec<&String> = spec.channels.keys().collect();
        assert!(names.len() >= 2);
        assert_ne!(
            genesis_block(&spec, names[0]).unwrap().encode_to_vec(),
            genesis_block(&spec, names[1]).unwrap().encode_to_vec()
        );
    }

    #[test]
    fn a_change_to_the_channel_changes_the_block_and_others_do_not() {
        let spec = spec();
        let ops = spec.consortium.ops_channel.clone();
        let before = genesis_block(&spec, &ops).unwrap().encode_to_vec();
        let mut other = spec.clone();
        other.spec_hash = "something else".into();
        assert_eq!(
            genesis_block(&other, &ops).unwrap().encode_to_vec(),
            before,
            "the block depends on the channel, not on the spec's hash"
        );
        other
            .channels
            .get_mut(&ops)
            .unwrap()
            .batch
            .max_message_count += 1;
        assert_ne!(genesis_block(&other, &ops).unwrap().encode_to_vec(), before);
    }

    #[test]
    fn the_genesis_block_holds_the_spec_channel() {
        let spec = spec();
        for (name, ch) in &spec.channels {
            let block = genesis_block(&spec, name).unwrap();
            assert_eq!(block.header.as_ref().unwrap().number, 0);
            let config = ChannelConfig::from_block(&block).unwrap();
            assert_eq!(&config.channel_id, name);
            assert_eq!(config.sequence, 0);
            let mut members = ch.members.clone();
            members.sort();
            let mut found = config.application_msp_ids();
            found.sort();
            assert_eq!(found, members, "channel {name}");
            let app = config.application().unwrap();
            for (pname, text) in &ch.policies {
                let on_chain = app
                    .policies
                    .get(pname)
                    .unwrap_or_else(|| panic!("{name}: no {pname} policy"));
                assert_eq!(
                    on_chain.rule,
                    config_update::policy_rule(&text.text).unwrap(),
                    "{name}/{pname}"
                );
            }
            assert_eq!(app.policies.len(), ch.policies.len());
            let b = config.batch_size().expect("a BatchSize value");
            assert_eq!(b.max_message_count, ch.batch.max_message_count);
            assert_eq!(b.absolute_max_bytes, ch.batch.absolute_max_bytes);
            assert_eq!(b.preferred_max_bytes, ch.batch.preferred_max_bytes);
            assert_eq!(
                config.batch_timeout(),
                Some(go_duration(ch.batch.timeout_ms).as_str())
            );
        }
    }

    #[test]
    fn found_args_list_every_channel_but_the_ops_channel() {
        let spec = spec();
        let a = found_args(&spec).unwrap();
        assert_eq!(a.ops_channel, spec.consortium.ops_channel);
        assert_eq!(a.channels.len(), spec.channels.len() - 1);
        assert!(a.channels.iter().all(|c| c.name != a.ops_channel));
        for c in &a.channels {
            let mut m = spec.channels[&c.name].members.clone();
            m.sort();
            assert_eq!(c.members, m);
        }
    }

    #[test]
    fn the_spec_governance_becomes_the_contract_governance() {
        use opssc_chaincode::model::QuorumLevel;
        // examples/add-org: votingDeadline 72h; chaincode policy, orgAdd majority,
        // orgRemove twoThirds.
        let spec = spec();
        let g = governance(&spec);
        assert_eq!(g.voting_period_secs, 72 * 3600);
        assert!(g.max_voting_period_secs >= g.voting_period_secs);
        assert_eq!(g.quorum.chaincode, QuorumLevel::Policy);
        assert_eq!(g.quorum.org_add, QuorumLevel::Majority);
        assert_eq!(g.quorum.org_remove, QuorumLevel::TwoThirds);
        assert_eq!(g.quorum.channel_update, QuorumLevel::Policy);
        opssc_chaincode::api::check_governance("governance", &g).unwrap();
        assert_eq!(found_args(&spec).unwrap().governance, Some(g));
    }

    #[test]
    fn found_answers_are_typed() {
        use serde_json::json;
        assert_eq!(
            found_answer(&json!({"outcome": "founded", "registry": {}})).unwrap(),
            FoundAnswer::Founded
        );
        assert_eq!(
            found_answer(
                &json!({"outcome": "confirmed", "content": "ab", "waiting_for": ["Org2MSP"]})
            )
            .unwrap(),
            FoundAnswer::Waiting {
                content: "ab".into(),
                waiting_for: vec!["Org2MSP".into()]
            }
        );
        assert!(found_answer(&json!({"outcome": "exists"})).is_err());
        let m = waiting_message(
            "ops",
            &"c".repeat(64),
            &["Org2MSP".into(), "Org3MSP".into()],
        );
        assert!(
            m.contains("Org2MSP, Org3MSP") && m.contains("(content cccccccccccc)"),
            "{m}"
        );
    }

    #[test]
    fn the_founded_refusal_is_recognized_by_type() {
        // The text the contract answers through Fabric when the registry exists.
        let founded = ContractError::Conflict {
            what: "the registry".into(),
            state: "founded".into(),
            reason:
                "it was founded by Org1MSP at 1 (tx t); change it with a RegistryChange proposal"
                    .into(),
        };
        let text = format!("chaincode response 500, conflict: {founded}");
        let parsed = super::super::error::contract_refusal(&text).unwrap();
        assert!(is_founded_refusal(&parsed), "{parsed:?}");
        let other = ContractError::Conflict {
            what: "proposal x".into(),
            state: "approved".into(),
            reason: "r".into(),
        };
        assert!(!is_founded_refusal(&other));
    }

    #[test]
    fn a_failed_call_keeps_its_fabric_fault_for_the_retry_policy() {
        use super::super::error::{AgentError, NextAction};
        let e = FoundingError::fabric(
            "list the channels of peer peer0".into(),
            opssc_fabric::Error::Timeout {
                what: "the answer".into(),
                after: Duration::from_secs(1),
            },
        );
        let agent = AgentError::from_error(&e);
        assert_eq!(agent.fault(), opssc_fabric::Fault::Transient);
        assert_eq!(agent.next(), NextAction::RetrySoon);
        assert!(
            agent
                .to_string()
                .starts_with("list the channels of peer peer0: timed out"),
            "{agent}"
        );
        let refused = FoundingError::fabric(
            "join peer peer0 to channel trade".into(),
            opssc_fabric::Error::Invalid {
                what: "block".into(),
                problem: "empty".into(),
            },
        );
        let agent = AgentError::from_error(&refused);
        assert_eq!(agent.fault(), opssc_fabric::Fault::Input);
        // Converted directly (a step's `?`), the same class.
        let direct: AgentError = FoundingError::fabric(
            "join orderer orderer0 to channel market".into(),
            opssc_fabric::Error::Invalid {
                what: "block".into(),
                problem: "empty".into(),
            },
        )
        .into();
        assert_eq!(direct.fault(), opssc_fabric::Fault::Input);
        assert!(
            direct
                .to_string()
                .starts_with("join orderer orderer0 to channel market:"),
            "{direct}"
        );
    }

    #[test]
    fn a_majority_is_more_than_half() {
        assert!(!majority(1, 2));
        assert!(majority(2, 3));
        assert!(!majority(2, 4));
        assert!(majority(1, 1));
    }
}
