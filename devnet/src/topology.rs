//! What network to start: organizations, node counts and channels.
//!
//! [`Topology`] is deliberately plain (no dependency on the network spec in
//! `opssc-schema`); an adapter from the spec is added where the spec lives.
//! [`Topology::reference`] is the consortium the tests and `opssc dev up` use.

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

    #[test]
    fn rejects_missing_ops_channel() {
        let mut t = Topology::reference(1);
        t.ops_channel = "governance".into();
        assert!(t.validate().unwrap_err().to_string().contains("governance"));
    }
}
