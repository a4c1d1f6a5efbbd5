//! The spec in the observed vocabulary: what each setting should read on the
//! chain. The planner compares these with an [`crate::observe::Observed`];
//! [`crate::observe::converged`] writes them into a snapshot.

use std::collections::BTreeMap;

use opssc_schema::policy::{Policy, SignaturePolicy, parse_policy};
use opssc_schema::{Chaincode, Channel, PackageSource, Spec};
use serde_json::{Value, json};

use super::acl;
use crate::observe::CollectionDef;

/// The endorsement policy a chaincode definition gets when the spec names none.
pub const DEFAULT_ENDORSEMENT_REF: &str = "/Channel/Application/Endorsement";

/// The anchor peers of an organization, as `host:port`, sorted.
pub fn anchor_peers(spec: &Spec, msp: &str) -> Vec<String> {
    let mut out: Vec<String> = spec
        .organizations
        .get(msp)
        .map(|o| o.anchor_peers().map(|p| p.endpoint.to_string()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// The consortium's Raft consenters as `host:port`, sorted.
pub fn consenters(spec: &Spec) -> Vec<String> {
    let mut out: Vec<String> = spec
        .consortium
        .consenters
        .iter()
        .filter_map(|(org, node)| {
            spec.organizations
                .get(org)?
                .orderers
                .iter()
                .find(|o| &o.name == node)
                .map(|o| o.endpoint.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The orderer organizations that run consenters, sorted.
pub fn orderer_orgs(spec: &Spec) -> Vec<String> {
    let mut out: Vec<String> = spec
        .consortium
        .consenters
        .iter()
        .map(|(org, _)| org.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The channel's ACL overrides that differ from Fabric's defaults.
pub fn acls(ch: &Channel) -> BTreeMap<String, String> {
    ch.acls
        .iter()
        .filter(|(r, p)| !acl::is_default(r, p))
        .map(|(r, p)| (r.clone(), p.clone()))
        .collect()
}

/// The chaincode's endorsement policy as the definition will carry it.
pub fn endorsement_policy(cc: &Chaincode) -> String {
    cc.endorsement_policy
        .as_ref()
        .map(|p| p.text.trim().to_string())
        .unwrap_or_else(|| DEFAULT_ENDORSEMENT_REF.to_string())
}

/// The chaincode's collections, sorted by name.
pub fn collections(cc: &Chaincode) -> Vec<CollectionDef> {
    let mut out: Vec<CollectionDef> = cc
        .collections
        .iter()
        .map(|c| CollectionDef {
            name: c.name.clone(),
            policy: c.policy.text.trim().to_string(),
            required_peer_count: c.required_peer_count,
            max_peer_count: c.max_peer_count,
            block_to_live: c.block_to_live,
            member_only_read: c.member_only_read,
            member_only_write: c.member_only_write,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Where a package comes from, as JSON (part of the OpsSC chaincode payload).
pub fn package_source_json(p: &PackageSource) -> Value {
    match p {
        PackageSource::Ccaas { artifact, tls } => {
            json!({"type": "ccaas", "artifact": artifact, "tls": tls})
        }
        PackageSource::Source {
            git,
            commit,
            path,
            language,
        } => {
            json!({"type": "source", "git": git, "commit": commit, "path": path, "language": language})
        }
    }
}

/// A policy's canonical text (so `AND('A.peer','B.peer')` equals
/// `OutOf(2, 'A.peer', 'B.peer')`); unparseable text is compared as written.
pub fn canonical_policy(text: &str) -> String {
    match parse_policy(text, true) {
        Ok(p) => policy_canonical(&p),
        Err(_) => text.trim().to_string(),
    }
}

/// The canonical text of a parsed policy.
pub fn policy_canonical(p: &Policy) -> String {
    match p {
        Policy::ImplicitMeta { rule, sub_policy } => format!("{} {sub_policy}", rule.as_str()),
        Policy::Signature(s) => s.canonical(),
        Policy::Reference(path) => path.clone(),
    }
}

/// A policy for display: `AND(...)` / `OR(...)` where the gate is one, else
/// `OutOf(n, ...)`; unparseable text as written.
pub fn display_policy(text: &str) -> String {
    match parse_policy(text, true) {
        Ok(p) => policy_display(&p),
        Err(_) => text.trim().to_string(),
    }
}

/// See [`display_policy`].
pub fn policy_display(p: &Policy) -> String {
    match p {
        Policy::Signature(s) => signature_display(s),
        other => policy_canonical(other),
    }
}

/// See [`display_policy`].
pub fn signature_display(s: &SignaturePolicy) -> String {
    match s {
        SignaturePolicy::SignedBy(p) => p.to_string(),
        SignaturePolicy::OutOf { n, rules } => {
            let inner: Vec<String> = rules.iter().map(signature_display).collect();
            if *n == rules.len() && rules.len() > 1 {
                format!("AND({})", inner.join(", "))
            } else if *n == 1 {
                format!("OR({})", inner.join(", "))
            } else {
                format!("OutOf({n}, {})", inner.join(", "))
            }
        }
    }
}

/// Whether two policy texts mean the same policy.
pub fn same_policy(a: &str, b: &str) -> bool {
    canonical_policy(a) == canonical_policy(b)
}

/// Whether `text` is the majority of `members`' peers spelled out (the ops
/// channel's default Endorsement, which membership changes carry along).
pub fn is_members_majority<'a>(text: &str, members: impl IntoIterator<Item = &'a String>) -> bool {
    opssc_schema::policy::members_majority_endorsement(members)
        .is_some_and(|derived| same_policy(text, &derived))
}

/// Whether two collection lists define the same collections.
pub fn same_collections(a: &[CollectionDef], b: &[CollectionDef]) -> bool {
    let norm = |v: &[CollectionDef]| {
        let mut v: Vec<CollectionDef> = v
            .iter()
            .map(|c| CollectionDef {
                policy: canonical_policy(&c.policy),
                ..c.clone()
            })
            .collect();
        v.sort_by(|x, y| x.name.cmp(&y.name));
        v
    };
    norm(a) == norm(b)
}
