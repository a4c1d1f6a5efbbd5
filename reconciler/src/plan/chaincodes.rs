//! Chaincode definition changes: deploy (sequence 1), upgrade (new version,
//! sequence + 1) and definition changes (same version, another policy,
//! collections or init flag: sequence + 1). The sequence is always computed
//! from the committed one, never typed.

use std::collections::BTreeMap;

use opssc_schema::Spec;

use super::approval::{Approval, ChannelView};
use super::channels::new_change;
use super::{ChaincodeDefinition, Change, Risk, RiskKind, SharedChange, desired};
use crate::observe::{CommittedDefinition, Observed};

pub(super) fn plan_chaincodes(
    spec: &Spec,
    observed: &Observed,
    notes: &mut Vec<String>,
) -> Vec<SharedChange> {
    let mut out = Vec::new();
    // Per channel: the approval a definition needs now, and the channel as it
    // will be once the plan is applied (for the endorsement risk).
    let mut lifecycle: BTreeMap<&str, Approval> = BTreeMap::new();
    let mut finals: BTreeMap<&str, Option<ChannelView>> = BTreeMap::new();
    for ((channel, name), cc) in &spec.chaincodes {
        let key = Observed::chaincode_key(channel, name);
        let after_base = ChaincodeDefinition {
            sequence: 1,
            version: cc.version.clone(),
            endorsement_policy: desired::endorsement_policy(cc),
            collections: desired::collections(cc),
            init_required: cc.init_required,
        };
        let committed = observed.chaincodes.get(&key);
        let change = match committed {
            None => Change::ChaincodeDeploy {
                channel: channel.clone(),
                name: name.clone(),
                label: cc.label.clone(),
                after: after_base.clone(),
            },
            Some(c) => {
                let before = from_committed(c);
                if same_definition(&before, &after_base) {
                    continue;
                }
                let after = ChaincodeDefinition {
                    sequence: c.sequence + 1,
                    ..after_base.clone()
                };
                if before.version != after.version {
                    Change::ChaincodeUpgrade {
                        channel: channel.clone(),
                        name: name.clone(),
                        label: cc.label.clone(),
                        before,
                        after,
                    }
                } else {
                    Change::ChaincodeDefinitionChanged {
                        channel: channel.clone(),
                        name: name.clone(),
                        label: cc.label.clone(),
                        before,
                        after,
                    }
                }
            }
        };
        let approval = lifecycle
            .entry(channel.as_str())
            .or_insert_with(|| match observed.channels.get(channel) {
                Some(obs) => ChannelView::from_observed(channel, obs).lifecycle(),
                None => ChannelView::from_spec(spec, channel)
                    .map(|v| v.lifecycle())
                    .unwrap_or_default(),
            })
            .clone();
        let mut sc = new_change(change, approval);
        if let Some(view) = finals
            .entry(channel.as_str())
            .or_insert_with(|| ChannelView::from_spec(spec, channel))
            && let Some(why) = view
                .endorsement(&after_base.endorsement_policy)
                .impossible_reason()
        {
            sc.risks.push(Risk {
                kind: RiskKind::UnsatisfiableEndorsement,
                message: format!(
                    "no set of the members of channel {channel} can satisfy the endorsement policy of {name} ({why}): no transaction could ever be endorsed"
                ),
            });
        }
        if let Some(m) = committed.and_then(|c| c.last_modified)
            && !m.by_opssc
        {
            sc.drift = Some(format!(
                "definition committed at block {} outside opssc",
                m.block
            ));
        }
        out.push(sc);
    }
    for key in observed.chaincodes.keys() {
        let mut parts = key.splitn(2, '/');
        let (channel, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if !spec
            .chaincodes
            .contains_key(&(channel.to_string(), name.to_string()))
        {
            notes.push(format!(
                "chaincode {key} is committed on the chain but not in the spec; Fabric cannot delete a chaincode definition, so opssc leaves it"
            ));
        }
    }
    out
}

fn from_committed(c: &CommittedDefinition) -> ChaincodeDefinition {
    let mut collections = c.collections.clone();
    collections.sort_by(|a, b| a.name.cmp(&b.name));
    ChaincodeDefinition {
        sequence: c.sequence,
        version: c.version.clone(),
        endorsement_policy: c.endorsement_policy.clone(),
        collections,
        init_required: c.init_required,
    }
}

/// Same definition, apart from the sequence.
fn same_definition(a: &ChaincodeDefinition, b: &ChaincodeDefinition) -> bool {
    a.version == b.version
        && a.init_required == b.init_required
        && desired::same_policy(&a.endorsement_policy, &b.endorsement_policy)
        && desired::same_collections(&a.collections, &b.collections)
}
