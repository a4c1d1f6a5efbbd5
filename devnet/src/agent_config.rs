//! Each organization's agent configuration, `<state>/orgs/<MspId>/opssc.yaml`.
//!
//! Written in the agent's own format ([`opssc_schema::local::AgentConfig`]),
//! with paths relative to the file (`../../crypto/...`), which
//! `AgentConfig::load` resolves: the state directory can be moved as a whole.
//! Peer organizations get their admin identity, their own peers and every
//! orderer (without the admin endpoint, which only the orderer organization
//! may use); the orderer organization gets the admin endpoint and the TLS
//! client pair it requires.

use std::path::{Path, PathBuf};

use opssc_schema::local::{
    AgentConfig, IdentityConfig, OrdererConfig, PeerConfig, TlsClientConfig, VotePolicy,
};

use crate::error::{DevnetError, Result};
use crate::handles::{NetworkPlan, OrdererHandle};

/// `path` relative to the directory of an agent config in `<root>/orgs/<MspId>/`.
fn rel(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(inner) => Path::new("../..").join(inner),
        Err(_) => path.to_path_buf(),
    }
}

fn orderers(root: &Path, orderers: &[OrdererHandle], with_admin: bool) -> Vec<OrdererConfig> {
    orderers
        .iter()
        .map(|o| OrdererConfig {
            name: o.name.clone(),
            address: o.address.clone(),
            admin_address: with_admin.then(|| o.admin_address.clone()),
            tls_root_cert: rel(root, &o.tls_ca_cert),
            server_name: Some(o.host.clone()),
        })
        .collect()
}

/// The agent configurations of every organization, with the path each goes to.
pub fn agent_configs(plan: &NetworkPlan, root: &Path) -> Vec<(PathBuf, AgentConfig)> {
    let base = |msp_id: &str, msp_dir: &Path| AgentConfig {
        api_version: "opssc/v1alpha1".into(),
        kind: "AgentConfig".into(),
        msp_id: msp_id.to_string(),
        identity: IdentityConfig {
            msp_dir: rel(root, msp_dir),
        },
        tls_client: None,
        peers: Vec::new(),
        ops_gateway: None,
        orderers: orderers(root, &plan.orderers, false),
        spec: None,
        vote_policy: VotePolicy::Auto,
        auto_approve: Vec::new(),
        channel_changes: Default::default(),
        listen: None,
        state_dir: Some(PathBuf::from("agent-state")),
        chaincode_servers: Default::default(),
        ops_chaincode: None,
        git_credentials: Vec::new(),
        notifications: Vec::new(),
        push_webhook: None,
        turn_grace_ms: None,
    };
    let mut out = Vec::new();
    for org in &plan.orgs {
        let mut c = base(&org.msp_id, &org.admin_msp_dir);
        c.peers = org
            .peers
            .iter()
            .map(|p| PeerConfig {
                name: p.name.clone(),
                address: p.address.clone(),
                tls_root_cert: rel(root, &p.tls_ca_cert),
                server_name: Some(p.host.clone()),
            })
            .collect();
        out.push((org.agent_config.clone(), c));
    }
    let oo = &plan.orderer_org;
    let mut c = base(&oo.msp_id, &oo.admin_msp_dir);
    c.orderers = orderers(root, &plan.orderers, true);
    // It has no peer: it reads the OpsSC through the first member's.
    c.ops_gateway = out
        .first()
        .and_then(|(_, first): &(PathBuf, AgentConfig)| first.peers.first().cloned());
    if let Some(o) = plan.orderers.first() {
        c.tls_client = Some(TlsClientConfig {
            cert: rel(root, &o.admin_client_cert),
            key: rel(root, &o.admin_client_key),
        });
    }
    out.push((oo.agent_config.clone(), c));
    out
}

/// Writes every organization's `opssc.yaml`.
pub fn write_agent_configs(plan: &NetworkPlan, root: &Path) -> Result<()> {
    for (path, config) in agent_configs(plan, root) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
        }
        std::fs::write(&path, config.to_yaml()).map_err(DevnetError::io("write", &path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handles::plan;
    use crate::layout::Layout;
    use crate::ports::PortPool;
    use crate::topology::Topology;

    #[test]
    fn written_config_loads_back_with_paths_resolved_into_the_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let plan = plan(
            &Topology::reference(2),
            &Layout::new(root),
            &mut PortPool::new(),
        )
        .unwrap();
        write_agent_configs(&plan, root).unwrap();
        let org2 = &plan.orgs[1];
        let text = std::fs::read_to_string(&org2.agent_config).unwrap();
        assert!(
            text.contains("../../crypto/peerOrganizations/org2.example.com"),
            "{text}"
        );
        let loaded = AgentConfig::load(&org2.agent_config).unwrap();
        assert_eq!(loaded.msp_id, "Org2MSP");
        assert_eq!(loaded.peers.len(), 1);
        assert_eq!(loaded.peers[0].address, org2.peers[0].address);
        assert_eq!(loaded.orderers[0].admin_address, None);
        let norm = |p: &Path| {
            let mut out = PathBuf::new();
            for c in p.components() {
                match c {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    c => out.push(c),
                }
            }
            out
        };
        assert_eq!(norm(&loaded.identity.msp_dir), org2.admin_msp_dir);
        assert_eq!(norm(&loaded.peers[0].tls_root_cert), org2.tls_ca_cert);

        let orderer_org = AgentConfig::load(&plan.orderer_org.agent_config).unwrap();
        assert_eq!(orderer_org.msp_id, "OrdererMSP");
        assert!(orderer_org.peers.is_empty());
        assert_eq!(
            orderer_org.orderers[0].admin_address.as_deref(),
            Some(plan.orderers[0].admin_address.as_str())
        );
        assert!(orderer_org.tls_client.is_some());
    }
}
