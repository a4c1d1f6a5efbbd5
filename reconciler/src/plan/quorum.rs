//! The rules the OpsSC registry records for a channel, from the channel's
//! real policies.
//!
//! The contract counts approvals of a config change (ChannelUpdate, OrgAdd,
//! OrgRemove) with the channel's `/Channel/Application/Admins` rule and of a
//! chaincode definition with its `LifecycleEndorsement` rule, as recorded in
//! its registry ([`ChannelPolicies`]). [`registry_policies`] is the one place
//! that turns policy texts (the spec's, or a live channel's) into those
//! rules: founding records them from the spec (which is what the genesis
//! block is built from) and every ChannelUpdate carries the rules the
//! channel has after it, which the contract checks against the update's own
//! write set and records when the update commits.
//!
//! Key decision: a policy that is not an implicit meta rule over the
//! organizations (a signature policy such as `OR('Org1MSP.admin')`, or a
//! text that does not parse) is recorded as `ALL`. The registry can only
//! count organizations, and a count stronger than Fabric's asks for more
//! consent, whereas a weaker one yields approvals the orderer refuses.

use std::collections::BTreeMap;

use opssc_chaincode::model::{ChannelPolicies, Rule};
use opssc_schema::policy::{MetaRule, Policy, parse_policy};

/// The application policy whose rule counts approvals of config changes.
pub const ADMINS: &str = "Admins";
/// The application policy whose rule counts approvals of chaincode definitions.
pub const LIFECYCLE_ENDORSEMENT: &str = "LifecycleEndorsement";

/// The registry's rule for a policy text; `None` (no such policy) is
/// Fabric's default, `MAJORITY`.
pub fn registry_rule(text: Option<&str>) -> Rule {
    let Some(text) = text else {
        return Rule::Majority;
    };
    match parse_policy(text, false) {
        Ok(Policy::ImplicitMeta { rule, .. }) => match rule {
            MetaRule::Any => Rule::Any,
            MetaRule::Majority => Rule::Majority,
            MetaRule::All => Rule::All,
        },
        // See the module doc: never weaker than what Fabric checks.
        _ => Rule::All,
    }
}

/// The registry's rules for a channel whose application policies are
/// `policies` (name → text, as the spec or the channel config states them).
pub fn registry_policies<S: AsRef<str>>(policies: &BTreeMap<String, S>) -> ChannelPolicies {
    let text = |name: &str| policies.get(name).map(AsRef::as_ref);
    ChannelPolicies {
        admins: registry_rule(text(ADMINS)),
        lifecycle_endorsement: registry_rule(text(LIFECYCLE_ENDORSEMENT)),
    }
}

/// The registry's rules for spec channel `ch` (its policies, Fabric's
/// defaults filled in by the loader).
pub fn spec_registry_policies(ch: &opssc_schema::Channel) -> ChannelPolicies {
    let texts: BTreeMap<String, &str> = ch
        .policies
        .iter()
        .map(|(name, p)| (name.clone(), p.text.as_str()))
        .collect();
    registry_policies(&texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn implicit_meta_rules_are_recorded_as_they_are() {
        assert_eq!(registry_rule(Some("ANY Admins")), Rule::Any);
        assert_eq!(registry_rule(Some("MAJORITY Admins")), Rule::Majority);
        assert_eq!(registry_rule(Some("ALL Admins")), Rule::All);
        assert_eq!(registry_rule(Some("  ALL Endorsement ")), Rule::All);
    }

    #[test]
    fn a_missing_policy_is_fabrics_default_and_anything_else_is_all() {
        assert_eq!(registry_rule(None), Rule::Majority);
        assert_eq!(
            registry_rule(Some("OR('Org1MSP.admin', 'Org2MSP.admin')")),
            Rule::All
        );
        assert_eq!(registry_rule(Some("not a policy")), Rule::All);
    }

    #[test]
    fn both_rules_come_from_their_own_policy() {
        let p = policies(&[
            ("Admins", "ALL Admins"),
            ("LifecycleEndorsement", "ANY Endorsement"),
            ("Endorsement", "ALL Endorsement"),
        ]);
        assert_eq!(
            registry_policies(&p),
            ChannelPolicies {
                admins: Rule::All,
                lifecycle_endorsement: Rule::Any,
            }
        );
        assert_eq!(
            registry_policies(&BTreeMap::<String, String>::new()),
            ChannelPolicies::default()
        );
    }

    #[test]
    fn the_reference_spec_records_its_channels_rules() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir)
            .spec
            .expect("the reference spec validates");
        assert_eq!(
            spec_registry_policies(&spec.channels["trade"]),
            ChannelPolicies::default(),
            "trade keeps Fabric's MAJORITY rules"
        );
    }
}
