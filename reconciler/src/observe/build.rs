//! Snapshots built from a spec instead of a network: [`empty`] (nothing on the
//! chain yet: the founding plan) and [`converged`] (everything the spec asks
//! for is in place: re-planning must give an empty plan).

use std::collections::BTreeMap;

use opssc_schema::{OrgRole, Spec};
use sha2::{Digest, Sha256};

use super::{
    ApprovedDefinition, CommittedDefinition, InstalledPackage, LocalPeer, LocalState, Observed,
    ObservedBatch, ObservedCapabilities, ObservedChannel, ObservedOrg,
};
use crate::plan::desired;

/// The first peer organization of the spec (by MSP ID), the default observer.
pub fn first_peer_org(spec: &Spec) -> Option<&str> {
    spec.organizations
        .values()
        .find(|o| o.role == OrgRole::Peer)
        .map(|o| o.msp_id.as_str())
}

/// A network on which nothing exists yet, observed by `me`.
pub fn empty(spec: &Spec, me: &str) -> Observed {
    let peers = spec
        .organizations
        .get(me)
        .map(|o| {
            o.peers
                .iter()
                .map(|p| (p.name.clone(), LocalPeer::default()))
                .collect()
        })
        .unwrap_or_default();
    Observed {
        observed_by: me.to_string(),
        taken_at: "empty".into(),
        channels: BTreeMap::new(),
        chaincodes: BTreeMap::new(),
        packages: BTreeMap::new(),
        local: LocalState {
            peers,
            approved: BTreeMap::new(),
        },
        proposals: Vec::new(),
        governance: None,
    }
}

/// A stand-in package ID, `label:sha256(package source)`, used where no package
/// was built (converged snapshots, tests); real IDs hash the package bytes.
pub fn synthetic_package_id(spec: &Spec, channel: &str, name: &str) -> Option<String> {
    let cc = spec
        .chaincodes
        .get(&(channel.to_string(), name.to_string()))?;
    let source = desired::package_source_json(&cc.package);
    let digest = Sha256::digest(opssc_chaincode::canon::canonical_json(&source).as_bytes());
    Some(format!("{}:{}", cc.label, hex::encode(digest)))
}

/// What a network that applied `spec` completely shows to `me`: every channel
/// at config sequence 1, every chaincode at sequence 1 approved by every
/// member, `me`'s peers joined to its channels with every package installed
/// (under [`synthetic_package_id`]s).
pub fn converged(spec: &Spec, me: &str) -> Observed {
    let mut observed = empty(spec, me);
    observed.taken_at = "converged".into();
    let consenters = desired::consenters(spec);
    let orderer_orgs = desired::orderer_orgs(spec);
    for (name, ch) in &spec.channels {
        let members = ch
            .members
            .iter()
            .map(|m| {
                (
                    m.clone(),
                    ObservedOrg {
                        anchor_peers: desired::anchor_peers(spec, m),
                    },
                )
            })
            .collect();
        observed.channels.insert(
            name.clone(),
            ObservedChannel {
                config_sequence: 1,
                last_config_block: 0,
                members,
                policies: ch
                    .policies
                    .iter()
                    .map(|(k, v)| (k.clone(), v.text.clone()))
                    .collect(),
                orderer_orgs: orderer_orgs.clone(),
                orderer_policies: BTreeMap::new(),
                channel_policies: BTreeMap::new(),
                mod_policies: BTreeMap::new(),
                capabilities: ObservedCapabilities {
                    channel: ch.capabilities.channel.clone(),
                    orderer: ch.capabilities.orderer.clone(),
                    application: ch.capabilities.application.clone(),
                },
                batch: ObservedBatch {
                    timeout_ms: ch.batch.timeout_ms,
                    max_message_count: ch.batch.max_message_count,
                    absolute_max_bytes: ch.batch.absolute_max_bytes,
                    preferred_max_bytes: ch.batch.preferred_max_bytes,
                },
                consenters: consenters.clone(),
                acls: desired::acls(ch),
                last_modified: BTreeMap::new(),
            },
        );
    }
    let my_channels: Vec<&str> = spec
        .channels
        .values()
        .filter(|c| c.members.iter().any(|m| m == me))
        .map(|c| c.name.as_str())
        .collect();
    for ((channel, name), cc) in &spec.chaincodes {
        let members = spec
            .channels
            .get(channel)
            .map(|c| c.members.clone())
            .unwrap_or_default();
        observed.chaincodes.insert(
            Observed::chaincode_key(channel, name),
            CommittedDefinition {
                sequence: 1,
                version: cc.version.clone(),
                endorsement_policy: desired::endorsement_policy(cc),
                collections: desired::collections(cc),
                init_required: cc.init_required,
                approvals: members.into_iter().map(|m| (m, true)).collect(),
                last_modified: None,
            },
        );
        if my_channels.contains(&channel.as_str()) {
            let package_id = synthetic_package_id(spec, channel, name);
            observed.local.approved.insert(
                Observed::chaincode_key(channel, name),
                ApprovedDefinition {
                    sequence: 1,
                    version: cc.version.clone(),
                    package_id: package_id.clone(),
                },
            );
            for peer in observed.local.peers.values_mut() {
                let pkg = InstalledPackage {
                    package_id: package_id.clone().unwrap_or_default(),
                    label: cc.label.clone(),
                };
                if !peer.installed_packages.contains(&pkg) {
                    peer.installed_packages.push(pkg);
                }
            }
        }
    }
    for peer in observed.local.peers.values_mut() {
        peer.joined_channels = my_channels.iter().map(|c| c.to_string()).collect();
        peer.installed_packages.sort();
    }
    observed
}
