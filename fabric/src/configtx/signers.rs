//! Who must sign a config update: the mod policies the orderer will evaluate,
//! resolved against the channel's current policies, and which sets of
//! organization admins satisfy them.
//!
//! The main types are [`SignatureRequirements`] (one [`WrittenElement`] per
//! element the orderer checks) and [`Requirement`] (a resolved policy tree).
//! The orderer's rules are followed exactly: only the "delta" is checked (write
//! set elements whose version differs from the read set); a new element needs
//! nothing itself (its parent group's version bump carries the check); an
//! existing element needs its *current* mod policy, resolved relative to its
//! group (for a group: the group itself) or from `/Channel` when absolute;
//! implicit meta policies count the same-named policy of every sub-group, a
//! missing one counting as unsatisfied; signature policies are evaluated with
//! Fabric's algorithm (each signer used at most once per gate).
//!
//! Key decision: a signer is "the admin of an organization", which satisfies
//! the `admin` and `member` roles of its MSP and nothing else (with NodeOUs an
//! admin is not a `client` or `peer`). Policies that need other principals are
//! reported as not satisfiable by admins.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use prost::Message;

use crate::protos::common::{
    ConfigGroup, ConfigUpdate, MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope,
    msp_principal::Classification, msp_role::MspRoleType, signature_policy,
};

use super::Result;
use super::error::ConfigError;
use super::model::{CHANNEL_GROUP, ChannelConfig, Group, ImplicitMetaRule, PolicyRule};

/// A resolved policy: what a set of organization admins must be to satisfy it.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// A signature policy (`policy` is its absolute path).
    Signature {
        policy: String,
        envelope: SignaturePolicyEnvelope,
    },
    /// An implicit meta policy over the sub-groups' `sub_policy`.
    ImplicitMeta {
        policy: String,
        rule: ImplicitMetaRule,
        sub_policy: String,
        /// One per sub-group, in key order.
        subs: Vec<Requirement>,
    },
    /// The policy does not exist: Fabric rejects every signature set.
    Missing { policy: String },
    /// A policy type this module cannot evaluate.
    Unsupported { policy: String, policy_type: i32 },
}

impl Requirement {
    /// The absolute path of the policy.
    pub fn policy(&self) -> &str {
        match self {
            Requirement::Signature { policy, .. }
            | Requirement::ImplicitMeta { policy, .. }
            | Requirement::Missing { policy }
            | Requirement::Unsupported { policy, .. } => policy,
        }
    }

    /// Whether one admin signature from each of `orgs` (MSP IDs) satisfies it.
    pub fn is_satisfied_by(&self, orgs: &BTreeSet<String>) -> bool {
        match self {
            Requirement::Signature { envelope, .. } => signature_satisfied(envelope, orgs),
            Requirement::ImplicitMeta { rule, subs, .. } => {
                let threshold = rule.threshold(subs.len());
                subs.iter().filter(|s| s.is_satisfied_by(orgs)).count() >= threshold
            }
            Requirement::Missing { .. } | Requirement::Unsupported { .. } => false,
        }
    }

    /// The organizations whose admins can count towards this policy.
    pub fn orgs(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect_orgs(&mut out);
        out
    }

    fn collect_orgs(&self, out: &mut BTreeSet<String>) {
        match self {
            Requirement::Signature { envelope, .. } => {
                for p in &envelope.identities {
                    if let Some((msp, role)) = role_principal(p)
                        && (role == MspRoleType::Admin || role == MspRoleType::Member)
                    {
                        out.insert(msp);
                    }
                }
            }
            Requirement::ImplicitMeta { subs, .. } => {
                for s in subs {
                    s.collect_orgs(out);
                }
            }
            Requirement::Missing { .. } | Requirement::Unsupported { .. } => {}
        }
    }

    /// `Some((k, orgs))` when the policy is exactly "the admins of any `k` of
    /// `orgs`" (every `k`-subset satisfies it, no smaller set does). Decided by
    /// trying every subset, so only for up to 16 organizations.
    pub fn threshold(&self) -> Option<(usize, BTreeSet<String>)> {
        threshold_of(|s| self.is_satisfied_by(s), self.orgs())
    }

    fn summary(&self) -> String {
        match self.threshold() {
            Some((k, orgs)) => format!("{k} of {{{}}}", join(&orgs)),
            None if !self.orgs().iter().any(|_| true) => {
                "no admin signatures can satisfy it".into()
            }
            None => "a combination of admins that is not a simple threshold".into(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Signature { policy, envelope } => write!(
                f,
                "{policy} ({}) = {}",
                super::dsl::signature_policy_to_dsl(envelope),
                self.summary()
            ),
            Requirement::ImplicitMeta {
                policy,
                rule,
                sub_policy,
                subs,
            } => {
                if self.threshold().is_some() || subs.is_empty() {
                    write!(
                        f,
                        "{rule} of {policy} ({rule} {sub_policy}) = {}",
                        self.summary()
                    )
                } else {
                    let inner: Vec<String> = subs.iter().map(|s| s.to_string()).collect();
                    write!(
                        f,
                        "{rule} of {policy} ({rule} {sub_policy}) = {} of [{}]",
                        rule.threshold(subs.len()),
                        inner.join("; ")
                    )
                }
            }
            Requirement::Missing { policy } => {
                write!(
                    f,
                    "{policy} does not exist, so no signatures can satisfy it"
                )
            }
            Requirement::Unsupported {
                policy,
                policy_type,
            } => write!(
                f,
                "{policy} has policy type {policy_type}, which opssc cannot evaluate"
            ),
        }
    }
}

/// The kind of a config element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElementKind {
    Group,
    Value,
    Policy,
}

/// One element of the update that the orderer will check.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenElement {
    pub kind: ElementKind,
    /// Absolute path, e.g. `/Channel/Application/Org3MSP`.
    pub path: String,
    /// The version the update writes.
    pub version: u64,
    /// `None` for an element the update creates (no policy applies to it
    /// directly); otherwise the current mod policy, resolved.
    pub requirement: Option<Requirement>,
}

/// Everything the orderer will check for one update.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureRequirements {
    pub elements: Vec<WrittenElement>,
}

impl SignatureRequirements {
    /// The distinct policies to satisfy, by path.
    pub fn policies(&self) -> Vec<&Requirement> {
        let mut seen = BTreeMap::new();
        for e in &self.elements {
            if let Some(r) = &e.requirement {
                seen.entry(r.policy().to_string()).or_insert(r);
            }
        }
        seen.into_values().collect()
    }

    /// Whether one admin signature from each of `orgs` satisfies every policy.
    pub fn is_satisfied_by(&self, orgs: &BTreeSet<String>) -> bool {
        self.policies().iter().all(|r| r.is_satisfied_by(orgs))
    }

    /// The organizations whose admins can count towards any of the policies.
    pub fn orgs(&self) -> BTreeSet<String> {
        self.policies().iter().flat_map(|r| r.orgs()).collect()
    }

    /// `Some((k, orgs))` when the update needs exactly the admins of any `k`
    /// of `orgs` (see [`Requirement::threshold`]).
    pub fn threshold(&self) -> Option<(usize, BTreeSet<String>)> {
        threshold_of(|s| self.is_satisfied_by(s), self.orgs())
    }
}

impl fmt::Display for SignatureRequirements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policies = self.policies();
        if policies.is_empty() {
            return f.write_str("no policy is checked (only new elements are written)");
        }
        for (i, r) in policies.iter().enumerate() {
            if i > 0 {
                f.write_str("; and ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Works out which policies the orderer will check for `update` against the
/// channel's `current` config, and resolves them.
///
/// Fails with [`ConfigError::Stale`] when the update does not apply to
/// `current` (a read-set version differs, a written version is not the current
/// one plus one, or an element the update expects is missing), as the orderer
/// would.
pub fn required_signatures(
    current: &ChannelConfig,
    update: &ConfigUpdate,
) -> Result<SignatureRequirements> {
    if update.channel_id != current.channel_id {
        return Err(ConfigError::invalid(
            "config update",
            format!(
                "it is for channel {:?} but the config is of channel {:?}",
                update.channel_id, current.channel_id
            ),
        ));
    }
    let mut read = BTreeMap::new();
    if let Some(r) = &update.read_set {
        flatten(r, vec![CHANNEL_GROUP.to_string()], &mut read);
    }
    let mut write = BTreeMap::new();
    if let Some(w) = &update.write_set {
        flatten(w, vec![CHANNEL_GROUP.to_string()], &mut write);
    }
    for ((kind, path), (version, _)) in &read {
        match existing(current, *kind, path) {
            None => {
                return Err(ConfigError::Stale {
                    problem: format!("{} is in the read set but not in the config", show(path)),
                });
            }
            Some((v, _)) if v != *version => {
                return Err(ConfigError::Stale {
                    problem: format!(
                        "{} is read at version {version} but is at version {v}",
                        show(path)
                    ),
                });
            }
            Some(_) => {}
        }
    }
    let mut elements = Vec::new();
    for ((kind, path), (version, new_mod_policy)) in &write {
        if read
            .get(&(*kind, path.clone()))
            .is_some_and(|(v, _)| v == version)
        {
            continue;
        }
        if new_mod_policy.is_empty() {
            return Err(ConfigError::invalid(
                format!("config update element {}", show(path)),
                "its mod_policy is not set",
            ));
        }
        let requirement = match existing(current, *kind, path) {
            None => {
                if *version != 0 {
                    return Err(ConfigError::Stale {
                        problem: format!(
                            "{} is written at version {version} but does not exist",
                            show(path)
                        ),
                    });
                }
                None
            }
            Some((v, mod_policy)) => {
                if *version != v + 1 {
                    return Err(ConfigError::Stale {
                        problem: format!(
                            "{} is written at version {version} but is at version {v}",
                            show(path)
                        ),
                    });
                }
                // Groups resolve relative mod policies in themselves, values
                // and policies in their group; absolute ones from the root.
                let manager: Vec<String> = match kind {
                    ElementKind::Group => path[1..].to_vec(),
                    _ => path[1..path.len() - 1].to_vec(),
                };
                let manager = if mod_policy.starts_with('/') {
                    Vec::new()
                } else {
                    manager
                };
                Some(resolve(&current.root, &manager, &mod_policy))
            }
        };
        elements.push(WrittenElement {
            kind: *kind,
            path: show(path),
            version: *version,
            requirement,
        });
    }
    Ok(SignatureRequirements { elements })
}

type Flat = BTreeMap<(ElementKind, Vec<String>), (u64, String)>;

fn flatten(group: &ConfigGroup, path: Vec<String>, out: &mut Flat) {
    for (k, v) in &group.values {
        let mut p = path.clone();
        p.push(k.clone());
        out.insert((ElementKind::Value, p), (v.version, v.mod_policy.clone()));
    }
    for (k, v) in &group.policies {
        let mut p = path.clone();
        p.push(k.clone());
        out.insert((ElementKind::Policy, p), (v.version, v.mod_policy.clone()));
    }
    for (k, g) in &group.groups {
        let mut p = path.clone();
        p.push(k.clone());
        flatten(g, p, out);
    }
    out.insert(
        (ElementKind::Group, path),
        (group.version, group.mod_policy.clone()),
    );
}

fn show(path: &[String]) -> String {
    format!("/{}", path.join("/"))
}

/// Version and mod policy of an element of the current config.
fn existing(config: &ChannelConfig, kind: ElementKind, path: &[String]) -> Option<(u64, String)> {
    if path.first().map(String::as_str) != Some(CHANNEL_GROUP) {
        return None;
    }
    let keys: Vec<&str> = path[1..].iter().map(String::as_str).collect();
    match kind {
        ElementKind::Group => config
            .root
            .find(&keys)
            .map(|g| (g.version, g.mod_policy.clone())),
        ElementKind::Value | ElementKind::Policy => {
            let (name, parent) = keys.split_last()?;
            let g = config.root.find(parent)?;
            if kind == ElementKind::Value {
                g.values
                    .get(*name)
                    .map(|v| (v.version, v.mod_policy.clone()))
            } else {
                g.policies
                    .get(*name)
                    .map(|p| (p.version, p.mod_policy.clone()))
            }
        }
    }
}

/// Resolves policy `id` as Fabric's policy manager of the group at `manager`
/// (keys below the root) does.
fn resolve(root: &Group, manager: &[String], id: &str) -> Requirement {
    let manager_path = {
        let mut s = CHANNEL_GROUP.to_string();
        for k in manager {
            s.push('/');
            s.push_str(k);
        }
        s
    };
    let relative = if let Some(abs) = id.strip_prefix('/') {
        match abs
            .strip_prefix(manager_path.as_str())
            .and_then(|r| r.strip_prefix('/'))
        {
            Some(r) => r.to_string(),
            None => {
                return Requirement::Missing {
                    policy: id.to_string(),
                };
            }
        }
    } else {
        id.to_string()
    };
    let full = format!("/{manager_path}/{relative}");
    if id.is_empty() || relative.is_empty() {
        return Requirement::Missing { policy: full };
    }
    let parts: Vec<&str> = relative.split('/').collect();
    let (name, sub) = parts.split_last().expect("split of a non-empty string");
    let mut group_keys: Vec<String> = manager.to_vec();
    group_keys.extend(sub.iter().map(|s| s.to_string()));
    let keys: Vec<&str> = group_keys.iter().map(String::as_str).collect();
    let Some(group) = root.find(&keys) else {
        return Requirement::Missing { policy: full };
    };
    let Some(policy) = group.policies.get(*name) else {
        return Requirement::Missing { policy: full };
    };
    match &policy.rule {
        PolicyRule::Signature(envelope) => Requirement::Signature {
            policy: full,
            envelope: envelope.clone(),
        },
        PolicyRule::ImplicitMeta { rule, sub_policy } => {
            let subs = group
                .groups
                .keys()
                .map(|k| {
                    let mut p = group_keys.clone();
                    p.push(k.clone());
                    resolve(root, &p, sub_policy)
                })
                .collect();
            Requirement::ImplicitMeta {
                policy: full,
                rule: *rule,
                sub_policy: sub_policy.clone(),
                subs,
            }
        }
        PolicyRule::Other { policy_type, .. } => Requirement::Unsupported {
            policy: full,
            policy_type: *policy_type,
        },
        PolicyRule::Unset => Requirement::Missing { policy: full },
    }
}

fn role_principal(p: &MspPrincipal) -> Option<(String, MspRoleType)> {
    if p.principal_classification != Classification::Role as i32 {
        return None;
    }
    let role = MspRole::decode(p.principal.as_slice()).ok()?;
    Some((role.msp_identifier, MspRoleType::try_from(role.role).ok()?))
}

/// Fabric's signature policy evaluation, with one admin identity per org.
fn signature_satisfied(envelope: &SignaturePolicyEnvelope, orgs: &BTreeSet<String>) -> bool {
    let Some(rule) = &envelope.rule else {
        return false;
    };
    let signers: Vec<&String> = orgs.iter().collect();
    let mut used = vec![false; signers.len()];
    eval(rule, &envelope.identities, &signers, &mut used).unwrap_or(false)
}

/// `None` when the policy is malformed (Fabric would not compile it).
fn eval(
    rule: &SignaturePolicy,
    identities: &[MspPrincipal],
    signers: &[&String],
    used: &mut [bool],
) -> Option<bool> {
    match rule.r#type.as_ref()? {
        signature_policy::Type::NOutOf(n_out_of) => {
            let mut verified = 0i32;
            let mut scratch = vec![false; used.len()];
            for sub in &n_out_of.rules {
                scratch.copy_from_slice(used);
                if eval(sub, identities, signers, &mut scratch)? {
                    verified += 1;
                    used.copy_from_slice(&scratch);
                }
            }
            Some(verified >= n_out_of.n)
        }
        signature_policy::Type::SignedBy(index) => {
            let principal = identities.get(usize::try_from(*index).ok()?)?;
            let wanted = role_principal(principal);
            for (i, msp) in signers.iter().enumerate() {
                if used[i] {
                    continue;
                }
                let ok = matches!(&wanted, Some((m, role))
                    if m == *msp && (*role == MspRoleType::Admin || *role == MspRoleType::Member));
                if ok {
                    used[i] = true;
                    return Some(true);
                }
            }
            Some(false)
        }
    }
}

fn threshold_of(
    satisfied: impl Fn(&BTreeSet<String>) -> bool,
    orgs: BTreeSet<String>,
) -> Option<(usize, BTreeSet<String>)> {
    let all: Vec<&String> = orgs.iter().collect();
    let n = all.len();
    if n == 0 || n > 16 {
        return None;
    }
    // ok_by_size[k] = (some k-subset satisfies, every k-subset satisfies)
    let mut some = vec![false; n + 1];
    let mut every = vec![true; n + 1];
    for mask in 0u32..(1 << n) {
        let set: BTreeSet<String> = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| all[i].clone())
            .collect();
        let k = set.len();
        if satisfied(&set) {
            some[k] = true;
        } else {
            every[k] = false;
        }
    }
    let k = (1..=n).find(|&k| some[k])?;
    let is_threshold = every[k] && (k..=n).all(|j| every[j]);
    is_threshold.then_some((k, orgs))
}

fn join(orgs: &BTreeSet<String>) -> String {
    orgs.iter().cloned().collect::<Vec<_>>().join(", ")
}
