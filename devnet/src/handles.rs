//! What a running devnet consists of: organizations, peers, orderers, channels.
//!
//! The handles are plain data, fully decided before anything is written or
//! started ([`plan`]: topology + free ports → handles), then saved in
//! `devnet.json` so `opssc dev status` / `down` and tests see the same values.
//! Every path is absolute; every address is `127.0.0.1:<port>`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::layout::Layout;
use crate::ports::{PortPool, loopback};
use crate::topology::Topology;

/// A peer organization and its peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgHandle {
    pub name: String,
    pub msp_id: String,
    pub domain: String,
    /// The organization admin's MSP directory (signcerts, keystore, cacerts).
    pub admin_msp_dir: PathBuf,
    /// A non-admin client identity of the organization (`User1`).
    pub user_msp_dir: PathBuf,
    /// The organization's verifying MSP: cacerts, tlscacerts, config.yaml (NodeOUs).
    pub msp_dir: PathBuf,
    /// The organization's signing CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The organization's TLS CA certificate (PEM); it issued every peer's TLS certificate.
    pub tls_ca_cert: PathBuf,
    pub peers: Vec<PeerHandle>,
    /// The organization's `opssc.yaml` (agent configuration).
    pub agent_config: PathBuf,
}

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerHandle {
    /// e.g. `peer0`.
    pub name: String,
    /// TLS server name, e.g. `peer0.org1.example.com` (its certificate also has 127.0.0.1).
    pub host: String,
    pub msp_id: String,
    /// gRPC address (endorser, gateway, deliver, gossip): `127.0.0.1:<port>`.
    pub address: String,
    /// Where chaincode processes connect to the peer (unused with chaincode-as-a-service).
    pub chaincode_address: String,
    /// Operations HTTP address (`/healthz`, `/metrics`), plain HTTP.
    pub operations_address: String,
    /// PEM of the TLS CA that issued this peer's TLS certificate.
    pub tls_ca_cert: PathBuf,
    /// The directory with this peer's `core.yaml` (the peer CLI's FABRIC_CFG_PATH too).
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// The peer's process ID (0 before it is started).
    pub pid: u32,
}

/// One Raft orderer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdererHandle {
    /// e.g. `orderer0`.
    pub name: String,
    /// TLS server name, e.g. `orderer0.example.com`.
    pub host: String,
    pub msp_id: String,
    /// Broadcast and Deliver: `127.0.0.1:<port>`.
    pub address: String,
    /// Channel participation REST API (HTTPS, client certificate required).
    pub admin_address: String,
    /// Operations HTTP address (`/healthz`, `/metrics`), plain HTTP.
    pub operations_address: String,
    /// PEM of the orderer organization's TLS CA.
    pub tls_ca_cert: PathBuf,
    /// The orderer's own TLS certificate (its Raft consenter identity).
    pub tls_cert: PathBuf,
    /// The orderer's signing certificate (its BFT consenter identity).
    /// Defaulted so a state file written before it existed still loads.
    #[serde(default)]
    pub sign_cert: PathBuf,
    /// Client certificate and key accepted by the admin endpoint (the orderer org admin's TLS pair).
    pub admin_client_cert: PathBuf,
    pub admin_client_key: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub pid: u32,
}

/// The ordering organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdererOrgHandle {
    pub name: String,
    pub msp_id: String,
    pub domain: String,
    pub admin_msp_dir: PathBuf,
    pub msp_dir: PathBuf,
    pub tls_ca_cert: PathBuf,
    /// The orderer organization's `opssc.yaml` (with the admin TLS client pair).
    pub agent_config: PathBuf,
}

/// An application channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelHandle {
    pub name: String,
    /// Member organizations (MSP IDs).
    pub members: Vec<String>,
    /// The genesis block every orderer and member peer joined with.
    pub genesis_block: PathBuf,
}

/// Everything about a devnet that is decided before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPlan {
    pub topology: Topology,
    pub orderer_org: OrdererOrgHandle,
    pub orderers: Vec<OrdererHandle>,
    pub orgs: Vec<OrgHandle>,
    pub channels: Vec<ChannelHandle>,
}

/// Decides names, paths and ports of every node of `topology` under `layout`.
pub fn plan(topology: &Topology, layout: &Layout, ports: &mut PortPool) -> Result<NetworkPlan> {
    topology.validate()?;
    let oo = &topology.orderer_org;
    let oc = layout.orderer_org(oo);
    let orderer_org = OrdererOrgHandle {
        name: oo.name.clone(),
        msp_id: oo.msp_id.clone(),
        domain: oo.domain.clone(),
        admin_msp_dir: oc.admin_msp(),
        msp_dir: oc.msp(),
        tls_ca_cert: oc.tls_ca_cert(),
        agent_config: layout.agent_config(&oo.msp_id),
    };
    let mut orderers = Vec::new();
    for i in 0..oo.orderers {
        let name = format!("orderer{i}");
        let host = format!("{name}.{}", oo.domain);
        let node = oc.node("orderers", &host);
        orderers.push(OrdererHandle {
            address: loopback(ports.take()?),
            admin_address: loopback(ports.take()?),
            operations_address: loopback(ports.take()?),
            tls_ca_cert: oc.tls_ca_cert(),
            tls_cert: node.tls_cert(),
            sign_cert: node.sign_cert(&host),
            admin_client_cert: oc.admin_tls_cert(),
            admin_client_key: oc.admin_tls_key(),
            config_dir: layout.node_config(&host),
            data_dir: layout.node_data(&host),
            log: layout.log(&host),
            msp_id: oo.msp_id.clone(),
            pid: 0,
            name,
            host,
        });
    }
    let mut orgs = Vec::new();
    for org in &topology.peer_orgs {
        let c = layout.peer_org(org);
        let mut peers = Vec::new();
        for i in 0..org.peers {
            let name = format!("peer{i}");
            let host = format!("{name}.{}", org.domain);
            peers.push(PeerHandle {
                address: loopback(ports.take()?),
                chaincode_address: loopback(ports.take()?),
                operations_address: loopback(ports.take()?),
                tls_ca_cert: c.tls_ca_cert(),
                config_dir: layout.node_config(&host),
                data_dir: layout.node_data(&host),
                log: layout.log(&host),
                msp_id: org.msp_id.clone(),
                pid: 0,
                name,
                host,
            });
        }
        orgs.push(OrgHandle {
            name: org.name.clone(),
            msp_id: org.msp_id.clone(),
            domain: org.domain.clone(),
            admin_msp_dir: c.admin_msp(),
            user_msp_dir: c.user_msp(),
            msp_dir: c.msp(),
            ca_cert: c.ca_cert(),
            tls_ca_cert: c.tls_ca_cert(),
            peers,
            agent_config: layout.agent_config(&org.msp_id),
        });
    }
    let channels = topology
        .channels
        .iter()
        .map(|c| ChannelHandle {
            name: c.name.clone(),
            members: c.members.clone(),
            genesis_block: layout.genesis_block(&c.name),
        })
        .collect();
    Ok(NetworkPlan {
        topology: topology.clone(),
        orderer_org,
        orderers,
        orgs,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn plan_gives_every_listener_its_own_loopback_port() {
        let topo = Topology::reference(3)
            .with_orderers(3)
            .with_peers_per_org(2);
        let mut pool = PortPool::new();
        let plan = plan(&topo, &Layout::new(Path::new("/s")), &mut pool).unwrap();
        let mut addrs: Vec<&str> = Vec::new();
        for o in &plan.orderers {
            addrs.extend([&o.address, &o.admin_address, &o.operations_address].map(String::as_str));
        }
        for p in plan.orgs.iter().flat_map(|o| &o.peers) {
            addrs.extend(
                [&p.address, &p.chaincode_address, &p.operations_address].map(String::as_str),
            );
        }
        assert_eq!(addrs.len(), 3 * 3 + 6 * 3);
        assert!(addrs.iter().all(|a| a.starts_with("127.0.0.1:")));
        assert_eq!(addrs.iter().collect::<BTreeSet<_>>().len(), addrs.len());
        assert_eq!(plan.orgs[1].peers[1].host, "peer1.org2.example.com");
        assert_eq!(
            plan.orgs[1].tls_ca_cert,
            Path::new(
                "/s/crypto/peerOrganizations/org2.example.com/tlsca/tlsca.org2.example.com-cert.pem"
            )
        );
        assert_eq!(
            plan.orgs[0].admin_msp_dir,
            Path::new(
                "/s/crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp"
            )
        );
        assert_eq!(
            plan.orgs[2].agent_config,
            Path::new("/s/orgs/Org3MSP/opssc.yaml")
        );
        assert_eq!(
            plan.channels[0].genesis_block,
            Path::new("/s/channels/ops.block")
        );
    }
}
