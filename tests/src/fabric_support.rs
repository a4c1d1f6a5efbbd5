//! Small helpers the Fabric end-to-end tests share: connecting to a devnet
//! node as its TLS clients do, readable error chains for assertion messages,
//! and retrying while Fabric reports a transient error.

use std::path::Path;
use std::time::{Duration, Instant};

use opssc_devnet::{OrdererHandle, PeerHandle};
use opssc_fabric::{Error, Fault, Node, NodeConfig};

/// Reads a file the devnet wrote, panicking with its path.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// TLS configuration for one of the devnet's peers.
pub fn peer_config(peer: &PeerHandle) -> NodeConfig {
    NodeConfig::tls(&peer.address, read(&peer.tls_ca_cert)).with_server_name(&peer.host)
}

/// TLS configuration for one of the devnet's orderers.
pub fn orderer_config(o: &OrdererHandle) -> NodeConfig {
    NodeConfig::tls(&o.address, read(&o.tls_ca_cert)).with_server_name(&o.host)
}

/// Connects to a node, panicking with the error chain.
pub async fn connect(config: &NodeConfig) -> Node {
    Node::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)))
}

/// An error with its sources, for assertion messages.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// Retries `f` while it fails with a transient error (gossip and discovery
/// need a few seconds on a new channel), for at most `limit`.
pub async fn retry<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if e.fault() == Fault::Transient && start.elapsed() < limit => {
                eprintln!("{what}: retrying after transient error: {}", chain(&e));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("{what} failed after {:?}: {}", start.elapsed(), chain(&e)),
        }
    }
}
