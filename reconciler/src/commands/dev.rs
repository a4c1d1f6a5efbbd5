//! `opssc dev up | down | status | demo`: a devnet for trying opssc.
//!
//! `up --spec` starts the spec's nodes (the devnet), then founds the
//! consortium the one way it is founded ([`opssc::dev::found`]: each
//! organization's `opssc found`), with one `opssc-chaincode` process per
//! organization serving the OpsSC and the key-value test server `kvcc` for
//! the spec's other chaincode-as-a-service chaincodes (both next to this
//! executable). `up --orgs N` starts a bare network, founded by nothing.
//! `demo` plays the paper's scenarios on a running quick start
//! ([`super::dev_demo`], [`super::dev_add_org`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use opssc_devnet::founding::OPSSC_NAME;
use opssc_devnet::{Devnet, DevnetError, DevnetOptions, OrgHandle, Topology, cli};
use opssc_schema::Spec;

use crate::cli::DevCommand;

/// How long each organization's founding may take in `dev up`.
const FOUNDING_TIMEOUT: Duration = Duration::from_secs(180);

pub fn run(cmd: DevCommand) -> Result<i32> {
    match cmd {
        DevCommand::Up {
            spec,
            orgs,
            state_dir,
            orderers,
            peers_per_org,
            fabric,
        } => {
            // The clap parser admits only the versions FabricVersion knows.
            let fabric = fabric
                .as_deref()
                .and_then(opssc_schema::FabricVersion::parse);
            match orgs {
                Some(n) => cli::up(
                    DevnetOptions::new(
                        Topology::reference(n.into())
                            .with_orderers(parse_count(&orderers)?)
                            .with_peers_per_org(parse_count(&peers_per_org)?)
                            .with_fabric(fabric.unwrap_or_default()),
                    ),
                    &state_dir,
                ),
                None => up_founded(&spec, &state_dir, fabric),
            }
        }
        DevCommand::Down { state_dir, keep } => cli::down(&state_dir, keep),
        DevCommand::Status { state_dir, json } => cli::show_status(&state_dir, json),
        DevCommand::Bench {
            orgs,
            spec,
            state_dir,
            timeout,
            flows,
        } => {
            let (rollout, add_org) = super::dev_bench::parse_flows(&flows)?;
            super::dev_bench::run(super::dev_bench::BenchOptions {
                orgs: super::dev_bench::parse_orgs(&orgs)?,
                spec,
                state_dir,
                timeout: Duration::from_secs(timeout),
                rollout,
                add_org,
            })
        }
        DevCommand::Demo {
            scenario,
            state_dir,
            timeout,
        } => match scenario.as_str() {
            "add-org" => {
                super::dev_add_org::run(&state_dir, Duration::from_secs(timeout.unwrap_or(300)))
            }
            _ => {
                super::dev_demo::chaincode(&state_dir, Duration::from_secs(timeout.unwrap_or(180)))
            }
        },
    }
}

fn parse_count(s: &str) -> Result<usize> {
    s.parse().with_context(|| format!("{s:?} is not a number"))
}

/// A binary installed next to the running `opssc` (`target/debug/opssc` →
/// `target/debug/<name>`; test binaries run from `target/debug/deps`).
pub fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running executable")?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    for d in [dir, dir.parent().unwrap_or(dir)] {
        let bin = d.join(name);
        if bin.is_file() {
            return Ok(bin);
        }
    }
    anyhow::bail!(
        "no {name} binary next to {}; build it (`cargo build -p opssc-chaincode -p opssc-tests --bins`), or install it next to an installed opssc (`cargo install --locked --path chaincode` for opssc-chaincode)",
        exe.display()
    )
}

/// `opssc dev up --spec`: the nodes, then the founding, then detach. The
/// nodes run `fabric` when given, else the spec's `fabricVersion`.
fn up_founded(
    spec_dir: &Path,
    state_dir: &Path,
    fabric: Option<opssc_schema::FabricVersion>,
) -> Result<i32> {
    let chaincode = sibling("opssc-chaincode")?;
    let mut opts = DevnetOptions::from_spec(spec_dir)?;
    if let Some(v) = fabric {
        opts.topology = opts.topology.with_fabric(v);
    }
    let mut devnet = match cli::start_detached(opts, state_dir) {
        Ok(d) => d,
        Err(e @ DevnetError::AlreadyRunning { .. }) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    let say = |m: &str| eprintln!("devnet: {m}");
    let mut servers = Processes {
        chaincode,
        kvcc: optional_sibling("kvcc"),
    };
    // On failure the devnet is dropped: it stops what it started and keeps
    // the state directory (with the founding logs) for inspection.
    opssc::dev::found(&mut devnet, spec_dir, &mut servers, FOUNDING_TIMEOUT, &say)?;
    println!("{}", cli::describe(&devnet));
    devnet.detach();
    Ok(0)
}

/// The sibling `name`, or just the name (whose absence the devnet reports
/// where it matters: no demo server for a chaincode without `kvcc`).
fn optional_sibling(name: &str) -> PathBuf {
    sibling(name).unwrap_or_else(|_| PathBuf::from(name))
}

/// `opssc dev up`'s servers: processes, recorded by the devnet.
pub(crate) struct Processes {
    pub(crate) chaincode: PathBuf,
    pub(crate) kvcc: PathBuf,
}

impl opssc::dev::Servers for Processes {
    fn opssc(
        &mut self,
        devnet: &mut Devnet,
        org: &OrgHandle,
        package_id: &str,
    ) -> Result<String, opssc::dev::ServerError> {
        let address = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .to_string();
        let name = format!("{OPSSC_NAME}.{}", org.domain);
        devnet.start_chaincode_server(
            &name,
            &org.msp_id,
            &self.chaincode,
            &["--address", &address, "--chaincode-id", package_id],
        )?;
        Ok(address)
    }

    fn others(
        &mut self,
        devnet: &mut Devnet,
        spec: &Spec,
    ) -> Result<BTreeMap<String, String>, opssc::dev::ServerError> {
        Ok(devnet.start_demo_servers(spec, &self.kvcc)?)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command, DevCommand};

    fn dev(args: &[&str]) -> Result<DevCommand, clap::Error> {
        let mut all = vec!["opssc", "dev"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|c| match c.command {
            Command::Dev { cmd } => cmd,
            other => panic!("not dev: {other:?}"),
        })
    }

    #[test]
    fn up_defaults_and_limits() {
        match dev(&["up"]).unwrap() {
            DevCommand::Up {
                spec,
                orgs,
                state_dir,
                orderers,
                peers_per_org,
                fabric,
            } => {
                assert_eq!(spec, std::path::Path::new("network-spec"));
                assert_eq!(orgs, None);
                assert_eq!(state_dir, std::path::Path::new(".opssc-dev"));
                assert_eq!(orderers, "1");
                assert_eq!(peers_per_org, "1");
                assert_eq!(fabric, None, "the spec's fabricVersion decides");
            }
            other => panic!("not up: {other:?}"),
        }
        assert!(matches!(
            dev(&["up", "--fabric", "3.1"]).unwrap(),
            DevCommand::Up { fabric: Some(ref v), .. } if v == "3.1"
        ));
        assert!(dev(&["up", "--fabric", "3.0"]).is_err());
        assert!(dev(&["up", "--orderers", "2"]).is_err());
        assert!(dev(&["up", "--orderers", "3", "--peers-per-org", "2"]).is_ok());
        assert!(dev(&["up", "--orgs", "0"]).is_err());
        assert!(dev(&["up", "--orgs", "2", "--spec", "x"]).is_err());
        assert!(matches!(
            dev(&["down", "--keep", "--state-dir", "/x"]).unwrap(),
            DevCommand::Down { keep: true, .. }
        ));
        assert!(matches!(
            dev(&["demo", "add-org"]).unwrap(),
            DevCommand::Demo { ref scenario, timeout: None, .. } if scenario == "add-org"
        ));
        assert!(dev(&["demo", "remove-org"]).is_err());
    }
}
