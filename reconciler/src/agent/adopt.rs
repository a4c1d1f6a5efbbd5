//! Adopting a running network (`opssc found --adopt`): a network built
//! without opssc (Fabric's CLI, scripts, an operator) gets the ops channel,
//! the OpsSC and a founded registry, and from then on the agents manage it.
//!
//! - [`adoption`] (pure): from the spec (usually what `opssc import` wrote,
//!   with the ops channel and the admins filled in) and what this
//!   organization observes, what adoption founds — the ops channel to create
//!   or the live one to use, the registry's channels with their live members
//!   — and what must stay as it is: each existing channel at its config
//!   sequence, each committed chaincode at its definition sequence.
//! - [`orderer_joins`] (pure): the orderer organization's part, which is to
//!   join its orderers to the ops channel and to nothing else.
//! - [`untouched`] (pure): what changed on an existing channel or chaincode
//!   since the adoption was decided (nothing, after a correct adoption).
//! - [`adopt`]: the shell: observe, decide, run this organization's
//!   founding ([`super::founding::found`]), observe again and check.
//!
//! Key decisions:
//! - Adoption changes nothing that runs. It refuses a spec that asks for a
//!   change on any existing channel or chaincode — the planner's own
//!   comparison ([`crate::plan::plan`]) decides what a change is, so
//!   "adoptable" means exactly "`opssc plan` shows nothing but the new ops
//!   channel". A change the consortium wants goes through the agents after
//!   adoption, with its votes.
//! - The only channel adoption creates is the ops channel, from the spec
//!   (the same deterministic block 0 as founding); a spec channel that does
//!   not run is refused, not created.
//! - The registry is founded from the live channels: their members as the
//!   config blocks list them. Each founding member confirms the same
//!   content, and the contract writes the registry only when they agree, so
//!   they must see the same network; because the spec must match what runs,
//!   that content is also `found_args(spec)`, and a difference is refused.
//!   Config sequences and definition sequences need no registry entry: the
//!   agents read them from the chain at every pass.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use opssc_chaincode::api::FoundArgs;
use opssc_fabric::participation::ChannelParticipation;
use opssc_schema::Spec;
use opssc_schema::local::AgentConfig;

use super::context::Context;
use super::error::FabricCall;
use super::founding::{self, FoundingError};
use super::observe_live;
use crate::observe::Observed;
use crate::plan::{self, render};

/// The ops channel of an adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpsChannel {
    /// Not on the network yet: founding creates it from the spec.
    Create,
    /// A running channel the spec names as the ops channel; the OpsSC is
    /// installed there and its config stays as it is.
    Existing,
}

/// What adopting the network founds, and what it leaves as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub ops_channel: String,
    pub ops: OpsChannel,
    /// Each running channel this organization observes, with its config
    /// sequence: the same after adoption.
    pub channels: BTreeMap<String, u64>,
    /// Each committed chaincode definition (`<channel>/<name>`) with its
    /// version and sequence: the same after adoption.
    pub chaincodes: BTreeMap<String, (String, u64)>,
    /// The registry, from the live channels' members.
    pub found: FoundArgs,
}

impl Adoption {
    /// One line per decision, for `opssc found --adopt`'s output.
    pub fn describe(&self) -> Vec<String> {
        let mut out = vec![match self.ops {
            OpsChannel::Create => {
                format!("ops channel {}: created from the spec", self.ops_channel)
            }
            OpsChannel::Existing => format!(
                "ops channel {}: the running channel, its config kept",
                self.ops_channel
            ),
        }];
        for (name, seq) in &self.channels {
            out.push(format!("keeps channel {name} at config sequence {seq}"));
        }
        for (key, (version, seq)) in &self.chaincodes {
            out.push(format!("keeps chaincode {key} {version} at sequence {seq}"));
        }
        for c in &self.found.channels {
            out.push(format!(
                "registry: channel {} with {}",
                c.name,
                c.members.join(", ")
            ));
        }
        out
    }
}

/// Why a network cannot be adopted with this spec, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdoptError {
    #[error(
        "channel {channel} is in the spec and lists {me} as a member, but {me}'s peers have not joined it: adoption creates no channel but the ops channel; join the peers to it (`peer channel join`), or remove it from the spec and propose it after adoption"
    )]
    ChannelNotLive { channel: String, me: String },
    #[error(
        "orderer {node} does not serve channel {channel} of the spec: adoption joins the orderers to the ops channel only; join it by hand (`osnadmin channel join`) or remove the channel from the spec"
    )]
    OrdererLacksChannel { node: String, channel: String },
    #[error(
        "the spec asks to change the running network: {}; adoption leaves every existing channel and chaincode as it is, so make the spec say what runs (`opssc import` writes it; `opssc plan --spec DIR --config opssc.yaml` shows the difference), or adopt first and commit the change afterwards",
        .changes.join("; ")
    )]
    SpecDiffers { changes: Vec<String> },
    #[error(
        "the ops channel {channel} runs without {me}: the founding organizations are the ops channel's members; name another ops channel, or have {me} added to {channel} first"
    )]
    NotOpsMember { channel: String, me: String },
    #[error("the spec gives no registry: {0}")]
    Registry(String),
}

/// Why [`adopt`] stopped: refused before anything was done (the spec and
/// the network disagree: [`AdoptError`], what `opssc found --adopt` exits 3
/// for), or a step on the way failed (each keeps its cause as the source).
#[derive(Debug, thiserror::Error)]
pub enum AdoptFailure {
    #[error(transparent)]
    Refused(#[from] AdoptError),
    #[error(transparent)]
    Founding(#[from] FoundingError),
    /// A call to an orderer failed.
    #[error(transparent)]
    Fabric(Box<FabricCall>),
    /// Connecting to this organization's nodes (the agent's context).
    #[error(transparent)]
    Connect(#[from] super::context::ConnectError),
    #[error("read the running network")]
    Observe(#[source] observe_live::ObserveError),
    #[error(
        "the adoption changed what it must keep: {} (report this: adoption makes no channel update and commits no definition but the OpsSC's)",
        .changed.join("; ")
    )]
    Changed { changed: Vec<String> },
}

/// What adopting the network as `me` founds (see the module doc), from the
/// spec and `observed` (this organization's live observation before the
/// adoption). Channels this organization is no member of are its members'
/// and the orderer organization's to check.
pub fn adoption(spec: &Spec, observed: &Observed, me: &str) -> Result<Adoption, AdoptError> {
    let ops = spec.consortium.ops_channel.clone();
    for (name, ch) in &spec.channels {
        if name != &ops
            && ch.members.iter().any(|m| m == me)
            && !observed.channels.contains_key(name)
        {
            return Err(AdoptError::ChannelNotLive {
                channel: name.clone(),
                me: me.to_string(),
            });
        }
    }
    let ops_live = observed.channels.get(&ops);
    if let Some(ch) = ops_live
        && !ch.members.contains_key(me)
    {
        return Err(AdoptError::NotOpsMember {
            channel: ops,
            me: me.to_string(),
        });
    }
    // Every change the planner finds on a running channel is a change adoption
    // would have to make: refused. Changes on channels not running (the ops
    // channel to create, channels of other members) are not this check's.
    let planned = plan::plan(spec, observed, me);
    let changes: Vec<String> = planned
        .shared
        .iter()
        .filter(|c| observed.channels.contains_key(c.change.channel()))
        .map(|c| {
            format!(
                "{} (channel {})",
                render::title(&c.change).1,
                c.change.channel()
            )
        })
        .collect();
    if !changes.is_empty() {
        return Err(AdoptError::SpecDiffers { changes });
    }
    let wanted =
        founding::found_args(spec).map_err(|e| AdoptError::Registry(super::error::chain(&e)))?;
    let mut found = wanted.clone();
    if let Some(ch) = ops_live {
        found.members = ch.members.keys().cloned().collect();
    }
    for c in &mut found.channels {
        if let Some(live) = observed.channels.get(&c.name) {
            c.members = live.members.keys().cloned().collect();
        }
    }
    if found != wanted {
        // The planner reports member changes first; this is the last guard
        // that the registry is the network's and every member founds the same.
        return Err(AdoptError::SpecDiffers {
            changes: vec![
                "the registry's channel members from the network differ from the spec's".into(),
            ],
        });
    }
    Ok(Adoption {
        ops_channel: ops.clone(),
        ops: if ops_live.is_some() {
            OpsChannel::Existing
        } else {
            OpsChannel::Create
        },
        channels: observed
            .channels
            .iter()
            .map(|(n, c)| (n.clone(), c.config_sequence))
            .collect(),
        chaincodes: observed
            .chaincodes
            .iter()
            .map(|(k, d)| (k.clone(), (d.version.clone(), d.sequence)))
            .collect(),
        found,
    })
}

/// The channels the orderer organization's adoption joins, by orderer node:
/// the ops channel where a node does not serve it yet. `served` is what
/// each node serves (of the spec's channels). Every other spec channel must
/// run on every node already.
pub fn orderer_joins(
    spec: &Spec,
    served: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<(String, String)>, AdoptError> {
    let ops = &spec.consortium.ops_channel;
    let mut joins = Vec::new();
    for (node, channels) in served {
        for name in spec.channels.keys() {
            if channels.contains(name) {
                continue;
            }
            if name != ops {
                return Err(AdoptError::OrdererLacksChannel {
                    node: node.clone(),
                    channel: name.clone(),
                });
            }
            joins.push((node.clone(), name.clone()));
        }
    }
    Ok(joins)
}

/// What changed on the channels and chaincodes the adoption keeps, as read
/// in `after` (empty: untouched). The ops channel it created and the OpsSC
/// are new, not kept.
pub fn untouched(adoption: &Adoption, after: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    for (name, seq) in &adoption.channels {
        match after.channels.get(name) {
            Some(c) if c.config_sequence == *seq => {}
            Some(c) => out.push(format!(
                "channel {name}: config sequence {} (was {seq})",
                c.config_sequence
            )),
            None => out.push(format!("channel {name}: no longer observed")),
        }
    }
    for (key, (version, seq)) in &adoption.chaincodes {
        match after.chaincodes.get(key) {
            Some(d) if d.sequence == *seq && &d.version == version => {}
            Some(d) => out.push(format!(
                "chaincode {key}: {} sequence {} (was {version} sequence {seq})",
                d.version, d.sequence
            )),
            None => out.push(format!("chaincode {key}: no longer committed")),
        }
    }
    out
}

/// This organization's part in adopting the network (what `opssc found
/// --adopt` runs): check and decide before anything is done, then the same
/// founding as `opssc found` (which does only what is missing: with the
/// checks passed, that is the ops channel, the OpsSC and the registry), then
/// read the network again and check that what ran is untouched. `Ok(false)`
/// when `timeout` passed first.
pub async fn adopt(
    config: AgentConfig,
    spec: &Spec,
    timeout: Duration,
    out: &mut (dyn FnMut(&str) + Send),
) -> Result<bool, AdoptFailure> {
    let endpoints = founding::admin_endpoints(&config)?;
    let fabric = |action: String| FabricCall::wrap(AdoptFailure::Fabric, action);
    if !endpoints.is_empty() {
        let mut served = BTreeMap::new();
        for (node, ep) in &endpoints {
            let api = ChannelParticipation::new(ep).map_err(fabric(format!(
                "orderer {node}: the channel participation client"
            )))?;
            let mut have = BTreeSet::new();
            for name in spec.channels.keys() {
                if api
                    .get(name)
                    .await
                    .map_err(fabric(format!(
                        "ask orderer {node} whether it serves {name}"
                    )))?
                    .is_some()
                {
                    have.insert(name.clone());
                }
            }
            served.insert(node.clone(), have);
        }
        let joins = orderer_joins(spec, &served)?;
        for (node, channel) in &joins {
            out(&format!(
                "adopt: orderer {node} joins the ops channel {channel}"
            ));
        }
    }
    let mut kept = None;
    if !config.peers.is_empty() {
        let ctx = Context::connect(config.clone()).await?;
        let observed = observe(&ctx, spec, out).await?;
        let a = adoption(spec, &observed, &ctx.me)?;
        for line in a.describe() {
            out(&format!("adopt: {line}"));
        }
        kept = Some((ctx, a));
    }
    if !founding::found(config, spec, timeout, out).await? {
        return Ok(false);
    }
    if let Some((ctx, a)) = kept {
        let after = observe(&ctx, spec, out).await?;
        let changed = untouched(&a, &after);
        if !changed.is_empty() {
            return Err(AdoptFailure::Changed { changed });
        }
        out(&format!(
            "adopted: {} channel(s) and {} chaincode(s) untouched, the registry founded on {}; start the agents",
            a.channels.len(),
            a.chaincodes.len(),
            a.ops_channel
        ));
    }
    Ok(true)
}

async fn observe(
    ctx: &Context,
    spec: &Spec,
    out: &mut (dyn FnMut(&str) + Send),
) -> Result<Observed, AdoptFailure> {
    let (built, errors) = ctx.build_packages(spec);
    for e in errors {
        out(&format!("warning: {e}"));
    }
    observe_live::live(ctx, spec, &built)
        .await
        .map_err(AdoptFailure::Observe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ObservedOrg, converged};

    /// The reference spec with certificates: the network an import describes.
    fn spec() -> Spec {
        crate::test_fixtures::spec_with_certificates("network-spec")
    }

    /// A network built without opssc: every spec channel but the ops
    /// channel runs as the spec says, kv committed, no ops channel.
    fn without_ops(spec: &Spec, me: &str) -> Observed {
        let mut o = converged(spec, me);
        let ops = &spec.consortium.ops_channel;
        o.channels.remove(ops);
        o.chaincodes
            .retain(|k, _| !k.starts_with(&format!("{ops}/")));
        for p in o.local.peers.values_mut() {
            p.joined_channels.retain(|c| c != ops);
        }
        for (i, c) in o.channels.values_mut().enumerate() {
            c.config_sequence = 3 + i as u64;
        }
        o
    }

    #[test]
    fn a_network_as_the_spec_says_is_adopted_with_a_new_ops_channel() {
        let spec = spec();
        let observed = without_ops(&spec, "Org1MSP");
        let a = adoption(&spec, &observed, "Org1MSP").unwrap();
        assert_eq!(a.ops, OpsChannel::Create);
        assert_eq!(a.ops_channel, "ops");
        assert_eq!(
            a.channels,
            BTreeMap::from([("trade".to_string(), 3)]),
            "{a:?}"
        );
        let kv = &a.chaincodes["trade/kv"];
        assert_eq!(
            kv,
            &(
                spec.chaincodes[&("trade".into(), "kv".into())]
                    .version
                    .clone(),
                1
            )
        );
        // The registry is the live members', which are the spec's.
        assert_eq!(a.found, founding::found_args(&spec).unwrap());
        assert_eq!(a.found.channels.len(), 1);
        assert_eq!(
            a.found.channels[0].members,
            ["Org1MSP", "Org2MSP", "Org3MSP"]
        );
        let text = a.describe().join("\n");
        assert!(
            text.contains("keeps channel trade at config sequence 3"),
            "{text}"
        );
        assert!(text.contains("ops channel ops: created"), "{text}");
    }

    #[test]
    fn a_running_ops_channel_is_used_as_it_is() {
        let spec = spec();
        let mut observed = converged(&spec, "Org2MSP");
        observed.chaincodes.clear();
        // kv is not committed in this network: the spec's kv deploy is a
        // change on a running channel, refused below; without kv in the
        // spec the ops channel is simply used.
        let mut no_kv = spec.clone();
        no_kv.chaincodes.clear();
        let a = adoption(&no_kv, &observed, "Org2MSP").unwrap();
        assert_eq!(a.ops, OpsChannel::Existing);
        assert!(a.channels.contains_key("ops"), "{a:?}");
        let err = adoption(&spec, &observed, "Org2MSP").unwrap_err();
        assert!(
            matches!(&err, AdoptError::SpecDiffers { changes } if changes.iter().any(|c| c.contains("kv"))),
            "{err}"
        );
    }

    #[test]
    fn a_spec_that_changes_what_runs_is_refused_naming_the_change() {
        let spec = spec();
        let mut observed = without_ops(&spec, "Org1MSP");
        // The network has another batch timeout and kv at another version.
        observed.channels.get_mut("trade").unwrap().batch.timeout_ms += 1000;
        observed.chaincodes.get_mut("trade/kv").unwrap().version = "0.9".into();
        let err = adoption(&spec, &observed, "Org1MSP").unwrap_err();
        let AdoptError::SpecDiffers { changes } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(
            changes.contains(&"batch: timeout 1500ms → 500ms (channel trade)".to_string()),
            "{changes:?}"
        );
        assert!(
            changes.iter().any(|c| c.contains("kv 0.9 → 1.0")),
            "{changes:?}"
        );
        let text = err.to_string();
        assert!(text.contains("opssc import"), "{text}");
    }

    #[test]
    fn a_member_left_out_of_the_spec_is_refused() {
        let mut spec = spec();
        let observed = without_ops(&spec, "Org1MSP");
        spec.channels
            .get_mut("trade")
            .unwrap()
            .members
            .retain(|m| m != "Org3MSP");
        let err = adoption(&spec, &observed, "Org1MSP").unwrap_err();
        assert!(
            matches!(&err, AdoptError::SpecDiffers { changes } if changes.iter().any(|c| c.contains("Org3MSP"))),
            "{err}"
        );
    }

    #[test]
    fn a_spec_channel_that_does_not_run_is_refused_not_created() {
        let spec = spec();
        let mut observed = without_ops(&spec, "Org1MSP");
        observed.channels.remove("trade");
        observed.chaincodes.clear();
        let err = adoption(&spec, &observed, "Org1MSP").unwrap_err();
        assert_eq!(
            err,
            AdoptError::ChannelNotLive {
                channel: "trade".into(),
                me: "Org1MSP".into()
            }
        );
    }

    #[test]
    fn a_running_ops_channel_without_me_is_refused() {
        let spec = spec();
        let mut observed = converged(&spec, "Org1MSP");
        observed.chaincodes.clear();
        let mut no_kv = spec.clone();
        no_kv.chaincodes.clear();
        observed
            .channels
            .get_mut("ops")
            .unwrap()
            .members
            .remove("Org1MSP");
        observed.channels.get_mut("ops").unwrap().members.insert(
            "Org9MSP".into(),
            ObservedOrg {
                anchor_peers: Vec::new(),
            },
        );
        let err = adoption(&no_kv, &observed, "Org1MSP").unwrap_err();
        assert!(matches!(err, AdoptError::NotOpsMember { .. }), "{err}");
    }

    #[test]
    fn the_orderers_join_the_ops_channel_and_nothing_else() {
        let spec = spec();
        let trade_only = BTreeSet::from(["trade".to_string()]);
        let served = BTreeMap::from([
            ("orderer0".to_string(), trade_only.clone()),
            (
                "orderer1".to_string(),
                BTreeSet::from(["trade".to_string(), "ops".to_string()]),
            ),
        ]);
        assert_eq!(
            orderer_joins(&spec, &served).unwrap(),
            [("orderer0".to_string(), "ops".to_string())]
        );
        let missing = BTreeMap::from([("orderer0".to_string(), BTreeSet::new())]);
        assert_eq!(
            orderer_joins(&spec, &missing).unwrap_err(),
            AdoptError::OrdererLacksChannel {
                node: "orderer0".into(),
                channel: "trade".into()
            }
        );
    }

    #[test]
    fn untouched_names_every_change_to_what_was_kept() {
        let spec = spec();
        let before = without_ops(&spec, "Org1MSP");
        let a = adoption(&spec, &before, "Org1MSP").unwrap();
        // After: the ops channel and the OpsSC are new; nothing kept moved.
        let mut after = converged(&spec, "Org1MSP");
        after.channels.get_mut("trade").unwrap().config_sequence = 3;
        assert_eq!(untouched(&a, &after), Vec::<String>::new());
        after.channels.get_mut("trade").unwrap().config_sequence = 4;
        after.chaincodes.get_mut("trade/kv").unwrap().sequence = 2;
        let changed = untouched(&a, &after);
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert!(
            changed[0].contains("config sequence 4 (was 3)"),
            "{changed:?}"
        );
        assert!(changed[1].contains("sequence 2"), "{changed:?}");
        after.chaincodes.clear();
        assert!(
            untouched(&a, &after)
                .iter()
                .any(|c| c.contains("no longer committed"))
        );
    }
}
