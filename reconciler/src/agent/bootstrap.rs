//! `opssc bootstrap`: a new organization's catch-up, run until it is done.
//!
//! The agent does this on its own (every pass joins the channels whose config
//! lists the organization and installs and approves every committed
//! chaincode); `opssc bootstrap` runs those passes in the foreground and
//! stops when [`remaining`] is empty — every spec channel that lists this
//! organization is joined by every own peer, and the plan has no install or
//! approve step left for the committed chaincodes
//! ([`crate::plan::steps`]) — or when the time is up. [`remaining`] is pure,
//! over an [`Observed`] snapshot.

use opssc_schema::Spec;

use crate::observe::Observed;
use crate::plan::steps::{PlanInput, Step};

/// What is still missing for `me` to take part in every channel it was
/// added to: the channels its peers have not joined, and the plan's
/// install and approve steps for the committed chaincodes — bootstrap
/// renders the plan, it does not work the steps out again.
pub fn remaining(spec: &Spec, observed: &Observed, me: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, ch) in &spec.channels {
        if !ch.members.iter().any(|m| m == me) {
            continue;
        }
        for (peer, local) in &observed.local.peers {
            if !local.joined_channels.iter().any(|c| c == name) {
                out.push(format!("peer {peer} has not joined channel {name}"));
            }
        }
    }
    let input = PlanInput::auto(&"0".repeat(40));
    let plan = crate::plan::plan_with(spec, observed, me, &input);
    for step in &plan.steps {
        match step {
            Step::Install {
                what,
                peer,
                package_id,
                ..
            } => out.push(format!(
                "{what}: package {package_id} is not installed on peer {peer}"
            )),
            Step::Approve { what, sequence, .. } => out.push(format!(
                "{what}: {me} has not approved the committed sequence {sequence}"
            )),
            _ => {}
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
