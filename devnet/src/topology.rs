//! What network to start: organizations, node counts and channels.
//!
//! [`Topology`] is deliberately plain data; [`Topology::from_spec`] derives it
//! from a validated network spec (what `opssc dev up --spec` runs), and
//! [`Topology::reference`] is the consortium the tests use.

use std::collections::BTreeSet;

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

/// An application channel and its member organizations (MSP IDs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelDef {
    pub name: String,
    pub members: Vec<String>,
}

impl Topology {
    /// `n_orgs` peer organizations `Org1MSP` ... `Org<n>MSP` with one peer each,
    /// one `OrdererMSP` organization with one orderer, and the channels `ops`
    /// (the ops channel) and `trade`, both with every organization.
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
                },
                ChannelDef {
                    name: "trade".into(),
                    members,
                },
            ],
            ops_channel: "ops".into(),
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
                })
                .collect(),
            ops_channel: spec.consortium.ops_channel.clone(),
        };
        topology.validate().map_err(|e| match e {
            DevnetError::Topology(m) => {
                DevnetError::Topology(format!("the spec in {}: {m}", spec.root.display()))
            }
            e => e,
        })?;
        Ok(topology)
    }

    /// The same topology with `n` Raft orderers.
    pub fn with_orderers(mut self, n: usize) -> Topology {
        self.orderer_org.orderers = n;
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
