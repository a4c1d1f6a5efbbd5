//! Channel configuration changes: the I/O around the plan's config steps.
//!
//! For every planned config proposal (`ChannelUpdate`, `OrgAdd`, `OrgRemove`)
//! on a channel this organization is a member of, [`config_updates`]
//! computes, before planning, what the planner cannot: the ConfigUpdate from
//! this organization's own spec and the channel's config block as the
//! observation decoded it ([`crate::config_update`]), and for an approved
//! proposal of exactly those bytes whether the approvals' ConfigSignatures
//! satisfy the policies the orderer will check. The decisions — file, vote
//! (with a signature), reject another org's different bytes, submit or
//! record a stale proposal as failed, what waits — are the plan's
//! ([`crate::plan::steps`]); [`submit`] is the executor's one call for a
//! `Submit` step. [`admission`] reads, for the new organization's side,
//! whether the orderer's config of each channel it should be in lists it;
//! the plan's join steps follow from that. [`opssc_package`] builds the
//! OpsSC package a new member installs and approves on its own peers (the
//! plan's steps).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use opssc_chaincode::model::{ConfigSignatureB64, ProposalState};
use opssc_fabric::configtx::{self, ChannelConfig, ConfigError, client, sign};
use opssc_fabric::deliver::Seek;
use opssc_fabric::protos::common::{ConfigSignature, ConfigUpdate};
use prost::Message;
use serde_json::Value;

use super::context::Context;
use super::error::{AgentError, FabricCall, chain};
use super::spec_source::SpecAt;
use crate::config_update::{self, ConfigUpdateError};
use crate::observe::Observed;
use crate::plan::quorum::spec_registry_policies;
use crate::plan::steps::{Admission, ConfigUpdateInput, OpsPackage, SubmitCheck};
use crate::plan::{Change, Plan};

pub type Result<T, E = ChannelChangeError> = std::result::Result<T, E>;

/// Why an input of the config steps could not be computed: the update this
/// organization's spec calls for, a config block or an orderer's answer.
/// Fabric's error stays in the chain (for the retry policy,
/// [`AgentError::from_error`]).
#[derive(Debug, thiserror::Error)]
pub enum ChannelChangeError {
    /// The ConfigUpdate (or the proposal payload) from the spec.
    #[error(transparent)]
    Update(Box<ConfigUpdateError>),
    #[error("channel {channel} is not in the spec")]
    NoChannel { channel: String },
    /// The payload this organization would file does not pass the
    /// contract's own checks (a bug: the same code builds and checks it).
    #[error("this organization's own payload is invalid: {0}")]
    OwnPayload(String),
    #[error("decode the config update")]
    Decode(#[source] prost::DecodeError),
    /// A channel config (`what`: which, and what for).
    #[error("{what}")]
    Config {
        what: String,
        #[source]
        source: ConfigError,
    },
    #[error(transparent)]
    Fabric(Box<FabricCall>),
}

impl From<ConfigUpdateError> for ChannelChangeError {
    fn from(e: ConfigUpdateError) -> ChannelChangeError {
        ChannelChangeError::Update(Box::new(e))
    }
}

impl ChannelChangeError {
    fn config(what: String) -> impl FnOnce(ConfigError) -> ChannelChangeError {
        move |source| ChannelChangeError::Config { what, source }
    }
}

/// How long the executor waits for the config block after submitting.
const CONFIG_BLOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether this org's peers have joined `channel` (configs are read there).
fn joined(observed: &Observed, ctx: &Context, channel: &str) -> bool {
    observed
        .local
        .peers
        .get(&ctx.main_peer().name)
        .is_some_and(|p| p.joined_channels.iter().any(|c| c == channel))
}

/// The config updates this organization computes for the plan's config
/// proposals, by `intent_id` (see the module doc), and the errors of those
/// it could not compute.
pub fn config_updates(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    configs: &BTreeMap<String, ChannelConfig>,
    plan: &Plan,
) -> (BTreeMap<String, ConfigUpdateInput>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for p in plan
        .proposals
        .iter()
        .filter(|p| p.kind.carries_config_update())
    {
        let channel = &p.target.channel;
        let member = observed
            .channels
            .get(channel)
            .is_some_and(|c| c.members.contains_key(&ctx.me));
        let Some(config) = configs.get(channel) else {
            continue;
        };
        if ctx.is_peerless() {
            // An organization without peers (the orderer organization) is
            // a member of no channel's Application group: it computes an
            // update only to add its signature to an approved one.
            let approved = observed.proposals.iter().any(|o| {
                o.kind == p.kind && o.target == p.target && o.state == ProposalState::Approved
            });
            if !approved {
                continue;
            }
        } else if !member || !joined(observed, ctx, channel) {
            continue;
        }
        // A voteOnly organization computes an update only to vote on (or
        // execute) one that another member filed.
        let filed = observed.proposals.iter().any(|o| {
            o.kind == p.kind
                && o.target == p.target
                && matches!(o.state, ProposalState::Proposed | ProposalState::Approved)
        });
        if ctx.config.channel_changes == opssc_schema::local::ChannelChangePolicy::VoteOnly
            && !filed
        {
            continue;
        }
        let changes: Vec<&Change> = p.changes.iter().map(|&i| &plan.shared[i].change).collect();
        match config_update_input(&ctx.me, config, at, observed, p, &changes) {
            Ok(cu) => {
                out.insert(p.intent_id.clone(), cu);
            }
            Err(e) => errors.push(format!("{channel}: {}", chain(&e))),
        }
    }
    (out, errors)
}

fn config_update_input(
    me: &str,
    config: &ChannelConfig,
    at: &SpecAt,
    observed: &Observed,
    p: &crate::plan::PlannedProposal,
    changes: &[&Change],
) -> Result<ConfigUpdateInput> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = config_update::channel_update(&at.spec, config, changes)?;
    let after = at
        .spec
        .channels
        .get(&p.target.channel)
        .map(spec_registry_policies)
        .ok_or_else(|| ChannelChangeError::NoChannel {
            channel: p.target.channel.clone(),
        })?;
    let payload =
        config_update::proposal_payload(p.kind, p.org.as_deref(), &bytes, changes, after)?;
    let (_, canonical) = opssc_chaincode::api::normalize_payload(p.kind, &payload)
        .map_err(|e| ChannelChangeError::OwnPayload(e.to_string()))?;
    let (_, id) = filing_round(p.kind, &p.target, &payload, &observed.proposals)
        .map_err(|e| ChannelChangeError::OwnPayload(e.to_string()))?;
    // For the approved proposal of exactly these bytes (or one whose
    // recorded approvals reach the quorum, signed before its tally): what
    // the orderer will check, against the signatures the observation read.
    let submit = match observed
        .proposals
        .iter()
        .find(|o| o.id == id && crate::plan::steps::decided(o))
        .and_then(|o| Some((o, o.open.as_ref()?)))
    {
        Some((o, open)) => {
            let update =
                ConfigUpdate::decode(bytes.as_slice()).map_err(ChannelChangeError::Decode)?;
            let needed = configtx::required_signatures(config, &update).map_err(
                ChannelChangeError::config("the policies that the update must satisfy".into()),
            )?;
            let policies: Vec<String> = needed
                .policies()
                .iter()
                .map(|r| r.policy().to_string())
                .collect();
            let signed: BTreeSet<String> = open.config_signatures.keys().cloned().collect();
            let electorate: BTreeSet<String> = o.electorate.iter().cloned().collect();
            let mut with_mine = signed.clone();
            with_mine.insert(me.to_string());
            Some(if !electorate.contains(me) && needed.orgs().contains(me) {
                // This organization does not vote on it (the orderer
                // organization, for orderer settings) and the orderer
                // checks its signature: it adds it to the voters' and
                // submits once together they satisfy every policy.
                if needed.is_satisfied_by(&with_mine) {
                    SubmitCheck::SignAndSubmit {
                        signatures: open.config_signatures.clone(),
                    }
                } else {
                    SubmitCheck::Unsigned {
                        signed: signed.into_iter().collect(),
                        policies,
                    }
                }
            } else if !needed.is_satisfied_by(&electorate) {
                SubmitCheck::OutsideElectorate {
                    outside: needed.orgs().difference(&electorate).cloned().collect(),
                    policies,
                }
            } else if !needed.is_satisfied_by(&signed) {
                SubmitCheck::Unsigned {
                    signed: signed.into_iter().collect(),
                    policies,
                }
            } else {
                SubmitCheck::Ready {
                    signatures: open.config_signatures.clone(),
                }
            })
        }
        None => None,
    };
    Ok(ConfigUpdateInput {
        config_update: b64.encode(&bytes),
        payload,
        canonical,
        base_sequence: config.sequence,
        submit,
    })
}

/// The round (and so the contract's ID) under which this exact update is
/// filed ([`crate::plan::proposal::filing_round`]).
pub fn filing_round(
    kind: opssc_chaincode::model::Kind,
    target: &opssc_chaincode::model::Target,
    payload: &Value,
    proposals: &[crate::observe::ProposalSummary],
) -> Result<(u32, String), opssc_chaincode::error::ContractError> {
    crate::plan::proposal::filing_round(kind, target, payload, proposals)
}

/// A `Submit` step: the update signed by the approvals' ConfigSignatures,
/// broadcast to the first orderer of the local configuration; waits for the
/// config block. `Ok(Err(why))` when the orderer refused it (a policy, a
/// stale read set): the caller records that on the proposal.
pub async fn submit(
    ctx: &Context,
    channel: &str,
    config_update: &str,
    signatures: &BTreeMap<String, ConfigSignatureB64>,
) -> Result<std::result::Result<u64, String>, AgentError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let plan_err = |e: String| AgentError::Plan(e);
    let bytes = b64
        .decode(config_update)
        .map_err(|e| plan_err(format!("the update to submit: {e}")))?;
    let update = ConfigUpdate::decode(bytes.as_slice())
        .map_err(|e| plan_err(format!("the update to submit does not decode: {e}")))?;
    let leaving = config_update::removes_member(&update, &ctx.me);
    let mut sigs = Vec::new();
    for (org, s) in signatures {
        sigs.push(ConfigSignature {
            signature_header: b64
                .decode(&s.signature_header)
                .map_err(|e| plan_err(format!("{org}'s signature header: {e}")))?,
            signature: b64
                .decode(&s.signature)
                .map_err(|e| plan_err(format!("{org}'s signature: {e}")))?,
        });
    }
    let envelope = sign::submission(
        ctx.signer.as_ref(),
        channel,
        &sign::update_envelope(bytes, sigs),
    )
    .map_err(|e| plan_err(format!("sign the submission: {e}")))?;
    let Some(orderer) = ctx.orderers.first() else {
        return Err(plan_err(
            "this organization's agent configuration lists no orderer to submit the update to (add `orderers:`)".into(),
        ));
    };
    // Where the config block is awaited: the own peer, or for an
    // organization without peers the orderer itself.
    let deliver = if ctx.is_peerless() {
        &orderer.deliver
    } else {
        &ctx.main_peer().deliver
    };
    if leaving {
        // The update takes this organization out of the channel: once it
        // commits, the orderer sends this organization none of its blocks,
        // so the config block cannot be awaited. The orderer validates a
        // config update against the channel's current config (read set,
        // policies) before ordering it, so its acceptance is the answer; the
        // next executor reads the block and reports the proposal committed.
        let base = client::fetch_config(deliver, channel)
            .await
            .map_err(|e| {
                AgentError::from_error(&ChannelChangeError::config(format!(
                    "read the config of channel {channel}"
                ))(e))
            })?
            .sequence;
        return match orderer.orderer.broadcast(envelope).await {
            Ok(()) => Ok(Ok(base + 1)),
            Err(e) if e.fault() == opssc_fabric::Fault::Rejected => {
                Ok(Err(format!("the orderer refused the update: {e:#}")))
            }
            Err(e) => Err(AgentError::fabric(
                format!("submit the update of channel {channel}"),
                e,
            )),
        };
    }
    match client::submit_and_wait(
        &orderer.orderer,
        deliver,
        channel,
        envelope,
        CONFIG_BLOCK_TIMEOUT,
    )
    .await
    {
        Ok(after) => Ok(Ok(after.sequence)),
        Err(e) if refused(&e) => Ok(Err(format!("the orderer refused the update: {e:#}"))),
        Err(e) => Err(AgentError::from_error(&ChannelChangeError::config(
            format!("submit the update of channel {channel}"),
        )(e))),
    }
}

/// A refusal by the orderer itself (a policy, a stale read set): Fabric's
/// answer classed `Rejected`. A node that is down, slow or not ready (a 503
/// while a channel's consenters change, also while waiting for the config
/// block) is no refusal: the step fails as transient and the next pass
/// reads the blocks, so an update that did commit is reported committed,
/// never failed.
fn refused(e: &configtx::ConfigError) -> bool {
    matches!(e, configtx::ConfigError::Fabric { source, .. }
        if source.fault() == opssc_fabric::Fault::Rejected)
}

/// What the orderer says about each spec channel that lists this
/// organization and that an own peer has not joined: the planning input for
/// the join steps ([`crate::plan::steps::Admission`]).
pub async fn admission(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
) -> Result<std::collections::BTreeMap<String, Admission>> {
    let mut out = std::collections::BTreeMap::new();
    for (name, ch) in &at.spec.channels {
        if !ch.members.contains(&ctx.me) {
            continue;
        }
        let missing = ctx.peers.iter().any(|p| {
            !observed
                .local
                .peers
                .get(&p.name)
                .is_some_and(|l| l.joined_channels.iter().any(|c| c == name))
        });
        if !missing {
            continue;
        }
        let Some(orderer) = ctx.orderers.first() else {
            out.insert(name.clone(), Admission::NoOrderer);
            continue;
        };
        let a = match orderer.deliver.latest_config_block(name).await {
            Ok(block) => {
                let config = ChannelConfig::from_block(&block).map_err(
                    ChannelChangeError::config(format!("decode the config of channel {name}")),
                )?;
                if config.application_msp_ids().contains(&ctx.me) {
                    Admission::Listed
                } else {
                    Admission::NotListed {
                        config_sequence: config.sequence,
                    }
                }
            }
            Err(e) => Admission::Unavailable {
                why: format!("orderer {}: {e}", orderer.name),
            },
        };
        out.insert(name.clone(), a);
    }
    Ok(out)
}

/// The OpsSC package of this organization (chaincode-as-a-service at its
/// `chaincodeServers` address for `<name>_<committed version>`), once its
/// peers joined the ops channel and the OpsSC is committed there: the
/// planning input for the plan's OpsSC install and approve steps (a member
/// added after founding endorses the OpsSC on its own peers). `None`
/// without a configured server: the OpsSC runs on the other members' peers.
pub fn opssc_package(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
) -> Result<Option<(OpsPackage, super::packages::Built)>> {
    let ops = &at.spec.consortium.ops_channel;
    if !joined(observed, ctx, ops) {
        return Ok(None);
    }
    let name = ctx.config.ops_chaincode.as_deref().unwrap_or("opssc");
    let Some(committed) = observed.chaincodes.get(&Observed::chaincode_key(ops, name)) else {
        return Ok(None);
    };
    let label = format!("{name}_{}", committed.version);
    let Some(address) = ctx.config.chaincode_servers.get(&label) else {
        tracing::debug!(
            "no chaincodeServers entry for {label}: the OpsSC runs on the other members' peers"
        );
        return Ok(None);
    };
    let bytes = opssc_fabric::package::ccaas_package(
        &label,
        &opssc_fabric::package::Connection::plaintext(address),
    )
    .map_err(FabricCall::wrap(
        ChannelChangeError::Fabric,
        format!("build the OpsSC package {label}"),
    ))?;
    let package_id = opssc_fabric::package::package_id(&label, &bytes);
    Ok(Some((
        OpsPackage {
            name: name.to_string(),
            label: label.clone(),
            package_id: package_id.clone(),
        },
        super::packages::Built {
            label,
            bytes,
            package_id,
        },
    )))
}

/// The height of `channel` at the orderer (None without one): what the own
/// main peer must have reached before the plan uses its ledger (a peer that
/// just joined must not plan chaincodes from a ledger that has not seen
/// their definitions yet).
pub async fn ordered_height(ctx: &Context, channel: &str) -> Result<Option<u64>> {
    let Some(orderer) = ctx.orderers.first() else {
        return Ok(None);
    };
    // An orderer that does not answer (its reads retry while it restarts)
    // must not hold the pass that reads this beside its observation.
    let ordered = tokio::time::timeout(
        ORDERED_HEIGHT_WAIT,
        orderer.deliver.block(channel, Seek::Newest),
    )
    .await
    .unwrap_or_else(|_| {
        Err(opssc_fabric::Error::Timeout {
            what: format!("the orderer's newest block of channel {channel}"),
            after: ORDERED_HEIGHT_WAIT,
        })
    })
    .map_err(FabricCall::wrap(
        ChannelChangeError::Fabric,
        format!("read the newest block of channel {channel} from the orderer"),
    ))?;
    Ok(Some(opssc_fabric::block::number(&ordered) + 1))
}

/// How long [`ordered_height`] waits for the orderer: it answers in
/// milliseconds; a channel with a chaincode change waits a moment for the
/// next pass, which asks again.
const ORDERED_HEIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(test)]
mod tests {

    #[test]
    fn only_the_orderers_own_refusal_fails_a_submission() {
        let fabric = |source: opssc_fabric::Error| configtx::ConfigError::Fabric {
            what: "watching channel trade for the new config block".into(),
            source: Box::new(source),
        };
        let refused_with = |status| {
            refused(&fabric(opssc_fabric::Error::Refused {
                call: "Deliver".into(),
                node: "orderer0".into(),
                status,
                message: "m".into(),
            }))
        };
        assert!(refused_with(403));
        assert!(refused_with(400));
        assert!(!refused_with(503));
        assert!(!refused(&fabric(opssc_fabric::Error::Timeout {
            what: "the config block".into(),
            after: std::time::Duration::from_secs(1),
        })));
    }

    use super::*;
    use crate::plan::steps::blocking_risk;
    use opssc_chaincode::model::Kind;
    use std::path::Path;

    fn golden(case: &str) -> Plan {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(case);
        let spec_dir = match std::fs::read_to_string(dir.join("spec.txt")) {
            Ok(rel) => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(rel.trim()),
            Err(_) => dir.join("spec"),
        };
        let spec = opssc_schema::load_dir(&spec_dir)
            .spec
            .expect("the golden spec validates");
        let observed = crate::observe::load_file(&dir.join("observed.json")).unwrap();
        crate::plan::plan(&spec, &observed, &observed.observed_by.clone())
    }

    #[test]
    fn removing_a_sole_endorser_waits_for_the_chaincode_change() {
        let plan = golden("remove-org");
        let remove = plan
            .proposals
            .iter()
            .find(|p| p.kind == Kind::OrgRemove)
            .expect("the case removes an organization");
        let risk = blocking_risk(&plan, remove).expect("the removal is blocked");
        assert!(
            risk.message.contains("sole endorser") || risk.message.contains("still needed"),
            "{}",
            risk.message
        );
        // The chaincode change it waits for is not blocked itself.
        for p in plan.proposals.iter().filter(|p| p.kind != Kind::OrgRemove) {
            assert!(blocking_risk(&plan, p).is_none(), "{:?}", p.kind);
        }
    }

    #[test]
    fn a_superseded_filing_of_the_same_bytes_moves_to_the_next_round() {
        use crate::observe::ProposalSummary;
        use opssc_chaincode::model::Target;
        let target = Target {
            channel: "trade".into(),
            chaincode: None,
        };
        let payload = serde_json::json!({"org": "Org4MSP", "config_update": "AQID"});
        let summary = |id: &str, state| ProposalSummary {
            id: id.to_string(),
            kind: Kind::OrgAdd,
            target: target.clone(),
            round: 0,
            org: None,
            state,
            votes: Default::default(),
            quorum: 0,
            electorate: Vec::new(),
            spec_commit: None,
            base_config_sequence: None,
            open: None,
        };
        let (r0, id0) = filing_round(Kind::OrgAdd, &target, &payload, &[]).unwrap();
        assert_eq!(r0, 0);
        // Superseded (e.g. by a hostile filing for the same target): round 1.
        let (r1, id1) = filing_round(
            Kind::OrgAdd,
            &target,
            &payload,
            &[summary(&id0, ProposalState::Superseded)],
        )
        .unwrap();
        assert_eq!(r1, 1);
        assert_ne!(id1, id0);
        // Rejected or live: the same round, so the outcome stands.
        for state in [
            ProposalState::Rejected,
            ProposalState::Proposed,
            ProposalState::Failed,
        ] {
            let (r, id) =
                filing_round(Kind::OrgAdd, &target, &payload, &[summary(&id0, state)]).unwrap();
            assert_eq!((r, id), (0, id0.clone()), "{state:?}");
        }
    }

    #[test]
    fn adding_an_org_is_not_blocked() {
        let plan = golden("add-org");
        let add = plan
            .proposals
            .iter()
            .find(|p| p.kind == Kind::OrgAdd)
            .expect("the case adds an organization");
        assert!(blocking_risk(&plan, add).is_none());
    }
}
