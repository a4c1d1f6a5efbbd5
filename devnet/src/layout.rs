//! Where everything lives inside the devnet's state directory.
//!
//! One place computes every path, so the writer (start-up) and the readers
//! (`status`, `down`, tests) agree. Crypto paths follow cryptogen's layout.
//!
//! ```text
//! <state>/devnet.json                 what runs where (see `state`)
//! <state>/crypto-config.yaml          input of cryptogen
//! <state>/crypto/...                  cryptogen's output (MSPs, TLS material)
//! <state>/channels/<channel>.block    genesis blocks, built from the spec's channel settings
//! <state>/builders/ccaas/bin/...      the external builder for chaincode-as-a-service
//! <state>/nodes/<host>/config/...     core.yaml or orderer.yaml of one node
//! <state>/nodes/<host>/data/...       its ledger
//! <state>/logs/<host>.log             its stdout and stderr
//! <state>/orgs/<MspId>/opssc.yaml     the org's agent configuration
//! ```

use std::path::{Path, PathBuf};

use crate::topology::{OrdererOrgDef, PeerOrgDef};

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("devnet.json")
    }
    pub fn crypto_config(&self) -> PathBuf {
        self.root.join("crypto-config.yaml")
    }
    pub fn crypto(&self) -> PathBuf {
        self.root.join("crypto")
    }
    pub fn genesis_block(&self, channel: &str) -> PathBuf {
        self.root.join("channels").join(format!("{channel}.block"))
    }
    pub fn ccaas_builder(&self) -> PathBuf {
        self.root.join("builders").join("ccaas")
    }
    pub fn golang_builder(&self) -> PathBuf {
        self.root.join("builders").join("golang")
    }
    pub fn node_config(&self, host: &str) -> PathBuf {
        self.root.join("nodes").join(host).join("config")
    }
    pub fn node_data(&self, host: &str) -> PathBuf {
        self.root.join("nodes").join(host).join("data")
    }
    pub fn log(&self, host: &str) -> PathBuf {
        self.root.join("logs").join(format!("{host}.log"))
    }
    pub fn agent_config(&self, msp_id: &str) -> PathBuf {
        self.root.join("orgs").join(msp_id).join("opssc.yaml")
    }

    pub fn peer_org(&self, org: &PeerOrgDef) -> OrgCrypto {
        OrgCrypto::new(
            &self.crypto().join("peerOrganizations").join(&org.domain),
            &org.domain,
        )
    }
    pub fn orderer_org(&self, org: &OrdererOrgDef) -> OrgCrypto {
        OrgCrypto::new(
            &self.crypto().join("ordererOrganizations").join(&org.domain),
            &org.domain,
        )
    }
}

/// cryptogen's output for one organization.
#[derive(Debug, Clone)]
pub struct OrgCrypto {
    pub dir: PathBuf,
    pub domain: String,
}

impl OrgCrypto {
    fn new(dir: &Path, domain: &str) -> OrgCrypto {
        OrgCrypto {
            dir: dir.to_path_buf(),
            domain: domain.to_string(),
        }
    }
    /// The organization's verifying MSP (cacerts, tlscacerts, config.yaml).
    pub fn msp(&self) -> PathBuf {
        self.dir.join("msp")
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir
            .join("ca")
            .join(format!("ca.{}-cert.pem", self.domain))
    }
    pub fn tls_ca_cert(&self) -> PathBuf {
        self.dir
            .join("tlsca")
            .join(format!("tlsca.{}-cert.pem", self.domain))
    }
    fn user(&self, user: &str) -> PathBuf {
        self.dir
            .join("users")
            .join(format!("{user}@{}", self.domain))
    }
    pub fn admin_msp(&self) -> PathBuf {
        self.user("Admin").join("msp")
    }
    pub fn admin_tls_cert(&self) -> PathBuf {
        self.user("Admin").join("tls").join("client.crt")
    }
    pub fn admin_tls_key(&self) -> PathBuf {
        self.user("Admin").join("tls").join("client.key")
    }
    pub fn user_msp(&self) -> PathBuf {
        self.user("User1").join("msp")
    }
    /// A node's directory; `kind` is `peers` or `orderers`, `host` the full host name.
    pub fn node(&self, kind: &str, host: &str) -> NodeCrypto {
        NodeCrypto {
            dir: self.dir.join(kind).join(host),
        }
    }
}

/// cryptogen's output for one node.
#[derive(Debug, Clone)]
pub struct NodeCrypto {
    pub dir: PathBuf,
}

impl NodeCrypto {
    pub fn msp(&self) -> PathBuf {
        self.dir.join("msp")
    }
    pub fn tls_cert(&self) -> PathBuf {
        self.dir.join("tls").join("server.crt")
    }
    /// The node's enrollment certificate, as cryptogen names it
    /// (`msp/signcerts/<host>-cert.pem`).
    pub fn sign_cert(&self, host: &str) -> PathBuf {
        self.msp()
            .join("signcerts")
            .join(format!("{host}-cert.pem"))
    }
    pub fn tls_key(&self) -> PathBuf {
        self.dir.join("tls").join("server.key")
    }
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.join("tls").join("ca.crt")
    }
}
