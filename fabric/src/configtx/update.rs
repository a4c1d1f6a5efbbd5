//! `compute_update`: the `ConfigUpdate` that turns one config into another,
//! with exactly the semantics of Fabric's `configtxlator compute_update`.
//!
//! For every group it compares policies (mod policy and policy), values (mod
//! policy and value bytes) and sub-groups:
//! - a changed element goes to the write set at its original version + 1, and a
//!   changed sub-group goes to both sets (read set at its version);
//! - a new element goes to the write set at version 0, a deleted one is omitted;
//! - when a group's membership (the keys of its groups, values or policies) or
//!   its mod policy changed, the group is written at version + 1 with its mod
//!   policy, and every unchanged child is listed in both sets with only its
//!   version; otherwise the group keeps its version and lists only what changed.
//!
//! No differences at all is an error, as in Fabric.

use std::collections::BTreeMap;

use crate::protos::common::{Config, ConfigGroup, ConfigPolicy, ConfigUpdate, ConfigValue};

use super::Result;
use super::error::ConfigError;
use super::model::ChannelConfig;

/// The update from `original` to `updated` for the channel of `original`.
pub fn compute_update(original: &ChannelConfig, updated: &ChannelConfig) -> Result<ConfigUpdate> {
    compute_update_protos(
        &original.channel_id,
        &original.to_proto(),
        &updated.to_proto(),
    )
}

/// The update between two encoded configs (what `configtxlator compute_update
/// --channel_id` computes).
pub fn compute_update_protos(
    channel_id: &str,
    original: &Config,
    updated: &Config,
) -> Result<ConfigUpdate> {
    let what = |which: &str| format!("{which} config of channel {channel_id}");
    let original_root = original
        .channel_group
        .as_ref()
        .ok_or_else(|| ConfigError::malformed(what("original"), "has no channel group"))?;
    let updated_root = updated
        .channel_group
        .as_ref()
        .ok_or_else(|| ConfigError::malformed(what("updated"), "has no channel group"))?;
    let (read_set, write_set, changed) = group_update(original_root, updated_root);
    if !changed {
        return Err(ConfigError::NoDifferences {
            channel: channel_id.to_string(),
        });
    }
    Ok(ConfigUpdate {
        channel_id: channel_id.to_string(),
        read_set: Some(read_set),
        write_set: Some(write_set),
        isolated_data: BTreeMap::new(),
    })
}

/// Read set, write set and unchanged ("same") entries of one map, and whether
/// its membership changed.
struct MapUpdate<T> {
    read: BTreeMap<String, T>,
    write: BTreeMap<String, T>,
    same: BTreeMap<String, T>,
    members_changed: bool,
}

/// A versioned leaf of a config group: a policy or a value. Its content is
/// everything but the version (for a value, compared by its encoded bytes, as
/// Fabric does).
trait Leaf: Default {
    fn version(&self) -> u64;
    fn same_content(&self, other: &Self) -> bool;
    /// This leaf's content at `version`.
    fn at_version(&self, version: u64) -> Self;
}

impl Leaf for ConfigPolicy {
    fn version(&self) -> u64 {
        self.version
    }
    fn same_content(&self, other: &Self) -> bool {
        self.mod_policy == other.mod_policy && self.policy == other.policy
    }
    fn at_version(&self, version: u64) -> Self {
        ConfigPolicy {
            version,
            mod_policy: self.mod_policy.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl Leaf for ConfigValue {
    fn version(&self) -> u64 {
        self.version
    }
    fn same_content(&self, other: &Self) -> bool {
        self.mod_policy == other.mod_policy && self.value == other.value
    }
    fn at_version(&self, version: u64) -> Self {
        ConfigValue {
            version,
            mod_policy: self.mod_policy.clone(),
            value: self.value.clone(),
        }
    }
}

/// The update of one map of leaves: an unchanged leaf is "same" with only its
/// version, a changed one is written at its version + 1, a new one at 0.
fn leaves_update<T: Leaf>(
    original: &BTreeMap<String, T>,
    updated: &BTreeMap<String, T>,
) -> MapUpdate<T> {
    let mut u = MapUpdate {
        read: BTreeMap::new(),
        write: BTreeMap::new(),
        same: BTreeMap::new(),
        members_changed: false,
    };
    for (name, orig) in original {
        let Some(upd) = updated.get(name) else {
            u.members_changed = true;
            continue;
        };
        if orig.same_content(upd) {
            let reference = T::default().at_version(orig.version());
            u.same.insert(name.clone(), reference);
        } else {
            u.write
                .insert(name.clone(), upd.at_version(orig.version() + 1));
        }
    }
    for (name, upd) in updated {
        if !original.contains_key(name) {
            u.members_changed = true;
            u.write.insert(name.clone(), upd.at_version(0));
        }
    }
    u
}

fn groups_update(
    original: &BTreeMap<String, ConfigGroup>,
    updated: &BTreeMap<String, ConfigGroup>,
) -> MapUpdate<ConfigGroup> {
    let mut u = MapUpdate {
        read: BTreeMap::new(),
        write: BTreeMap::new(),
        same: BTreeMap::new(),
        members_changed: false,
    };
    for (name, orig) in original {
        let Some(upd) = updated.get(name) else {
            u.members_changed = true;
            continue;
        };
        let (read, write, changed) = group_update(orig, upd);
        if !changed {
            u.same.insert(name.clone(), read);
            continue;
        }
        u.read.insert(name.clone(), read);
        u.write.insert(name.clone(), write);
    }
    for (name, upd) in updated {
        if original.contains_key(name) {
            continue;
        }
        u.members_changed = true;
        // A new group: everything in it is new, at version 0.
        let (_, write, _) = group_update(&ConfigGroup::default(), upd);
        u.write.insert(
            name.clone(),
            ConfigGroup {
                version: 0,
                mod_policy: upd.mod_policy.clone(),
                policies: write.policies,
                values: write.values,
                groups: write.groups,
            },
        );
    }
    u
}

/// Read set, write set, and whether anything in the group changed.
fn group_update(original: &ConfigGroup, updated: &ConfigGroup) -> (ConfigGroup, ConfigGroup, bool) {
    let mut policies = leaves_update(&original.policies, &updated.policies);
    let mut values = leaves_update(&original.values, &updated.values);
    let mut groups = groups_update(&original.groups, &updated.groups);

    let membership_changed = policies.members_changed
        || values.members_changed
        || groups.members_changed
        || original.mod_policy != updated.mod_policy;

    if !membership_changed {
        let nothing_changed = policies.read.is_empty()
            && policies.write.is_empty()
            && values.read.is_empty()
            && values.write.is_empty()
            && groups.read.is_empty()
            && groups.write.is_empty();
        if nothing_changed {
            let only_version = ConfigGroup {
                version: original.version,
                ..ConfigGroup::default()
            };
            return (only_version.clone(), only_version, false);
        }
        return (
            ConfigGroup {
                version: original.version,
                policies: policies.read,
                values: values.read,
                groups: groups.read,
                mod_policy: String::new(),
            },
            ConfigGroup {
                version: original.version,
                policies: policies.write,
                values: values.write,
                groups: groups.write,
                mod_policy: String::new(),
            },
            true,
        );
    }

    for (k, same) in std::mem::take(&mut policies.same) {
        policies.read.insert(k.clone(), same.clone());
        policies.write.insert(k, same);
    }
    for (k, same) in std::mem::take(&mut values.same) {
        values.read.insert(k.clone(), same.clone());
        values.write.insert(k, same);
    }
    for (k, same) in std::mem::take(&mut groups.same) {
        groups.read.insert(k.clone(), same.clone());
        groups.write.insert(k, same);
    }

    (
        ConfigGroup {
            version: original.version,
            policies: policies.read,
            values: values.read,
            groups: groups.read,
            mod_policy: String::new(),
        },
        ConfigGroup {
            version: original.version + 1,
            policies: policies.write,
            values: values.write,
            groups: groups.write,
            mod_policy: updated.mod_policy.clone(),
        },
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protos::common::Policy;

    fn value(version: u64, bytes: &[u8]) -> ConfigValue {
        ConfigValue {
            version,
            value: bytes.to_vec(),
            mod_policy: "Admins".into(),
        }
    }

    fn policy(version: u64, ty: i32) -> ConfigPolicy {
        ConfigPolicy {
            version,
            policy: Some(Policy {
                r#type: ty,
                value: vec![1, 2],
            }),
            mod_policy: "Admins".into(),
        }
    }

    fn org(version: u64, msp: &[u8]) -> ConfigGroup {
        ConfigGroup {
            version,
            values: [("MSP".to_string(), value(3, msp))].into(),
            policies: [("Admins".to_string(), policy(1, 1))].into(),
            mod_policy: "Admins".into(),
            ..ConfigGroup::default()
        }
    }

    fn config(orgs: &[(&str, ConfigGroup)], timeout: &[u8]) -> Config {
        let app = ConfigGroup {
            version: 4,
            groups: orgs
                .iter()
                .map(|(k, g)| (k.to_string(), g.clone()))
                .collect(),
            policies: [("Admins".to_string(), policy(0, 3))].into(),
            mod_policy: "Admins".into(),
            ..ConfigGroup::default()
        };
        let orderer = ConfigGroup {
            version: 2,
            values: [
                ("BatchTimeout".to_string(), value(5, timeout)),
                ("BatchSize".to_string(), value(1, b"size")),
            ]
            .into(),
            mod_policy: "Admins".into(),
            ..ConfigGroup::default()
        };
        Config {
            sequence: 7,
            channel_group: Some(ConfigGroup {
                version: 1,
                groups: [
                    ("Application".to_string(), app),
                    ("Orderer".to_string(), orderer),
                ]
                .into(),
                mod_policy: "Admins".into(),
                ..ConfigGroup::default()
            }),
        }
    }

    fn only_version(version: u64) -> ConfigGroup {
        ConfigGroup {
            version,
            ..ConfigGroup::default()
        }
    }

    #[test]
    fn a_changed_value_bumps_only_its_version_and_reads_its_parents() {
        let a = config(&[("Org1", org(0, b"m1"))], b"2s");
        let b = config(&[("Org1", org(0, b"m1"))], b"1s");
        let u = compute_update_protos("ch", &a, &b).unwrap();
        let read = u.read_set.unwrap();
        let write = u.write_set.unwrap();
        // Root and Orderer keep their versions and carry only the change.
        assert_eq!(read.version, 1);
        assert_eq!(write.version, 1);
        assert_eq!(read.groups.keys().collect::<Vec<_>>(), ["Orderer"]);
        assert_eq!(read.groups["Orderer"], only_version(2));
        let w_orderer = &write.groups["Orderer"];
        assert_eq!(w_orderer.version, 2);
        assert_eq!(w_orderer.mod_policy, "");
        assert_eq!(w_orderer.values.len(), 1);
        assert_eq!(
            w_orderer.values["BatchTimeout"],
            ConfigValue {
                version: 6,
                value: b"1s".to_vec(),
                mod_policy: "Admins".into(),
            }
        );
    }

    #[test]
    fn a_new_group_changes_membership_and_carries_the_siblings() {
        let a = config(&[("Org1", org(2, b"m1")), ("Org2", org(0, b"m2"))], b"2s");
        let b = config(
            &[
                ("Org1", org(2, b"m1")),
                ("Org2", org(0, b"m2")),
                ("Org3", org(9, b"m3")),
            ],
            b"2s",
        );
        let u = compute_update_protos("ch", &a, &b).unwrap();
        let read_app = &u.read_set.as_ref().unwrap().groups["Application"];
        let write_app = &u.write_set.as_ref().unwrap().groups["Application"];
        assert_eq!(read_app.version, 4);
        assert_eq!(write_app.version, 5);
        assert_eq!(write_app.mod_policy, "Admins");
        // Unchanged siblings and the unchanged Admins policy: versions only, in both sets.
        assert_eq!(read_app.groups["Org1"], only_version(2));
        assert_eq!(write_app.groups["Org1"], only_version(2));
        assert_eq!(
            write_app.policies["Admins"],
            ConfigPolicy {
                version: 0,
                ..ConfigPolicy::default()
            }
        );
        assert!(!read_app.groups.contains_key("Org3"));
        // The new org is written whole, every element at version 0.
        let org3 = &write_app.groups["Org3"];
        assert_eq!(org3.version, 0);
        assert_eq!(org3.values["MSP"].version, 0);
        assert_eq!(org3.values["MSP"].value, b"m3");
        assert_eq!(org3.policies["Admins"].version, 0);
        // Orderer untouched: not in either set.
        assert!(!u.write_set.unwrap().groups.contains_key("Orderer"));
    }

    #[test]
    fn a_removed_group_is_omitted_from_the_write_set() {
        let a = config(&[("Org1", org(0, b"m1")), ("Org2", org(0, b"m2"))], b"2s");
        let b = config(&[("Org1", org(0, b"m1"))], b"2s");
        let u = compute_update_protos("ch", &a, &b).unwrap();
        let write_app = &u.write_set.as_ref().unwrap().groups["Application"];
        assert_eq!(write_app.version, 5);
        assert_eq!(write_app.groups.keys().collect::<Vec<_>>(), ["Org1"]);
    }

    #[test]
    fn no_difference_is_an_error() {
        let a = config(&[("Org1", org(0, b"m1"))], b"2s");
        let err = compute_update_protos("ch", &a, &a.clone()).unwrap_err();
        assert!(matches!(err, ConfigError::NoDifferences { .. }), "{err}");
    }

    #[test]
    fn a_changed_mod_policy_rewrites_the_group() {
        let a = config(&[("Org1", org(0, b"m1"))], b"2s");
        let mut b = a.clone();
        b.channel_group
            .as_mut()
            .unwrap()
            .groups
            .get_mut("Orderer")
            .unwrap()
            .mod_policy = "/Channel/Orderer/Admins".into();
        let u = compute_update_protos("ch", &a, &b).unwrap();
        let w = &u.write_set.as_ref().unwrap().groups["Orderer"];
        assert_eq!(w.version, 3);
        assert_eq!(w.mod_policy, "/Channel/Orderer/Admins");
        assert_eq!(
            w.values["BatchTimeout"],
            ConfigValue {
                version: 5,
                ..ConfigValue::default()
            }
        );
    }
}
