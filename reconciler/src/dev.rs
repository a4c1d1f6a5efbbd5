//! Founding a devnet's consortium: the one founding path, run for every
//! organization of a devnet started from a spec (`opssc dev up --spec`, and
//! the tests that want a founded network).
//!
//! [`found`] takes a running [`Devnet`] whose nodes are joined to no channel
//! ([`opssc_devnet::DevnetOptions::from_spec`]) and:
//! 1. has the devnet write the spec repository (each organization's real
//!    certificates, endpoints and admin key) from the spec directory;
//! 2. asks the caller's [`Servers`] to start each organization's OpsSC
//!    chaincode server (and whatever else the organizations serve), and
//!    routes each organization's peers to its own server;
//! 3. points every agent configuration at the spec repository and the OpsSC
//!    package;
//! 4. runs [`agent::founding::found`] — exactly what `opssc found` runs —
//!    for every organization at once, each with its own agent configuration
//!    and its own verified checkout of the spec: the orderer organization
//!    joins its orderers to every channel from the genesis block the spec
//!    describes; each peer organization joins its peers, installs and
//!    approves the OpsSC; the first ops member commits it and calls `found`
//!    with the spec's members and governance ([`agent::founding::found_args`]);
//! 5. waits until the channels are led and gossip converged, and records the
//!    outcome in `devnet.json`.
//!
//! Key decision (layering): the reconciler depends on the devnet (for
//! `opssc dev`), so the devnet cannot call the founding; it only starts
//! things and writes files, and the reconciler calls it, then founds. How the
//! OpsSC server runs is the caller's choice through [`Servers`]: `opssc dev
//! up` starts `opssc-chaincode` processes, a test may serve the contract in
//! its own process — no runtime variant of it in product code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use std::path::PathBuf;

use opssc_devnet::founding::{OPSSC_ADDRESS_TEMPLATE, OPSSC_NAME, set_builder_value};
use opssc_devnet::{Devnet, DevnetError, Founded, OrgHandle};
use opssc_fabric::package::{self, Connection};
use opssc_schema::Spec;

use crate::agent::founding::{FoundingError, OPSSC_VERSION};
use crate::agent::spec_source::SpecSourceError;
use crate::agent::{self, error::chain};

pub type Result<T, E = DevError> = std::result::Result<T, E>;

/// What a [`Servers`] implementation fails with: its own error, whatever
/// the caller (a command, a test) serves the chaincodes with.
pub type ServerError = Box<dyn std::error::Error + Send + Sync>;

/// Why founding a devnet failed: the devnet, the spec, the caller's
/// servers, or an organization's own founding (each says which).
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Devnet(#[from] DevnetError),
    #[error("building the OpsSC package")]
    Package(#[source] opssc_fabric::Error),
    /// The spec repository the devnet wrote does not validate (every error
    /// with its location).
    #[error("the spec repository {} does not validate:\n{errors}", repo.display())]
    InvalidSpec { repo: PathBuf, errors: String },
    #[error("starting the {what} of {msp_id}")]
    Server {
        what: &'static str,
        msp_id: String,
        #[source]
        source: ServerError,
    },
    #[error("starting a runtime for the founding")]
    Runtime(#[source] std::io::Error),
    #[error("a founding task panicked: {0}")]
    Panicked(String),
    /// Organizations whose `opssc found` did not finish, each with the end
    /// of its log.
    #[error("founding by the organizations (`opssc found`) did not finish:\n{0}")]
    NotFinished(String),
    #[error("loading {}: {problem}", path.display())]
    Config { path: PathBuf, problem: String },
    #[error(transparent)]
    Spec(#[from] SpecSourceError),
    #[error("creating {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Found(#[from] FoundingError),
}

/// What each organization serves, started by the caller of [`found`].
pub trait Servers {
    /// Starts `org`'s OpsSC chaincode server for the package `package_id`
    /// (listening where the peers can reach it); its `host:port`.
    fn opssc(
        &mut self,
        devnet: &mut Devnet,
        org: &OrgHandle,
        package_id: &str,
    ) -> Result<String, ServerError>;

    /// Starts the other chaincode servers the organizations run for `spec`;
    /// package label → address template for the agent configurations.
    fn others(
        &mut self,
        _devnet: &mut Devnet,
        _spec: &Spec,
    ) -> Result<BTreeMap<String, String>, ServerError> {
        Ok(BTreeMap::new())
    }
}

/// The OpsSC package every organization installs: its label, bytes and ID.
/// The address is the builder placeholder, so the bytes are the same for
/// everyone (see `opssc_devnet::founding`).
pub fn opssc_package() -> Result<(String, Vec<u8>, String)> {
    let label = format!("{OPSSC_NAME}_{OPSSC_VERSION}");
    let bytes = package::ccaas_package(&label, &Connection::plaintext(OPSSC_ADDRESS_TEMPLATE))
        .map_err(DevError::Package)?;
    let id = package::package_id(&label, &bytes);
    Ok((label, bytes, id))
}

/// Founds the consortium of the spec in `spec_dir` on `devnet` (see the
/// module doc); `say` gets progress lines. Each organization's founding
/// output goes to `logs/found.<MSP ID>.log`.
pub fn found(
    devnet: &mut Devnet,
    spec_dir: &Path,
    servers: &mut dyn Servers,
    timeout: Duration,
    say: &dyn Fn(&str),
) -> Result<Founded> {
    let started = Instant::now();
    let repo = devnet.create_spec_repo(spec_dir)?;
    let loaded = opssc_schema::load_dir(&repo.path);
    let Some(spec) = loaded.spec else {
        return Err(DevError::InvalidSpec {
            repo: repo.path.clone(),
            errors: loaded
                .report
                .errors()
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n"),
        });
    };
    say(&format!(
        "spec repository {} founded at {}",
        repo.path.display(),
        &repo.root_commit[..12]
    ));

    let (label, _, package_id) = opssc_package()?;
    let mut addresses = BTreeMap::new();
    for org in devnet.orgs().to_vec() {
        let address =
            servers
                .opssc(devnet, &org, &package_id)
                .map_err(|source| DevError::Server {
                    what: "OpsSC server",
                    msp_id: org.msp_id.clone(),
                    source,
                })?;
        set_builder_value(&org, OPSSC_NAME, &address)?;
        addresses.insert(org.msp_id.clone(), address);
    }
    let templates = servers
        .others(devnet, &spec)
        .map_err(|source| DevError::Server {
            what: "chaincode servers",
            msp_id: "the organizations".into(),
            source,
        })?;
    devnet.configure_agents(&repo, &label, &templates)?;

    let configs: Vec<(String, std::path::PathBuf)> = devnet
        .orgs()
        .iter()
        .map(|o| (o.msp_id.clone(), o.agent_config.clone()))
        .chain(std::iter::once((
            devnet.orderer_org().msp_id.clone(),
            devnet.orderer_org().agent_config.clone(),
        )))
        .collect();
    let logs: Vec<std::path::PathBuf> = configs
        .iter()
        .map(|(msp, _)| devnet.log_path(&format!("found.{msp}")))
        .collect();
    found_all(&configs, &logs, timeout)?;
    say("channels created and OpsSC founded by each organization's `opssc found`");
    devnet.wait_channels_ready()?;

    let founded = Founded {
        spec_repo: repo,
        chaincode: OPSSC_NAME.into(),
        version: OPSSC_VERSION.into(),
        label,
        package_id,
        ops_channel: spec.consortium.ops_channel.clone(),
        servers: addresses,
        definition_block: None,
        founded_block: None,
        founded_by: "agents".into(),
        founding_ms: started.elapsed().as_millis() as u64,
    };
    devnet.record_founded(founded.clone())?;
    Ok(founded)
}

/// Runs every organization's founding (`configs`: MSP ID, agent
/// configuration) at once, each writing to its log; fails naming every
/// organization that did not finish, with the end of its log.
fn found_all(
    configs: &[(String, std::path::PathBuf)],
    logs: &[std::path::PathBuf],
    timeout: Duration,
) -> Result<()> {
    opssc_fabric::participation::install_ring_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DevError::Runtime)?;
    let results = runtime.block_on(async {
        let tasks: Vec<_> = configs
            .iter()
            .zip(logs)
            .map(|((msp, path), log)| {
                let (msp, path, log) = (msp.clone(), path.clone(), log.clone());
                tokio::spawn(async move {
                    let result = found_one(&path, &log, timeout).await;
                    (msp, log, result)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    runtime.shutdown_background();
    let mut failed = Vec::new();
    for r in results {
        let (msp, log, result) = r.map_err(|e| DevError::Panicked(e.to_string()))?;
        let why = match result {
            Ok(true) => continue,
            Ok(false) => format!("not done after {} s", timeout.as_secs()),
            Err(e) => chain(&e),
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        failed.push(format!(
            "{msp} ({why}; {}):\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    if !failed.is_empty() {
        return Err(DevError::NotFinished(failed.join("\n")));
    }
    Ok(())
}

/// One organization's founding, as `opssc found --config <path>` runs it,
/// its progress lines written to `log`.
async fn found_one(config: &Path, log: &Path, timeout: Duration) -> Result<bool> {
    use std::io::Write as _;
    let config =
        opssc_schema::local::AgentConfig::load(config).map_err(|problem| DevError::Config {
            path: config.to_path_buf(),
            problem,
        })?;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| ".opssc-agent".into());
    let at = agent::spec_source::resolve(&config, &state_dir.join("found"), None)?;
    let mut file = std::fs::File::create(log).map_err(|source| DevError::Log {
        path: log.to_path_buf(),
        source,
    })?;
    Ok(
        agent::founding::found(config, &at.spec, timeout, &mut |line: &str| {
            let _ = writeln!(file, "{line}");
        })
        .await?,
    )
}

#[cfg(test)]
mod tests {
    use opssc_devnet::agent_config::write_agent_configs;
    use opssc_devnet::handles::plan;
    use opssc_devnet::layout::Layout;
    use opssc_devnet::ports::PortPool;
    use opssc_devnet::spec_repo::SpecRepo;
    use opssc_schema::local::AgentConfig;

    use super::*;

    /// The package the devnet routes each organization's peers to is the one
    /// each organization's founding installs and approves, derived from its
    /// own agent configuration as the devnet leaves it.
    #[test]
    fn every_organization_derives_the_package_the_devnet_serves() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let p = plan(
            &opssc_devnet::Topology::reference(2),
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
        let (label, bytes, id) = opssc_package().unwrap();
        assert_eq!(label, format!("opssc_{OPSSC_VERSION}"));
        opssc_devnet::founding::update_agent_configs(&p, &repo, &label, &BTreeMap::new()).unwrap();
        for org in &p.orgs {
            let config = AgentConfig::load(&org.agent_config).unwrap();
            let (their_label, their_bytes, their_id) =
                agent::founding::opssc_package(&config).unwrap();
            assert_eq!(
                (their_label.as_str(), their_id.as_str()),
                (label.as_str(), id.as_str()),
                "{}",
                org.msp_id
            );
            assert_eq!(their_bytes, bytes, "{}", org.msp_id);
        }
    }
}
