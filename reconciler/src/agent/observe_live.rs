//! The live observer: an [`Observed`] snapshot read from the network through
//! this organization's own peers and the OpsSC chaincode.
//!
//! [`live`] reads, per channel of the spec that the main peer joined, the
//! committed chaincode definitions (`_lifecycle`) and this organization's
//! approvals; per own peer, the joined channels (`cscc`) and the installed
//! packages; and the proposals on the OpsSC chaincode (the open ones with
//! their votes, quorum and electorate), and the decoded config of every
//! joined channel ([`live_full`] keeps them for the pass, so nothing fetches
//! a config block twice). [`live_peerless`] is the orderer organization's
//! view: channel configs from the orderer, the OpsSC through its
//! `opsGateway`.
//!
//! A failed read is an [`ObserveError`]: Fabric's error stays in its chain
//! (the action says what was read), and a failed OpsSC query is the
//! [`AgentError`] it already was, so the pass's retry policy classifies
//! either by type.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opssc_chaincode::model::{
    Kind, Proposal, ProposalState, SignatureEntry, Target, TaskEntry, Vote,
};
use opssc_fabric::configtx::signature_policy_to_dsl;
use opssc_fabric::configtx::{ChannelConfig, ConfigError};
use opssc_fabric::deliver::Seek;
use opssc_fabric::protos::common::{ApplicationPolicy, Block, application_policy};
use opssc_fabric::protos::lifecycle as lc;
use opssc_fabric::{cscc, lifecycle};
use opssc_schema::Spec;
use prost::Message;
use serde_json::Value;

use super::context::Context;
use super::error::{AgentError, FabricCall};
use super::packages::Built;
use super::read_cache::Kept;
use crate::observe::{
    ApprovedDefinition, CommittedDefinition, InstalledPackage, LocalPeer, Observed, ObservedBatch,
    ObservedCapabilities, ObservedChannel, ObservedOrg, ObservedTask, OpenDetail, ProposalSummary,
    Task,
};

pub type Result<T, E = ObserveError> = std::result::Result<T, E>;

/// Why the network could not be observed: a call to a peer or an orderer
/// failed (Fabric's error kept in the chain for the retry policy), an OpsSC
/// query failed (its [`AgentError`] keeps the fault and the contract's
/// refusal), or what a node served does not decode.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Fabric(Box<FabricCall>),
    /// Shown as it is; `AgentError::from` unwraps it (through the chain
    /// alone, a transparent variant would hide its class).
    #[error(transparent)]
    Ops(#[from] AgentError),
    /// A config block (`what`: which channel's) that does not decode.
    #[error("{what}")]
    Config {
        what: String,
        #[source]
        source: ConfigError,
    },
    /// A config block read back for an approved update.
    #[error(transparent)]
    Applied(ConfigError),
    #[error("decode the config update of proposal {id}")]
    Update {
        id: String,
        #[source]
        source: base64::DecodeError,
    },
    #[error(
        "the agent configuration of {msp_id} lists no orderer: an organization without peers reads the channels from one"
    )]
    NoOrderer { msp_id: String },
}

impl ObserveError {
    fn config(what: String) -> impl FnOnce(ConfigError) -> ObserveError {
        move |source| ObserveError::Config { what, source }
    }
}

/// The endorsement policy of a definition, as text (signature DSL or a
/// channel policy reference).
pub fn policy_text(validation_parameter: &[u8]) -> String {
    if validation_parameter.is_empty() {
        return lifecycle::DEFAULT_ENDORSEMENT_POLICY.to_string();
    }
    match ApplicationPolicy::decode(validation_parameter) {
        Ok(ApplicationPolicy {
            r#type: Some(application_policy::Type::SignaturePolicy(env)),
        }) => signature_policy_to_dsl(&env),
        Ok(ApplicationPolicy {
            r#type: Some(application_policy::Type::ChannelConfigPolicyReference(r)),
        }) => r,
        _ => format!("<undecodable policy {}>", hex::encode(validation_parameter)),
    }
}

/// The private data collections of a definition, sorted by name, with
/// their member policy as signature DSL. (A collection's own endorsement
/// policy is not modelled by the spec, so it is not read.)
pub fn collections(
    package: Option<&opssc_fabric::protos::protos::CollectionConfigPackage>,
) -> Vec<crate::observe::CollectionDef> {
    use opssc_fabric::protos::protos::{collection_config, collection_policy_config};
    let mut out: Vec<crate::observe::CollectionDef> = package
        .iter()
        .flat_map(|p| p.config.iter())
        .filter_map(|c| {
            c.payload
                .as_ref()
                .map(|collection_config::Payload::StaticCollectionConfig(s)| s)
        })
        .map(|s| crate::observe::CollectionDef {
            name: s.name.clone(),
            policy: match s
                .member_orgs_policy
                .as_ref()
                .and_then(|p| p.payload.as_ref())
            {
                Some(collection_policy_config::Payload::SignaturePolicy(env)) => {
                    signature_policy_to_dsl(env)
                }
                None => String::new(),
            },
            required_peer_count: s.required_peer_count.max(0) as u32,
            max_peer_count: s.maximum_peer_count.max(0) as u32,
            block_to_live: s.block_to_live,
            member_only_read: s.member_only_read,
            member_only_write: s.member_only_write,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix:{secs}")
}

/// A Go duration as the orderer writes it (`300ms`, `2s`, `1m30s`) in milliseconds.
pub fn go_duration_ms(text: &str) -> Option<u64> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..u] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[u..];
    }
    Some(total.round() as u64)
}

/// The highest capability of a set (`V2_0` over `V1_4_3`).
fn highest(caps: std::collections::BTreeSet<String>) -> String {
    caps.into_iter()
        .max_by_key(|c| {
            c.trim_start_matches('V')
                .split('_')
                .map(|p| p.parse::<u32>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

/// A channel as its config block describes it.
pub fn observe_channel(config: &ChannelConfig, last_config_block: u64) -> ObservedChannel {
    let members = config
        .application_msp_ids()
        .into_iter()
        .map(|msp| {
            let mut anchor_peers: Vec<String> = config
                .anchor_peers(&msp)
                .iter()
                .map(|a| format!("{}:{}", a.host, a.port))
                .collect();
            anchor_peers.sort();
            (msp, ObservedOrg { anchor_peers })
        })
        .collect();
    let policies = config
        .application()
        .map(|g| {
            g.policies
                .iter()
                .map(|(k, p)| (k.clone(), p.rule.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let batch = config.batch_size();
    // Raft keeps its consenters in the ConsensusType metadata, SmartBFT in
    // the Orderers value; either way the plan compares `host:port`.
    let mut consenters: Vec<String> = match (config.etcdraft(), config.bft_consenters()) {
        (Some(m), _) => m
            .consenters
            .iter()
            .map(|c| format!("{}:{}", c.host, c.port))
            .collect(),
        (None, Some(mapping)) => mapping
            .iter()
            .map(|c| format!("{}:{}", c.host, c.port))
            .collect(),
        (None, None) => Vec::new(),
    };
    consenters.sort();
    ObservedChannel {
        config_sequence: config.sequence,
        last_config_block,
        members,
        policies,
        orderer_orgs: config.orderer_msp_ids(),
        orderer_policies: BTreeMap::new(),
        channel_policies: BTreeMap::new(),
        mod_policies: BTreeMap::new(),
        capabilities: ObservedCapabilities {
            channel: highest(config.capabilities(&[])),
            orderer: highest(config.capabilities(&["Orderer"])),
            application: highest(config.capabilities(&["Application"])),
        },
        batch: ObservedBatch {
            timeout_ms: config.batch_timeout().and_then(go_duration_ms).unwrap_or(0),
            max_message_count: batch.map_or(0, |b| b.max_message_count),
            absolute_max_bytes: batch.map_or(0, |b| b.absolute_max_bytes),
            preferred_max_bytes: batch.map_or(0, |b| b.preferred_max_bytes),
        },
        consenters,
        acls: config.acls(),
        last_modified: BTreeMap::new(),
    }
}

/// One proposal as `list` shows it (the quorum, no votes, no electorate).
fn summary(item: &Value) -> Option<ProposalSummary> {
    Some(ProposalSummary {
        id: item["id"].as_str()?.to_string(),
        kind: serde_json::from_value::<Kind>(item["kind"].clone()).ok()?,
        target: serde_json::from_value::<Target>(item["target"].clone()).ok()?,
        round: item["round"].as_u64().unwrap_or(0) as u32,
        org: None,
        state: serde_json::from_value::<ProposalState>(item["state"].clone()).ok()?,
        votes: BTreeMap::new(),
        quorum: item["quorum"].as_u64().unwrap_or(0) as u32,
        electorate: Vec::new(),
        spec_commit: None,
        base_config_sequence: None,
        open: None,
    })
}

/// Completes an open proposal's summary with what `get` and `votes` return:
/// its round, the quorum and electorate fixed at filing, the organization an
/// OrgAdd/OrgRemove names, the spec commit and config base it was filed
/// from, and every vote.
fn with_ballot(mut s: ProposalSummary, proposal: &Proposal, votes: &[Vote]) -> ProposalSummary {
    s.round = proposal.round;
    s.quorum = proposal.quorum;
    s.electorate = proposal.electorate.clone();
    s.org = proposal.payload["org"].as_str().map(str::to_string);
    s.spec_commit = Some(proposal.spec_ref.git_commit.clone());
    s.base_config_sequence = proposal.spec_ref.base_config_sequence;
    s.votes = votes.iter().map(|v| (v.org.clone(), v.decision)).collect();
    s
}

/// Reads the network as `ctx`'s organization sees it.
pub async fn live(
    ctx: &Context,
    spec: &Spec,
    packages: &BTreeMap<String, Built>,
) -> Result<Observed> {
    Ok(live_full(ctx, spec, packages).await?.observed)
}

/// What [`live_full`] read besides the observation.
pub struct Live {
    pub observed: Observed,
    /// The decoded config of every observed channel (kept so that nothing
    /// fetches a config block again in the same pass).
    pub configs: BTreeMap<String, ChannelConfig>,
    /// Every observed channel's height at the main peer when it was read
    /// (the peerless view has none).
    pub heights: BTreeMap<String, u64>,
}

/// [`live`], with what else the observation read.
pub async fn live_full(
    ctx: &Context,
    spec: &Spec,
    packages: &BTreeMap<String, Built>,
) -> Result<Live> {
    let mut configs = BTreeMap::new();
    let mut heights = BTreeMap::new();
    // The latest config block of each observed channel, kept for reading
    // back from it in the same pass (an approved update's commit).
    let mut config_blocks = BTreeMap::new();
    let me = ctx.me.clone();
    let mut observed = nothing_yet(&me, packages);
    // Every read below is a round trip to the own peer: the peers' local
    // state, and every joined channel and the OpsSC, each read at once.
    // Which channels are joined is known from the peers' local state; the
    // channels are read beside it, for the channels the last pass found
    // joined, and read again only when that changed (a join).
    let locals = futures::future::try_join_all(ctx.peers.iter().map(|peer| {
        let me = &me;
        async move {
            let (joined, installed) = tokio::join!(
                cscc::channels(&peer.endorser),
                lifecycle::query_installed(&peer.endorser)
            );
            let joined = joined.map_err(FabricCall::wrap(
                ObserveError::Fabric,
                format!("list the channels of {me}'s peer {}", peer.name),
            ))?;
            let installed = installed.map_err(FabricCall::wrap(
                ObserveError::Fabric,
                format!("list the packages installed on {me}'s peer {}", peer.name),
            ))?;
            let mut installed_packages: Vec<InstalledPackage> = installed
                .into_iter()
                .map(|i| InstalledPackage {
                    package_id: i.package_id,
                    label: i.label,
                })
                .collect();
            installed_packages.sort();
            Ok::<_, ObserveError>((
                peer.name.clone(),
                LocalPeer {
                    joined_channels: joined,
                    installed_packages,
                },
            ))
        }
    }));
    let main = ctx.main_peer();
    let guess = ctx.reads.joined.get(JOINED, &());
    let (locals, early) = match &guess {
        Some(g) => {
            let (locals, early) = tokio::join!(locals, read_joined(ctx, spec, g));
            (locals?, Some(early))
        }
        None => (locals.await?, None),
    };
    observed.local.peers.extend(locals);
    let mut joined = observed.local.peers[&main.name].joined_channels.clone();
    joined.sort();
    ctx.reads.joined.keep(JOINED, (), joined.clone());
    let (read, opssc) = match early {
        Some(early) if guess.as_ref() == Some(&joined) => early?,
        _ => read_joined(ctx, spec, &joined).await?,
    };
    for r in read.into_iter().flatten() {
        observed
            .channels
            .insert(r.channel.clone(), observe_channel(&r.config, r.number));
        observed.chaincodes.extend(r.chaincodes);
        observed.local.approved.extend(r.approved);
        heights.insert(r.channel.clone(), r.height);
        configs.insert(r.channel.clone(), r.config);
        config_blocks.insert(r.channel, r.block);
    }
    if let Some(opssc) = opssc {
        read_proposals(
            ctx,
            spec,
            &main.deliver,
            &config_blocks,
            opssc,
            &mut observed,
        )
        .await?;
    }
    Ok(Live {
        observed,
        configs,
        heights,
    })
}

/// The slot of [`LedgerReads::joined`].
const JOINED: &str = "joined";

/// Every channel of the spec among `joined` and, when the ops channel is
/// one, the OpsSC (read under the ops channel's height as it is now: a kept
/// read is used while it has not moved), all at once.
async fn read_joined(
    ctx: &Context,
    spec: &Spec,
    joined: &[String],
) -> Result<(Vec<Option<ChannelRead>>, Option<ProposalReads>)> {
    let ops_channel = &spec.consortium.ops_channel;
    let started = std::time::Instant::now();
    let channels = futures::future::try_join_all(
        spec.channels
            .iter()
            .filter(|(c, _)| joined.contains(c))
            .map(|(channel, ch)| read_channel(ctx, spec, channel, !ch.members.contains(&ctx.me))),
    );
    let opssc = async {
        if !joined.contains(ops_channel) {
            return Ok(None);
        }
        let height = ctx.main_peer().deliver.height(ops_channel).await.ok();
        let height_ms = started.elapsed().as_millis() as u64;
        let read = read_opssc_since(ctx, spec, height).await.map(Some);
        // Where an observation's time goes (lead time, issue 19).
        tracing::debug!(
            height_ms,
            ms = started.elapsed().as_millis() as u64,
            "OpsSC read"
        );
        read
    };
    tokio::try_join!(channels, opssc)
}

/// What an agent keeps of its observations from one pass to the next
/// ([`super::read_cache`]): each channel's read under its height and the
/// chaincodes whose approvals it holds, and the OpsSC's records under the
/// ops channel's height.
#[derive(Default)]
pub struct LedgerReads {
    channels: Kept<(u64, Vec<String>), ChannelRead>,
    proposals: Kept<u64, ProposalReads>,
    /// The channels the main peer had joined at the last pass: read beside
    /// the peers' local state, which says whether they still are.
    joined: Kept<(), Vec<String>>,
}

impl LedgerReads {
    /// Forgets every read: the next observation reads everything.
    pub fn clear(&self) {
        self.channels.clear();
        self.proposals.clear();
        self.joined.clear();
    }
}

/// What one channel's observation reads through the own peer.
#[derive(Clone)]
struct ChannelRead {
    channel: String,
    /// The channel's height at the main peer (its newest block's number + 1).
    height: u64,
    /// The number of its latest config block.
    number: u64,
    config: ChannelConfig,
    block: Block,
    chaincodes: Vec<(String, CommittedDefinition)>,
    approved: Vec<(String, ApprovedDefinition)>,
}

/// Reads `channel`'s latest config, its committed chaincodes and this
/// organization's approvals; `None` when the channel is not served to this
/// organization (it left, or its just-joined peer has not caught up).
async fn read_channel(
    ctx: &Context,
    spec: &Spec,
    channel: &str,
    leaving: bool,
) -> Result<Option<ChannelRead>> {
    let me = &ctx.me;
    let main = ctx.main_peer();
    // A channel the spec takes this organization out of: once the
    // removal commits, the orderer sends this organization none of the
    // channel's blocks, so the own peer's copy stops at the config that
    // still lists it. Such a channel is read from the orderer, which
    // refuses it from then on: the organization is out, and neither
    // observes nor acts on the channel any more.
    let source = match (leaving, ctx.orderers.first()) {
        (true, Some(o)) => &o.deliver,
        _ => &main.deliver,
    };
    // This organization's approvals are read for the spec's chaincodes,
    // and on the ops channel the OpsSC itself (a member added after
    // founding approves it too).
    let ops_chaincode = (channel == spec.consortium.ops_channel).then(|| {
        ctx.config
            .ops_chaincode
            .clone()
            .unwrap_or_else(|| "opssc".into())
    });
    let names: Vec<String> = spec
        .chaincodes
        .keys()
        .filter(|(ch, _)| ch == channel)
        .map(|(_, name)| name.clone())
        .chain(ops_chaincode)
        .collect();
    // What a refused read means: the organization left the channel, or its
    // peer has not caught up with it yet.
    let unserved = |e: opssc_fabric::Error| match e.fault() {
        opssc_fabric::Fault::Rejected if leaving => {
            tracing::info!(
                "channel {channel}: {me} is no longer a member (the orderer refuses it the channel: {e}); not observed"
            );
            Ok(None)
        }
        // A peer that has just joined serves nothing to this org until
        // its ledger reaches the config that admitted it: the channel is
        // observed as not joined yet (the next pass looks again).
        opssc_fabric::Fault::Rejected => {
            tracing::warn!(
                "channel {channel}: the own peer does not serve it to this organization ({e})"
            );
            Ok(None)
        }
        _ => Err(ObserveError::Fabric(FabricCall::boxed(
            format!("read the latest config block of channel {channel}"),
            e,
        ))),
    };
    // The newest block says whether the channel moved since a pass last
    // read it; the rest is read again only when it did.
    let started = std::time::Instant::now();
    let newest = match source.block(channel, Seek::Newest).await {
        Ok(newest) => newest,
        Err(e) => return unserved(e),
    };
    let height = opssc_fabric::block::number(&newest) + 1;
    let newest_ms = started.elapsed().as_millis() as u64;
    let key = (height, names.clone());
    if !leaving && let Some(kept) = ctx.reads.channels.get(channel, &key) {
        tracing::debug!(channel, newest_ms, "channel read: not moved, kept");
        return Ok(Some(kept));
    }
    // The config block and the lifecycle's answers do not depend on each
    // other: asked at once, so that a moved channel costs two round trips
    // (its newest block, then these), not four. Each chaincode of the spec
    // is asked for beside the list of all; one committed out of band is
    // asked for after it.
    let wrap = |what: String| FabricCall::wrap(ObserveError::Fabric, what);
    let committed_of = |name: String| async move {
        lifecycle::query_committed(&main.endorser, channel, &name)
            .await
            .map_err(wrap(format!("read the definition of {channel}/{name}")))
            .map(|r| (name, r.map(|r| r.approvals.into_iter().collect())))
    };
    // The last read's config block, if the newest block still points at
    // it: a block never changes, so a channel that moved without a config
    // change costs no config read (nor a second copy kept).
    let kept_config = opssc_fabric::block::last_config_index(&newest)
        .ok()
        .filter(|_| !leaving)
        .and_then(|n| ctx.reads.channels.get_where(channel, |_, r| r.number == n))
        .map(|r| (r.block, r.config));
    let fetched = async {
        match &kept_config {
            Some(_) => Ok(None),
            None => source.config_block_of(channel, newest).await.map(Some),
        }
    };
    let (fetched, defs, named, approved) = tokio::join!(
        fetched,
        lifecycle::query_committed_all(&main.endorser, channel),
        futures::future::try_join_all(names.iter().cloned().map(committed_of)),
        futures::future::try_join_all(names.iter().map(|name| async move {
            let approved = lifecycle::query_approved(&main.endorser, channel, name, None)
                .await
                .map_err(wrap(format!("read {me}'s approval of {channel}/{name}")))?;
            Ok::<_, ObserveError>(approved.map(|a| {
                (
                    Observed::chaincode_key(channel, name),
                    approved_definition(&a),
                )
            }))
        }))
    );
    tracing::debug!(
        channel,
        newest_ms,
        ms = started.elapsed().as_millis() as u64,
        "channel read"
    );
    let (block, config) = match (fetched, kept_config) {
        (Err(e), _) => return unserved(e),
        (Ok(Some(block)), _) => {
            let config = ChannelConfig::from_block(&block).map_err(ObserveError::config(
                format!("decode the config of channel {channel}"),
            ))?;
            (block, config)
        }
        (Ok(None), kept) => kept.expect("a config block is not fetched only when one is kept"),
    };
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let defs = defs.map_err(wrap(format!(
        "read the committed chaincodes of channel {channel}"
    )))?;
    let mut named: BTreeMap<String, Option<BTreeMap<String, bool>>> = named?.into_iter().collect();
    let chaincodes = futures::future::try_join_all(defs.into_iter().map(|d| {
        let known = named.remove(&d.name);
        let committed_of = &committed_of;
        async move {
            let approvals = match known {
                Some(approvals) => approvals,
                None => committed_of(d.name.clone()).await?.1,
            }
            .unwrap_or_default();
            Ok::<_, ObserveError>((
                Observed::chaincode_key(channel, &d.name),
                CommittedDefinition {
                    sequence: d.sequence as u64,
                    version: d.version.clone(),
                    endorsement_policy: policy_text(&d.validation_parameter),
                    collections: collections(d.collections.as_ref()),
                    init_required: d.init_required,
                    approvals,
                    last_modified: None,
                },
            ))
        }
    }))
    .await?;
    let approved = approved?.into_iter().flatten().collect();
    let read = ChannelRead {
        channel: channel.to_string(),
        height,
        number,
        config,
        block,
        chaincodes,
        approved,
    };
    if !leaving {
        ctx.reads.channels.keep(channel, key, read.clone());
    }
    Ok(Some(read))
}

/// An observation with nothing read yet: this organization's packages only.
fn nothing_yet(me: &str, packages: &BTreeMap<String, Built>) -> Observed {
    Observed {
        observed_by: me.to_string(),
        taken_at: now_text(),
        channels: BTreeMap::new(),
        chaincodes: BTreeMap::new(),
        packages: packages
            .iter()
            .map(|(l, b)| (l.clone(), b.package_id.clone()))
            .collect(),
        local: Default::default(),
        proposals: Vec::new(),
        governance: None,
    }
}

/// What an organization without peers (the orderer organization) observes:
/// each spec channel's config as the orderer serves it to this organization
/// (a channel it is refused, or that does not exist yet, is left out), and
/// the OpsSC's proposals through its `opsGateway`. No chaincode and no
/// local peer: it runs neither.
pub async fn live_peerless(ctx: &Context, spec: &Spec) -> Result<Live> {
    let orderer = ctx
        .orderers
        .first()
        .ok_or_else(|| ObserveError::NoOrderer {
            msp_id: ctx.me.clone(),
        })?;
    let mut observed = nothing_yet(&ctx.me, &BTreeMap::new());
    let mut configs = BTreeMap::new();
    let mut config_blocks = BTreeMap::new();
    for channel in spec.channels.keys() {
        let block = match orderer.deliver.latest_config_block(channel).await {
            Ok(block) => block,
            Err(e) if e.fault() == opssc_fabric::Fault::Rejected => {
                tracing::info!(
                    "channel {channel}: the orderer does not serve it to {} ({e}); not observed",
                    ctx.me
                );
                continue;
            }
            Err(e) => {
                return Err(ObserveError::Fabric(FabricCall::boxed(
                    format!("read the latest config block of channel {channel}"),
                    e,
                )));
            }
        };
        let config = ChannelConfig::from_block(&block).map_err(ObserveError::config(format!(
            "decode the config of channel {channel}"
        )))?;
        observed.channels.insert(
            channel.clone(),
            observe_channel(&config, opssc_fabric::block::number(&block)),
        );
        configs.insert(channel.clone(), config);
        config_blocks.insert(channel.clone(), block);
    }
    let reads = read_opssc(ctx, spec).await?;
    read_proposals(
        ctx,
        spec,
        &orderer.deliver,
        &config_blocks,
        reads,
        &mut observed,
    )
    .await?;
    Ok(Live {
        observed,
        configs,
        heights: BTreeMap::new(),
    })
}

/// One open proposal's records: `get`, its votes, its tasks (once
/// approved) and its signatures (a config proposal's).
type ProposalRecord = (
    super::ops::Got,
    Vec<Vote>,
    Vec<TaskEntry>,
    Vec<SignatureEntry>,
);

/// What the observation reads of the OpsSC: the summaries of
/// [`wanted_proposals`] (not the listed items, whose payloads grow with the
/// history), the registered governance, and the records of each wanted
/// proposal still open (`None` for the settled ones).
#[derive(Clone)]
struct ProposalReads {
    wanted: Vec<ProposalSummary>,
    governance: Option<opssc_chaincode::model::Governance>,
    records: Vec<Option<ProposalRecord>>,
    /// Whether the list and the registry both answered (a read missing
    /// either is not kept for the next pass).
    complete: bool,
}

/// The proposals an observation carries: chaincode and config changes,
/// governance changes and channel creations.
fn wanted_proposals(items: &[Value]) -> Vec<ProposalSummary> {
    items
        .iter()
        .filter_map(summary)
        .filter(|s| {
            s.kind.is_chaincode()
                || s.kind.carries_config_update()
                || matches!(s.kind, Kind::GovernanceChange | Kind::ChannelCreate)
        })
        .collect()
}

/// [`read_opssc`], or what a pass read at `height` of the ops channel (when
/// it is known) if that is still kept.
async fn read_opssc_since(
    ctx: &Context,
    spec: &Spec,
    height: Option<u64>,
) -> Result<ProposalReads> {
    let ops_channel = &spec.consortium.ops_channel;
    if let Some(kept) = height.and_then(|h| ctx.reads.proposals.get(ops_channel, &h)) {
        return Ok(kept);
    }
    let read = read_opssc(ctx, spec).await?;
    if let (Some(height), true) = (height, read.complete) {
        ctx.reads.proposals.keep(ops_channel, height, read.clone());
    }
    Ok(read)
}

/// Reads the OpsSC: every proposal, the registry and the records of every
/// open wanted proposal, in one `overview` call (per page). An OpsSC
/// without `overview` (deployed before it) is read call by call.
async fn read_opssc(ctx: &Context, spec: &Spec) -> Result<ProposalReads> {
    let ops = ctx.ops(&spec.consortium.ops_channel);
    let mut overview = match ops.overview().await {
        Ok(o) => o,
        Err(e) if without_overview(&e) => return read_opssc_by_record(ctx, spec).await,
        // An organization that just joined the ops channel reaches the
        // OpsSC through the other members' peers once gossip has told its
        // peer about them; until then it sees no proposal (it is in no
        // electorate yet) rather than failing the whole pass, which also
        // joins channels.
        Err(e) => {
            tracing::warn!(
                "cannot read the OpsSC on {} yet: {e:#}",
                spec.consortium.ops_channel
            );
            return Ok(ProposalReads {
                wanted: Vec::new(),
                governance: None,
                records: Vec::new(),
                complete: false,
            });
        }
    };
    let wanted = wanted_proposals(&overview.items);
    let records = wanted
        .iter()
        .map(|s| {
            if !matches!(s.state, ProposalState::Proposed | ProposalState::Approved) {
                return Ok(None);
            }
            let r = overview.open.remove(&s.id).ok_or_else(|| {
                AgentError::Answer(format!(
                    "OpsSC overview lists proposal {} as {} without its records",
                    s.id,
                    s.state.as_str()
                ))
            })?;
            Ok(Some((r.get, r.votes, r.tasks, r.signatures)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ProposalReads {
        wanted,
        governance: overview.governance,
        records,
        complete: true,
    })
}

/// Whether `e` says the OpsSC has no `overview` query (one deployed before
/// it), so that it is read call by call.
fn without_overview(e: &AgentError) -> bool {
    matches!(
        e.refusal(),
        Some(opssc_chaincode::error::ContractError::UnknownFunction { .. })
    )
}

/// [`read_opssc`] call by call: the list and the registry, then every open
/// wanted proposal's records, concurrently (a pass's observation is mostly
/// round trips).
async fn read_opssc_by_record(ctx: &Context, spec: &Spec) -> Result<ProposalReads> {
    let ops = ctx.ops(&spec.consortium.ops_channel);
    // An organization that just joined the ops channel reaches the OpsSC
    // through the other members' peers once gossip has told its peer
    // about them; until then it sees no proposal (it is in no electorate
    // yet) rather than failing the whole pass, which also joins channels.
    let (items, governance) = tokio::join!(ops.list_all(), ops.governance());
    let complete = items.is_ok() && governance.is_ok();
    let items = items.unwrap_or_else(|e| {
        tracing::warn!(
            "cannot list the OpsSC proposals on {} yet: {e:#}",
            spec.consortium.ops_channel
        );
        Vec::new()
    });
    let governance = governance.unwrap_or_else(|e| {
        tracing::warn!(
            "cannot read the OpsSC registry on {} yet: {e:#}",
            spec.consortium.ops_channel
        );
        None
    });
    let wanted = wanted_proposals(&items);
    let records = futures::future::try_join_all(wanted.iter().map(|s| {
        let ops = &ops;
        async move {
            if !matches!(s.state, ProposalState::Proposed | ProposalState::Approved) {
                return Ok(None);
            }
            let approved = s.state == ProposalState::Approved;
            let no_tasks = async { Ok(Vec::new()) };
            let no_signatures = async { Ok(Vec::new()) };
            let record = tokio::try_join!(
                ops.get(&s.id),
                ops.votes(&s.id),
                async {
                    if approved {
                        ops.tasks(&s.id, None).await
                    } else {
                        no_tasks.await
                    }
                },
                // Signatures exist only once a config proposal is approved
                // or its recorded approvals reach the quorum (the
                // contract's `sign`; votes carry none).
                async {
                    if s.kind.carries_config_update() {
                        ops.signatures(&s.id).await
                    } else {
                        no_signatures.await
                    }
                },
            )?;
            Ok::<_, AgentError>(Some(record))
        }
    }))
    .await?;
    Ok(ProposalReads {
        wanted,
        governance,
        records,
        complete,
    })
}

/// The OpsSC's proposals, as [`live`] puts them into the observation: open
/// ones with their ballot, tasks, signatures and (for an approved config
/// proposal whose channel moved on) whether its update is on the chain,
/// read back through `deliver` from the latest config blocks the pass holds.
async fn read_proposals(
    ctx: &Context,
    spec: &Spec,
    deliver: &opssc_fabric::deliver::Deliverer,
    config_blocks: &BTreeMap<String, Block>,
    reads: ProposalReads,
    observed: &mut Observed,
) -> Result<()> {
    let ProposalReads {
        wanted,
        governance,
        records,
        ..
    } = reads;
    // The registered governance, for the GovernanceChange a spec edit
    // calls for; unread (no change planned) while the OpsSC does not answer.
    observed.governance = governance;
    for (mut s, record) in wanted.into_iter().zip(records) {
        if let Some((got, votes, tasks, signatures)) = record {
            s = with_ballot(s, &got.proposal, &votes);
            let mut open = open_detail(&got, &tasks, &signatures);
            let moved_past = |base: u64| {
                observed
                    .channels
                    .get(&s.target.channel)
                    .is_some_and(|c| c.config_sequence > base)
            };
            // Approved, or decided by its recorded votes (its update may
            // be submitted before the tally): whether its update is on the
            // chain.
            if let (true, Some(base), Some(update)) = (
                crate::plan::steps::decided(&s),
                s.base_config_sequence,
                got.proposal.payload["config_update"].as_str(),
            ) && moved_past(base)
            {
                let update = BASE64
                    .decode(update)
                    .map_err(|source| ObserveError::Update {
                        id: s.id.clone(),
                        source,
                    })?;
                open.update_on_chain = match config_blocks.get(&s.target.channel) {
                    Some(latest) => {
                        update_on_chain(deliver, &s.target.channel, latest, base, &update).await?
                    }
                    None => None,
                };
            }
            s.open = Some(open);
            readiness(ctx, spec, observed, &mut s).await?;
        }
        observed.proposals.push(s);
    }
    Ok(())
}

/// What an open proposal's executor and voters need from `get`, `tasks` and
/// `signatures`.
fn open_detail(
    got: &super::ops::Got,
    tasks: &[TaskEntry],
    signatures: &[SignatureEntry],
) -> OpenDetail {
    OpenDetail {
        proposer: got.proposal.proposer.clone(),
        payload: got.proposal.payload.clone(),
        eligible_executors: got.eligible_executors.clone(),
        execution_timeout_secs: got
            .proposal
            .execution
            .as_ref()
            .map_or(600, |e| e.timeout_secs)
            .max(1) as u64,
        tasks: tasks
            .iter()
            .filter_map(|t| {
                Some(ObservedTask {
                    org: t.org.clone(),
                    task: Task::parse(&t.task)?,
                    seq: t.seq,
                    status: t.status,
                    detail: t.detail.clone(),
                })
            })
            .collect(),
        commit_readiness: BTreeMap::new(),
        config_signatures: signatures
            .iter()
            .map(|s| (s.org.clone(), s.config_signature.clone()))
            .collect(),
        update_on_chain: None,
    }
}

/// How many config blocks one pass reads back looking for an approved
/// proposal's update; more config changes than this since its base means the
/// question waits (it is asked only between an update's commit and its
/// report, or for a proposal nobody may submit).
const CONFIG_BLOCKS_READ_BACK: usize = 16;

/// Whether `update` (ConfigUpdate bytes) produced one of the config blocks
/// of `channel` after config sequence `base`: reads config blocks newest
/// first from `latest` (the pass already holds it), following each one's
/// predecessor's last-config pointer.
async fn update_on_chain(
    deliver: &opssc_fabric::deliver::Deliverer,
    channel: &str,
    latest: &Block,
    base: u64,
    update: &[u8],
) -> Result<Option<bool>> {
    let mut block = latest.clone();
    for _ in 0..CONFIG_BLOCKS_READ_BACK {
        let (sequence, applied) =
            opssc_fabric::configtx::applied_config_update(&block).map_err(ObserveError::Applied)?;
        if sequence <= base {
            return Ok(Some(false));
        }
        if applied.as_deref() == Some(update) {
            return Ok(Some(true));
        }
        let number = opssc_fabric::block::number(&block);
        if number == 0 {
            return Ok(Some(false));
        }
        let read_back = || {
            FabricCall::wrap(
                ObserveError::Fabric,
                format!("read back the config blocks of channel {channel}"),
            )
        };
        let before = deliver
            .block(channel, Seek::Number(number - 1))
            .await
            .map_err(read_back())?;
        let index = opssc_fabric::block::last_config_index(&before).map_err(read_back())?;
        block = deliver
            .block(channel, Seek::Number(index))
            .await
            .map_err(read_back())?;
    }
    Ok(None)
}

/// For a chaincode proposal this organization may execute (approved, or
/// with recorded approvals that reach the quorum and make it the executor
/// once tallied) and whose definition is not committed yet: which
/// organizations approved the definition the spec gives for the proposal's
/// sequence.
async fn readiness(
    ctx: &Context,
    spec: &Spec,
    observed: &Observed,
    s: &mut ProposalSummary,
) -> Result<()> {
    let executes = match s.state {
        ProposalState::Approved => s
            .open
            .as_ref()
            .is_some_and(|o| o.eligible_executors.contains(&ctx.me)),
        ProposalState::Proposed => {
            crate::plan::steps::executor_once_tallied(s).as_deref() == Some(ctx.me.as_str())
        }
        _ => false,
    };
    let (true, Some(name), Some(open)) = (executes, s.target.chaincode.as_ref(), s.open.as_mut())
    else {
        return Ok(());
    };
    let channel = &s.target.channel;
    let Some(cc) = spec.chaincodes.get(&(channel.clone(), name.clone())) else {
        return Ok(());
    };
    let Some(sequence) = open.payload["sequence"].as_u64() else {
        return Ok(());
    };
    let committed = observed
        .chaincodes
        .get(&Observed::chaincode_key(channel, name))
        .map_or(0, |c| c.sequence);
    // Only the next sequence can be committed: a proposal naming another one
    // (a hostile or stale filing) is refused by the plan, and asking Fabric
    // about it would only fail the observation.
    if sequence != committed + 1 || !observed.channels.contains_key(channel) {
        return Ok(());
    }
    let Ok(def) = super::pass::definition(cc, sequence) else {
        return Ok(());
    };
    let ready = lifecycle::check_commit_readiness(&ctx.main_peer().endorser, channel, &def)
        .await
        .map_err(FabricCall::wrap(
            ObserveError::Fabric,
            format!("check the commit readiness of {channel}/{name} sequence {sequence}"),
        ))?;
    open.commit_readiness = ready.approvals.into_iter().collect();
    Ok(())
}

/// What `_lifecycle` says this organization approved, with the package it chose.
pub fn approved_definition(a: &lc::QueryApprovedChaincodeDefinitionResult) -> ApprovedDefinition {
    let package_id = a.source.as_ref().and_then(|s| match &s.r#type {
        Some(lc::chaincode_source::Type::LocalPackage(l)) => Some(l.package_id.clone()),
        _ => None,
    });
    ApprovedDefinition {
        sequence: a.sequence as u64,
        version: a.version.clone(),
        package_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only an OpsSC that does not know `overview` is read call by call;
    /// any other failure is the observation's own.
    #[test]
    fn an_opssc_without_overview_is_read_call_by_call() {
        let failed = |message: &str| AgentError::Call {
            message: message.into(),
            fault: opssc_fabric::Fault::Rejected,
            refusal: super::super::error::contract_refusal(message),
        };
        assert!(without_overview(&failed(
            "Evaluate opssc: chaincode response 500, unknown_function: unknown function `overview`; known functions: get, list"
        )));
        assert!(!without_overview(&failed(
            "Evaluate opssc: access denied: channel [ops] creator org unknown"
        )));
        assert!(!without_overview(&failed(
            "Evaluate opssc: chaincode response 500, bad_argument: `page_size`: must be 1..=200"
        )));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_ms("300ms"), Some(300));
        assert_eq!(go_duration_ms("2s"), Some(2000));
        assert_eq!(go_duration_ms("1m30s"), Some(90_000));
        assert_eq!(go_duration_ms("1.5s"), Some(1500));
        assert_eq!(go_duration_ms("5x"), None);
        assert_eq!(go_duration_ms(""), None);
    }

    fn pem(name: &str) -> Vec<u8> {
        format!("-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n").into_bytes()
    }

    #[test]
    fn a_channel_config_becomes_an_observed_channel() {
        use opssc_fabric::configtx::genesis::{ChannelDescription, channel_config};
        use opssc_fabric::configtx::{MspDefinition, Organization};
        use opssc_fabric::protos::etcdraft;
        let org = |id: &str| {
            Organization::application(MspDefinition::with_node_ous(
                id,
                &pem(&format!("ca.{id}")),
                &pem(&format!("tlsca.{id}")),
            ))
            .unwrap()
            .with_anchor_peers(&[(&format!("peer0.{}", id.to_lowercase()), 7051)])
        };
        let orderer = Organization::orderer(
            MspDefinition::with_node_ous("OrdererMSP", &pem("ca.o"), &pem("tlsca.o")),
            vec!["orderer0:7050".into()],
        )
        .unwrap();
        let mut desc = ChannelDescription::new(
            "trade",
            vec![org("Org1MSP"), org("Org2MSP")],
            vec![orderer],
            vec![etcdraft::Consenter {
                host: "orderer0.example.com".into(),
                port: 7050,
                client_tls_cert: pem("tls"),
                server_tls_cert: pem("tls"),
            }],
        );
        desc.batch_timeout = "300ms".into();
        desc.application_capabilities = vec!["V2_5".into()];
        let built = channel_config(&desc).unwrap();
        let config = ChannelConfig::from_config("trade", &built.to_proto()).unwrap();
        let ch = observe_channel(&config, 7);
        assert_eq!(ch.last_config_block, 7);
        assert_eq!(
            ch.members.keys().cloned().collect::<Vec<_>>(),
            ["Org1MSP", "Org2MSP"]
        );
        assert_eq!(ch.members["Org2MSP"].anchor_peers, ["peer0.org2msp:7051"]);
        assert_eq!(ch.policies["LifecycleEndorsement"], "MAJORITY Endorsement");
        assert_eq!(ch.policies["Admins"], "MAJORITY Admins");
        assert_eq!(ch.orderer_orgs, ["OrdererMSP"]);
        assert_eq!(ch.capabilities.application, "V2_5");
        assert_eq!(ch.capabilities.channel, "V2_0");
        assert_eq!(ch.batch.timeout_ms, 300);
        assert_eq!(ch.batch.max_message_count, 10);
        assert_eq!(ch.consenters, ["orderer0.example.com:7050"]);
    }

    #[test]
    fn an_open_proposal_carries_its_round_quorum_electorate_and_votes() {
        // What `list` returns for one proposal: no round, no electorate list.
        let item = serde_json::json!({
            "id": "ab".repeat(32), "kind": "ChaincodeUpgrade",
            "target": {"channel": "trade", "chaincode": "kv"}, "state": "proposed",
            "proposer": "Org1MSP", "created_at": 1, "deadline": 2, "quorum": 2, "electorate": 3
        });
        let s = summary(&item).unwrap();
        assert_eq!((s.round, s.quorum), (0, 2));
        assert!(s.electorate.is_empty() && s.votes.is_empty());
        let proposal: Proposal = serde_json::from_value(serde_json::json!({
            "id": "ab".repeat(32), "kind": "ChaincodeUpgrade",
            "target": {"channel": "trade", "chaincode": "kv"}, "round": 1, "payload": {},
            "spec_ref": {"git_commit": "c".repeat(40), "spec_hash": "d".repeat(64)},
            "proposer": "Org1MSP", "created_at": 1, "created_tx": "t", "deadline": 2,
            "state": "proposed", "electorate": ["Org1MSP", "Org2MSP", "Org3MSP"],
            "quorum": 2, "quorum_rule": "MAJORITY", "history": []
        }))
        .unwrap();
        let vote = |org: &str, decision: &str| -> Vote {
            serde_json::from_value(serde_json::json!({
                "proposal_id": "ab".repeat(32), "org": org, "decision": decision,
                "reason": "", "cast_at": 1, "tx_id": "t", "actor": "a"
            }))
            .unwrap()
        };
        let s = with_ballot(
            s,
            &proposal,
            &[vote("Org1MSP", "approve"), vote("Org3MSP", "reject")],
        );
        assert_eq!((s.round, s.quorum), (1, 2));
        assert_eq!(s.electorate, ["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(
            s.votes.into_iter().collect::<Vec<_>>(),
            [
                (
                    "Org1MSP".to_string(),
                    opssc_chaincode::model::Decision::Approve
                ),
                (
                    "Org3MSP".to_string(),
                    opssc_chaincode::model::Decision::Reject
                )
            ]
        );
    }

    #[test]
    fn collections_of_a_definition_with_their_member_policy() {
        use opssc_fabric::configtx::parse_signature_policy;
        use opssc_fabric::protos::protos::{
            CollectionConfig, CollectionConfigPackage, CollectionPolicyConfig,
            StaticCollectionConfig, collection_config, collection_policy_config,
        };
        let static_config = |name: &str, policy: &str, btl: u64| CollectionConfig {
            payload: Some(collection_config::Payload::StaticCollectionConfig(
                StaticCollectionConfig {
                    name: name.into(),
                    member_orgs_policy: Some(CollectionPolicyConfig {
                        payload: Some(collection_policy_config::Payload::SignaturePolicy(
                            parse_signature_policy(policy).unwrap(),
                        )),
                    }),
                    required_peer_count: 1,
                    maximum_peer_count: 3,
                    block_to_live: btl,
                    member_only_read: true,
                    member_only_write: false,
                    endorsement_policy: None,
                },
            )),
        };
        let package = CollectionConfigPackage {
            config: vec![
                static_config("secrets", "OR('Org2MSP.member', 'Org1MSP.member')", 0),
                static_config("prices", "AND('Org1MSP.member', 'Org3MSP.member')", 100),
            ],
        };
        let got = collections(Some(&package));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "prices");
        assert_eq!(got[0].block_to_live, 100);
        assert_eq!((got[0].required_peer_count, got[0].max_peer_count), (1, 3));
        assert!((got[0].member_only_read, got[0].member_only_write) == (true, false));
        assert!(crate::plan::desired::same_policy(
            &got[0].policy,
            "AND('Org1MSP.member', 'Org3MSP.member')"
        ));
        assert!(crate::plan::desired::same_policy(
            &got[1].policy,
            "OR('Org2MSP.member', 'Org1MSP.member')"
        ));
        assert!(collections(None).is_empty());
    }

    #[test]
    fn highest_capability() {
        let set = ["V1_4_3", "V2_0", "V1_4_2"]
            .map(String::from)
            .into_iter()
            .collect();
        assert_eq!(highest(set), "V2_0");
    }
}
