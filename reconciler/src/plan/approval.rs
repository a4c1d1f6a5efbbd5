//! Who must approve a change: the organizations whose signatures Fabric
//! requires, derived from the channel's policies.
//!
//! A config update must satisfy the `mod_policy` of every element it modifies
//! (Fabric's default is `Admins` of the element's group): the Application group
//! → `/Channel/Application/Admins`, an organization's group → that
//! organization's own Admins, the Orderer group → `/Channel/Orderer/Admins`,
//! the Channel group → `/Channel/Admins` (by default MAJORITY of the
//! Application and Orderer groups' Admins, i.e. both). A chaincode definition
//! is committed when the channel's `LifecycleEndorsement` is satisfied by the
//! organizations that approved it.
//!
//! Main type: [`Approval`], a conjunction of [`Requirement`]s, each a [`Need`]:
//! "k of {orgs}" or a list of minimal organization sets. Key decision: the
//! planner reasons at organization granularity: an implicit meta policy over
//! the organizations' groups counts each organization once and assumes each
//! organization defines the sub-policies opssc writes (`Readers`, `Writers`,
//! `Admins`, `Endorsement`, satisfied by that organization alone); a signature
//! policy is satisfied by an organization set when it would be with one
//! identity per organization holding every role it names
//! ([`SignaturePolicy::satisfied_by`]). Only organizations whose MSP is in the
//! channel can sign, so principals of other organizations never count.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use opssc_schema::Spec;
use opssc_schema::policy::{MetaRule, Policy, SignaturePolicy, parse_policy};
use serde::{Deserialize, Serialize};

use super::desired;
use crate::observe::ObservedChannel;

/// Sub-policies every peer organization's group defines (opssc writes them).
pub const ORG_POLICIES: &[&str] = &["Readers", "Writers", "Admins", "Endorsement"];
/// Sub-policies every orderer organization's group defines.
pub const ORDERER_ORG_POLICIES: &[&str] = &["Readers", "Writers", "Admins"];

/// The most minimal organization sets enumerated for one policy; beyond it a
/// requirement is shown as the policy text.
const MAX_SETS: usize = 256;

/// Every requirement must be met.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub requirements: Vec<Requirement>,
}

/// One policy that must be satisfied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The policy, for people: `MAJORITY Admins of channel trade`.
    pub label: String,
    /// The policy's path in the channel config, e.g. `/Channel/Application/Admins`.
    pub policy: String,
    pub need: Need,
}

/// Which organizations must sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Need {
    /// Any `count` of these organizations.
    Threshold { count: usize, of: Vec<String> },
    /// All organizations of any one of these sets (each set minimal).
    AnyOf { sets: Vec<Vec<String>> },
    /// No set of organizations can satisfy the policy.
    Impossible { reason: String },
    /// Too many combinations to list; read the policy.
    Unevaluated { reason: String },
}

impl Need {
    pub fn is_impossible(&self) -> bool {
        matches!(self, Need::Impossible { .. })
    }

    /// The minimal sets, when there are few enough to list.
    fn to_sets(&self) -> Option<Vec<BTreeSet<String>>> {
        match self {
            Need::Threshold { count, of } => {
                let mut out = Vec::new();
                combinations(of, *count, &mut Vec::new(), 0, &mut out);
                (out.len() <= MAX_SETS).then_some(out)
            }
            Need::AnyOf { sets } => {
                Some(sets.iter().map(|s| s.iter().cloned().collect()).collect())
            }
            Need::Impossible { .. } => Some(Vec::new()),
            Need::Unevaluated { .. } => None,
        }
    }

    /// Every organization that appears in the requirement.
    pub fn organizations(&self) -> BTreeSet<String> {
        match self {
            Need::Threshold { of, .. } => of.iter().cloned().collect(),
            Need::AnyOf { sets } => sets.iter().flatten().cloned().collect(),
            _ => BTreeSet::new(),
        }
    }
}

fn combinations(
    items: &[String],
    k: usize,
    current: &mut Vec<String>,
    start: usize,
    out: &mut Vec<BTreeSet<String>>,
) {
    if out.len() > MAX_SETS {
        return;
    }
    if current.len() == k {
        out.push(current.iter().cloned().collect());
        return;
    }
    for i in start..items.len() {
        current.push(items[i].clone());
        combinations(items, k, current, i + 1, out);
        current.pop();
    }
}

fn braces(orgs: &[String]) -> String {
    format!("{{{}}}", orgs.join(", "))
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Need::Threshold { count: 0, .. } => f.write_str("nobody (the policy is always met)"),
            Need::Threshold { count, of } => write!(f, "{count} of {}", braces(of)),
            Need::AnyOf { sets } => {
                let parts: Vec<String> = sets.iter().map(|s| braces(s)).collect();
                if parts.len() == 1 {
                    write!(f, "all of {}", parts[0])
                } else {
                    write!(f, "one of {}", parts.join(" or "))
                }
            }
            Need::Impossible { reason } => write!(f, "impossible: {reason}"),
            Need::Unevaluated { reason } => write!(f, "see the policy ({reason})"),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.need, self.label)
    }
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(" and "))
    }
}

impl Approval {
    pub fn single(r: Requirement) -> Self {
        Approval {
            requirements: vec![r],
        }
    }

    /// The conjunction of several approvals (duplicates dropped, order kept).
    pub fn all_of<'a>(parts: impl IntoIterator<Item = &'a Approval>) -> Self {
        let mut out = Approval::default();
        for a in parts {
            for r in &a.requirements {
                if !out.requirements.contains(r) {
                    out.requirements.push(r.clone());
                }
            }
        }
        out
    }

    pub fn is_impossible(&self) -> bool {
        self.requirements.iter().any(|r| r.need.is_impossible())
    }

    /// Whether these organizations' approvals (signatures) meet every
    /// requirement; `None` when a requirement has too many combinations to
    /// evaluate (read the policy).
    pub fn satisfied_by(&self, orgs: &BTreeSet<String>) -> Option<bool> {
        let mut all = true;
        for r in &self.requirements {
            let ok = match &r.need {
                Need::Threshold { count, of } => {
                    of.iter().filter(|o| orgs.contains(*o)).count() >= *count
                }
                need => need.to_sets()?.iter().any(|set| set.is_subset(orgs)),
            };
            all &= ok;
        }
        Some(all)
    }

    /// `<policy> — <why>` for the first requirement that cannot be met.
    pub fn impossible_reason(&self) -> Option<String> {
        self.requirements.iter().find_map(|r| match &r.need {
            Need::Impossible { reason } => Some(format!("{} — {reason}", r.label)),
            _ => None,
        })
    }
}

/// A config group whose policies can be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    Channel,
    Orderer,
    Application,
    Org(String),
}

impl Group {
    fn path(&self, name: &str) -> String {
        match self {
            Group::Channel => format!("/Channel/{name}"),
            Group::Orderer => format!("/Channel/Orderer/{name}"),
            Group::Application => format!("/Channel/Application/{name}"),
            Group::Org(msp) => format!("/Channel/Application/{msp}/{name}"),
        }
    }
}

/// The policies of one channel, parsed, and who can sign in each group.
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub name: String,
    /// The Application group's organizations.
    pub members: Vec<String>,
    pub application: BTreeMap<String, Policy>,
    pub orderer_orgs: Vec<String>,
    pub orderer: BTreeMap<String, Policy>,
    pub channel: BTreeMap<String, Policy>,
    pub mod_policies: BTreeMap<String, String>,
}

fn parse_map(m: &BTreeMap<String, String>) -> BTreeMap<String, Policy> {
    // Observed snapshots are checked on load; an unparseable entry (only
    // possible for a snapshot built in code) is left out and then reported as
    // a missing policy.
    m.iter()
        .filter_map(|(k, v)| parse_policy(v, false).ok().map(|p| (k.clone(), p)))
        .collect()
}

fn with_defaults(
    mut m: BTreeMap<String, Policy>,
    defaults: &[(&str, &str)],
) -> BTreeMap<String, Policy> {
    for (name, text) in defaults {
        if !m.contains_key(*name) {
            m.insert(
                name.to_string(),
                parse_policy(text, false).expect("default policies parse"),
            );
        }
    }
    m
}

const ORDERER_DEFAULTS: &[(&str, &str)] = &[
    ("Readers", "ANY Readers"),
    ("Writers", "ANY Writers"),
    ("Admins", "MAJORITY Admins"),
    ("BlockValidation", "ANY Writers"),
];
const CHANNEL_DEFAULTS: &[(&str, &str)] = &[
    ("Readers", "ANY Readers"),
    ("Writers", "ANY Writers"),
    ("Admins", "MAJORITY Admins"),
];

impl ChannelView {
    /// The channel as observed on the chain.
    pub fn from_observed(name: &str, ch: &ObservedChannel) -> Self {
        ChannelView {
            name: name.to_string(),
            members: ch.members.keys().cloned().collect(),
            application: parse_map(&ch.policies),
            orderer_orgs: ch.orderer_orgs.clone(),
            orderer: with_defaults(parse_map(&ch.orderer_policies), ORDERER_DEFAULTS),
            channel: with_defaults(parse_map(&ch.channel_policies), CHANNEL_DEFAULTS),
            mod_policies: ch.mod_policies.clone(),
        }
    }

    /// The channel as the spec wants it (for channels that do not exist yet,
    /// and for checking what the plan leaves behind).
    pub fn from_spec(spec: &Spec, name: &str) -> Option<Self> {
        let ch = spec.channels.get(name)?;
        Some(ChannelView {
            name: name.to_string(),
            members: ch.members.clone(),
            application: ch
                .policies
                .iter()
                .map(|(k, v)| (k.clone(), v.parsed.clone()))
                .collect(),
            orderer_orgs: desired::orderer_orgs(spec),
            orderer: with_defaults(BTreeMap::new(), ORDERER_DEFAULTS),
            channel: with_defaults(BTreeMap::new(), CHANNEL_DEFAULTS),
            mod_policies: BTreeMap::new(),
        })
    }

    fn mod_policy(&self, element: &str) -> &str {
        self.mod_policies
            .get(element)
            .map(String::as_str)
            .unwrap_or("Admins")
    }

    /// Approval for changing an element of `group` whose mod_policy key is `element`.
    fn for_element(&self, group: Group, element: &str) -> Approval {
        let mp = self.mod_policy(element).to_string();
        match parse_path(&mp) {
            Some((g, name)) => self.evaluate(&g, &name),
            None => self.evaluate(&group, &mp),
        }
    }

    /// Changing the Application group (members, its policies, ACLs, its capabilities).
    pub fn application_admins(&self) -> Approval {
        self.for_element(Group::Application, "Application")
    }

    /// Changing one organization's group (its anchor peers, its MSP).
    pub fn org_admins(&self, org: &str) -> Approval {
        self.for_element(Group::Org(org.to_string()), &format!("Application/{org}"))
    }

    /// Changing the Orderer group (batch settings, consenters, its capabilities).
    pub fn orderer_admins(&self) -> Approval {
        self.for_element(Group::Orderer, "Orderer")
    }

    /// Changing the Channel group (its capabilities).
    pub fn channel_admins(&self) -> Approval {
        self.for_element(Group::Channel, "Channel")
    }

    /// Committing a chaincode definition.
    pub fn lifecycle(&self) -> Approval {
        self.evaluate(&Group::Application, "LifecycleEndorsement")
    }

    /// The organizations that can sign for `group`.
    fn signers(&self, group: &Group) -> Vec<String> {
        match group {
            Group::Application => self.members.clone(),
            Group::Orderer => self.orderer_orgs.clone(),
            Group::Channel => {
                let mut all: Vec<String> = self
                    .members
                    .iter()
                    .chain(self.orderer_orgs.iter())
                    .cloned()
                    .collect();
                all.sort();
                all.dedup();
                all
            }
            Group::Org(msp) => vec![msp.clone()],
        }
    }

    fn scope(&self, group: &Group) -> String {
        match group {
            Group::Channel | Group::Application => format!("channel {}", self.name),
            Group::Orderer => format!("the orderer organizations of channel {}", self.name),
            Group::Org(msp) => msp.clone(),
        }
    }

    /// The approval that policy `name` of `group` requires.
    pub fn evaluate(&self, group: &Group, name: &str) -> Approval {
        let path = group.path(name);
        let scope = self.scope(group);
        let policy = match group {
            Group::Org(msp) => {
                // Organization policies are the org's own: its admins, members, peers.
                let need = if ORG_POLICIES.contains(&name) {
                    Need::Threshold {
                        count: 1,
                        of: vec![msp.clone()],
                    }
                } else {
                    Need::Impossible {
                        reason: format!("{msp} defines no policy {name}"),
                    }
                };
                return Approval::single(Requirement {
                    label: format!("{name} of {msp}"),
                    policy: path,
                    need,
                });
            }
            Group::Application => self.application.get(name),
            Group::Orderer => self.orderer.get(name),
            Group::Channel => self.channel.get(name),
        };
        let Some(policy) = policy else {
            return Approval::single(Requirement {
                label: format!("{name} of {scope}"),
                policy: path.clone(),
                need: Need::Impossible {
                    reason: format!("{path} does not exist"),
                },
            });
        };
        let label = match policy {
            Policy::ImplicitMeta { rule, sub_policy } if sub_policy == name => {
                format!("{} {sub_policy} of {scope}", rule.as_str())
            }
            other => format!("{name} of {scope}: {}", desired::policy_display(other)),
        };
        match (group, policy) {
            (Group::Channel, Policy::ImplicitMeta { rule, sub_policy }) => {
                let app = self.evaluate(&Group::Application, sub_policy);
                let ord = self.evaluate(&Group::Orderer, sub_policy);
                let threshold = meta_threshold(*rule, 2);
                if threshold >= 2 {
                    Approval::all_of([&app, &ord])
                } else {
                    // Either group's policy suffices: list the union of both sides' sets.
                    let need = match (single_need(&app), single_need(&ord)) {
                        (Some(a), Some(o)) => match (a.to_sets(), o.to_sets()) {
                            (Some(mut x), Some(y)) => {
                                x.extend(y);
                                sets_need(minimize(x), "neither group's policy can be met")
                            }
                            _ => Need::Unevaluated {
                                reason: "too many combinations".into(),
                            },
                        },
                        _ => Need::Unevaluated {
                            reason: "nested requirements".into(),
                        },
                    };
                    Approval::single(Requirement {
                        label,
                        policy: path,
                        need,
                    })
                }
            }
            (_, Policy::ImplicitMeta { rule, sub_policy }) => {
                let orgs = self.signers(group);
                let defined = match group {
                    Group::Orderer => ORDERER_ORG_POLICIES,
                    _ => ORG_POLICIES,
                };
                let need = if !defined.contains(&sub_policy.as_str()) {
                    Need::Impossible {
                        reason: format!(
                            "the organizations of {scope} define no policy {sub_policy}"
                        ),
                    }
                } else {
                    let count = meta_threshold(*rule, orgs.len());
                    if count > orgs.len() {
                        Need::Impossible {
                            reason: format!("{scope} has no organization"),
                        }
                    } else {
                        Need::Threshold { count, of: orgs }
                    }
                };
                Approval::single(Requirement {
                    label,
                    policy: path,
                    need,
                })
            }
            (_, Policy::Signature(sig)) => Approval::single(Requirement {
                label,
                policy: path,
                need: signature_need(sig, &self.signers(group)),
            }),
            (_, Policy::Reference(r)) => Approval::single(Requirement {
                label,
                policy: path,
                need: Need::Unevaluated {
                    reason: format!("a reference to {r}"),
                },
            }),
        }
    }

    /// The approval a chaincode endorsement policy (text) needs: a signature
    /// policy over the members, or a reference to a channel policy.
    pub fn endorsement(&self, text: &str) -> Approval {
        match parse_policy(text, true) {
            Ok(Policy::Reference(path)) => match parse_path(&path) {
                Some((g, name)) => self.evaluate(&g, &name),
                None => Approval::single(Requirement {
                    label: format!("endorsement policy {path}"),
                    policy: path.clone(),
                    need: Need::Impossible {
                        reason: format!("{path} is not a channel policy path"),
                    },
                }),
            },
            Ok(Policy::Signature(sig)) => Approval::single(Requirement {
                label: format!("endorsement policy {}", desired::signature_display(&sig)),
                policy: "endorsement".into(),
                need: signature_need(&sig, &self.members),
            }),
            Ok(Policy::ImplicitMeta { .. }) | Err(_) => Approval::single(Requirement {
                label: format!("endorsement policy {text}"),
                policy: "endorsement".into(),
                need: Need::Impossible {
                    reason: "not a signature policy or a channel policy reference".into(),
                },
            }),
        }
    }
}

fn single_need(a: &Approval) -> Option<&Need> {
    match a.requirements.as_slice() {
        [r] => Some(&r.need),
        _ => None,
    }
}

/// `/Channel/X`, `/Channel/Orderer/X`, `/Channel/Application/X`,
/// `/Channel/Application/<Org>/X`.
fn parse_path(path: &str) -> Option<(Group, String)> {
    let rest = path.strip_prefix("/Channel/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [name] => Some((Group::Channel, name.to_string())),
        ["Orderer", name] => Some((Group::Orderer, name.to_string())),
        ["Application", name] => Some((Group::Application, name.to_string())),
        ["Application", org, name] => Some((Group::Org(org.to_string()), name.to_string())),
        _ => None,
    }
}

/// A majority of `n`: more than half (Fabric's MAJORITY, the default
/// LifecycleEndorsement, the `majority` governance quorum). The one place
/// this arithmetic lives.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// How many of `n` sub-policies an implicit meta rule needs (Fabric's rule:
/// ANY 1, ALL n, MAJORITY ⌊n/2⌋+1).
pub fn meta_threshold(rule: MetaRule, n: usize) -> usize {
    match rule {
        MetaRule::Any => 1,
        MetaRule::All => n,
        MetaRule::Majority => majority(n),
    }
}

/// The organizations a signature policy needs, among those that can sign.
pub fn signature_need(sig: &SignaturePolicy, signers: &[String]) -> Need {
    let eligible: BTreeSet<&str> = signers.iter().map(String::as_str).collect();
    // Fast path: a flat OutOf over distinct organizations is a threshold.
    if let SignaturePolicy::OutOf { n, rules } = sig {
        let orgs: Vec<&str> = rules
            .iter()
            .filter_map(|r| match r {
                SignaturePolicy::SignedBy(p) => Some(p.msp_id.as_str()),
                _ => None,
            })
            .collect();
        let distinct: BTreeSet<&str> = orgs.iter().copied().collect();
        if orgs.len() == rules.len() && distinct.len() == orgs.len() {
            let of: Vec<String> = distinct
                .iter()
                .filter(|o| eligible.contains(*o))
                .map(|o| o.to_string())
                .collect();
            return if *n > of.len() {
                Need::Impossible {
                    reason: format!(
                        "{} signature(s) needed but only {} of the named organizations can sign",
                        n,
                        of.len()
                    ),
                }
            } else {
                Need::Threshold { count: *n, of }
            };
        }
    }
    match minimal_sets(sig, &eligible) {
        Some(sets) => {
            let sets = minimize(sets);
            sets_need(sets, "no set of the channel's organizations satisfies it")
        }
        None => Need::Unevaluated {
            reason: "too many combinations".into(),
        },
    }
}

/// Turns minimal sets into a need, recognising "k of U" when the sets are
/// exactly every k-subset of their union.
fn sets_need(sets: Vec<BTreeSet<String>>, impossible: &str) -> Need {
    if sets.is_empty() {
        return Need::Impossible {
            reason: impossible.to_string(),
        };
    }
    let union: BTreeSet<String> = sets.iter().flatten().cloned().collect();
    let k = sets[0].len();
    if sets.iter().all(|s| s.len() == k) && binomial(union.len(), k) == Some(sets.len()) {
        return Need::Threshold {
            count: k,
            of: union.into_iter().collect(),
        };
    }
    Need::AnyOf {
        sets: sets.into_iter().map(|s| s.into_iter().collect()).collect(),
    }
}

fn binomial(n: usize, k: usize) -> Option<usize> {
    if k > n {
        return Some(0);
    }
    let mut r: usize = 1;
    for i in 0..k.min(n - k) {
        r = r.checked_mul(n - i)? / (i + 1);
    }
    Some(r)
}

/// Every minimal organization set that satisfies `sig`, using only `eligible`
/// organizations; `None` when there would be more than [`MAX_SETS`].
fn minimal_sets(sig: &SignaturePolicy, eligible: &BTreeSet<&str>) -> Option<Vec<BTreeSet<String>>> {
    match sig {
        SignaturePolicy::SignedBy(p) => Some(if eligible.contains(p.msp_id.as_str()) {
            vec![BTreeSet::from([p.msp_id.clone()])]
        } else {
            Vec::new()
        }),
        SignaturePolicy::OutOf { n, rules } => {
            // acc[k]: sets satisfying k of the rules seen so far.
            let mut acc: Vec<Vec<BTreeSet<String>>> = vec![Vec::new(); n + 1];
            acc[0].push(BTreeSet::new());
            for rule in rules {
                let child = minimal_sets(rule, eligible)?;
                if child.is_empty() {
                    continue;
                }
                for k in (1..=*n).rev() {
                    if acc[k - 1].is_empty() {
                        continue;
                    }
                    let mut grown = Vec::new();
                    for base in &acc[k - 1] {
                        for c in &child {
                            grown.push(base.union(c).cloned().collect::<BTreeSet<String>>());
                        }
                    }
                    acc[k].extend(grown);
                    acc[k] = minimize(std::mem::take(&mut acc[k]));
                    if acc[k].len() > MAX_SETS {
                        return None;
                    }
                }
            }
            Some(std::mem::take(&mut acc[*n]))
        }
    }
}

/// Drops duplicates and supersets; sorted by size, then content.
fn minimize(mut sets: Vec<BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    sets.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    sets.dedup();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for s in sets {
        if !out.iter().any(|o| o.is_subset(&s)) {
            out.push(s);
        }
    }
    out
}

/// Whether some set of `orgs` satisfies `policy` (signature policies and
/// implicit meta policies over organization groups; references are resolved
/// by the caller).
pub fn satisfiable(policy: &Policy, orgs: &BTreeSet<String>) -> bool {
    match policy {
        Policy::Signature(sig) => sig.satisfied_by(orgs),
        Policy::ImplicitMeta { rule, sub_policy } => {
            ORG_POLICIES.contains(&sub_policy.as_str())
                && meta_threshold(*rule, orgs.len()) <= orgs.len()
        }
        Policy::Reference(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ObservedBatch, ObservedCapabilities, ObservedOrg};

    fn orgs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn channel(members: &[&str], policies: &[(&str, &str)]) -> ChannelView {
        let ch = ObservedChannel {
            config_sequence: 1,
            last_config_block: 0,
            members: members
                .iter()
                .map(|m| {
                    (
                        m.to_string(),
                        ObservedOrg {
                            anchor_peers: vec![],
                        },
                    )
                })
                .collect(),
            policies: policies
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            orderer_orgs: orgs(&["OrdererMSP"]),
            orderer_policies: BTreeMap::new(),
            channel_policies: BTreeMap::new(),
            mod_policies: BTreeMap::new(),
            capabilities: ObservedCapabilities {
                channel: "V2_0".into(),
                orderer: "V2_0".into(),
                application: "V2_5".into(),
            },
            batch: ObservedBatch {
                timeout_ms: 1,
                max_message_count: 1,
                absolute_max_bytes: 1,
                preferred_max_bytes: 1,
            },
            consenters: vec![],
            acls: BTreeMap::new(),
            last_modified: BTreeMap::new(),
        };
        ChannelView::from_observed("trade", &ch)
    }

    fn sig(text: &str) -> SignaturePolicy {
        opssc_schema::policy::parse_signature_policy(text).unwrap()
    }

    #[test]
    fn majority_admins_is_half_plus_one_of_the_members() {
        for (n, want) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)] {
            let names: Vec<String> = (1..=n).map(|i| format!("Org{i}MSP")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let view = channel(&refs, &[("Admins", "MAJORITY Admins")]);
            let a = view.application_admins();
            assert_eq!(
                a.requirements[0].need,
                Need::Threshold {
                    count: want,
                    of: names.clone()
                },
                "{n} members"
            );
        }
        let view = channel(
            &["Org1MSP", "Org2MSP", "Org3MSP"],
            &[("Admins", "MAJORITY Admins")],
        );
        assert_eq!(
            view.application_admins().to_string(),
            "2 of {Org1MSP, Org2MSP, Org3MSP} (MAJORITY Admins of channel trade)"
        );
    }

    #[test]
    fn any_and_all_rules() {
        let view = channel(&["A", "B", "C"], &[("Admins", "ANY Admins")]);
        assert_eq!(
            view.application_admins().to_string(),
            "1 of {A, B, C} (ANY Admins of channel trade)"
        );
        let view = channel(&["A", "B", "C"], &[("Admins", "ALL Admins")]);
        assert_eq!(
            view.application_admins().requirements[0].need,
            Need::Threshold {
                count: 3,
                of: orgs(&["A", "B", "C"])
            }
        );
    }

    #[test]
    fn signature_policies_give_minimal_sets_or_thresholds() {
        let members = orgs(&["A", "B", "C"]);
        assert_eq!(
            signature_need(&sig("OutOf(2, 'A.peer', 'B.peer', 'C.peer')"), &members),
            Need::Threshold {
                count: 2,
                of: members.clone()
            }
        );
        // AND(A, OR(B, C)): {A,B} or {A,C}.
        assert_eq!(
            signature_need(&sig("AND('A.peer', OR('B.peer', 'C.peer'))"), &members),
            Need::AnyOf {
                sets: vec![orgs(&["A", "B"]), orgs(&["A", "C"])]
            }
        );
        // The same org under two roles counts for both principals.
        assert_eq!(
            signature_need(&sig("AND('A.peer', 'A.admin')"), &members),
            Need::Threshold {
                count: 1,
                of: orgs(&["A"])
            }
        );
        // Nested thresholds that are equivalent to "2 of 3" are shown as such.
        assert_eq!(
            signature_need(
                &sig(
                    "OR(AND('A.admin','B.admin'), AND('A.admin','C.admin'), AND('B.admin','C.admin'))"
                ),
                &members
            ),
            Need::Threshold {
                count: 2,
                of: members.clone()
            }
        );
        // Non-members cannot sign.
        assert_eq!(
            signature_need(&sig("OutOf(2, 'A.peer', 'D.peer')"), &members),
            Need::Impossible {
                reason: "2 signature(s) needed but only 1 of the named organizations can sign"
                    .into()
            }
        );
        assert!(signature_need(&sig("AND('A.peer', 'D.peer')"), &members).is_impossible());
        assert!(matches!(
            signature_need(&sig("AND('A.peer', OR('D.peer', 'E.peer'))"), &members),
            Need::Impossible { .. }
        ));
        // The result agrees with satisfied_by on every subset.
        let policy = sig("OutOf(2, AND('A.peer', 'B.peer'), 'C.peer', OR('A.admin', 'D.admin'))");
        let Need::AnyOf { sets } = signature_need(&policy, &orgs(&["A", "B", "C", "D"])) else {
            panic!("expected sets");
        };
        let all = ["A", "B", "C", "D"];
        for mask in 0..16u32 {
            let subset: BTreeSet<String> = (0..4)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i].to_string())
                .collect();
            let by_sets = sets.iter().any(|s| s.iter().all(|o| subset.contains(o)));
            assert_eq!(by_sets, policy.satisfied_by(&subset), "{subset:?}");
        }
    }

    #[test]
    fn lifecycle_org_orderer_and_channel_groups() {
        let view = channel(
            &["Org1MSP", "Org2MSP", "Org3MSP"],
            &[
                ("Admins", "MAJORITY Admins"),
                ("LifecycleEndorsement", "MAJORITY Endorsement"),
            ],
        );
        assert_eq!(
            view.lifecycle().to_string(),
            "2 of {Org1MSP, Org2MSP, Org3MSP} (LifecycleEndorsement of channel trade: MAJORITY Endorsement)"
        );
        assert_eq!(
            view.org_admins("Org2MSP").to_string(),
            "1 of {Org2MSP} (Admins of Org2MSP)"
        );
        assert_eq!(
            view.orderer_admins().to_string(),
            "1 of {OrdererMSP} (MAJORITY Admins of the orderer organizations of channel trade)"
        );
        // /Channel/Admins = MAJORITY of {Application, Orderer} Admins = both.
        assert_eq!(view.channel_admins().requirements.len(), 2);
        // A missing policy cannot be satisfied.
        let view = channel(&["A"], &[]);
        assert!(view.lifecycle().is_impossible());
        // An implicit meta policy over a sub-policy the orgs do not define.
        let view = channel(&["A", "B"], &[("Admins", "MAJORITY Operators")]);
        assert!(view.application_admins().is_impossible());
    }

    #[test]
    fn an_approval_is_satisfied_by_enough_organizations() {
        let ch = channel(
            &["A", "B", "C"],
            &[("LifecycleEndorsement", "MAJORITY Endorsement")],
        );
        let set = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let lc = ch.lifecycle();
        assert_eq!(lc.satisfied_by(&set(&["A"])), Some(false));
        assert_eq!(lc.satisfied_by(&set(&["A", "C"])), Some(true));
        let e = ch.endorsement("AND('A.peer', OR('B.peer', 'C.peer'))");
        assert_eq!(e.satisfied_by(&set(&["B", "C"])), Some(false));
        assert_eq!(e.satisfied_by(&set(&["A", "C"])), Some(true));
    }

    #[test]
    fn mod_policy_overrides_are_followed() {
        let mut view = channel(
            &["A", "B", "C"],
            &[("Admins", "MAJORITY Admins"), ("Owners", "ALL Admins")],
        );
        view.mod_policies
            .insert("Application".into(), "Owners".into());
        assert_eq!(
            view.application_admins().requirements[0].need,
            Need::Threshold {
                count: 3,
                of: orgs(&["A", "B", "C"])
            }
        );
        view.mod_policies
            .insert("Application/A".into(), "/Channel/Application/Admins".into());
        assert_eq!(
            view.org_admins("A").requirements[0].need.to_string(),
            "2 of {A, B, C}"
        );
    }

    #[test]
    fn endorsement_references_resolve_to_channel_policies() {
        let view = channel(&["A", "B", "C"], &[("Endorsement", "MAJORITY Endorsement")]);
        assert_eq!(
            view.endorsement("/Channel/Application/Endorsement")
                .requirements[0]
                .need,
            Need::Threshold {
                count: 2,
                of: orgs(&["A", "B", "C"])
            }
        );
        assert!(
            view.endorsement("/Channel/Application/Missing")
                .is_impossible()
        );
    }
}
