//! Founding the consortium on a running devnet: the spec repository and the
//! OpsSC chaincode.
//!
//! [`found`] runs once, after the network is up: it writes the spec
//! repository ([`crate::spec_repo`]), builds the OpsSC chaincode-as-a-service
//! package, starts one OpsSC chaincode server per organization, has every
//! organization install the package on its peers and approve the definition
//! with its own admin identity, commits it (one organization, endorsed by
//! all), calls the contract's `found` with the members of every channel, and
//! points each organization's agent configuration at the spec repository.
//!
//! Key decision: the package is the same bytes for every organization (so
//! each derives the same package ID on its own), yet each organization's
//! peers dial that organization's own server. The package's
//! `connection.json` holds the placeholder [`OPSSC_ADDRESS_TEMPLATE`]; the
//! devnet's ccaas builder replaces `{{.name}}` placeholders at install time
//! from the peer's own `<FABRIC_CFG_PATH>/ccaas-builder.env` (`name=value`
//! lines), which [`found`] writes before installing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::package::{self, Connection};
use opssc_fabric::{Error as FabricError, Fault, Node, NodeConfig, Signer, SigningIdentity};
use opssc_schema::local::{AgentConfig, SpecSource};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{DevnetError, Result};
use crate::handles::{NetworkPlan, OrgHandle, PeerHandle};
use crate::layout::Layout;
use crate::process::{NodeCommand, NodeKind, ProcessRecord, spawn_node};
use crate::spec_repo::{SpecRepo, create_spec_repo};

/// The OpsSC chaincode's name on the ops channel.
pub const OPSSC_NAME: &str = "opssc";
/// The builder placeholder in the OpsSC package's `connection.json`: each
/// peer resolves it to its own organization's server.
pub const OPSSC_ADDRESS_TEMPLATE: &str = "{{.opssc}}";
/// The file in each peer's configuration directory the ccaas builder reads
/// placeholder values from.
pub const BUILDER_ENV_FILE: &str = "ccaas-builder.env";

/// How the OpsSC chaincode servers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChaincodeRuntime {
    /// Served by this process on a background runtime (tests; the servers
    /// stop with the [`crate::Devnet`]).
    InProcess,
    /// One `opssc-chaincode` process per organization, started and stopped
    /// by PID like the nodes (`opssc dev up`).
    Binary(PathBuf),
}

impl ChaincodeRuntime {
    /// The `opssc` binary next to the chaincode server binary: when present
    /// (`opssc dev up`), the organizations' agents create the channels and
    /// found the OpsSC (`opssc found`), not the devnet.
    pub fn agents_opssc(&self) -> Option<PathBuf> {
        match self {
            ChaincodeRuntime::Binary(program) => {
                Some(program.with_file_name("opssc")).filter(|p| p.is_file())
            }
            ChaincodeRuntime::InProcess => None,
        }
    }

    /// The `opssc-chaincode` binary next to the running executable
    /// (`target/debug/opssc` → `target/debug/opssc-chaincode`).
    pub fn next_to_current_exe() -> Result<ChaincodeRuntime> {
        let exe = std::env::current_exe().map_err(DevnetError::io(
            "find the running executable",
            "/proc/self/exe",
        ))?;
        let dir = exe.parent().unwrap_or(Path::new("."));
        // Test binaries live one level down, in target/debug/deps.
        for d in [dir, dir.parent().unwrap_or(dir)] {
            let bin = d.join("opssc-chaincode");
            if bin.is_file() {
                return Ok(ChaincodeRuntime::Binary(bin));
            }
        }
        Err(DevnetError::Founding {
            what: "finding the OpsSC chaincode server".into(),
            detail: format!(
                "no opssc-chaincode binary next to {}; build it with `cargo build -p opssc-chaincode` \
                 (or install it next to opssc)",
                exe.display()
            ),
        })
    }
}

/// What founding needs.
#[derive(Debug, Clone)]
pub struct FoundingOptions {
    /// The spec directory the devnet was started from (copied into the spec repository).
    pub spec_dir: PathBuf,
    pub runtime: ChaincodeRuntime,
}

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
    /// The block that committed the chaincode definition (`None` when the
    /// organizations' agents founded the consortium: `opssc found`).
    #[serde(default)]
    pub definition_block: Option<u64>,
    /// The block of the `found` transaction (`None` as above).
    #[serde(default)]
    pub founded_block: Option<u64>,
    /// Who founded: `agents` (`opssc found` as each organization) or `devnet`.
    #[serde(default)]
    pub founded_by: String,
    /// Milliseconds from the start of founding until the registry was founded.
    pub founding_ms: u64,
}

/// What the devnet must track after founding.
pub(crate) struct Started {
    pub founded: Founded,
    /// The in-process servers' runtime (kept alive with the devnet).
    pub runtime: Option<tokio::runtime::Runtime>,
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

/// Retries `f` while it fails transiently, at most `limit`.
async fn retry<T, F, Fut>(limit: Duration, mut f: F) -> std::result::Result<T, FabricError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, FabricError>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Err(e) if e.fault() == Fault::Transient && start.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            other => return other,
        }
    }
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
fn update_agent_configs(
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
/// (`kvcc`, next to `opssc-chaincode`), started with the package ID the agents
/// will derive, and its peers resolve the package's `{{.<name>}}` address to it.
/// A real organization runs its own server; the agents then roll the chaincode
/// out from the spec. Returns label → address template for the agent configs;
/// without a `kvcc` binary it starts nothing (the agents report the missing
/// server).
fn start_demo_servers(
    plan: &NetworkPlan,
    layout: &Layout,
    spec: &opssc_schema::Spec,
    opssc_chaincode: &Path,
    detached: bool,
    say: &dyn Fn(&str),
    track: &mut dyn FnMut(std::process::Child, ProcessRecord),
) -> Result<BTreeMap<String, String>> {
    let program = opssc_chaincode.with_file_name("kvcc");
    let mut templates = BTreeMap::new();
    for demo in demo_chaincodes(spec, &program, say)? {
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
                spawn_demo_server(org, &demo, &address, &program, layout, detached)?;
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
pub(crate) struct DemoChaincode {
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
pub(crate) fn demo_chaincodes(
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
pub(crate) fn spawn_demo_server(
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

/// Founds the consortium on the running network of `plan` (see the module
/// doc). `track` receives every process started, at once, so the caller
/// stops it even when a later step fails.
pub(crate) fn found(
    plan: &NetworkPlan,
    layout: &Layout,
    opts: &FoundingOptions,
    detached: bool,
    say: &dyn Fn(&str),
    track: &mut dyn FnMut(std::process::Child, ProcessRecord),
) -> Result<Started> {
    let started = Instant::now();
    let spec_repo = create_spec_repo(&opts.spec_dir, plan, layout)?;
    let loaded = opssc_schema::load_dir(&spec_repo.path);
    if loaded.spec.is_none() {
        return Err(DevnetError::Founding {
            what: format!(
                "validating the spec repository {}",
                spec_repo.path.display()
            ),
            detail: loaded
                .report
                .errors()
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    say(&format!(
        "spec repository {} founded at {}",
        spec_repo.path.display(),
        &spec_repo.root_commit[..12]
    ));

    let version = env!("CARGO_PKG_VERSION").to_string();
    let label = format!("{OPSSC_NAME}_{version}");
    let pkg = package::ccaas_package(&label, &Connection::plaintext(OPSSC_ADDRESS_TEMPLATE))
        .map_err(fabric("building the OpsSC package"))?;
    let package_id = package::package_id(&label, &pkg);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("opssc-devnet-founding")
        .build()
        .map_err(DevnetError::io("start a runtime for", "the OpsSC founding"))?;

    // One server per organization.
    let mut servers = BTreeMap::new();
    for org in &plan.orgs {
        let listener = free_port()?;
        let address = listener
            .local_addr()
            .map_err(DevnetError::Ports)?
            .to_string();
        match &opts.runtime {
            ChaincodeRuntime::InProcess => {
                listener.set_nonblocking(true).map_err(DevnetError::Ports)?;
                let id = package_id.clone();
                let listener = {
                    let _guard = runtime.enter();
                    tokio::net::TcpListener::from_std(listener).map_err(DevnetError::Ports)?
                };
                runtime.spawn(async move {
                    if let Err(e) = opssc_fabric::shim::serve(
                        opssc_chaincode::ccaas::OpsSc,
                        &id,
                        listener,
                        None,
                        std::future::pending(),
                    )
                    .await
                    {
                        eprintln!("devnet: the in-process OpsSC server stopped: {e}");
                    }
                });
            }
            ChaincodeRuntime::Binary(program) => {
                drop(listener);
                let name = format!("{OPSSC_NAME}.{}", org.domain);
                let dir = layout.root.join("orgs").join(&org.msp_id);
                let args = ["--address", &address, "--chaincode-id", &package_id];
                let (child, record) = spawn_node(&NodeCommand {
                    name: &name,
                    kind: NodeKind::Chaincode,
                    program,
                    args: &args,
                    config_dir: &dir,
                    log: &layout.log(&name),
                    detached,
                })?;
                track(child, record);
            }
        }
        set_builder_value(org, OPSSC_NAME, &address)?;
        servers.insert(org.msp_id.clone(), address);
    }

    let demo_servers = match (&opts.runtime, &loaded.spec) {
        (ChaincodeRuntime::Binary(program), Some(spec)) => {
            start_demo_servers(plan, layout, spec, program, detached, say, track)?
        }
        _ => BTreeMap::new(),
    };
    update_agent_configs(plan, &spec_repo, &label, &demo_servers)?;
    let (definition_block, founded_block, founded_by) = match opts.runtime.agents_opssc() {
        // `opssc dev up`: each organization founds its part with its own
        // agent configuration, as a real consortium does (`opssc found`).
        Some(opssc) => {
            found_by_agents(plan, layout, &opssc, say)?;
            (None, None, "agents")
        }
        None => {
            let (d, f) = runtime.block_on(deploy(plan, &pkg, &package_id, &version, say))?;
            (Some(d), Some(f), "devnet")
        }
    };
    let founded = Founded {
        spec_repo,
        chaincode: OPSSC_NAME.into(),
        version,
        label,
        package_id,
        ops_channel: plan.topology.ops_channel.clone(),
        servers,
        definition_block,
        founded_block,
        founded_by: founded_by.into(),
        founding_ms: started.elapsed().as_millis() as u64,
    };
    say(&format!(
        "OpsSC {} committed on {} and registry founded (by the {founded_by})",
        founded.package_id, founded.ops_channel
    ));
    Ok(Started {
        founded,
        runtime: match opts.runtime {
            ChaincodeRuntime::InProcess => Some(runtime),
            ChaincodeRuntime::Binary(_) => {
                runtime.shutdown_background();
                None
            }
        },
    })
}

/// Runs `opssc found` with every organization's agent configuration (the
/// orderer organization's joins the orderers, each peer organization's joins
/// its peers and installs, approves and commits the OpsSC, the first founds
/// the registry), all at once, as separate processes; each one's output goes
/// to `logs/found.<MSP ID>.log`.
fn found_by_agents(
    plan: &NetworkPlan,
    layout: &Layout,
    opssc: &Path,
    say: &dyn Fn(&str),
) -> Result<()> {
    let configs: Vec<(&str, &PathBuf)> = plan
        .orgs
        .iter()
        .map(|o| (o.msp_id.as_str(), &o.agent_config))
        .chain(std::iter::once((
            plan.orderer_org.msp_id.as_str(),
            &plan.orderer_org.agent_config,
        )))
        .collect();
    let mut children = Vec::new();
    for (msp, config) in &configs {
        let log_path = layout.log(&format!("found.{msp}"));
        let log = std::fs::File::create(&log_path).map_err(DevnetError::io("create", &log_path))?;
        let err = log
            .try_clone()
            .map_err(DevnetError::io("open", &log_path))?;
        let child = std::process::Command::new(opssc)
            .args(["found", "--timeout", "180", "--config"])
            .arg(config)
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(DevnetError::io("start", opssc))?;
        children.push((msp.to_string(), log_path, child));
    }
    let mut failed = Vec::new();
    for (msp, log_path, mut child) in children {
        let status = child.wait().map_err(DevnetError::io("wait for", opssc))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            failed.push(format!(
                "{msp} ({status}, {}):\n{}",
                log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
    }
    if !failed.is_empty() {
        return Err(DevnetError::Founding {
            what: "founding by the organizations' agents (`opssc found`)".into(),
            detail: failed.join("\n"),
        });
    }
    say("channels created and OpsSC founded by each organization's `opssc found`");
    Ok(())
}

/// Installs `pkg` on every peer of `orgs`, approves `definition` on
/// `channel` as each organization (with its own admin identity, for the
/// package ID the peers derived), waits until every organization's peer sees
/// every approval, then commits it as the first organization, endorsed by
/// all of them. Returns the package ID and the block of the commit. The
/// lifecycle recipe shared by the founding and the tests that deploy their
/// own chaincode-as-a-service.
pub async fn deploy_chaincode(
    orgs: &[&OrgHandle],
    channel: &str,
    definition: &ChaincodeDefinition,
    pkg: &[u8],
) -> Result<(String, u64)> {
    let Some(first) = orgs.first() else {
        return Err(DevnetError::Founding {
            what: format!("deploying {} on {channel}", definition.name),
            detail: "no organization to deploy it".into(),
        });
    };
    let mut package_id = None::<String>;
    let mut gateways = Vec::new();
    for org in orgs {
        let signer = admin(org)?;
        for peer in &org.peers {
            let endorser = Endorser::new(connect(peer).await?, signer.clone());
            let installed = retry(Duration::from_secs(60), || {
                lifecycle::install(&endorser, pkg)
            })
            .await
            .map_err(fabric(format!(
                "installing the {} package on {}",
                definition.name, peer.host
            )))?;
            match &package_id {
                Some(id) if id != &installed.package_id => {
                    return Err(DevnetError::Founding {
                        what: format!(
                            "installing the {} package on {}",
                            definition.name, peer.host
                        ),
                        detail: format!(
                            "the peer derived package ID {}, another peer {id}",
                            installed.package_id
                        ),
                    });
                }
                Some(_) => {}
                None => package_id = Some(installed.package_id),
            }
        }
        gateways.push((org, Gateway::new(connect(&org.peers[0]).await?, signer)));
    }
    let package_id = package_id.expect("every organization has a peer");
    for (org, gw) in &gateways {
        retry(Duration::from_secs(60), || {
            lifecycle::approve(gw, channel, definition, Some(&package_id))
        })
        .await
        .map_err(fabric(format!(
            "approving the {} definition as {}",
            definition.name, org.msp_id
        )))?;
    }
    // Every peer must see every approval, or the commit's endorsements differ.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (org, gw) in &gateways {
        let endorser = Endorser::new(gw.node().clone(), gw.signer().clone());
        loop {
            let readiness = lifecycle::check_commit_readiness(&endorser, channel, definition)
                .await
                .map_err(fabric(format!(
                    "checking commit readiness on {}",
                    org.msp_id
                )))?;
            let missing: Vec<&str> = orgs
                .iter()
                .map(|o| o.msp_id.as_str())
                .filter(|m| readiness.approvals.get(*m) != Some(&true))
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(DevnetError::Founding {
                    what: format!(
                        "waiting for the {} approvals on {}'s peer",
                        definition.name, org.msp_id
                    ),
                    detail: format!("no approval from {} after 60 s", missing.join(", ")),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let endorsing: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    let gw = &gateways[0].1;
    let committed = retry(Duration::from_secs(90), || {
        lifecycle::commit(gw, channel, definition, &endorsing)
    })
    .await
    .map_err(fabric(format!(
        "committing the {} definition as {}",
        definition.name, first.msp_id
    )))?;
    Ok((package_id, committed.block))
}

/// Deploys the OpsSC on the ops channel and founds its registry with the
/// members of every channel. Returns the blocks of the definition and of the
/// `found` transaction.
async fn deploy(
    plan: &NetworkPlan,
    pkg: &[u8],
    package_id: &str,
    version: &str,
    say: &dyn Fn(&str),
) -> Result<(u64, u64)> {
    let ops = &plan.topology.ops_channel;
    let members: Vec<&OrgHandle> = plan
        .orgs
        .iter()
        .filter(|o| plan.topology.channels_of(&o.msp_id).any(|c| &c.name == ops))
        .collect();
    let def = ChaincodeDefinition::new(OPSSC_NAME, version, 1);
    let (installed, definition_block) = deploy_chaincode(&members, ops, &def, pkg).await?;
    if installed != package_id {
        return Err(DevnetError::Founding {
            what: "installing the OpsSC package".into(),
            detail: format!("the peers derived package ID {installed}, expected {package_id}"),
        });
    }
    say("OpsSC installed, approved by every member and committed");

    let channels: Vec<serde_json::Value> = plan
        .channels
        .iter()
        .filter(|c| &c.name != ops)
        .map(|c| json!({ "name": c.name, "members": c.members }))
        .collect();
    let member_ids: Vec<&str> = members.iter().map(|o| o.msp_id.as_str()).collect();
    let arg = serde_json::to_vec(&json!({
        "ops_channel": ops,
        "members": member_ids,
        "channels": channels,
    }))
    .expect("JSON values serialize");
    let first = members[0];
    let gw = admin_gateway(first).await?;
    let founded = retry(Duration::from_secs(90), || {
        gw.submit_transaction(ops, OPSSC_NAME, "found", [arg.as_slice()])
    })
    .await
    .map_err(fabric(format!(
        "founding the OpsSC registry as {}",
        first.msp_id
    )))?;
    Ok((definition_block, founded.block))
}

#[cfg(test)]
mod tests {
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
    fn options_from_the_reference_spec_found_the_reference_topology() {
        let opts = DevnetOptions::from_spec(&spec_dir(), ChaincodeRuntime::InProcess).unwrap();
        assert_eq!(opts.topology, Topology::reference(3));
        let f = opts.founding.unwrap();
        assert_eq!(f.spec_dir, spec_dir());
        assert_eq!(f.runtime, ChaincodeRuntime::InProcess);
    }

    #[test]
    fn options_from_an_invalid_spec_name_the_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("bad.yaml"),
            "apiVersion: opssc/v1alpha1\nkind: Channel\nmetadata:\n  name: x\nspec:\n  members: [Nobody]\n",
        )
        .unwrap();
        let err = DevnetOptions::from_spec(tmp.path(), ChaincodeRuntime::InProcess)
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
