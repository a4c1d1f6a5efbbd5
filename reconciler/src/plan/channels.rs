//! Channel changes: creation, membership, policies, ACLs, capabilities, batch
//! settings, consenters and anchor peers, with their approvals and risks.

use std::collections::{BTreeMap, BTreeSet};

use opssc_schema::Spec;
use opssc_schema::policy::Policy;

use super::approval::{Approval, ChannelView, Need, Requirement};
use super::{CapabilityGroup, Change, Precondition, Risk, RiskKind, SharedChange, desired};
use crate::observe::{Observed, ObservedBatch, ObservedCapabilities, ObservedChannel};

pub(super) fn new_change(change: Change, approval: Approval) -> SharedChange {
    SharedChange {
        change,
        approval,
        risks: Vec::new(),
        drift: None,
        requires: Vec::new(),
        proposal: 0,
    }
}

/// Every channel change, unsorted.
pub(super) fn plan_channels(
    spec: &Spec,
    observed: &Observed,
    notes: &mut Vec<String>,
) -> Vec<SharedChange> {
    let mut out = Vec::new();
    for name in spec.channels.keys() {
        match observed.channels.get(name) {
            // The channel exists (a peer of the observer joined it), but
            // the observer cannot read it: a peer that was just admitted
            // and has not caught up, or an organization removed from it.
            // Creating it again is never the answer.
            None if joined_by_observer(observed, name) => notes.push(format!(
                "channel {name}: {}'s peer joined it but {} cannot read its config (not caught up yet, or no longer a member); nothing is planned for it",
                observed.observed_by, observed.observed_by
            )),
            None => out.push(create(spec, name)),
            Some(obs) => update(spec, name, obs, &mut out, notes),
        }
    }
    for name in observed.channels.keys() {
        if !spec.channels.contains_key(name) {
            notes.push(format!(
                "channel {name} exists on the chain but not in the spec; opssc never deletes a channel"
            ));
        }
    }
    out
}

fn joined_by_observer(observed: &Observed, channel: &str) -> bool {
    observed
        .local
        .peers
        .values()
        .any(|p| p.joined_channels.iter().any(|c| c == channel))
}

fn create(spec: &Spec, name: &str) -> SharedChange {
    let ch = &spec.channels[name];
    let view = ChannelView::from_spec(spec, name).expect("the channel is in the spec");
    let orderer_orgs = desired::orderer_orgs(spec);
    // The rule opssc applies to a new channel: nobody is made a member of a
    // channel without consenting, so every founding member approves; Fabric
    // itself only needs each consenter's organization to join its node
    // (channel participation API) with the genesis block.
    let approval = Approval {
        requirements: vec![
            Requirement {
                label: format!("every founding member of channel {name}"),
                policy: "opssc: channel creation".into(),
                need: Need::Threshold {
                    count: ch.members.len(),
                    of: ch.members.clone(),
                },
            },
            Requirement {
                label: format!("each consenter's organization joins its orderer to channel {name}"),
                policy: "orderer channel participation".into(),
                need: Need::Threshold {
                    count: orderer_orgs.len(),
                    of: orderer_orgs.clone(),
                },
            },
        ],
    };
    let mut sc = new_change(
        Change::ChannelCreate {
            channel: name.to_string(),
            members: ch.members.clone(),
            anchor_peers: ch
                .members
                .iter()
                .map(|m| (m.clone(), desired::anchor_peers(spec, m)))
                .collect(),
            policies: ch
                .policies
                .iter()
                .map(|(k, v)| (k.clone(), v.text.clone()))
                .collect(),
            orderer_orgs,
            consenters: desired::consenters(spec),
            capabilities: capabilities(ch),
            batch: batch(ch),
            acls: desired::acls(ch),
        },
        approval,
    );
    for org in &ch.members {
        if spec.organizations.get(org).is_some_and(|o| o.msp.is_none()) {
            sc.requires
                .push(Precondition::OrgCertificates { org: org.clone() });
        }
    }
    for pname in ["Admins", "LifecycleEndorsement"] {
        let a = view.evaluate(&super::approval::Group::Application, pname);
        if let Some(why) = a.impossible_reason() {
            sc.risks.push(Risk {
                kind: RiskKind::AdminLockout,
                message: format!(
                    "no set of the founding members can satisfy {pname} of channel {name} ({why})"
                ),
            });
        }
    }
    sc
}

fn capabilities(ch: &opssc_schema::Channel) -> ObservedCapabilities {
    ObservedCapabilities {
        channel: ch.capabilities.channel.clone(),
        orderer: ch.capabilities.orderer.clone(),
        application: ch.capabilities.application.clone(),
    }
}

fn batch(ch: &opssc_schema::Channel) -> ObservedBatch {
    ObservedBatch {
        timeout_ms: ch.batch.timeout_ms,
        max_message_count: ch.batch.max_message_count,
        absolute_max_bytes: ch.batch.absolute_max_bytes,
        preferred_max_bytes: ch.batch.preferred_max_bytes,
    }
}

fn update(
    spec: &Spec,
    name: &str,
    obs: &ObservedChannel,
    out: &mut Vec<SharedChange>,
    notes: &mut Vec<String>,
) {
    let ch = &spec.channels[name];
    let view = ChannelView::from_observed(name, obs);
    let final_view = ChannelView::from_spec(spec, name).expect("the channel is in the spec");
    let start = out.len();
    let app_admins = view.application_admins();

    // Members.
    let want: BTreeSet<&String> = ch.members.iter().collect();
    for org in &ch.members {
        if !obs.members.contains_key(org) {
            let mut sc = new_change(
                Change::OrgAddedToChannel {
                    channel: name.to_string(),
                    org: org.clone(),
                    anchor_peers: desired::anchor_peers(spec, org),
                },
                app_admins.clone(),
            );
            if spec.organizations.get(org).is_some_and(|o| o.msp.is_none()) {
                sc.requires
                    .push(Precondition::OrgCertificates { org: org.clone() });
            }
            out.push(sc);
        }
    }
    for org in obs.members.keys() {
        if !want.contains(org) {
            out.push(new_change(
                Change::OrgRemovedFromChannel {
                    channel: name.to_string(),
                    org: org.clone(),
                },
                app_admins.clone(),
            ));
        }
    }

    // Application policies.
    let names: BTreeSet<&String> = ch.policies.keys().chain(obs.policies.keys()).collect();
    for pname in names {
        let after = ch.policies.get(pname).map(|p| p.text.trim().to_string());
        let before = obs.policies.get(pname).cloned();
        let same = match (&before, &after) {
            (Some(b), Some(a)) => desired::same_policy(b, a),
            (None, None) => true,
            _ => false,
        };
        // The members' majority spelled out (the ops channel's default
        // Endorsement) moves with the members: the update that adds or
        // removes one rewrites it (`config_update::apply`).
        let majority_of = |text: &Option<String>, members: Vec<&String>| {
            text.as_deref()
                .is_some_and(|t| desired::is_members_majority(t, members))
        };
        let carried = pname == "Endorsement"
            && majority_of(&before, obs.members.keys().collect())
            && majority_of(&after, ch.members.iter().collect());
        if same || carried {
            continue;
        }
        let mut sc = new_change(
            Change::PolicyChanged {
                channel: name.to_string(),
                name: pname.clone(),
                before,
                after,
            },
            app_admins.clone(),
        );
        if is_governing(&final_view, pname) {
            let a = final_view.evaluate(&super::approval::Group::Application, pname);
            if let Some(why) = a.impossible_reason() {
                sc.risks.push(Risk {
                    kind: RiskKind::AdminLockout,
                    message: format!(
                        "after this change no set of the members of channel {name} can satisfy {pname} ({why}); {}",
                        if pname == "LifecycleEndorsement" {
                            "no chaincode definition could be committed again"
                        } else {
                            "the channel's configuration could never be changed again"
                        }
                    ),
                });
            }
        }
        out.push(sc);
    }

    // ACLs (absent = Fabric's default).
    let want_acls = desired::acls(ch);
    let have_acls: BTreeMap<String, String> = obs
        .acls
        .iter()
        .filter(|(r, p)| !super::acl::is_default(r, p))
        .map(|(r, p)| (r.clone(), p.clone()))
        .collect();
    let resources: BTreeSet<&String> = want_acls.keys().chain(have_acls.keys()).collect();
    for r in resources {
        let (before, after) = (have_acls.get(r), want_acls.get(r));
        if before != after {
            out.push(new_change(
                Change::AclChanged {
                    channel: name.to_string(),
                    resource: r.clone(),
                    before: before.cloned(),
                    after: after.cloned(),
                },
                app_admins.clone(),
            ));
        }
    }

    // Capabilities.
    let want_caps = capabilities(ch);
    for (group, before, after, approval) in [
        (
            CapabilityGroup::Channel,
            &obs.capabilities.channel,
            &want_caps.channel,
            view.channel_admins(),
        ),
        (
            CapabilityGroup::Orderer,
            &obs.capabilities.orderer,
            &want_caps.orderer,
            view.orderer_admins(),
        ),
        (
            CapabilityGroup::Application,
            &obs.capabilities.application,
            &want_caps.application,
            app_admins.clone(),
        ),
    ] {
        if before == after {
            continue;
        }
        let mut sc = new_change(
            Change::CapabilityChanged {
                channel: name.to_string(),
                group,
                before: before.clone(),
                after: after.clone(),
            },
            approval,
        );
        match (capability_level(before), capability_level(after)) {
            (Some(b), Some(a)) if a < b => sc.risks.push(Risk {
                kind: RiskKind::CapabilityDowngrade,
                message: format!(
                    "lowers the {} capability {before} → {after}; Fabric does not support going back to an older capability",
                    group.as_str()
                ),
            }),
            _ => sc.risks.push(Risk {
                kind: RiskKind::IrreversibleCapability,
                message: format!(
                    "the {} capability {before} → {after} cannot be undone; every {} must run a Fabric version that supports {after} before this is applied",
                    group.as_str(),
                    match group {
                        CapabilityGroup::Application => "peer",
                        CapabilityGroup::Orderer => "orderer",
                        CapabilityGroup::Channel => "peer and orderer",
                    }
                ),
            }),
        }
        out.push(sc);
    }

    // Batch settings.
    let want_batch = batch(ch);
    if obs.batch != want_batch {
        out.push(new_change(
            Change::BatchChanged {
                channel: name.to_string(),
                before: obs.batch,
                after: want_batch,
            },
            view.orderer_admins(),
        ));
    }

    // The Orderer group's organizations are not planned (yet): say so.
    let mut have_orderer_orgs = obs.orderer_orgs.clone();
    have_orderer_orgs.sort();
    let want_orderer_orgs = desired::orderer_orgs(spec);
    if have_orderer_orgs != want_orderer_orgs {
        notes.push(format!(
            "the orderer organizations of channel {name} are {} on the chain and {} in the spec; opssc does not plan Orderer group membership changes yet",
            have_orderer_orgs.join(", "),
            want_orderer_orgs.join(", ")
        ));
    }

    // Consenters.
    let want_consenters = desired::consenters(spec);
    let mut have_consenters = obs.consenters.clone();
    have_consenters.sort();
    if have_consenters != want_consenters {
        let before: BTreeSet<&String> = have_consenters.iter().collect();
        let after: BTreeSet<&String> = want_consenters.iter().collect();
        let added: Vec<&str> = after.difference(&before).map(|s| s.as_str()).collect();
        let removed: Vec<&str> = before.difference(&after).map(|s| s.as_str()).collect();
        let (bft_fault_tolerance, bft_risk) = if spec.consortium.is_bft() {
            let (f, risk) = bft_tolerance(name, have_consenters.len(), want_consenters.len());
            (Some(f), risk)
        } else {
            (None, None)
        };
        let mut sc = new_change(
            Change::ConsentersChanged {
                channel: name.to_string(),
                before: have_consenters.clone(),
                after: want_consenters.clone(),
                bft_fault_tolerance,
            },
            view.orderer_admins(),
        );
        sc.risks.extend(bft_risk);
        if added.len() + removed.len() > 1 {
            sc.risks.push(Risk {
                kind: RiskKind::ConsenterQuorum,
                message: format!(
                    "changes {} {} consenters in one update ({}); change one consenter at a time and let it catch up, or the cluster can lose quorum",
                    added.len() + removed.len(),
                    if spec.consortium.is_bft() { "BFT" } else { "Raft" },
                    added
                        .iter()
                        .map(|a| format!("+{a}"))
                        .chain(removed.iter().map(|r| format!("-{r}")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        out.push(sc);
    }

    // Anchor peers of members that stay.
    for (org, o) in &obs.members {
        if !want.contains(org) {
            continue;
        }
        let want_anchors = desired::anchor_peers(spec, org);
        let mut have = o.anchor_peers.clone();
        have.sort();
        if have != want_anchors {
            let mut sc = new_change(
                Change::AnchorPeersChanged {
                    channel: name.to_string(),
                    org: org.clone(),
                    before: have.clone(),
                    after: want_anchors.clone(),
                },
                view.org_admins(org),
            );
            if want_anchors.is_empty() && !have.is_empty() {
                sc.risks.push(Risk {
                    kind: RiskKind::LastAnchorPeer,
                    message: format!(
                        "removes the last anchor peer of {org} on channel {name}: other organizations' peers will no longer discover {org}'s peers (gossip, cross-org endorsement)"
                    ),
                });
            } else if !have.is_empty() && have.iter().all(|a| !want_anchors.contains(a)) {
                sc.risks.push(Risk {
                    kind: RiskKind::LastAnchorPeer,
                    message: format!(
                        "removes the last of {org}'s current anchor peers on channel {name} ({}); start the new anchor peers and join them to the channel first, or other organizations lose discovery of {org}'s peers",
                        have.join(", ")
                    ),
                });
            }
            out.push(sc);
        }
    }

    // Drift: settings last written outside opssc.
    for sc in &mut out[start..] {
        if let Some(key) = sc.change.setting_key()
            && let Some(m) = obs.last_modified.get(&key)
            && !m.by_opssc
        {
            sc.drift = Some(format!("changed at block {} outside opssc", m.block));
        }
    }
}

/// Whether a policy decides who may change the channel or its chaincodes.
fn is_governing(view: &ChannelView, name: &str) -> bool {
    name == "Admins"
        || name == "LifecycleEndorsement"
        || view.mod_policies.values().any(|v| v == name)
}

/// `V2_5` → (2, 5).
fn capability_level(c: &str) -> Option<(u32, u32)> {
    let rest = c.strip_prefix('V')?;
    let (major, minor) = rest.split_once('_')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Flags removals of organizations that the committed endorsement policy of a
/// chaincode on the channel still needs.
pub(super) fn add_removal_risks(spec: &Spec, observed: &Observed, shared: &mut [SharedChange]) {
    let redefined: BTreeSet<(String, String)> = shared
        .iter()
        .filter_map(|c| {
            c.change
                .chaincode()
                .map(|n| (c.change.channel().to_string(), n.to_string()))
        })
        .collect();
    for sc in shared.iter_mut() {
        let Change::OrgRemovedFromChannel { channel, org } = &sc.change else {
            continue;
        };
        let Some(obs) = observed.channels.get(channel) else {
            continue;
        };
        let remaining: BTreeSet<String> = spec
            .channels
            .get(channel)
            .map(|c| c.members.iter().cloned().collect())
            .unwrap_or_default();
        let before: BTreeSet<String> = obs.members.keys().cloned().collect();
        let prefix = format!("{channel}/");
        for (key, def) in observed.chaincodes.range(prefix.clone()..) {
            let Some(cc) = key.strip_prefix(&prefix) else {
                break;
            };
            let Ok(Policy::Signature(sig)) =
                opssc_schema::policy::parse_policy(&def.endorsement_policy, true)
            else {
                continue;
            };
            if sig.satisfied_by(&before) && !sig.satisfied_by(&remaining) {
                let next = if redefined.contains(&(channel.clone(), cc.to_string())) {
                    "this plan changes its definition: commit that before removing"
                } else {
                    "commit a definition that does not need it before removing"
                };
                sc.risks.push(Risk {
                    kind: RiskKind::SoleEndorser,
                    message: format!(
                        "{org} is still needed to endorse chaincode {channel}/{cc} under its committed policy {}; {next} {org}",
                        desired::signature_display(&sig)
                    ),
                });
            }
        }
    }
}

/// The faults a BFT ordering service of `before` and of `after` consenters
/// tolerates (f = ⌊(n-1)/3⌋), and a risk when the change lowers it: channel
/// `channel` then survives fewer failed or malicious orderers.
pub fn bft_tolerance(channel: &str, before: usize, after: usize) -> ((usize, usize), Option<Risk>) {
    use opssc_fabric::configtx::genesis::bft_fault_tolerance;
    let f = (bft_fault_tolerance(before), bft_fault_tolerance(after));
    let risk = (f.1 < f.0).then(|| Risk {
        kind: RiskKind::BftFaultTolerance,
        message: format!(
            "lowers the faults channel {channel}'s BFT ordering tolerates from {} to {} ({before} → {after} consenters); keep 3f+1 consenters ({}) to tolerate {}",
            f.0,
            f.1,
            3 * f.0 + 1,
            f.0
        ),
    });
    (f, risk)
}

#[cfg(test)]
mod tests {
    use crate::observe;
    use crate::plan::{Change, plan};

    fn reference() -> opssc_schema::Spec {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        opssc_schema::load_dir(&dir)
            .spec
            .expect("network-spec is valid")
    }

    fn creates(p: &crate::plan::Plan) -> Vec<String> {
        p.shared
            .iter()
            .filter_map(|c| match &c.change {
                Change::ChannelCreate { channel, .. } => Some(channel.clone()),
                _ => None,
            })
            .collect()
    }

    /// Org3 was removed from trade: its peer still lists the channel, the
    /// orderer no longer serves it to Org3, so trade is not observed.
    #[test]
    fn a_joined_channel_the_observer_cannot_read_is_not_created_again() {
        let mut spec = reference();
        spec.channels
            .get_mut("trade")
            .unwrap()
            .members
            .retain(|m| m != "Org3MSP");
        let mut observed = observe::converged(&spec, "Org3MSP");
        observed.channels.remove("trade");
        for p in observed.local.peers.values_mut() {
            if !p.joined_channels.iter().any(|c| c == "trade") {
                p.joined_channels.push("trade".into());
            }
        }
        let p = plan(&spec, &observed, "Org3MSP");
        assert!(creates(&p).is_empty(), "{:?}", creates(&p));
        assert!(
            p.notes
                .iter()
                .any(|n| n.starts_with("channel trade: Org3MSP's peer joined it but")),
            "{:?}",
            p.notes
        );
        // A channel no peer of the observer joined is still created.
        for peer in observed.local.peers.values_mut() {
            peer.joined_channels.retain(|c| c != "trade");
        }
        let p = plan(&spec, &observed, "Org3MSP");
        assert_eq!(creates(&p), vec!["trade".to_string()]);
    }

    /// Org4 joins the ops channel: the OrgAdd's update carries the ops
    /// channel's Endorsement (the members' majority spelled out), so no
    /// policy change of its own follows. One observed in another form is
    /// still changed, as any policy is.
    #[test]
    fn the_ops_endorsement_moves_with_its_members_not_on_its_own() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/add-org");
        let spec = opssc_schema::load_dir(&dir)
            .spec
            .expect("the example validates");
        let mut observed = observe::converged(&spec, "Org1MSP");
        let ops = observed.channels.get_mut("ops").unwrap();
        ops.members.remove("Org4MSP");
        ops.policies.insert(
            "Endorsement".into(),
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".into(),
        );
        let ops_changes = |observed: &observe::Observed| -> Vec<&'static str> {
            plan(&spec, observed, "Org1MSP")
                .shared
                .iter()
                .filter(|c| c.change.channel() == "ops")
                .map(|c| c.change.kind_name())
                .collect()
        };
        assert_eq!(ops_changes(&observed), vec!["OrgAddedToChannel"]);
        let ops = observed.channels.get_mut("ops").unwrap();
        ops.policies
            .insert("Endorsement".into(), "MAJORITY Endorsement".into());
        assert_eq!(
            ops_changes(&observed),
            vec!["OrgAddedToChannel", "PolicyChanged"]
        );
    }

    /// The reference spec on SmartBFT over `n` orderer nodes, all consenters.
    fn bft_reference(n: usize) -> opssc_schema::Spec {
        let mut spec = reference();
        spec.consortium.fabric_version = "3.1".into();
        spec.consortium.consensus = opssc_schema::spec::CONSENSUS_BFT.into();
        let org = spec.organizations.get_mut("OrdererMSP").unwrap();
        let first = org.orderers[0].clone();
        org.orderers = (0..n)
            .map(|i| {
                let mut node = first.clone();
                node.name = format!("orderer{i}");
                node.endpoint.host = format!("orderer{i}.example.com");
                node
            })
            .collect();
        spec.consortium.consenters = (0..n)
            .map(|i| ("OrdererMSP".to_string(), format!("orderer{i}")))
            .collect();
        spec
    }

    fn consenter_change(p: &crate::plan::Plan) -> Option<&crate::plan::SharedChange> {
        p.shared
            .iter()
            .find(|c| matches!(c.change, Change::ConsentersChanged { .. }))
    }

    #[test]
    fn bft_tolerance_is_flagged_only_when_it_drops() {
        use super::bft_tolerance;
        assert_eq!(bft_tolerance("ops", 4, 7).0, (1, 2));
        assert!(bft_tolerance("ops", 4, 7).1.is_none());
        assert!(bft_tolerance("ops", 4, 5).1.is_none());
        assert!(
            bft_tolerance("ops", 5, 4).1.is_none(),
            "5 and 4 both tolerate 1"
        );
        let (f, risk) = bft_tolerance("ops", 4, 3);
        assert_eq!(f, (1, 0));
        let risk = risk.expect("4 → 3 loses the only tolerated fault");
        assert_eq!(risk.kind, crate::plan::RiskKind::BftFaultTolerance);
        assert!(risk.message.contains("from 1 to 0"), "{}", risk.message);
        assert!(bft_tolerance("ops", 7, 6).1.is_some());
    }

    #[test]
    fn plan_shows_bft_tolerance_before_and_after_a_consenter_change() {
        // The chain runs 4 BFT consenters; the spec drops one.
        let observed = observe::converged(&bft_reference(4), "Org1MSP");
        assert!(consenter_change(&plan(&bft_reference(4), &observed, "Org1MSP")).is_none());
        let p = plan(&bft_reference(3), &observed, "Org1MSP");
        let sc = consenter_change(&p).expect("a consenter change");
        assert!(matches!(
            sc.change,
            Change::ConsentersChanged {
                bft_fault_tolerance: Some((1, 0)),
                ..
            }
        ));
        assert!(
            sc.risks
                .iter()
                .any(|r| r.kind == crate::plan::RiskKind::BftFaultTolerance),
            "{:?}",
            sc.risks
        );
        // Adding a fifth keeps f = 1: shown, not flagged.
        let p = plan(&bft_reference(5), &observed, "Org1MSP");
        let sc = consenter_change(&p).expect("a consenter change");
        assert!(matches!(
            sc.change,
            Change::ConsentersChanged {
                bft_fault_tolerance: Some((1, 1)),
                ..
            }
        ));
        assert!(sc.risks.is_empty(), "{:?}", sc.risks);
        assert_eq!(
            crate::plan::render::title(&sc.change).1,
            "consenters: 4 nodes → 5 nodes (BFT tolerates f = 1 → 1)"
        );
        // Raft changes carry no BFT figures.
        let mut raft = bft_reference(5);
        raft.consortium.consensus = "etcdraft".into();
        let p = plan(&raft, &observed, "Org1MSP");
        assert!(matches!(
            consenter_change(&p).expect("a consenter change").change,
            Change::ConsentersChanged {
                bft_fault_tolerance: None,
                ..
            }
        ));
    }
}
