//! What the devnet contributes to founding a consortium: the things that
//! run, and the files the organizations' founding reads.
//!
//! The founding itself — each channel's genesis block from the spec, the
//! orderers and peers joining, the OpsSC installed, approved and committed,
//! and the contract's `found` with the spec's members and governance — is the
//! reconciler's (`opssc found`, `opssc::agent::founding`), and `opssc dev up`
//! runs it for every organization once the devnet has started the nodes. The
//! devnet only starts and records processes, so it knows no contract:
//! - [`Devnet::start_chaincode_server`](crate::Devnet::start_chaincode_server): one chaincode server process per
//!   organization (e.g. `opssc-chaincode`), recorded and stopped like the nodes;
//! - [`set_builder_value`]: which address an organization's peers dial for a
//!   package whose `connection.json` holds a `{{.name}}` placeholder;
//! - [`Devnet::start_demo_servers`](crate::Devnet::start_demo_servers): the key-value test server (`kvcc`) for
//!   each chaincode-as-a-service chaincode of the spec, in each member's place;
//! - [`Devnet::configure_agents`](crate::Devnet::configure_agents): every organization's agent configuration
//!   pointed at the spec repository and the OpsSC package;
//! - [`Devnet::record_founded`](crate::Devnet::record_founded): the outcome, in `devnet.json`.
//!
//! Key decision: the OpsSC package is the same bytes for every organization
//! (so each derives the same package ID on its own), yet each organization's
//! peers dial that organization's own server. The package's
//! `connection.json` holds the placeholder [`OPSSC_ADDRESS_TEMPLATE`]; the
//! devnet's ccaas builder replaces `{{.name}}` placeholders at install time
//! from the peer's own `<FABRIC_CFG_PATH>/ccaas-builder.env` (`name=value`
//! lines), which [`set_builder_value`] writes before anything is installed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use opssc_fabric::gateway::Gateway;
use opssc_fabric::package::{self, Connection};
use opssc_fabric::{Error as FabricError, Node, NodeConfig, Signer, SigningIdentity};
use opssc_schema::local::{AgentConfig, SpecSource};
use serde::{Deserialize, Serialize};

use crate::error::{DevnetError, Result};
use crate::handles::{NetworkPlan, OrgHandle, PeerHandle};
use crate::layout::Layout;
use crate::process::{NodeCommand, NodeKind, ProcessRecord, spawn_node};
use crate::spec_repo::SpecRepo;

/// The OpsSC chaincode's name on the ops channel.
pub const OPSSC_NAME: &str = "opssc";
/// The builder placeholder in the OpsSC package's `connection.json`: each
/// peer resolves it to its own organization's server.
pub const OPSSC_ADDRESS_TEMPLATE: &str = "{{.opssc}}";
/// The file in each peer's configuration directory the ccaas builder reads
/// placeholder values from.
pub const BUILDER_ENV_FILE: &str = "ccaas-builder.env";

/// The outcome of founding, recorded in `devnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Founded {
    pub spec_repo: SpecRepo,
    /// The OpsSC chaincode name (`opssc`), version and package.
    pub chaincode: String,
    pub version: String,
    pub label: String,
    pub package_id: String,
    pub ops_channel: String,
    /// By MSP ID: where that organization's OpsSC server listens.
    pub servers: BTreeMap<String, String>,
    /// The block that committed the chaincode definition, when known.
    #[serde(default)]
    pub definition_block: Option<u64>,
    /// The block of the `found` transaction, when known.
    #[serde(default)]
    pub founded_block: Option<u64>,
    /// Who founded: `agents` (each organization's `opssc found`).
    #[serde(default)]
    pub founded_by: String,
    /// Milliseconds from the start of founding until the registry was founded.
    pub founding_ms: u64,
}

fn fabric(what: impl Into<String>) -> impl FnOnce(FabricError) -> DevnetError {
    let what = what.into();
    move |e| DevnetError::Founding {
        what,
        detail: chain(&e),
    }
}

/// An error with its sources, `a: b: c`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// The admin identity of a peer organization.
pub fn admin(org: &OrgHandle) -> Result<Arc<dyn Signer>> {
    let id = SigningIdentity::from_msp_dir(&org.msp_id, &org.admin_msp_dir).map_err(fabric(
        format!("loading the admin identity of {}", org.msp_id),
    ))?;
    Ok(Arc::new(id))
}

/// Connects to `peer` over TLS (its TLS CA, its host name).
pub async fn connect(peer: &PeerHandle) -> Result<Node> {
    let pem = std::fs::read_to_string(&peer.tls_ca_cert)
        .map_err(DevnetError::io("read", &peer.tls_ca_cert))?;
    Node::connect(&NodeConfig::tls(&peer.address, pem).with_server_name(&peer.host))
        .await
        .map_err(fabric(format!("connecting to {}", peer.host)))
}

/// The gateway of `org`'s first peer, as `org`'s admin.
pub async fn admin_gateway(org: &OrgHandle) -> Result<Gateway> {
    Ok(Gateway::new(connect(&org.peers[0]).await?, admin(org)?))
}

/// A free loopback port, chosen by the kernel.
fn free_port() -> Result<std::net::TcpListener> {
    std::net::TcpListener::bind("127.0.0.1:0").map_err(DevnetError::Ports)
}

/// Routes the builder placeholder `{{.name}}` to `value` on every peer of
/// `org` (a line in each peer's `<config_dir>/ccaas-builder.env`). A
/// chaincode-as-a-service package whose `connection.json` address is
/// `{{.name}}` then reaches this organization's own server at `value`
/// (`127.0.0.1:<port>`). Must be called before the package is installed (the
/// builder resolves placeholders at install time).
pub fn set_builder_value(org: &OrgHandle, name: &str, value: &str) -> Result<()> {
    for p in &org.peers {
        let path = p.config_dir.join(BUILDER_ENV_FILE);
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with(&format!("{name}=")))
            .map(str::to_string)
            .collect();
        lines.push(format!("{name}={value}"));
        std::fs::write(&path, lines.join("\n") + "\n").map_err(DevnetError::io("write", &path))?;
    }
    Ok(())
}

/// Points every organization's agent configuration at the spec repository
/// (trusting its founding commit) and at the OpsSC chaincode.
pub fn update_agent_configs(
    plan: &NetworkPlan,
    repo: &SpecRepo,
    label: &str,
    demo_servers: &BTreeMap<String, String>,
) -> Result<()> {
    let paths = plan
        .orgs
        .iter()
        .map(|o| &o.agent_config)
        .chain(std::iter::once(&plan.orderer_org.agent_config));
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(DevnetError::io("read", path))?;
        // Parsed without resolving paths, so the relative paths stay relative.
        let mut config: AgentConfig =
            serde_saphyr::from_str(&text).map_err(|e| DevnetError::Founding {
                what: format!("reading the agent configuration {}", path.display()),
                detail: e.to_string(),
            })?;
        config.spec = Some(SpecSource::Git {
            url: repo.url.clone(),
            branch: repo.branch.clone(),
            path: None,
            poll_seconds: None,
            trusted_root: Some(repo.root_commit.clone()),
        });
        config.ops_chaincode = Some(OPSSC_NAME.into());
        config
            .chaincode_servers
            .insert(label.to_string(), OPSSC_ADDRESS_TEMPLATE.into());
        for (cc_label, template) in demo_servers {
            config
                .chaincode_servers
                .insert(cc_label.clone(), template.clone());
        }
        std::fs::write(path, config.to_yaml()).map_err(DevnetError::io("write", path))?;
    }
    Ok(())
}

/// The devnet plays each organization's part of running chaincode servers:
/// for every chaincode-as-a-service chaincode of the spec (other than the
/// OpsSC), each member organization gets the project's key-value test server
/// (`kvcc`, the program given), started with the package ID the agents
/// will derive, and its peers resolve the package's `{{.<name>}}` address to it.
/// A real organization runs its own server; the agents then roll the chaincode
/// out from the spec. Returns label → address template for the agent configs;
/// without a `kvcc` binary it starts nothing (the agents report the missing
/// server).
pub(crate) fn start_demo_servers(
    plan: &NetworkPlan,
    layout: &Layout,
    spec: &opssc_schema::Spec,
    program: &Path,
    detached: bool,
    say: &dyn Fn(&str),
    track: &mut dyn FnMut(std::process::Child, ProcessRecord),
) -> Result<BTreeMap<String, String>> {
    let mut templates = BTreeMap::new();
    for demo in demo_chaincodes(spec, program, say)? {
        for org in plan
            .orgs
            .iter()
            .filter(|o| demo.members.contains(&o.msp_id))
        {
            let address = free_port()?
                .local_addr()
                .map_err(DevnetError::Ports)?
                .to_string();
            let (child, record) =
                spawn_demo_server(org, &demo, &address, program, layout, detached)?;
            track(child, record);
        }
        say(&format!(
            "demo chaincode server for {} ({}) started for each member of {}",
            demo.name, demo.package_id, demo.channel
        ));
        templates.insert(demo.label, demo.template);
    }
    Ok(templates)
}

/// A chaincode-as-a-service chaincode of the spec that the devnet serves with
/// the project's key-value test server (`kvcc`) in each organization's place.
pub struct DemoChaincode {
    pub name: String,
    pub channel: String,
    pub members: Vec<String>,
    pub label: String,
    /// The peers' builder value (`{{.<key>}}` in the package's address).
    pub key: String,
    pub template: String,
    pub package_id: String,
}

/// The spec's plain chaincode-as-a-service chaincodes other than the OpsSC,
/// with the package ID every organization's agent will derive; none (each
/// one said) when `kvcc` is not built.
pub fn demo_chaincodes(
    spec: &opssc_schema::Spec,
    kvcc: &Path,
    say: &dyn Fn(&str),
) -> Result<Vec<DemoChaincode>> {
    let mut out = Vec::new();
    for cc in spec.chaincodes.values() {
        if cc.name == OPSSC_NAME
            || !matches!(
                cc.package,
                opssc_schema::PackageSource::Ccaas { tls: false, .. }
            )
        {
            continue;
        }
        if !kvcc.is_file() {
            say(&format!(
                "no demo server for chaincode {}: build it with `cargo build -p opssc-tests --bin kvcc`",
                cc.name
            ));
            continue;
        }
        let key = cc.name.replace('-', "_");
        let template = format!("{{{{.{key}}}}}");
        let pkg = package::ccaas_package(&cc.label, &Connection::plaintext(&template))
            .map_err(fabric("building a demo chaincode package"))?;
        out.push(DemoChaincode {
            name: cc.name.clone(),
            channel: cc.channel.clone(),
            members: spec
                .channels
                .get(&cc.channel)
                .map(|c| c.members.clone())
                .unwrap_or_default(),
            label: cc.label.clone(),
            package_id: package::package_id(&cc.label, &pkg),
            key,
            template,
        });
    }
    Ok(out)
}

/// Starts `kvcc` for `demo` as `org` on `address` and points the org's peers'
/// builder value at it.
pub fn spawn_demo_server(
    org: &OrgHandle,
    demo: &DemoChaincode,
    address: &str,
    kvcc: &Path,
    layout: &Layout,
    detached: bool,
) -> Result<(std::process::Child, ProcessRecord)> {
    let name = format!("{}.{}", demo.name, org.domain);
    let dir = layout.root.join("orgs").join(&org.msp_id);
    let args = [
        "--address",
        address,
        "--chaincode-id",
        demo.package_id.as_str(),
    ];
    let started = spawn_node(&NodeCommand {
        name: &name,
        kind: NodeKind::Chaincode,
        program: kvcc,
        args: &args,
        config_dir: &dir,
        log: &layout.log(&name),
        detached,
    })?;
    set_builder_value(org, &demo.key, address)?;
    Ok(started)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::agent_config::write_agent_configs;
    use crate::handles::plan;
    use crate::ports::PortPool;
    use crate::topology::Topology;
    use crate::{DevnetOptions, spec_repo::SpecRepo};

    fn spec_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec")
    }

    #[test]
    fn options_from_the_reference_spec_start_the_reference_nodes_and_no_channel() {
        let opts = DevnetOptions::from_spec(&spec_dir()).unwrap();
        assert_eq!(opts.topology, Topology::reference(3));
        // The channels are the founding's work (`opssc found`).
        assert!(!opts.channels);
    }

    #[test]
    fn options_from_an_invalid_spec_name_the_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("bad.yaml"),
            "apiVersion: opssc/v1alpha1\nkind: Channel\nmetadata:\n  name: x\nspec:\n  members: [Nobody]\n",
        )
        .unwrap();
        let err = DevnetOptions::from_spec(tmp.path())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bad.yaml:"), "{err}");
        assert!(err.contains("does not validate"), "{err}");
    }

    #[test]
    fn builder_values_are_replaced_not_repeated() {
        let tmp = tempfile::tempdir().unwrap();
        let p = plan(
            &Topology::reference(1),
            &Layout::new(tmp.path()),
            &mut PortPool::new(),
        )
        .unwrap();
        let org = &p.orgs[0];
        std::fs::create_dir_all(&org.peers[0].config_dir).unwrap();
        set_builder_value(org, "kv", "127.0.0.1:1").unwrap();
        set_builder_value(org, "opssc", "127.0.0.1:2").unwrap();
        set_builder_value(org, "kv", "127.0.0.1:3").unwrap();
        let text = std::fs::read_to_string(org.peers[0].config_dir.join(BUILDER_ENV_FILE)).unwrap();
        assert_eq!(text, "opssc=127.0.0.1:2\nkv=127.0.0.1:3\n");
    }

    #[test]
    fn agent_configs_point_at_the_spec_repository_and_keep_relative_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let p = plan(
            &Topology::reference(2),
            &Layout::new(root),
            &mut PortPool::new(),
        )
        .unwrap();
        write_agent_configs(&p, root).unwrap();
        let repo = SpecRepo {
            path: root.join("spec-repo"),
            url: format!("file://{}/spec-repo", root.display()),
            branch: "main".into(),
            root_commit: "a".repeat(40),
            admin_keys: BTreeMap::new(),
        };
        let demo = BTreeMap::from([("kv_1.0".to_string(), "{{.kv}}".to_string())]);
        update_agent_configs(&p, &repo, "opssc_0.1.0", &demo).unwrap();
        for path in [&p.orgs[1].agent_config, &p.orderer_org.agent_config] {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.contains("../../crypto/"), "{text}");
            let c = AgentConfig::load(path).unwrap();
            assert_eq!(
                c.spec,
                Some(SpecSource::Git {
                    url: repo.url.clone(),
                    branch: "main".into(),
                    path: None,
                    poll_seconds: None,
                    trusted_root: Some("a".repeat(40)),
                })
            );
            assert_eq!(c.ops_chaincode.as_deref(), Some("opssc"));
            assert_eq!(
                c.chaincode_servers.get("opssc_0.1.0").map(String::as_str),
                Some(OPSSC_ADDRESS_TEMPLATE)
            );
            assert_eq!(
                c.chaincode_servers.get("kv_1.0").map(String::as_str),
                Some("{{.kv}}")
            );
        }
    }
}
