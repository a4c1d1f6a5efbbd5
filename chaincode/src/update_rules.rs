//! Which registry rules a channel's ConfigUpdate sets, read from its write set.
//!
//! The registry's [`ChannelPolicies`] decide the quorum of every later config
//! change and chaincode definition of the channel, so the contract does not
//! take a ChannelUpdate's stated `policies` on the filer's word: [`written`]
//! reads the `/Channel/Application/Admins` and `LifecycleEndorsement`
//! policies the update writes (a write-set policy with content; Fabric's
//! `compute_update` leaves unchanged ones as a bare version), and
//! [`expected`] gives the rules the channel has once the update is applied:
//! the written ones, the registered ones for the rest. The contract refuses
//! a filing whose stated rules differ, and an OrgAdd/OrgRemove whose update
//! writes either policy (those kinds cannot say so).
//!
//! Key decisions: an implicit meta rule is recorded as it is; any other
//! policy (a signature policy) as `ALL`, the one count that is never weaker
//! than what the orderer checks (the reconciler's `plan::quorum` makes the
//! same choice). Bytes that do not decode as a `common.ConfigUpdate` write
//! nothing here: the orderer refuses them, so such a proposal never commits
//! and never changes the registry. A write that Fabric would ignore (same
//! version) is still counted as written: every voter recomputes the payload
//! from the spec and the config block, so a payload no organization derives
//! is rejected by the voters, whatever this check lets through.

use opssc_fabric::protos::common::{ConfigUpdate, ImplicitMetaPolicy, Policy, policy};
use prost::Message;

use crate::model::{ChannelPolicies, Rule};

const APPLICATION: &str = "Application";
const ADMINS: &str = "Admins";
const LIFECYCLE_ENDORSEMENT: &str = "LifecycleEndorsement";

/// The rules an update writes; `None` where it leaves the policy as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    pub admins: Option<Rule>,
    pub lifecycle_endorsement: Option<Rule>,
}

impl Written {
    pub fn any(&self) -> bool {
        self.admins.is_some() || self.lifecycle_endorsement.is_some()
    }
}

/// The registry rule of a policy (see the module doc).
pub fn rule_of(p: &Policy) -> Rule {
    if p.r#type == policy::PolicyType::ImplicitMeta as i32
        && let Ok(m) = ImplicitMetaPolicy::decode(p.value.as_slice())
    {
        match m.rule {
            0 => return Rule::Any,
            1 => return Rule::All,
            2 => return Rule::Majority,
            _ => {}
        }
    }
    Rule::All
}

/// The Admins and LifecycleEndorsement rules `update` (a marshaled
/// `common.ConfigUpdate`) writes into the channel's Application group.
pub fn written(update: &[u8]) -> Written {
    let Ok(u) = ConfigUpdate::decode(update) else {
        return Written::default();
    };
    let Some(app) = u.write_set.as_ref().and_then(|w| w.groups.get(APPLICATION)) else {
        return Written::default();
    };
    let rule = |name: &str| {
        app.policies
            .get(name)
            .and_then(|p| p.policy.as_ref())
            .map(rule_of)
    };
    Written {
        admins: rule(ADMINS),
        lifecycle_endorsement: rule(LIFECYCLE_ENDORSEMENT),
    }
}

/// The channel's rules once an update writing `w` is applied to a channel
/// registered with `before`.
pub fn expected(before: ChannelPolicies, w: Written) -> ChannelPolicies {
    ChannelPolicies {
        admins: w.admins.unwrap_or(before.admins),
        lifecycle_endorsement: w
            .lifecycle_endorsement
            .unwrap_or(before.lifecycle_endorsement),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opssc_fabric::protos::common::{ConfigGroup, ConfigPolicy};

    fn meta(rule: i32) -> Policy {
        Policy {
            r#type: policy::PolicyType::ImplicitMeta as i32,
            value: ImplicitMetaPolicy {
                sub_policy: "Admins".into(),
                rule,
            }
            .encode_to_vec(),
        }
    }

    fn update(app_policies: &[(&str, Option<Policy>)]) -> Vec<u8> {
        let mut app = ConfigGroup {
            version: 1,
            ..Default::default()
        };
        for (name, p) in app_policies {
            app.policies.insert(
                name.to_string(),
                ConfigPolicy {
                    version: 1,
                    policy: p.clone(),
                    mod_policy: "Admins".into(),
                },
            );
        }
        let mut write = ConfigGroup::default();
        write.groups.insert(APPLICATION.into(), app);
        ConfigUpdate {
            channel_id: "trade".into(),
            read_set: Some(ConfigGroup::default()),
            write_set: Some(write),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn written_rules_are_read_from_the_application_group() {
        let u = update(&[
            (ADMINS, Some(meta(1))),
            ("Endorsement", Some(meta(0))),
            (LIFECYCLE_ENDORSEMENT, None),
        ]);
        assert_eq!(
            written(&u),
            Written {
                admins: Some(Rule::All),
                lifecycle_endorsement: None,
            }
        );
        let u = update(&[(LIFECYCLE_ENDORSEMENT, Some(meta(0)))]);
        assert_eq!(written(&u).lifecycle_endorsement, Some(Rule::Any));
        assert!(!written(&update(&[(ADMINS, None)])).any());
    }

    #[test]
    fn a_signature_policy_counts_as_all_and_garbage_writes_nothing() {
        let sig = Policy {
            r#type: policy::PolicyType::Signature as i32,
            value: vec![1, 2, 3],
        };
        assert_eq!(rule_of(&sig), Rule::All);
        assert_eq!(rule_of(&meta(7)), Rule::All);
        assert_eq!(written(b"\xff\xff not a config update"), Written::default());
    }

    #[test]
    fn expected_keeps_what_the_update_does_not_write() {
        let before = ChannelPolicies {
            admins: Rule::Majority,
            lifecycle_endorsement: Rule::All,
        };
        let w = Written {
            admins: Some(Rule::Any),
            lifecycle_endorsement: None,
        };
        assert_eq!(
            expected(before, w),
            ChannelPolicies {
                admins: Rule::Any,
                lifecycle_endorsement: Rule::All,
            }
        );
        assert_eq!(expected(before, Written::default()), before);
    }
}
