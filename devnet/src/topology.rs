//! What network to start: organizations, node counts and channels.
//!
//! [`Topology`] is deliberately plain data; [`Topology::from_spec`] derives it
//! from a validated network spec (what `opssc dev up --spec` runs), and
//! [`Topology::reference`] is the consortium the tests use.
//!
//! Key decision: every channel carries its [`ChannelSettings`] — the
//! application policies, capabilities, batch settings and ACLs its genesis
//! block gets. From a spec they are the spec's own values, so a devnet
//! started from a spec plans empty against that spec; the reference topology
//! has exactly the values `network-spec/` states (a test keeps them equal),
//! so the devnet has no settings of its own that a spec does not show.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{DevnetError, Result};

/// The network to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub orderer_org: OrdererOrgDef,
    pub peer_orgs: Vec<PeerOrgDef>,
    pub channels: Vec<ChannelDef>,
    /// The channel the OpsSC chaincode runs on; one of `channels`.
    pub ops_channel: String,
    /// The Fabric release line the nodes run (the binaries built for it,
    /// see [`crate::binaries::fabric_binaries_for`]). Default 2.5.
    #[serde(default)]
    pub fabric: opssc_schema::FabricVersion,
}

/// The ordering organization and how many Raft orderers it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdererOrgDef {
    /// Short name, e.g. `orderer`.
    pub name: String,
    /// e.g. `OrdererMSP`.
    pub msp_id: String,
    /// e.g. `example.com`; orderers are `orderer0.example.com`, ...
    pub domain: String,
    /// Number of Raft orderers (1 or more; 3 tolerates one failure).
    pub orderers: usize,
}

/// A peer organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerOrgDef {
    /// Short name, e.g. `org1`.
    pub name: String,
    /// e.g. `Org1MSP`.
    pub msp_id: String,
    /// e.g. `org1.example.com`; peers are `peer0.org1.example.com`, ...
    pub domain: String,
    /// Number of peers (1 or more). `peer0` is the anchor peer.
    pub peers: usize,
}

/// An application channel, its member organizations (MSP IDs) and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelDef {
    pub name: String,
    pub members: Vec<String>,
    /// What the genesis block sets besides members, orderers and anchor peers.
    #[serde(default)]
    pub settings: ChannelSettings,
}

/// A channel's settings that the spec states and the planner compares with
/// the chain: application policies, capabilities, block cutting and ACLs.
/// (The organizations' own policies, the channel and orderer group policies
/// and the Raft options are the devnet's, as configtxgen's sample profile has
/// them; the spec does not describe them.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSettings {
    /// Application policies by name, as the spec writes them: implicit meta
    /// (`MAJORITY Admins`) or signature (`OR('Org1MSP.peer')`). Must include
    /// `Readers`, `Writers` and `Admins`.
    pub policies: BTreeMap<String, String>,
    /// Capability levels, e.g. `V2_0`.
    pub channel_capability: String,
    pub orderer_capability: String,
    pub application_capability: String,
    /// How long the orderer waits before cutting a block, in milliseconds.
    pub batch_timeout_ms: u64,
    pub max_message_count: u32,
    pub absolute_max_bytes: u32,
    pub preferred_max_bytes: u32,
    /// ACL overrides: resource (`qscc/GetChainInfo`) → policy path.
    #[serde(default)]
    pub acls: BTreeMap<String, String>,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings::reference()
    }
}

impl ChannelSettings {
    /// What `network-spec/` gives its channels: Fabric's default application
    /// policies (Readers `ANY Readers`, Writers `ANY Writers`, Admins
    /// `MAJORITY Admins`, Endorsement and LifecycleEndorsement `MAJORITY
    /// Endorsement`), capabilities `V2_0` / `V2_0` / `V2_5`, a block every
    /// 500 ms or 100 messages (10 MiB at most, 2 MiB preferred), no ACL
    /// overrides.
    pub fn reference() -> ChannelSettings {
        let policies = [
            ("Readers", "ANY Readers"),
            ("Writers", "ANY Writers"),
            ("Admins", "MAJORITY Admins"),
            ("Endorsement", "MAJORITY Endorsement"),
            ("LifecycleEndorsement", "MAJORITY Endorsement"),
        ];
        ChannelSettings {
            policies: policies
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            channel_capability: "V2_0".into(),
            orderer_capability: "V2_0".into(),
            application_capability: "V2_5".into(),
            batch_timeout_ms: 500,
            max_message_count: 100,
            absolute_max_bytes: 10 * 1024 * 1024,
            preferred_max_bytes: 2 * 1024 * 1024,
            acls: BTreeMap::new(),
        }
    }

    /// [`ChannelSettings::reference`] for the ops channel of `members`:
    /// its Endorsement (the OpsSC's endorsement policy) is the members'
    /// majority spelled out, as a spec's ops channel has it by default
    /// (`opssc_schema::policy::members_majority_endorsement`).
    pub fn reference_ops(members: &[String]) -> ChannelSettings {
        let mut settings = ChannelSettings::reference();
        if let Some(text) = opssc_schema::policy::members_majority_endorsement(members) {
            settings.policies.insert("Endorsement".into(), text);
        }
        settings
    }

    /// The settings of a validated spec's channel (its defaults filled in).
    pub fn from_spec(ch: &opssc_schema::Channel) -> ChannelSettings {
        ChannelSettings {
            policies: ch
                .policies
                .iter()
                .map(|(k, v)| (k.clone(), v.text.trim().to_string()))
                .collect(),
            channel_capability: ch.capabilities.channel.clone(),
            orderer_capability: ch.capabilities.orderer.clone(),
            application_capability: ch.capabilities.application.clone(),
            batch_timeout_ms: ch.batch.timeout_ms,
            max_message_count: ch.batch.max_message_count,
            absolute_max_bytes: ch.batch.absolute_max_bytes,
            preferred_max_bytes: ch.batch.preferred_max_bytes,
            acls: ch.acls.clone(),
        }
    }

    /// The batch timeout as a Go duration (`500ms`, `2s`).
    pub fn batch_timeout(&self) -> String {
        let ms = self.batch_timeout_ms;
        if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    }

    /// What Fabric would refuse in a genesis block, said plainly.
    fn check(&self) -> std::result::Result<(), String> {
        for required in ["Readers", "Writers", "Admins"] {
            if !self.policies.contains_key(required) {
                return Err(format!(
                    "it has no {required} application policy, which Fabric requires"
                ));
            }
        }
        for (name, text) in &self.policies {
            crate::config::policy_rule(text)
                .map_err(|e| format!("its {name} policy {text:?} is not a policy: {e}"))?;
        }
        if self.batch_timeout_ms == 0 {
            return Err("its batch timeout must be positive".into());
        }
        if self.max_message_count == 0 {
            return Err("its batch max message count must be at least 1".into());
        }
        Ok(())
    }
}

impl Topology {
    /// `n_orgs` peer organizations `Org1MSP` ... `Org<n>MSP` with one peer each,
    /// one `OrdererMSP` organization with one orderer, and the channels `ops`
    /// (the ops channel) and `trade`, both with every organization and
    /// [`ChannelSettings::reference`]: the network `network-spec/` describes.
    pub fn reference(n_orgs: usize) -> Topology {
        let peer_orgs: Vec<PeerOrgDef> = (1..=n_orgs)
            .map(|i| PeerOrgDef {
                name: format!("org{i}"),
                msp_id: format!("Org{i}MSP"),
                domain: format!("org{i}.example.com"),
                peers: 1,
            })
            .collect();
        let members: Vec<String> = peer_orgs.iter().map(|o| o.msp_id.clone()).collect();
        Topology {
            orderer_org: OrdererOrgDef {
                name: "orderer".into(),
                msp_id: "OrdererMSP".into(),
                domain: "example.com".into(),
                orderers: 1,
            },
            peer_orgs,
            channels: vec![
                ChannelDef {
                    name: "ops".into(),
                    members: members.clone(),
                    settings: ChannelSettings::reference_ops(&members),
                },
                ChannelDef {
                    name: "trade".into(),
                    members,
                    settings: ChannelSettings::reference(),
                },
            ],
            ops_channel: "ops".into(),
            fabric: opssc_schema::FabricVersion::V2_5,
        }
    }

    /// The network a validated spec describes: its peer organizations (name
    /// from `metadata.name`, the domain from the first node's endpoint host
    /// `<node>.<domain>`, else `<name>.example.com`), its one orderer
    /// organization with one Raft orderer per consenter, its channels with
    /// their members and its ops channel. Shapes the devnet cannot run are
    /// refused with the reason: several orderer organizations, nodes not named
    /// `peer0, peer1, ...` / `orderer0, orderer1, ...`, an anchor peer other
    /// than `peer0`, orderer nodes that are not consenters.
    pub fn from_spec(spec: &opssc_schema::Spec) -> Result<Topology> {
        use opssc_schema::OrgRole;
        let bad = |msg: String| {
            Err(DevnetError::Topology(format!(
                "the spec in {}: {msg}",
                spec.root.display()
            )))
        };
        let domain_of = |name: &str, first: Option<(&str, &str)>| -> String {
            first
                .and_then(|(node, host)| host.strip_prefix(&format!("{node}.")).map(str::to_string))
                .filter(|d| d.split('.').all(is_simple_name))
                .unwrap_or_else(|| format!("{name}.example.com"))
        };
        let orderer_orgs: Vec<_> = spec
            .organizations
            .values()
            .filter(|o| o.role == OrgRole::Orderer)
            .collect();
        let [oo] = orderer_orgs.as_slice() else {
            return bad(format!(
                "the devnet runs exactly one orderer organization, the spec has {}",
                orderer_orgs.len()
            ));
        };
        for (i, node) in oo.orderers.iter().enumerate() {
            if node.name != format!("orderer{i}") {
                return bad(format!(
                    "{}: the devnet names orderer nodes orderer0, orderer1, ...; node {} is {:?}",
                    oo.msp_id, i, node.name
                ));
            }
            if !spec
                .consortium
                .consenters
                .iter()
                .any(|(org, n)| org == &oo.msp_id && n == &node.name)
            {
                return bad(format!(
                    "{}: orderer node {} is not a consenter; the devnet runs every orderer as a Raft consenter",
                    oo.msp_id, node.name
                ));
            }
        }
        let mut peer_orgs = Vec::new();
        for org in spec
            .organizations
            .values()
            .filter(|o| o.role == OrgRole::Peer)
        {
            for (i, p) in org.peers.iter().enumerate() {
                if p.name != format!("peer{i}") {
                    return bad(format!(
                        "{}: the devnet names peers peer0, peer1, ...; peer {i} is {:?}",
                        org.msp_id, p.name
                    ));
                }
                if p.anchor != (i == 0) {
                    return bad(format!(
                        "{}: the devnet makes peer0, and only peer0, the anchor peer; {} has anchor: {}",
                        org.msp_id, p.name, p.anchor
                    ));
                }
            }
            peer_orgs.push(PeerOrgDef {
                name: org.name.clone(),
                msp_id: org.msp_id.clone(),
                domain: domain_of(
                    &org.name,
                    org.peers
                        .first()
                        .map(|p| (p.name.as_str(), p.endpoint.host.as_str())),
                ),
                peers: org.peers.len(),
            });
        }
        let topology = Topology {
            orderer_org: OrdererOrgDef {
                name: oo.name.clone(),
                msp_id: oo.msp_id.clone(),
                domain: domain_of(
                    &oo.name,
                    oo.orderers
                        .first()
                        .map(|n| (n.name.as_str(), n.endpoint.host.as_str())),
                ),
                orderers: oo.orderers.len(),
            },
            peer_orgs,
            channels: spec
                .channels
                .values()
                .map(|c| ChannelDef {
                    name: c.name.clone(),
                    members: c.members.clone(),
                    settings: ChannelSettings::from_spec(c),
                })
                .collect(),
            ops_channel: spec.consortium.ops_channel.clone(),
            fabric: spec.consortium.fabric(),
        };
        topology.validate().map_err(|e| match e {
            DevnetError::Topology(m) => {
                DevnetError::Topology(format!("the spec in {}: {m}", spec.root.display()))
            }
            e => e,
        })?;
        Ok(topology)
    }

    /// The same topology on Fabric `fabric`. Channels whose channel
    /// capability is the old version's default get the new one's (V3_0 on
    /// Fabric 3), as a spec naming no capability would.
    pub fn with_fabric(mut self, fabric: opssc_schema::FabricVersion) -> Topology {
        let old = self.fabric.default_channel_capability();
        for ch in &mut self.channels {
            if ch.settings.channel_capability == old {
                ch.settings.channel_capability = fabric.default_channel_capability().into();
            }
        }
        self.fabric = fabric;
        self
    }

    /// The same topology with `n` Raft orderers.
    pub fn with_orderers(mut self, n: usize) -> Topology {
        self.orderer_org.orderers = n;
        self
    }

    /// The same topology with `members` (MSP IDs) on every channel; the ops
    /// channel's Endorsement, where it is the members' majority spelled
    /// out, names the new members.
    pub fn with_members(mut self, members: &[String]) -> Topology {
        for ch in &mut self.channels {
            let follows = opssc_schema::policy::members_majority_endorsement(&ch.members)
                .is_some_and(|text| ch.settings.policies.get("Endorsement") == Some(&text));
            ch.members = members.to_vec();
            if follows
                && let Some(text) = opssc_schema::policy::members_majority_endorsement(members)
            {
                ch.settings.policies.insert("Endorsement".into(), text);
            }
        }
        self
    }

    /// The same topology with `n` peers in every peer organization.
    pub fn with_peers_per_org(mut self, n: usize) -> Topology {
        for org in &mut self.peer_orgs {
            org.peers = n;
        }
        self
    }

    /// Checks what Fabric and the devnet rely on: unique names, known channel
    /// members, Fabric's channel-name rule, at least one node of each kind.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(DevnetError::Topology(msg));
        if self.orderer_org.orderers == 0 {
            return bad("the orderer organization needs at least one orderer".into());
        }
        if self.peer_orgs.is_empty() {
            return bad("at least one peer organization is needed".into());
        }
        let mut msp_ids = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut domains = BTreeSet::new();
        let orgs = std::iter::once((
            &self.orderer_org.name,
            &self.orderer_org.msp_id,
            &self.orderer_org.domain,
        ))
        .chain(
            self.peer_orgs
                .iter()
                .map(|o| (&o.name, &o.msp_id, &o.domain)),
        );
        for (name, msp_id, domain) in orgs {
            if !is_simple_name(name) {
                return bad(format!(
                    "organization name {name:?} must be lowercase letters, digits and '-'"
                ));
            }
            if msp_id.is_empty()
                || !msp_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return bad(format!(
                    "MSP ID {msp_id:?} must be letters, digits, '-', '_' or '.'"
                ));
            }
            if domain.is_empty() || !domain.split('.').all(is_simple_name) {
                return bad(format!("domain {domain:?} of {name} is not a DNS name"));
            }
            if !names.insert(name) {
                return bad(format!("organization name {name} is used twice"));
            }
            if !msp_ids.insert(msp_id) {
                return bad(format!("MSP ID {msp_id} is used twice"));
            }
            if !domains.insert(domain) {
                return bad(format!("domain {domain} is used twice"));
            }
        }
        if let Some(org) = self.peer_orgs.iter().find(|o| o.peers == 0) {
            return bad(format!("{} needs at least one peer", org.msp_id));
        }
        let mut channel_names = BTreeSet::new();
        for ch in &self.channels {
            if !is_channel_name(&ch.name) {
                return bad(format!(
                    "channel name {:?} must match [a-z][a-z0-9.-]* and be shorter than 250 characters",
                    ch.name
                ));
            }
            if !channel_names.insert(&ch.name) {
                return bad(format!("channel {} is defined twice", ch.name));
            }
            if ch.members.is_empty() {
                return bad(format!("channel {} has no members", ch.name));
            }
            if let Err(why) = ch.settings.check() {
                return bad(format!("channel {}: {why}", ch.name));
            }
            if !self
                .fabric
                .allows_channel_capability(&ch.settings.channel_capability)
            {
                return bad(format!(
                    "channel {}: Fabric {} does not run channel capability {}",
                    ch.name, self.fabric, ch.settings.channel_capability
                ));
            }
            for m in &ch.members {
                if !self.peer_orgs.iter().any(|o| &o.msp_id == m) {
                    return bad(format!(
                        "channel {} lists member {m}, which is not a peer organization",
                        ch.name
                    ));
                }
            }
        }
        if !self.channels.iter().any(|c| c.name == self.ops_channel) {
            return bad(format!(
                "the ops channel {} is not one of the channels",
                self.ops_channel
            ));
        }
        Ok(())
    }

    /// The channels `msp_id` is a member of.
    pub fn channels_of(&self, msp_id: &str) -> impl Iterator<Item = &ChannelDef> {
        let msp_id = msp_id.to_string();
        self.channels
            .iter()
            .filter(move |c| c.members.contains(&msp_id))
    }
}

fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
}

/// Fabric's rule for channel names: `[a-z][a-z0-9.-]*`, fewer than 250 characters.
fn is_channel_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && s.len() < 250
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_3_topology_gets_the_v3_channel_capability() {
        use opssc_schema::FabricVersion;
        let t = Topology::reference(2);
        assert_eq!(t.fabric, FabricVersion::V2_5);
        let mut t = t.with_fabric(FabricVersion::V3_1);
        assert_eq!(t.fabric, FabricVersion::V3_1);
        assert!(
            t.channels
                .iter()
                .all(|c| c.settings.channel_capability == "V3_0")
        );
        t.validate().unwrap();
        // Back on 2.5, V3_0 is refused with the reason.
        t.fabric = FabricVersion::V2_5;
        let err = t.validate().unwrap_err().to_string();
        assert!(
            err.contains("Fabric 2.5 does not run channel capability V3_0"),
            "{err}"
        );
        // Saved before the field existed: 2.5.
        let mut json = serde_json::to_value(Topology::reference(1)).unwrap();
        json.as_object_mut().unwrap().remove("fabric");
        let old: Topology = serde_json::from_value(json).unwrap();
        assert_eq!(old.fabric, FabricVersion::V2_5);
    }

    #[test]
    fn reference_topology_is_valid_and_complete() {
        let t = Topology::reference(3);
        t.validate().unwrap();
        let ids: Vec<_> = t.peer_orgs.iter().map(|o| o.msp_id.as_str()).collect();
        assert_eq!(ids, ["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(t.peer_orgs[1].domain, "org2.example.com");
        let channels: Vec<_> = t.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(channels, ["ops", "trade"]);
        assert!(t.channels.iter().all(|c| c.members.len() == 3));
        assert_eq!(t.ops_channel, "ops");
        assert_eq!(t.channels_of("Org2MSP").count(), 2);
    }

    #[test]
    fn rejects_unknown_channel_member() {
        let mut t = Topology::reference(2);
        t.channels[1].members.push("Org9MSP".into());
        let err = t.validate().unwrap_err().to_string();
        assert!(err.contains("Org9MSP"), "{err}");
    }

    #[test]
    fn rejects_bad_channel_name_and_duplicates() {
        let mut t = Topology::reference(2);
        t.channels[1].name = "Trade".into();
        assert!(t.validate().unwrap_err().to_string().contains("Trade"));
        let mut t = Topology::reference(2);
        t.peer_orgs[1].msp_id = "Org1MSP".into();
        assert!(t.validate().unwrap_err().to_string().contains("used twice"));
        let t = Topology::reference(0);
        assert!(t.validate().is_err());
        let t = Topology::reference(1).with_orderers(0);
        assert!(t.validate().is_err());
    }

    fn reference_spec() -> opssc_schema::Spec {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let loaded = opssc_schema::load_dir(&dir);
        loaded.spec.unwrap_or_else(|| panic!("{:?}", loaded.report))
    }

    #[test]
    fn the_reference_spec_is_the_reference_topology() {
        let t = Topology::from_spec(&reference_spec()).unwrap();
        assert_eq!(t, Topology::reference(3));
    }

    #[test]
    fn channels_take_their_settings_from_the_spec() {
        let mut spec = reference_spec();
        let trade = spec.channels.get_mut("trade").unwrap();
        trade.batch.timeout_ms = 2000;
        trade.batch.max_message_count = 7;
        trade.capabilities.application = "V2_0".into();
        trade.acls.insert(
            "qscc/GetChainInfo".into(),
            "/Channel/Application/Writers".into(),
        );
        let endorsement = opssc_schema::PolicyText {
            text: "OR('Org1MSP.peer', 'Org2MSP.peer')".into(),
            parsed: opssc_schema::policy::parse_policy("OR('Org1MSP.peer', 'Org2MSP.peer')", false)
                .unwrap(),
        };
        trade.policies.insert("Endorsement".into(), endorsement);
        let t = Topology::from_spec(&spec).unwrap();
        let s = &t
            .channels
            .iter()
            .find(|c| c.name == "trade")
            .unwrap()
            .settings;
        assert_eq!(s.batch_timeout(), "2s");
        assert_eq!(s.max_message_count, 7);
        assert_eq!(s.application_capability, "V2_0");
        assert_eq!(
            s.policies["Endorsement"],
            "OR('Org1MSP.peer', 'Org2MSP.peer')"
        );
        assert_eq!(s.policies["Admins"], "MAJORITY Admins");
        assert_eq!(s.acls["qscc/GetChainInfo"], "/Channel/Application/Writers");
        let ops = &t
            .channels
            .iter()
            .find(|c| c.name == "ops")
            .unwrap()
            .settings;
        let members: Vec<String> = (1..=3).map(|i| format!("Org{i}MSP")).collect();
        assert_eq!(ops, &ChannelSettings::reference_ops(&members));
        assert_eq!(
            ops.policies["Endorsement"],
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
        );
        assert_eq!(ops.batch_timeout(), "500ms");
    }

    #[test]
    fn rejects_settings_fabric_would_refuse() {
        let mut t = Topology::reference(1);
        t.channels[1].settings.policies.remove("Writers");
        let err = t.validate().unwrap_err().to_string();
        assert!(err.contains("trade") && err.contains("Writers"), "{err}");
        let mut t = Topology::reference(1);
        t.channels[0]
            .settings
            .policies
            .insert("Endorsement".into(), "SOME Endorsement".into());
        let err = t.validate().unwrap_err().to_string();
        assert!(
            err.contains("ops") && err.contains("SOME Endorsement"),
            "{err}"
        );
        let mut t = Topology::reference(1);
        t.channels[0].settings.batch_timeout_ms = 0;
        assert!(t.validate().unwrap_err().to_string().contains("timeout"));
    }

    #[test]
    fn from_spec_refuses_what_the_devnet_cannot_run() {
        let mut spec = reference_spec();
        let org2 = spec.organizations.get_mut("Org2MSP").unwrap();
        org2.peers[0].name = "alpha".into();
        let err = Topology::from_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("Org2MSP") && err.contains("alpha"), "{err}");

        let mut spec = reference_spec();
        let mut second = spec.organizations["OrdererMSP"].clone();
        second.msp_id = "Orderer2MSP".into();
        spec.organizations.insert("Orderer2MSP".into(), second);
        let err = Topology::from_spec(&spec).unwrap_err().to_string();
        assert!(
            err.contains("exactly one orderer organization, the spec has 2"),
            "{err}"
        );

        let mut spec = reference_spec();
        spec.organizations.get_mut("Org1MSP").unwrap().peers[0].anchor = false;
        let err = Topology::from_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("anchor"), "{err}");
    }

    #[test]
    fn rejects_missing_ops_channel() {
        let mut t = Topology::reference(1);
        t.ops_channel = "governance".into();
        assert!(t.validate().unwrap_err().to_string().contains("governance"));
    }
}
