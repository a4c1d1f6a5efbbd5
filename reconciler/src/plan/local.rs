//! Local changes: what the planning organization does on its own peers —
//! join channels, install packages, approve chaincode definitions — in that
//! order, each with what it waits on.

use std::collections::BTreeMap;

use opssc_chaincode::model::Kind;
use opssc_schema::{OrgRole, Spec};

use super::{Change, LocalAction, LocalChange, PlannedProposal, Precondition, SharedChange};
use crate::observe::{LocalPeer, Observed};

pub(super) fn plan_local(
    spec: &Spec,
    observed: &Observed,
    me: &str,
    shared: &[SharedChange],
    proposals: &[PlannedProposal],
    notes: &mut Vec<String>,
) -> Vec<LocalChange> {
    let Some(org) = spec.organizations.get(me) else {
        notes.push(format!(
            "{me} is not an organization of the spec: no local changes planned"
        ));
        return Vec::new();
    };
    if org.role == OrgRole::Orderer {
        notes.push(format!(
            "{me} is an orderer organization: local changes of orderer nodes are not planned"
        ));
        return Vec::new();
    }
    let empty = LocalPeer::default();
    let my_channels: Vec<&str> = spec
        .channels
        .values()
        .filter(|c| c.members.iter().any(|m| m == me))
        .map(|c| c.name.as_str())
        .collect();

    // What a channel waits on before my peers can use it: its creation, or my
    // organization being added to it.
    let mut channel_wait: BTreeMap<&str, Vec<Precondition>> = BTreeMap::new();
    for p in proposals {
        let waits = match p.kind {
            Kind::ChannelCreate => Some(format!("create channel {}", p.target.channel)),
            Kind::OrgAdd if p.org.as_deref() == Some(me) => {
                Some(format!("add {me} to channel {}", p.target.channel))
            }
            _ => None,
        };
        let mine = my_channels.iter().find(|c| **c == p.target.channel);
        if let (Some(what), Some(ch)) = (waits, mine) {
            channel_wait
                .entry(ch)
                .or_default()
                .push(Precondition::ProposalCommitted {
                    proposal: p.id().to_string(),
                    what,
                });
        }
    }
    let wait = |ch: &str| channel_wait.get(ch).cloned().unwrap_or_default();

    let mut out = Vec::new();
    let mut unjoined: Vec<&str> = Vec::new();
    for peer in &org.peers {
        let lp = observed.local.peers.get(&peer.name).unwrap_or(&empty);
        for ch in &my_channels {
            if !lp.joined_channels.iter().any(|c| c == ch) {
                unjoined.push(ch);
                out.push(LocalChange {
                    action: LocalAction::JoinChannel {
                        peer: peer.name.clone(),
                        channel: ch.to_string(),
                    },
                    requires: wait(ch),
                });
            }
        }
    }

    for ((channel, name), cc) in &spec.chaincodes {
        if !my_channels.contains(&channel.as_str()) {
            continue;
        }
        for peer in &org.peers {
            let lp = observed.local.peers.get(&peer.name).unwrap_or(&empty);
            if !lp.installed_packages.iter().any(|p| p.label == cc.label) {
                out.push(LocalChange {
                    action: LocalAction::InstallPackage {
                        peer: peer.name.clone(),
                        channel: channel.clone(),
                        chaincode: name.clone(),
                        label: cc.label.clone(),
                    },
                    requires: Vec::new(),
                });
            }
        }
        let key = Observed::chaincode_key(channel, name);
        let committed = observed.chaincodes.get(&key);
        let change = shared
            .iter()
            .find(|s| s.change.channel() == channel && s.change.chaincode() == Some(name.as_str()));
        let sequence = match (&change, committed) {
            (Some(sc), _) => match &sc.change {
                Change::ChaincodeDeploy { after, .. }
                | Change::ChaincodeUpgrade { after, .. }
                | Change::ChaincodeDefinitionChanged { after, .. } => after.sequence,
                _ => continue,
            },
            (None, Some(c)) => c.sequence,
            (None, None) => continue,
        };
        let approved = observed
            .local
            .approved
            .get(&key)
            .is_some_and(|a| a.sequence == sequence && a.version == cc.version)
            || (change.is_none() && committed.is_some_and(|c| c.approvals.get(me) == Some(&true)));
        if approved {
            continue;
        }
        let mut requires = wait(channel);
        if let Some(sc) = change {
            let p = &proposals[sc.proposal];
            requires.push(Precondition::ProposalApproved {
                proposal: p.id().to_string(),
                what: format!(
                    "{} {channel}/{name} sequence {sequence}",
                    if p.kind == Kind::ChaincodeDeploy {
                        "deploy"
                    } else {
                        "upgrade"
                    }
                ),
            });
        }
        if unjoined.contains(&channel.as_str()) {
            requires.push(Precondition::JoinedChannel {
                channel: channel.clone(),
            });
        }
        if observed.package_id(&cc.label).is_none() {
            requires.push(Precondition::PackageInstalled {
                label: cc.label.clone(),
            });
        }
        out.push(LocalChange {
            action: LocalAction::ApproveDefinition {
                channel: channel.clone(),
                chaincode: name.clone(),
                sequence,
                version: cc.version.clone(),
                label: cc.label.clone(),
            },
            requires,
        });
    }
    out.sort_by(|a, b| a.action.cmp(&b.action));
    out
}
