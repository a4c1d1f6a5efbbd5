//! The chaincode packages this organization builds from the spec.
//!
//! For chaincode-as-a-service the package is `metadata.json` + a
//! `connection.json` naming the chaincode server; the bytes are reproducible
//! (`opssc_fabric::package`), so every organization that configures the same
//! server address derives the same package ID and can compare it with the
//! proposal's. Key decision: the address comes from the organization's local
//! configuration (`chaincodeServers`, by label, then by chaincode name), never
//! from the shared spec, because it is where *this* organization runs it.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use opssc_fabric::package::{self, Connection};
use opssc_schema::local::AgentConfig;
use opssc_schema::{Chaincode, PackageSource, Spec};

/// A built package.
#[derive(Debug, Clone)]
pub struct Built {
    pub label: String,
    pub bytes: Vec<u8>,
    pub package_id: String,
}

/// Builds the package of `cc`.
pub fn build(config: &AgentConfig, cc: &Chaincode) -> Result<Built> {
    match &cc.package {
        PackageSource::Ccaas { tls: true, .. } => bail!(
            "chaincode {}/{}: ccaas with TLS is not supported by this agent yet; set `tls: false`",
            cc.channel,
            cc.name
        ),
        PackageSource::Ccaas { .. } => {
            let Some(address) = config
                .chaincode_servers
                .get(&cc.label)
                .or_else(|| config.chaincode_servers.get(&cc.name))
            else {
                bail!(
                    "chaincode {}/{} (label {}): {} runs no server for it; add `chaincodeServers: {{{}: host:port}}` to the agent configuration",
                    cc.channel,
                    cc.name,
                    cc.label,
                    config.msp_id,
                    cc.label
                );
            };
            let bytes = package::ccaas_package(&cc.label, &Connection::plaintext(address))?;
            let package_id = package::package_id(&cc.label, &bytes);
            Ok(Built {
                label: cc.label.clone(),
                bytes,
                package_id,
            })
        }
        PackageSource::Source { .. } => bail!(
            "chaincode {}/{}: source packages are not built by this agent yet (only chaincode-as-a-service)",
            cc.channel,
            cc.name
        ),
    }
}

/// Builds every chaincode of the spec: successes by label, failures as messages.
pub fn build_all(config: &AgentConfig, spec: &Spec) -> (BTreeMap<String, Built>, Vec<String>) {
    let mut ok = BTreeMap::new();
    let mut errors = Vec::new();
    for cc in spec.chaincodes.values() {
        match build(config, cc) {
            Ok(b) => {
                ok.insert(b.label.clone(), b);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    (ok, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: &[(&str, &str)]) -> AgentConfig {
        let yaml = "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {mspDir: msp}\npeers: []\norderers: []\n";
        let mut c: AgentConfig = serde_saphyr_free_parse(yaml);
        c.chaincode_servers = servers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c
    }

    fn serde_saphyr_free_parse(yaml: &str) -> AgentConfig {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("opssc.yaml");
        std::fs::write(&p, yaml).unwrap();
        AgentConfig::load(&p).unwrap()
    }

    fn kv(version: &str) -> Chaincode {
        Chaincode {
            name: "kv".into(),
            channel: "trade".into(),
            version: version.into(),
            label: format!("kv_{version}"),
            package: PackageSource::Ccaas {
                artifact: None,
                tls: false,
            },
            endorsement_policy: None,
            collections: Vec::new(),
            init_required: false,
        }
    }

    #[test]
    fn same_address_same_package_id_across_orgs() {
        let a = build(&config(&[("kv_1.0", "kv:9999")]), &kv("1.0")).unwrap();
        let b = build(&config(&[("kv", "kv:9999")]), &kv("1.0")).unwrap();
        assert_eq!(a.package_id, b.package_id);
        assert!(a.package_id.starts_with("kv_1.0:"));
        let c = build(&config(&[("kv", "other:9999")]), &kv("1.0")).unwrap();
        assert_ne!(a.package_id, c.package_id);
    }

    #[test]
    fn missing_server_says_what_to_configure() {
        let e = build(&config(&[]), &kv("1.0")).unwrap_err().to_string();
        assert!(
            e.contains("chaincodeServers") && e.contains("kv_1.0"),
            "{e}"
        );
    }
}
