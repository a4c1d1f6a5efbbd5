//! `opssc import`'s core: a spec directory written from what one organization
//! sees of a running network.
//!
//! [`import`] turns [`Facts`] (an [`Observed`] snapshot plus what the
//! snapshot does not carry: the organizations' MSP certificates and orderer
//! endpoints from the channel configs, the consenters' TLS certificates, this
//! organization's peers from its agent configuration and the labels of the
//! packages it approved) into spec files, as `(relative path, YAML text)`;
//! [`config_facts`] extracts the certificates and endpoints from decoded
//! channel configs. The command (`commands/import.rs`) only reads the
//! network and writes the files.
//!
//! Key decisions:
//! - The output is chosen so that `opssc plan` against the same network is
//!   empty: every setting the planner compares (members, application
//!   policies, ACLs, capabilities, batch, consenters, anchor peers, chaincode
//!   definitions, package labels) is written as the chain has it, in full,
//!   rather than relying on defaults.
//! - What the chain cannot tell (where a package's source lives, the admins'
//!   SSH keys, the consortium's name, the ops channel when no OpsSC is
//!   committed, peers of other organizations that are no anchor peers) is
//!   written as a value `opssc validate` accepts, marked with a
//!   `# TODO(opssc import): …` comment, and listed in
//!   [`Imported::placeholders`].
//! - Output is deterministic: maps are sorted, file names derive from MSP
//!   IDs, channel and chaincode names (one file per organization, channel and
//!   chaincode, as `network-spec/` does).
//! - The spec model has one anchor-peer list per organization and one
//!   consenter set for the consortium; where channels differ, the reference
//!   channel (the ops channel, else the first) wins and a warning says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use opssc_fabric::configtx::{ChannelConfig, Group, ValueContent};
use opssc_schema::{Msp, OrgRole};

use crate::observe::{Observed, ObservedBatch, ObservedChannel};
use crate::plan::{acl, desired};

/// Marks every placeholder in the written YAML.
pub const TODO: &str = "# TODO(opssc import):";

/// What the import is computed from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub observed: Observed,
    /// Organizations of the channel configs, by MSP ID.
    pub orgs: BTreeMap<String, OrgFacts>,
    /// TLS server certificates (PEM) of the consenters, by `host:port`.
    pub consenter_tls: BTreeMap<String, String>,
    /// Signing certificates (PEM) of the SmartBFT consenters, by
    /// `host:port`: the identities their blocks are signed with. Empty on a
    /// Raft network; not empty, the spec says `consensus: bft`.
    pub consenter_sign_certs: BTreeMap<String, String>,
    /// The observing organization's peers as its agent configuration names
    /// them: (name, `host:port`).
    pub my_peers: Vec<(String, String)>,
    /// The label of the package the observing organization approved, by
    /// `<channel>/<chaincode>`.
    pub approved_labels: BTreeMap<String, String>,
    /// The OpsSC chaincode's name (its channel is the ops channel).
    pub ops_chaincode: String,
}

/// One organization as a channel config describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    pub role: OrgRole,
    pub msp: Option<Msp>,
    /// An orderer organization's `Endpoints` (`host:port`).
    pub orderer_endpoints: Vec<String>,
}

/// The spec files and what the operator must complete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// (path relative to the spec directory, YAML text), sorted by path.
    pub files: Vec<(String, String)>,
    /// Each placeholder written, in words (also marked `TODO(opssc import)` in the files).
    pub placeholders: Vec<String>,
    /// What the spec cannot express as the network has it.
    pub warnings: Vec<String>,
}

const HEADER: &str = "apiVersion: opssc/v1alpha1\n";

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The spec's Fabric version from the application capability (`V2_5` → `2.5`).
fn fabric_version(app_capability: &str) -> Option<String> {
    let rest = app_capability.strip_prefix('V')?;
    let mut parts = rest.split('_');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().unwrap_or("0").parse().ok()?;
    let v = format!("{major}.{minor}");
    opssc_schema::names::fabric_version_ok(&v).then_some(v)
}

/// A duration in the spec's syntax.
fn duration(ms: u64) -> String {
    if ms > 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A size in the spec's syntax.
fn bytes(n: u32) -> String {
    const MB: u32 = 1024 * 1024;
    if n > 0 && n.is_multiple_of(MB) {
        format!("{} MB", n / MB)
    } else if n > 0 && n.is_multiple_of(1024) {
        format!("{} KB", n / 1024)
    } else {
        n.to_string()
    }
}

fn write_batch(out: &mut String, indent: &str, b: &ObservedBatch) {
    let _ = writeln!(out, "{indent}batch:");
    let _ = writeln!(out, "{indent}  timeout: {}", duration(b.timeout_ms));
    let _ = writeln!(out, "{indent}  maxMessageCount: {}", b.max_message_count);
    let _ = writeln!(
        out,
        "{indent}  absoluteMaxBytes: {}",
        q(&bytes(b.absolute_max_bytes))
    );
    let _ = writeln!(
        out,
        "{indent}  preferredMaxBytes: {}",
        q(&bytes(b.preferred_max_bytes))
    );
}

/// The first DNS label of an endpoint's host, when it is a valid node name.
fn node_name(endpoint: &str) -> Option<String> {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    let first = host.split('.').next()?;
    (opssc_schema::names::check_node_name(first).is_ok() && first.parse::<u8>().is_err())
        .then(|| first.to_string())
}

/// A name not yet in `used`: `preferred`, else `<fallback><i>`.
fn unique(preferred: Option<String>, fallback: &str, used: &mut BTreeSet<String>) -> String {
    let name = preferred.filter(|n| !used.contains(n)).unwrap_or_else(|| {
        (0..)
            .map(|i| format!("{fallback}{i}"))
            .find(|n| !used.contains(n))
            .expect("an unused name")
    });
    used.insert(name.clone());
    name
}

/// Document names of the organizations: `Org1MSP` → `org1`.
fn org_doc_names(msps: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut used = BTreeSet::new();
    msps.iter()
        .map(|msp| {
            let base = msp.strip_suffix("MSP").unwrap_or(msp);
            let slug: String = base
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let slug = slug.trim_matches('-').to_string();
            let preferred = (!slug.is_empty()).then_some(slug);
            let name = unique(preferred, "org", &mut used);
            (msp.clone(), name)
        })
        .collect()
}

fn write_certs(out: &mut String, key: &str, pems: &[String]) {
    if pems.is_empty() {
        return;
    }
    let _ = writeln!(out, "    {key}:");
    for pem in pems {
        let _ = writeln!(out, "      - pem: |");
        for line in pem.trim().lines() {
            let _ = writeln!(out, "          {line}");
        }
    }
}

fn write_msp(out: &mut String, msp: &Msp) {
    let _ = writeln!(out, "  msp:");
    write_certs(out, "caCerts", &msp.ca_certs);
    write_certs(out, "intermediateCerts", &msp.intermediate_certs);
    write_certs(out, "tlsCaCerts", &msp.tls_ca_certs);
    write_certs(out, "adminCerts", &msp.admin_certs);
    let _ = writeln!(out, "    nodeOus: {}", msp.node_ous);
}

/// The network as spec files, with its placeholders and warnings.
pub fn import(facts: &Facts) -> Imported {
    let obs = &facts.observed;
    let mut out = Imported::default();

    // The ops channel: where the OpsSC chaincode is committed.
    let found_ops = obs
        .chaincodes
        .keys()
        .filter_map(|k| k.split_once('/'))
        .find(|(ch, name)| *name == facts.ops_chaincode && obs.channels.contains_key(*ch))
        .map(|(ch, _)| ch.to_string());
    let reference: Option<(&String, &ObservedChannel)> = found_ops
        .as_ref()
        .and_then(|n| obs.channels.get_key_value(n))
        .or_else(|| obs.channels.iter().next());

    // Organizations: every member and orderer organization of any channel.
    let mut peer_msps = BTreeSet::new();
    let mut orderer_msps = BTreeSet::new();
    for ch in obs.channels.values() {
        peer_msps.extend(ch.members.keys().cloned());
        orderer_msps.extend(ch.orderer_orgs.iter().cloned());
    }
    for (msp, f) in &facts.orgs {
        if f.role == OrgRole::Orderer && !peer_msps.contains(msp) {
            orderer_msps.insert(msp.clone());
        }
    }
    let all_msps: BTreeSet<String> = peer_msps.union(&orderer_msps).cloned().collect();
    let doc_names = org_doc_names(&all_msps);

    // Anchor peers per organization, from the reference channel first.
    let mut anchors: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let ordered_channels: Vec<(&String, &ObservedChannel)> = reference
        .into_iter()
        .chain(
            obs.channels
                .iter()
                .filter(|(n, _)| Some(*n) != reference.map(|r| r.0)),
        )
        .collect();
    for (chname, ch) in &ordered_channels {
        for (msp, o) in &ch.members {
            let mut have = o.anchor_peers.clone();
            have.sort();
            match anchors.get(msp.as_str()) {
                None => {
                    anchors.insert(msp, have);
                }
                Some(first) if *first != have => out.warnings.push(format!(
                    "{msp} has anchor peers [{}] on channel {chname} but [{}] on {}; the spec has one list per organization, so `opssc plan` will propose to align {chname}",
                    have.join(", "),
                    first.join(", "),
                    reference.map_or("", |r| r.0.as_str())
                )),
                Some(_) => {}
            }
        }
    }

    // Consenters: the reference channel's, assigned to orderer organizations.
    let consenters: Vec<String> = reference
        .map(|(_, c)| {
            let mut v = c.consenters.clone();
            v.sort();
            v
        })
        .unwrap_or_default();
    for (chname, ch) in &ordered_channels {
        let mut have = ch.consenters.clone();
        have.sort();
        if have != consenters {
            out.warnings.push(format!(
                "channel {chname} has the consenters [{}], the reference channel [{}]; the spec has one consenter set, so `opssc plan` will propose to align {chname}",
                have.join(", "),
                consenters.join(", ")
            ));
        }
    }
    let mut consenter_org: BTreeMap<&str, String> = BTreeMap::new();
    for c in &consenters {
        let by_endpoint = orderer_msps.iter().find(|m| {
            facts
                .orgs
                .get(*m)
                .is_some_and(|f| f.orderer_endpoints.contains(c))
        });
        let org = by_endpoint.or(orderer_msps.iter().next());
        match org {
            Some(org) => {
                if by_endpoint.is_none() && orderer_msps.len() > 1 {
                    out.warnings.push(format!(
                        "consenter {c} is no orderer organization's endpoint; it is written under {org}: move it if another organization runs it"
                    ));
                }
                consenter_org.insert(c, org.clone());
            }
            None => out.warnings.push(format!(
                "consenter {c} belongs to no orderer organization of the channel configs; it is left out"
            )),
        }
    }

    // Organization documents; the orderer node names are needed by the consortium.
    let mut consenter_refs: Vec<(String, String)> = Vec::new();
    for msp in &all_msps {
        let doc = &doc_names[msp];
        let facts_org = facts.orgs.get(msp);
        let is_orderer = orderer_msps.contains(msp) && !peer_msps.contains(msp);
        let mut y = String::new();
        y.push_str(HEADER);
        y.push_str("kind: Organization\nmetadata:\n");
        let _ = writeln!(y, "  name: {}", q(doc));
        y.push_str("spec:\n");
        let _ = writeln!(y, "  mspId: {}", q(msp));
        if is_orderer {
            y.push_str("  role: orderer\n");
        }
        match facts_org.and_then(|f| f.msp.as_ref()) {
            Some(m) => write_msp(&mut y, m),
            None => out.warnings.push(format!(
                "no MSP definition of {msp} was read: its document has no `msp:` (opssc validate warns)"
            )),
        }
        let mut used = BTreeSet::new();
        if is_orderer {
            let mut endpoints: BTreeSet<String> = consenter_org
                .iter()
                .filter(|(_, o)| *o == msp)
                .map(|(c, _)| c.to_string())
                .collect();
            if let Some(f) = facts_org {
                endpoints.extend(f.orderer_endpoints.iter().cloned());
            }
            y.push_str("  orderers:\n");
            if endpoints.is_empty() {
                let name = unique(None, "orderer", &mut used);
                let _ = writeln!(
                    y,
                    "    {TODO} no orderer node of {msp} is known from the chain; replace with its nodes"
                );
                let _ = writeln!(y, "    - name: {name}");
                let _ = writeln!(
                    y,
                    "      endpoint: {}",
                    q(&format!("{name}.{doc}.invalid:7050"))
                );
                out.placeholders.push(format!(
                    "orgs/{doc}.yaml: {msp} has no orderer node the chain names; a placeholder node {name} is written"
                ));
            }
            for e in &endpoints {
                let name = unique(node_name(e), "orderer", &mut used);
                let _ = writeln!(y, "    - name: {name}");
                let _ = writeln!(y, "      endpoint: {}", q(e));
                for (key, pem) in [
                    ("tlsCert", facts.consenter_tls.get(e)),
                    ("signCert", facts.consenter_sign_certs.get(e)),
                ] {
                    let Some(pem) = pem else { continue };
                    let _ = writeln!(y, "      {key}:\n        pem: |");
                    for line in pem.trim().lines() {
                        let _ = writeln!(y, "          {line}");
                    }
                }
                if consenter_org.get(e.as_str()) == Some(msp) {
                    consenter_refs.push((msp.clone(), name));
                }
            }
        } else {
            let mut peers: Vec<(String, String, bool)> = Vec::new();
            let mut left: Vec<String> = anchors.get(msp.as_str()).cloned().unwrap_or_default();
            if *msp == obs.observed_by {
                // Our own peers keep the names of the agent configuration
                // (the planner matches them with what they joined and installed).
                let mut mine: Vec<(String, String)> = facts.my_peers.clone();
                mine.sort();
                let mut unmatched = Vec::new();
                for (name, address) in &mine {
                    used.insert(name.clone());
                    let hit = left.iter().position(|a| {
                        a == address || node_name(a).as_deref() == Some(name.as_str())
                    });
                    match hit {
                        Some(i) => peers.push((name.clone(), left.remove(i), true)),
                        None => unmatched.push((name.clone(), address.clone())),
                    }
                }
                for (name, address) in unmatched {
                    if left.is_empty() {
                        peers.push((name, address, false));
                    } else {
                        peers.push((name, left.remove(0), true));
                    }
                }
                if !left.is_empty() {
                    out.warnings.push(format!(
                        "{msp}'s anchor peers {} are none of the peers of the agent configuration; they are written as further peers, which `opssc plan` expects to join this organization's channels",
                        left.join(", ")
                    ));
                }
            }
            for a in left {
                let name = unique(node_name(&a), "peer", &mut used);
                peers.push((name, a, true));
            }
            y.push_str("  peers:\n");
            if peers.is_empty() {
                let name = unique(None, "peer", &mut used);
                let _ = writeln!(
                    y,
                    "    {TODO} {msp} has no anchor peer, so the chain names none of its peers; replace with its peers (opssc validate fails until one is an anchor)"
                );
                let _ = writeln!(y, "    - name: {name}");
                let _ = writeln!(
                    y,
                    "      endpoint: {}",
                    q(&format!("{name}.{doc}.invalid:7051"))
                );
                out.placeholders.push(format!(
                    "orgs/{doc}.yaml: {msp} has no anchor peer; a placeholder peer {name} (no anchor) is written, and `opssc validate` fails until an anchor peer is named (the spec requires one per channel member; an invented one would be written to the chain)"
                ));
            }
            peers.sort();
            for (name, endpoint, anchor) in peers {
                let _ = writeln!(y, "    - name: {name}");
                let _ = writeln!(y, "      endpoint: {}", q(&endpoint));
                if anchor {
                    y.push_str("      anchor: true\n");
                }
            }
            let _ = writeln!(
                y,
                "  {TODO} the SSH keys {msp}'s admins sign spec commits with are not on the chain"
            );
            y.push_str("  admins: []\n");
            out.placeholders.push(format!(
                "orgs/{doc}.yaml: admins of {msp} (the SSH public keys that sign spec commits)"
            ));
        }
        out.files.push((format!("orgs/{doc}.yaml"), y));
    }
    consenter_refs.sort();

    // Consortium.
    let mut y = String::new();
    y.push_str(HEADER);
    y.push_str("kind: Consortium\nmetadata:\n");
    let _ = writeln!(
        y,
        "  {TODO} the consortium's name is not on the chain; rename at will"
    );
    y.push_str("  name: imported\nspec:\n");
    let app_cap = reference.map_or("", |r| r.1.capabilities.application.as_str());
    // A channel capability only Fabric 3 runs (V3_0) says more than the
    // application capability, which 3.x left at V2_5.
    let v3_channel = obs.channels.values().find_map(|c| {
        opssc_schema::FabricVersion::oldest_with_channel_capability(&c.capabilities.channel)
            .filter(|v| v.is_v3())
            .map(|v| (c.capabilities.channel.as_str(), v))
    });
    if let Some((cap, v)) = v3_channel {
        let _ = writeln!(
            y,
            "  # from the channel capability {cap}: the release the nodes run may be newer"
        );
        let _ = writeln!(y, "  fabricVersion: {}", q(v.as_str()));
    } else {
        match fabric_version(app_cap) {
            Some(v) => {
                let _ = writeln!(
                    y,
                    "  # from the application capability {app_cap}: the release the peers run may be newer"
                );
                let _ = writeln!(y, "  fabricVersion: {}", q(&v));
            }
            None => {
                let _ = writeln!(
                    y,
                    "  {TODO} no supported Fabric version follows from the capability {app_cap:?}; set the release the network runs"
                );
                y.push_str("  fabricVersion: \"2.5\"\n");
                out.placeholders
                    .push("consortium.yaml: fabricVersion (written as 2.5)".to_string());
            }
        }
    }
    match (&found_ops, reference) {
        (Some(ops), _) => {
            let _ = writeln!(y, "  opsChannel: {}", q(ops));
        }
        (None, Some((first, _))) => {
            let _ = writeln!(
                y,
                "  {TODO} no channel has the OpsSC chaincode {:?}: name the ops channel to create (its Channel document is needed too)",
                facts.ops_chaincode
            );
            let _ = writeln!(y, "  opsChannel: {}", q(first));
            out.placeholders.push(format!(
                "consortium.yaml: opsChannel — no channel runs the OpsSC chaincode {}; {first} is written in its place",
                facts.ops_chaincode
            ));
        }
        (None, None) => {
            let _ = writeln!(
                y,
                "  {TODO} this organization's peers joined no channel: name the ops channel and add its Channel document"
            );
            y.push_str("  opsChannel: ops\n");
            out.placeholders.push(
                "consortium.yaml: opsChannel — no channel was read; `opssc validate` fails until a Channel document `ops` exists".to_string(),
            );
        }
    }
    // The OpsSC's registry holds the governance the consortium agreed on:
    // written as it is, a plan against the live network files no
    // GovernanceChange. Without a registry there is nothing to read.
    let governance_doc = obs.governance.as_ref().map(governance_document);
    if governance_doc.is_some() {
        y.push_str("  governance: registered\n");
    } else {
        let _ = writeln!(
            y,
            "  {TODO} governance rules are not read from the chain; without `governance:` every change needs what Fabric's policies require"
        );
        out.placeholders.push(
            "consortium.yaml: governance (none written: Fabric's policies decide)".to_string(),
        );
    }
    let consensus = if facts.consenter_sign_certs.is_empty() {
        "etcdraft"
    } else {
        "bft"
    };
    let _ = writeln!(y, "  orderer:\n    consensus: {consensus}\n    consenters:");
    if consenter_refs.is_empty() {
        y.push_str("      []\n");
    }
    for (org, node) in &consenter_refs {
        let _ = writeln!(y, "      - org: {}", q(org));
        let _ = writeln!(y, "        node: {}", q(node));
    }
    if let Some((_, ch)) = reference {
        write_batch(&mut y, "    ", &ch.batch);
    }
    if let Some(doc) = governance_doc {
        y.push_str(&doc);
    }
    out.files.push(("consortium.yaml".to_string(), y));

    // Channels.
    for (name, ch) in &obs.channels {
        let mut y = String::new();
        y.push_str(HEADER);
        y.push_str("kind: Channel\nmetadata:\n");
        let _ = writeln!(y, "  name: {}", q(name));
        y.push_str("spec:\n  members:\n");
        for m in ch.members.keys() {
            let _ = writeln!(y, "    - {}", q(m));
        }
        if !ch.policies.is_empty() {
            y.push_str("  policies:\n");
            for (p, text) in &ch.policies {
                let _ = writeln!(y, "    {}: {}", q(p), q(text));
            }
        }
        y.push_str("  capabilities:\n");
        let _ = writeln!(y, "    channel: {}", q(&ch.capabilities.channel));
        let _ = writeln!(y, "    orderer: {}", q(&ch.capabilities.orderer));
        let _ = writeln!(y, "    application: {}", q(&ch.capabilities.application));
        write_batch(&mut y, "  ", &ch.batch);
        let acls: BTreeMap<&String, &String> = ch
            .acls
            .iter()
            .filter(|(r, p)| !acl::is_default(r, p))
            .collect();
        if !acls.is_empty() {
            y.push_str("  acls:\n");
            for (r, p) in acls {
                let _ = writeln!(y, "    {}: {}", q(r), q(p));
            }
        }
        out.files.push((format!("channels/{name}.yaml"), y));
    }

    // Chaincodes (not the OpsSC itself: opssc manages it apart from the spec).
    let defs: Vec<(&str, &str, &crate::observe::CommittedDefinition)> = obs
        .chaincodes
        .iter()
        .filter_map(|(k, d)| k.split_once('/').map(|(c, n)| (c, n, d)))
        .filter(|(c, n, _)| !(Some(*c) == found_ops.as_deref() && *n == facts.ops_chaincode))
        .collect();
    let mut per_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, n, _) in &defs {
        *per_name.entry(n).or_default() += 1;
    }
    for (channel, name, def) in defs {
        let doc = if per_name[name] > 1 {
            format!("{name}-{channel}")
        } else {
            name.to_string()
        };
        let mut y = String::new();
        y.push_str(HEADER);
        y.push_str("kind: Chaincode\nmetadata:\n");
        let _ = writeln!(y, "  name: {}", q(&doc));
        y.push_str("spec:\n");
        let _ = writeln!(y, "  channel: {}", q(channel));
        if doc != name {
            let _ = writeln!(y, "  name: {}", q(name));
        }
        let _ = writeln!(y, "  version: {}", q(&def.version));
        y.push_str("  package:\n");
        let key = Observed::chaincode_key(channel, name);
        let default_label = format!("{name}_{}", def.version);
        match facts.approved_labels.get(&key) {
            Some(l) if *l != default_label => {
                let _ = writeln!(y, "    label: {}", q(l));
            }
            Some(_) => {}
            None => out.warnings.push(format!(
                "{key}: {} approved no package of it, so its label is assumed to be {default_label}",
                obs.observed_by
            )),
        }
        let _ = writeln!(
            y,
            "    {TODO} where the package comes from is not on the chain: keep `ccaas` for a chaincode service, or write `source: {{git, commit, path}}`"
        );
        y.push_str("    ccaas: {}\n");
        out.placeholders.push(format!(
            "chaincodes/{doc}.yaml: the package source of {key} (written as ccaas)"
        ));
        if def.endorsement_policy != desired::DEFAULT_ENDORSEMENT_REF {
            let _ = writeln!(y, "  endorsementPolicy: {}", q(&def.endorsement_policy));
        }
        let mut collections = def.collections.clone();
        collections.sort_by(|a, b| a.name.cmp(&b.name));
        if !collections.is_empty() {
            y.push_str("  collections:\n");
        }
        for c in &collections {
            let _ = writeln!(y, "    - name: {}", q(&c.name));
            let _ = writeln!(y, "      policy: {}", q(&c.policy));
            let _ = writeln!(y, "      requiredPeerCount: {}", c.required_peer_count);
            let _ = writeln!(y, "      maxPeerCount: {}", c.max_peer_count);
            let _ = writeln!(y, "      blockToLive: {}", c.block_to_live);
            let _ = writeln!(y, "      memberOnlyRead: {}", c.member_only_read);
            let _ = writeln!(y, "      memberOnlyWrite: {}", c.member_only_write);
        }
        if def.init_required {
            y.push_str("  initRequired: true\n");
        }
        out.files.push((format!("chaincodes/{doc}.yaml"), y));
    }

    out.files.sort();
    out.placeholders.sort();
    out
}

fn pems(certs: &[Vec<u8>]) -> Vec<String> {
    certs
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string() + "\n")
        .collect()
}

/// The registry's governance as a `Governance` document named `registered`
/// (a YAML document to append to `consortium.yaml`), every rule explicit so
/// that the spec states exactly what the OpsSC enforces.
fn governance_document(g: &opssc_chaincode::model::Governance) -> String {
    use opssc_chaincode::model::QuorumLevel;
    let level = |l: QuorumLevel| match l {
        QuorumLevel::Policy => "policy",
        QuorumLevel::Majority => "majority",
        QuorumLevel::TwoThirds => "twoThirds",
        QuorumLevel::All => "all",
    };
    let secs = g.voting_period_secs.max(0) as u64;
    let deadline = if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format!("{secs}s")
    };
    let q = &g.quorum;
    let mut y = format!(
        "---\napiVersion: opssc/v1alpha1\nkind: Governance\nmetadata:\n  name: registered\nspec:\n  \
         # read from the OpsSC registry on the ops channel\n  votingDeadline: {deadline}\n  rules:\n"
    );
    for (change, l) in [
        ("chaincode", q.chaincode),
        ("channelCreate", q.channel_create),
        ("channelUpdate", q.channel_update),
        ("orgAdd", q.org_add),
        ("orgRemove", q.org_remove),
    ] {
        let _ = writeln!(y, "    - change: {change}\n      quorum: {}", level(l));
    }
    y
}

/// An organization group of a channel config, as import facts.
fn org_facts(group: &Group, role: OrgRole) -> Option<(String, OrgFacts)> {
    let m = group.fabric_msp()?;
    let orderer_endpoints = match group.values.get("Endpoints").map(|v| &v.content) {
        Some(ValueContent::Endpoints(e)) => e.clone(),
        _ => Vec::new(),
    };
    Some((
        m.name.clone(),
        OrgFacts {
            role,
            msp: Some(Msp {
                ca_certs: pems(&m.root_certs),
                intermediate_certs: pems(&m.intermediate_certs),
                tls_ca_certs: pems(&m.tls_root_certs),
                admin_certs: pems(&m.admins),
                node_ous: m.fabric_node_ous.as_ref().is_some_and(|n| n.enable),
            }),
            orderer_endpoints,
        },
    ))
}

/// What the decoded channel configs say beyond the observation: the
/// organizations (MSP certificates, orderer endpoints) by MSP ID and the
/// consenters' TLS server certificates by `host:port` (Raft and SmartBFT
/// alike; [`bft_sign_certs`] has the SmartBFT identities).
pub fn config_facts(
    configs: &BTreeMap<String, ChannelConfig>,
) -> (BTreeMap<String, OrgFacts>, BTreeMap<String, String>) {
    let mut orgs = BTreeMap::new();
    let mut tls = BTreeMap::new();
    for config in configs.values() {
        for (group, role) in [
            (config.application(), OrgRole::Peer),
            (config.orderer(), OrgRole::Orderer),
        ] {
            for g in group.iter().flat_map(|g| g.groups.values()) {
                if let Some((msp, f)) = org_facts(g, role) {
                    orgs.entry(msp).or_insert(f);
                }
            }
        }
        let raft = config.etcdraft().into_iter().flat_map(|m| {
            m.consenters
                .iter()
                .map(|c| (&c.host, c.port, &c.server_tls_cert))
        });
        let bft = config
            .bft_consenters()
            .into_iter()
            .flatten()
            .map(|c| (&c.host, c.port, &c.server_tls_cert));
        for (host, port, cert) in raft.chain(bft) {
            tls.entry(format!("{host}:{port}"))
                .or_insert_with(|| pem_text(cert));
        }
    }
    (orgs, tls)
}

/// The SmartBFT consenters' signing certificates by `host:port`, from the
/// channels' `Orderers` values; empty on a Raft network.
pub fn bft_sign_certs(configs: &BTreeMap<String, ChannelConfig>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in configs
        .values()
        .filter_map(ChannelConfig::bft_consenters)
        .flatten()
    {
        out.entry(format!("{}:{}", c.host, c.port))
            .or_insert_with(|| pem_text(&c.identity));
    }
    out
}

/// A PEM certificate as the spec writes it: trimmed, one final newline.
fn pem_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string() + "\n"
}

#[cfg(test)]
mod tests;
