//! `opssc bootstrap`: a new organization's catch-up, run until it is done.
//!
//! The agent does this on its own (every pass joins the channels whose config
//! lists the organization and installs and approves every committed
//! chaincode); `opssc bootstrap` runs those passes in the foreground and
//! stops when [`remaining`] is empty — every spec channel that lists this
//! organization and whose config already lists it is joined by every own
//! peer, and every committed chaincode of those channels is installed on
//! every own peer and approved by this organization at its committed
//! sequence — or when the time is up. [`remaining`] is pure, over an
//! [`Observed`] snapshot.

use opssc_schema::Spec;

use crate::observe::Observed;

/// What is still missing for `me` to take part in every channel it was added to.
pub fn remaining(spec: &Spec, observed: &Observed, me: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, ch) in &spec.channels {
        if !ch.members.contains(&me.to_string()) {
            continue;
        }
        for (peer, local) in &observed.local.peers {
            if !local.joined_channels.iter().any(|c| c == name) {
                out.push(format!("peer {peer} has not joined channel {name}"));
            }
        }
        for ((channel, cc_name), cc) in &spec.chaincodes {
            if channel != name {
                continue;
            }
            let key = Observed::chaincode_key(channel, cc_name);
            let Some(committed) = observed.chaincodes.get(&key) else {
                continue;
            };
            if let Some(package_id) = observed.packages.get(&cc.label) {
                for (peer, local) in &observed.local.peers {
                    if !local
                        .installed_packages
                        .iter()
                        .any(|i| &i.package_id == package_id)
                    {
                        out.push(format!(
                            "{key}: package {package_id} is not installed on peer {peer}"
                        ));
                    }
                }
            }
            let approved = observed
                .local
                .approved
                .get(&key)
                .is_some_and(|a| a.sequence >= committed.sequence);
            if !approved {
                out.push(format!(
                    "{key}: {me} has not approved the committed sequence {}",
                    committed.sequence
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::converged;
    use std::path::Path;

    fn spec() -> Spec {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/add-org");
        opssc_schema::load_dir(&dir)
            .spec
            .expect("the example validates")
    }

    #[test]
    fn a_converged_org_has_nothing_left() {
        let spec = spec();
        let observed = converged(&spec, "Org4MSP");
        assert_eq!(remaining(&spec, &observed, "Org4MSP"), Vec::<String>::new());
    }

    #[test]
    fn unjoined_channels_and_missing_approvals_are_listed() {
        let spec = spec();
        let mut observed = converged(&spec, "Org4MSP");
        let label = spec.chaincodes[&("trade".to_string(), "kv".to_string())]
            .label
            .clone();
        observed
            .packages
            .insert(label, format!("kv_1.0:{}", "a".repeat(64)));
        for peer in observed.local.peers.values_mut() {
            peer.joined_channels.retain(|c| c != "trade");
            peer.installed_packages.clear();
        }
        observed.local.approved.clear();
        let left = remaining(&spec, &observed, "Org4MSP");
        assert!(
            left.iter()
                .any(|l| l.contains("has not joined channel trade")),
            "{left:#?}"
        );
        assert!(
            left.iter()
                .any(|l| l.contains("trade/kv") && l.contains("not installed")),
            "{left:#?}"
        );
        assert!(
            left.iter()
                .any(|l| l.contains("trade/kv") && l.contains("has not approved")),
            "{left:#?}"
        );
        assert!(!left.iter().any(|l| l.contains("channel ops")), "{left:#?}");
    }
}
