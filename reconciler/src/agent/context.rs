//! Everything one pass needs to talk to the network as this organization: the
//! local configuration, the admin identity, one endorser and gateway per own
//! peer, and the OpsSC client.
//!
//! [`Context::connect`] reads the MSP directory and opens the peer
//! connections once; the daemon keeps the context across passes. Key
//! decision: every call goes to this organization's own peers only — other
//! organizations' peers are reached by the gateway through discovery, so the
//! agent needs no address or key of anyone else.

use std::path::PathBuf;
use std::sync::Arc;

use opssc_fabric::deliver::Deliverer;
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::orderer::Orderer;
use opssc_fabric::{Node, NodeConfig, Signer, SigningIdentity};
use opssc_schema::local::AgentConfig;

use super::error::FabricCall;
use super::ops::OpsClient;

/// Why the agent could not connect: a node's TLS certificate, the admin
/// identity or a connection failed (Fabric's error kept in the chain, so the
/// retry policy finds its fault: [`super::error::AgentError::from_error`]), or the
/// configuration names no peer.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The identity, a TLS root certificate or a connection (the action
    /// says which, and which configuration entry to check).
    #[error(transparent)]
    Node(Box<FabricCall>),
    #[error(
        "the agent configuration of {msp_id} lists no peer: the agent needs at least one \
         (an organization without peers, such as the orderer organization, names another \
         member's peer as opsGateway)"
    )]
    NoPeer { msp_id: String },
}

/// One of the organization's peers.
pub struct PeerConn {
    pub name: String,
    pub endorser: Endorser,
    pub gateway: Gateway,
    pub deliver: Deliverer,
}

/// An ordering service node: config updates are broadcast to it, and a
/// channel this organization's peers have not joined yet is read from it.
pub struct OrdererConn {
    pub name: String,
    pub orderer: Orderer,
    pub deliver: Deliverer,
}

/// The organization's connections and identity.
pub struct Context {
    pub config: AgentConfig,
    pub me: String,
    pub signer: Arc<dyn Signer>,
    pub peers: Vec<PeerConn>,
    /// An organization without peers (the orderer organization): another
    /// organization's peer it reads the OpsSC through (`opsGateway`).
    pub ops_gateway: Option<PeerConn>,
    /// The ordering service nodes of the configuration, in its order.
    pub orderers: Vec<OrdererConn>,
    /// Where the agent keeps its own state (mirror of the spec repository).
    pub state_dir: PathBuf,
    /// Source packages already built (pinned commits never change).
    pub sources: super::packages::SourceCache,
    /// When a spec commit cited by a proposal was first found missing from
    /// the spec mirror (see `pass::seen_commits`).
    pub missing_commits: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Since when this organization has left each turn (filing or tallying
    /// a proposal) to an organization before it in the turn order
    /// (`plan::steps::Steps::deferred`).
    pub deferred: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Ledger reads kept from one observation to the next, each used
    /// while its channel has not moved (`super::read_cache`).
    pub reads: super::observe_live::LedgerReads,
}

impl Context {
    /// Loads the identity and connects to every own peer.
    pub async fn connect(config: AgentConfig) -> Result<Context, ConnectError> {
        let me = config.msp_id.clone();
        let signer: Arc<dyn Signer> = Arc::new(
            SigningIdentity::from_msp_dir(&me, &config.identity.msp_dir).map_err(
                FabricCall::wrap(ConnectError::Node, format!(
                    "cannot load the admin identity of {me} from {} (check identity.mspDir in the agent configuration)",
                    config.identity.msp_dir.display()
                )),
            )?,
        );
        let mut peers = Vec::new();
        let mut ops_gateway = None;
        for (is_gateway, p) in config
            .peers
            .iter()
            .map(|p| (false, p))
            .chain(config.ops_gateway.iter().map(|p| (true, p)))
        {
            let mut nc = NodeConfig::tls_from_file(&p.address, &p.tls_root_cert).map_err(
                FabricCall::wrap(
                    ConnectError::Node,
                    format!("peer {} of {me}: TLS root certificate", p.name),
                ),
            )?;
            if let Some(name) = &p.server_name {
                nc = nc.with_server_name(name);
            }
            let node = Node::connect(&nc).await.map_err(FabricCall::wrap(
                ConnectError::Node,
                format!("cannot connect to peer {} of {me} at {}", p.name, p.address),
            ))?;
            let conn = PeerConn {
                name: p.name.clone(),
                endorser: Endorser::new(node.clone(), signer.clone()),
                gateway: Gateway::new(node.clone(), signer.clone()),
                deliver: Deliverer::peer(node, signer.clone()),
            };
            if is_gateway {
                ops_gateway = Some(conn);
            } else {
                peers.push(conn);
            }
        }
        let mut orderers = Vec::new();
        for o in &config.orderers {
            let mut nc = NodeConfig::tls_from_file(&o.address, &o.tls_root_cert).map_err(
                FabricCall::wrap(
                    ConnectError::Node,
                    format!(
                        "orderer {} of {me}'s configuration: TLS root certificate",
                        o.name
                    ),
                ),
            )?;
            if let Some(name) = &o.server_name {
                nc = nc.with_server_name(name);
            }
            // Lazily: an orderer that is down must not keep the agent from
            // starting (most passes never talk to an orderer).
            let node = Node::connect_lazy(&nc).map_err(FabricCall::wrap(
                ConnectError::Node,
                format!("orderer {} at {}", o.name, o.address),
            ))?;
            orderers.push(OrdererConn {
                name: o.name.clone(),
                orderer: Orderer::new(node.clone()),
                deliver: Deliverer::orderer(node, signer.clone()),
            });
        }
        if peers.is_empty() && ops_gateway.is_none() {
            return Err(ConnectError::NoPeer { msp_id: me });
        }
        let state_dir = config
            .state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".opssc-agent"));
        Ok(Context {
            config,
            me,
            signer,
            peers,
            ops_gateway,
            orderers,
            state_dir,
            sources: Default::default(),
            missing_commits: Default::default(),
            deferred: Default::default(),
            reads: Default::default(),
        })
    }

    /// How long (ms) this organization has waited for each turn it left
    /// to another organization, for the planner.
    pub fn waited_ms(&self) -> std::collections::BTreeMap<String, u64> {
        let deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        deferred
            .iter()
            .map(|(k, since)| (k.clone(), since.elapsed().as_millis() as u64))
            .collect()
    }

    /// After a pass: keeps measuring the turns in `keys` (from now for a
    /// new one) and forgets the rest (taken, or no longer planned).
    pub fn keep_waiting(&self, keys: &[String]) {
        let mut deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        deferred.retain(|k, _| keys.contains(k));
        for k in keys {
            deferred
                .entry(k.clone())
                .or_insert_with(std::time::Instant::now);
        }
    }

    /// The first peer: queries and the gateway go through it.
    pub fn main_peer(&self) -> &PeerConn {
        &self.peers[0]
    }

    /// Whether this organization runs no peer (the orderer organization):
    /// its agent only adds its signature to approved config updates
    /// ([`super::orderer_pass`]).
    pub fn is_peerless(&self) -> bool {
        self.peers.is_empty()
    }

    /// The peer the OpsSC is reached through: the first own peer, or the
    /// configured `opsGateway` of an organization without peers.
    pub fn ops_peer(&self) -> &PeerConn {
        self.peers
            .first()
            .or(self.ops_gateway.as_ref())
            .expect("connect() checks that a peer or an opsGateway is configured")
    }

    /// Builds this org's packages of every chaincode of `spec` (blocking git
    /// work runs off the async workers).
    pub fn build_packages(
        &self,
        spec: &opssc_schema::Spec,
    ) -> (
        std::collections::BTreeMap<String, super::packages::Built>,
        Vec<String>,
    ) {
        tokio::task::block_in_place(|| {
            super::packages::build_all(
                &self.config,
                spec,
                &self.state_dir.join("chaincode-sources"),
                &self.sources,
            )
        })
    }

    /// The OpsSC chaincode on `ops_channel`.
    pub fn ops(&self, ops_channel: &str) -> OpsClient {
        OpsClient {
            gateway: self.ops_peer().gateway.clone(),
            channel: ops_channel.to_string(),
            chaincode: self
                .config
                .ops_chaincode
                .clone()
                .unwrap_or_else(|| "opssc".to_string()),
        }
    }
}
