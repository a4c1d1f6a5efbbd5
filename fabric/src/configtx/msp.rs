//! Organizations as a channel configuration holds them: the MSP definition
//! (certificates, NodeOUs) and the group configtxgen would make from it.
//!
//! The main types are [`MspDefinition`] (what goes into the `MSP` value) and
//! [`Organization`] (an MSP plus policies, anchor peers or orderer endpoints,
//! turned into a config [`Group`]). Key decision: the MSP value is built the
//! way Fabric's `configtxgen` builds it from an MSP directory (same fields,
//! same order, crypto config `SHA2`/`SHA256`, no signing identity), so a group
//! made here and one made by configtxgen from the same certificates are equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::protos::msp::{FabricCryptoConfig, FabricMspConfig, FabricNodeOUs, FabricOuIdentifier};
use crate::protos::protos::AnchorPeer;

use super::Result;
use super::error::ConfigError;
use super::model::{Group, MspValue, PolicyRule, ValueContent};

/// What an organization's `MSP` value says: its MSP ID and trusted certificates
/// (all PEM).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MspDefinition {
    pub msp_id: String,
    /// Root CA certificates (`cacerts/`).
    pub root_certs: Vec<Vec<u8>>,
    /// Intermediate CA certificates (`intermediatecerts/`).
    pub intermediate_certs: Vec<Vec<u8>>,
    /// Admin certificates (`admincerts/`); empty when NodeOUs identify admins.
    pub admin_certs: Vec<Vec<u8>>,
    /// TLS root CA certificates (`tlscacerts/`).
    pub tls_root_certs: Vec<Vec<u8>>,
    /// TLS intermediate CA certificates (`tlsintermediatecerts/`).
    pub tls_intermediate_certs: Vec<Vec<u8>>,
    /// Certificate revocation lists (`crls/`).
    pub revocation_list: Vec<Vec<u8>>,
    /// OUs an identity must have one of (`OrganizationalUnitIdentifiers` in `config.yaml`).
    pub organizational_unit_identifiers: Vec<OuIdentifier>,
    /// Role OUs (`NodeOUs` in `config.yaml`); `None` when disabled.
    pub node_ous: Option<NodeOus>,
}

/// An organizational unit, optionally pinned to the CA certificate (PEM) that issues it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OuIdentifier {
    pub ou: String,
    pub certificate: Vec<u8>,
}

/// The OUs that mark clients, peers, admins and orderers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeOus {
    pub client: Option<OuIdentifier>,
    pub peer: Option<OuIdentifier>,
    pub admin: Option<OuIdentifier>,
    pub orderer: Option<OuIdentifier>,
}

impl NodeOus {
    /// The usual NodeOUs (`client`, `peer`, `admin`, `orderer`), each pinned to
    /// the organization's CA certificate, as cryptogen and Fabric CA set them up.
    pub fn standard(ca_cert_pem: &[u8]) -> NodeOus {
        let ou = |name: &str| {
            Some(OuIdentifier {
                ou: name.to_string(),
                certificate: ca_cert_pem.to_vec(),
            })
        };
        NodeOus {
            client: ou("client"),
            peer: ou("peer"),
            admin: ou("admin"),
            orderer: ou("orderer"),
        }
    }
}

impl MspDefinition {
    /// An MSP whose admins, peers and clients are told apart by NodeOUs issued
    /// by `ca_cert_pem`, with `tls_ca_cert_pem` as TLS root.
    pub fn with_node_ous(
        msp_id: &str,
        ca_cert_pem: &[u8],
        tls_ca_cert_pem: &[u8],
    ) -> MspDefinition {
        MspDefinition {
            msp_id: msp_id.to_string(),
            root_certs: vec![ca_cert_pem.to_vec()],
            tls_root_certs: vec![tls_ca_cert_pem.to_vec()],
            node_ous: Some(NodeOus::standard(ca_cert_pem)),
            ..MspDefinition::default()
        }
    }

    /// An MSP without NodeOUs, whose admins are the listed certificates.
    pub fn with_admin_certs(
        msp_id: &str,
        ca_cert_pem: &[u8],
        tls_ca_cert_pem: &[u8],
        admin_cert_pems: &[&[u8]],
    ) -> MspDefinition {
        MspDefinition {
            msp_id: msp_id.to_string(),
            root_certs: vec![ca_cert_pem.to_vec()],
            tls_root_certs: vec![tls_ca_cert_pem.to_vec()],
            admin_certs: admin_cert_pems.iter().map(|c| c.to_vec()).collect(),
            ..MspDefinition::default()
        }
    }

    /// Reads an organization's verifying MSP directory (`.../msp` with
    /// `cacerts/`, `tlscacerts/`, `admincerts/`, `config.yaml`, ...) the way
    /// configtxgen does: files in name order, non-PEM files skipped.
    pub fn from_msp_dir(msp_id: &str, dir: &Path) -> Result<MspDefinition> {
        let msp_err = |problem: String| ConfigError::Msp {
            dir: dir.to_path_buf(),
            problem,
        };
        let root_certs = pem_files(&dir.join("cacerts"))?.unwrap_or_default();
        if root_certs.is_empty() {
            return Err(msp_err(
                "cacerts/ has no PEM certificate; an organization needs its CA certificate".into(),
            ));
        }
        let admin_certs = pem_files(&dir.join("admincerts"))?.unwrap_or_default();
        let intermediate_certs = pem_files(&dir.join("intermediatecerts"))?.unwrap_or_default();
        let tls_root_certs = pem_files(&dir.join("tlscacerts"))?;
        let tls_intermediate_certs = match &tls_root_certs {
            Some(roots) if !roots.is_empty() => {
                pem_files(&dir.join("tlsintermediatecerts"))?.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let revocation_list = pem_files(&dir.join("crls"))?.unwrap_or_default();

        let mut organizational_unit_identifiers = Vec::new();
        let mut node_ous = None;
        let config_file = dir.join("config.yaml");
        if config_file.exists() {
            let text = std::fs::read_to_string(&config_file).map_err(|source| ConfigError::Io {
                path: config_file.clone(),
                source,
            })?;
            let conf: MspDirConfig = serde_saphyr::from_str(&text)
                .map_err(|e| msp_err(format!("config.yaml does not parse: {e}")))?;
            for ou in conf.organizational_unit_identifiers {
                let path = dir.join(&ou.certificate);
                let certificate =
                    std::fs::read(&path).map_err(|source| ConfigError::Io { path, source })?;
                organizational_unit_identifiers.push(OuIdentifier {
                    ou: ou.organizational_unit_identifier,
                    certificate,
                });
            }
            if let Some(n) = conf.node_ous.filter(|n| n.enable) {
                // As in Fabric: an OU without a name is left out; a certificate
                // that cannot be read is left empty.
                let load = |id: Option<OuFile>| {
                    id.filter(|i| !i.organizational_unit_identifier.is_empty())
                        .map(|i| OuIdentifier {
                            certificate: if i.certificate.is_empty() {
                                Vec::new()
                            } else {
                                std::fs::read(dir.join(&i.certificate)).unwrap_or_default()
                            },
                            ou: i.organizational_unit_identifier,
                        })
                };
                node_ous = Some(NodeOus {
                    client: load(n.client_ou_identifier),
                    peer: load(n.peer_ou_identifier),
                    admin: load(n.admin_ou_identifier),
                    orderer: load(n.orderer_ou_identifier),
                });
            }
        }
        Ok(MspDefinition {
            msp_id: msp_id.to_string(),
            root_certs,
            intermediate_certs,
            admin_certs,
            tls_root_certs: tls_root_certs.unwrap_or_default(),
            tls_intermediate_certs,
            revocation_list,
            organizational_unit_identifiers,
            node_ous,
        })
    }

    /// The `msp.FabricMSPConfig` of this definition.
    pub fn to_fabric_msp_config(&self) -> FabricMspConfig {
        let ou = |o: &OuIdentifier| FabricOuIdentifier {
            certificate: o.certificate.clone(),
            organizational_unit_identifier: o.ou.clone(),
        };
        FabricMspConfig {
            name: self.msp_id.clone(),
            root_certs: self.root_certs.clone(),
            intermediate_certs: self.intermediate_certs.clone(),
            admins: self.admin_certs.clone(),
            revocation_list: self.revocation_list.clone(),
            signing_identity: None,
            organizational_unit_identifiers: self
                .organizational_unit_identifiers
                .iter()
                .map(ou)
                .collect(),
            crypto_config: Some(FabricCryptoConfig {
                signature_hash_family: "SHA2".into(),
                identity_identifier_hash_function: "SHA256".into(),
            }),
            tls_root_certs: self.tls_root_certs.clone(),
            tls_intermediate_certs: self.tls_intermediate_certs.clone(),
            fabric_node_ous: self.node_ous.as_ref().map(|n| FabricNodeOUs {
                enable: true,
                client_ou_identifier: n.client.as_ref().map(ou),
                peer_ou_identifier: n.peer.as_ref().map(ou),
                admin_ou_identifier: n.admin.as_ref().map(ou),
                orderer_ou_identifier: n.orderer.as_ref().map(ou),
            }),
        }
    }

    fn check(&self) -> Result<()> {
        let invalid = |problem: &str| {
            ConfigError::invalid(format!("MSP definition of {:?}", self.msp_id), problem)
        };
        if self.msp_id.is_empty() {
            return Err(invalid("the MSP ID is empty"));
        }
        if self.root_certs.is_empty() {
            return Err(invalid("it has no root CA certificate"));
        }
        for cert in self
            .root_certs
            .iter()
            .chain(&self.intermediate_certs)
            .chain(&self.admin_certs)
            .chain(&self.tls_root_certs)
            .chain(&self.tls_intermediate_certs)
        {
            if !looks_like_pem(cert) {
                return Err(invalid(
                    "a certificate is not PEM (expected -----BEGIN CERTIFICATE-----)",
                ));
            }
        }
        if self.node_ous.is_none() && self.admin_certs.is_empty() {
            return Err(invalid(
                "it has neither NodeOUs nor admin certificates, so no one could administer it",
            ));
        }
        Ok(())
    }
}

/// An organization to put into a channel: the MSP, the organization's
/// policies, and its anchor peers (application) or endpoints (orderer).
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// The key of the organization's group; configtxgen uses the org's
    /// `Name`, which is usually the MSP ID.
    pub name: String,
    pub msp: MspDefinition,
    /// Policy name → rule; must contain `Readers`, `Writers` and `Admins`.
    pub policies: BTreeMap<String, PolicyRule>,
    /// Anchor peers (application organizations); none means no `AnchorPeers` value.
    pub anchor_peers: Vec<AnchorPeer>,
    /// Orderer endpoints `host:port` (orderer organizations); none means no `Endpoints` value.
    pub orderer_endpoints: Vec<String>,
}

impl Organization {
    /// An application organization named after its MSP ID, with the policies
    /// Fabric's sample networks give one: with NodeOUs, Readers =
    /// `OR(admin, peer, client)`, Writers = `OR(admin, client)`, Admins =
    /// `OR(admin)`, Endorsement = `OR(peer)`; without NodeOUs, `member`
    /// replaces the peer and client roles.
    pub fn application(msp: MspDefinition) -> Result<Organization> {
        let id = msp.msp_id.clone();
        let p = |s: String| PolicyRule::signature(&s);
        let policies = if msp.node_ous.is_some() {
            [
                (
                    "Readers",
                    p(format!("OR('{id}.admin', '{id}.peer', '{id}.client')"))?,
                ),
                ("Writers", p(format!("OR('{id}.admin', '{id}.client')"))?),
                ("Admins", p(format!("OR('{id}.admin')"))?),
                ("Endorsement", p(format!("OR('{id}.peer')"))?),
            ]
        } else {
            [
                ("Readers", p(format!("OR('{id}.member')"))?),
                ("Writers", p(format!("OR('{id}.member')"))?),
                ("Admins", p(format!("OR('{id}.admin')"))?),
                ("Endorsement", p(format!("OR('{id}.member')"))?),
            ]
        };
        Ok(Organization {
            name: id,
            msp,
            policies: policies
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            anchor_peers: Vec::new(),
            orderer_endpoints: Vec::new(),
        })
    }

    /// An orderer organization named after its MSP ID with Readers = Writers =
    /// `OR(member)`, Admins = `OR(admin)`, and the given endpoints.
    pub fn orderer(msp: MspDefinition, endpoints: Vec<String>) -> Result<Organization> {
        let id = msp.msp_id.clone();
        let policies = [
            (
                "Readers",
                PolicyRule::signature(&format!("OR('{id}.member')"))?,
            ),
            (
                "Writers",
                PolicyRule::signature(&format!("OR('{id}.member')"))?,
            ),
            (
                "Admins",
                PolicyRule::signature(&format!("OR('{id}.admin')"))?,
            ),
        ];
        Ok(Organization {
            name: id,
            msp,
            policies: policies
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            anchor_peers: Vec::new(),
            orderer_endpoints: endpoints,
        })
    }

    /// Adds anchor peers (`host`, `port`).
    pub fn with_anchor_peers(mut self, peers: &[(&str, u16)]) -> Organization {
        self.anchor_peers = peers
            .iter()
            .map(|(host, port)| AnchorPeer {
                host: host.to_string(),
                port: i32::from(*port),
            })
            .collect();
        self
    }

    /// The organization's config group as configtxgen makes it: every
    /// element at version 0 with mod policy `Admins`.
    pub fn to_group(&self) -> Result<Group> {
        self.msp.check()?;
        for required in ["Admins", "Readers", "Writers"] {
            if !self.policies.contains_key(required) {
                return Err(ConfigError::invalid(
                    format!("organization {}", self.name),
                    format!(
                        "it has no {required} policy; Fabric requires Admins, Readers and Writers"
                    ),
                ));
            }
        }
        let mut group = Group::new("Admins");
        for (name, rule) in &self.policies {
            group.set_policy(name, rule.clone(), "Admins");
        }
        group.set_value(
            "MSP",
            ValueContent::Msp(MspValue::Fabric(Box::new(self.msp.to_fabric_msp_config()))),
            "Admins",
        );
        if !self.anchor_peers.is_empty() {
            group.set_value(
                "AnchorPeers",
                ValueContent::AnchorPeers(self.anchor_peers.clone()),
                "Admins",
            );
        }
        if !self.orderer_endpoints.is_empty() {
            group.set_value(
                "Endpoints",
                ValueContent::Endpoints(self.orderer_endpoints.clone()),
                "Admins",
            );
        }
        Ok(group)
    }
}

pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains("-----BEGIN ") && text.contains("-----END ")
}

/// The PEM files of a directory in name order (`None` when it does not exist).
fn pem_files(dir: &Path) -> Result<Option<Vec<Vec<u8>>>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        if looks_like_pem(&bytes) {
            out.push(bytes);
        }
    }
    Ok(Some(out))
}

/// `config.yaml` of an MSP directory.
#[derive(Debug, Deserialize, Default)]
struct MspDirConfig {
    #[serde(rename = "OrganizationalUnitIdentifiers", default)]
    organizational_unit_identifiers: Vec<OuFile>,
    #[serde(rename = "NodeOUs", default)]
    node_ous: Option<NodeOusFile>,
}

#[derive(Debug, Deserialize, Default)]
struct OuFile {
    #[serde(rename = "Certificate", default)]
    certificate: String,
    #[serde(rename = "OrganizationalUnitIdentifier", default)]
    organizational_unit_identifier: String,
}

#[derive(Debug, Deserialize, Default)]
struct NodeOusFile {
    #[serde(rename = "Enable", default)]
    enable: bool,
    #[serde(rename = "ClientOUIdentifier", default)]
    client_ou_identifier: Option<OuFile>,
    #[serde(rename = "PeerOUIdentifier", default)]
    peer_ou_identifier: Option<OuFile>,
    #[serde(rename = "AdminOUIdentifier", default)]
    admin_ou_identifier: Option<OuFile>,
    #[serde(rename = "OrdererOUIdentifier", default)]
    orderer_ou_identifier: Option<OuFile>,
}
