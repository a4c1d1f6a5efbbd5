//! `opssc dev up | down | status`: the devnet from the command line.
//!
//! The clap definitions live here so the `opssc` binary embeds them as one
//! subcommand (`Dev { cmd: DevCommand }`) and calls [`run`]. `up` starts the
//! network detached — the nodes keep running after the command exits — and
//! records everything in `<state-dir>/devnet.json`; `status` and `down` work
//! from that file only, and `down` stops exactly the PIDs recorded there.
//!
//! Exit codes: 0 success; 1 error, or `up` while a devnet already runs there;
//! 2 (`status`) some recorded process is down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::builder::PossibleValuesParser;

use crate::error::DevnetError;
use crate::founding::ChaincodeRuntime;
use crate::network::{Devnet, DevnetOptions};
use crate::process::{Supervised, stop_all};
use crate::state::StateFile;
use crate::status::{render, status};
use crate::topology::Topology;

const DEFAULT_STATE_DIR: &str = ".opssc-dev";

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DevCommand {
    /// Start a Fabric network on this machine (no Docker) and leave it running.
    ///
    /// Builds Fabric from its Go module the first time (cached under
    /// ~/.cache/opssc/fabric), generates crypto material, starts the orderers
    /// and peers the spec describes on free 127.0.0.1 ports and joins them to
    /// its channels. Then founds the consortium: a git spec repository in
    /// <state-dir>/spec-repo with each organization's certificates, endpoints
    /// and admin SSH key, and the OpsSC chaincode on the ops channel, served by
    /// one opssc-chaincode process per organization. Prints where everything
    /// runs and each organization's agent configuration (opssc.yaml).
    Up {
        /// The network spec to run and found.
        #[arg(long, default_value = "network-spec", conflicts_with = "orgs")]
        spec: PathBuf,
        /// Instead of a spec: the reference topology with this many peer
        /// organizations (Org1MSP, ...; channels ops and trade), not founded
        /// (no spec repository, no OpsSC).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=20))]
        orgs: Option<u16>,
        /// Directory for all state: crypto material, ledgers, logs, devnet.json.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Number of Raft orderers (with --orgs).
        #[arg(long, default_value = "1", value_parser = PossibleValuesParser::new(["1", "3"]))]
        orderers: String,
        /// Number of peers in every organization (with --orgs).
        #[arg(long, default_value = "1", value_parser = PossibleValuesParser::new(["1", "2"]))]
        peers_per_org: String,
    },
    /// Stop the devnet's processes (exactly the recorded PIDs) and remove its state.
    Down {
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Keep the state directory (ledgers, logs, crypto material).
        #[arg(long)]
        keep: bool,
    },
    /// Play one of the paper's scenarios on a running devnet with its agents.
    ///
    /// `chaincode`: Org1's admin commits a signed upgrade of the spec's `kv`
    /// chaincode, then the command watches every organization converge.
    /// `add-org`: starts a new organization (Org4MSP: crypto material, peer,
    /// chaincode servers, agent) next to the network; Org1's admin commits its
    /// Organization file, Org4's admin commits its certificates and its
    /// membership of every channel; the command watches the proposals, votes,
    /// config updates, Org4's peer joining and the chaincodes answering there.
    Demo {
        #[arg(value_parser = PossibleValuesParser::new(["chaincode", "add-org"]))]
        scenario: String,
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Give up watching after this many seconds (180 for chaincode, 300
        /// for add-org when not given).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Show the devnet's processes, ports, channels and heights.
    Status {
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `opssc dev` command; returns the process exit code.
pub fn run(cmd: DevCommand) -> anyhow::Result<i32> {
    match cmd {
        DevCommand::Up {
            spec,
            orgs,
            state_dir,
            orderers,
            peers_per_org,
        } => {
            let opts = match orgs {
                Some(n) => DevnetOptions::new(
                    Topology::reference(n.into())
                        .with_orderers(parse_count(&orderers)?)
                        .with_peers_per_org(parse_count(&peers_per_org)?),
                ),
                None => DevnetOptions::from_spec(&spec, ChaincodeRuntime::next_to_current_exe()?)?,
            };
            up(opts, &state_dir)
        }
        DevCommand::Down { state_dir, keep } => down(&state_dir, keep),
        DevCommand::Status { state_dir, json } => show_status(&state_dir, json),
        DevCommand::Demo {
            scenario,
            state_dir,
            timeout,
        } => match scenario.as_str() {
            "add-org" => {
                crate::add_org::add_org(&state_dir, Duration::from_secs(timeout.unwrap_or(300)))
            }
            _ => crate::demo::chaincode(&state_dir, Duration::from_secs(timeout.unwrap_or(180))),
        },
    }
}

fn parse_count(s: &str) -> anyhow::Result<usize> {
    s.parse().with_context(|| format!("{s:?} is not a number"))
}

fn up(mut opts: DevnetOptions, state_dir: &Path) -> anyhow::Result<i32> {
    opts.state_dir = Some(state_dir.to_path_buf());
    opts.keep_state = true;
    opts.detached = true;
    let devnet = match Devnet::start(opts) {
        Ok(d) => d,
        Err(e @ DevnetError::AlreadyRunning { .. }) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    println!("{}", describe(&devnet));
    devnet.detach();
    Ok(0)
}

/// What runs where, and where each organization's agent configuration is.
fn describe(d: &Devnet) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Fabric {} devnet running; state in {}",
        d.bin().version,
        d.state_dir().display()
    );
    let _ = writeln!(s, "\norderers ({}):", d.orderer_org().msp_id);
    for o in d.orderers() {
        let _ = writeln!(
            s,
            "  {:<24} pid {:<8} grpc {}  admin {}  operations {}",
            o.host, o.pid, o.address, o.admin_address, o.operations_address
        );
    }
    for org in d.orgs() {
        let _ = writeln!(s, "\n{} ({}):", org.msp_id, org.domain);
        for p in &org.peers {
            let _ = writeln!(
                s,
                "  {:<24} pid {:<8} grpc {}  operations {}",
                p.host, p.pid, p.address, p.operations_address
            );
        }
        if let Some(f) = d.founded()
            && let Some(addr) = f.servers.get(&org.msp_id)
        {
            let _ = writeln!(s, "  {:<24} OpsSC chaincode server {addr}", "");
        }
        let _ = writeln!(s, "  agent config: {}", org.agent_config.display());
    }
    let _ = writeln!(
        s,
        "\n{} agent config: {}",
        d.orderer_org().msp_id,
        d.orderer_org().agent_config.display()
    );
    let chans: Vec<&str> = d.channels().iter().map(|c| c.name.as_str()).collect();
    let _ = writeln!(
        s,
        "\nchannels: {} (ops channel: {})",
        chans.join(", "),
        d.topology().ops_channel
    );
    if let Some(f) = d.founded() {
        let _ = writeln!(
            s,
            "\nOpsSC {} committed on {}; registry founded in {:.1} s",
            f.package_id,
            f.ops_channel,
            f.founding_ms as f64 / 1000.0
        );
        let _ = writeln!(
            s,
            "spec repository: {} (branch {}, founding commit {})",
            f.spec_repo.url, f.spec_repo.branch, f.spec_repo.root_commit
        );
        let _ = writeln!(
            s,
            "admin SSH keys: {}/orgs/<MspId>/admin_ssh_key (sign spec commits with them)",
            d.state_dir().display()
        );
    }
    let _ = write!(
        s,
        "\nlogs in {}/logs; `opssc dev status` shows heights, `opssc dev down` stops it all.",
        d.state_dir().display()
    );
    s
}

/// Stops the recorded processes of the devnet in `state_dir` and removes it unless `keep`.
pub fn stop_recorded(state_dir: &Path, keep: bool) -> Result<Vec<String>, DevnetError> {
    let state = StateFile::load(state_dir)?;
    let mut procs: Vec<Supervised> = state
        .processes
        .iter()
        .map(|r| Supervised {
            record: r.clone(),
            child: None,
        })
        .collect();
    let was_running: Vec<String> = procs
        .iter()
        .filter(|p| p.record.is_running())
        .map(|p| format!("{} (pid {})", p.record.name, p.record.pid))
        .collect();
    stop_all(&mut procs, Duration::from_secs(10))?;
    if keep {
        let mut state = state;
        state.ready = false;
        state.save()?;
    } else {
        std::fs::remove_dir_all(state_dir).map_err(DevnetError::io("remove", state_dir))?;
    }
    Ok(was_running)
}

fn down(state_dir: &Path, keep: bool) -> anyhow::Result<i32> {
    match stop_recorded(state_dir, keep) {
        Ok(stopped) => {
            if stopped.is_empty() {
                println!("no process of the devnet was running");
            }
            for s in stopped {
                println!("stopped {s}");
            }
            if keep {
                println!("state kept in {}", state_dir.display());
            } else {
                println!("removed {}", state_dir.display());
            }
            Ok(0)
        }
        Err(DevnetError::NoState(dir)) => {
            println!("no devnet in {}: nothing to stop", dir.display());
            Ok(0)
        }
        Err(e) => Err(e.into()),
    }
}

fn show_status(state_dir: &Path, json: bool) -> anyhow::Result<i32> {
    let s = match status(state_dir) {
        Ok(s) => s,
        Err(e @ DevnetError::NoState(_)) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", render(&s));
    }
    Ok(if s.all_running() { 0 } else { 2 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: DevCommand,
    }

    #[test]
    fn up_defaults_and_limits() {
        let c = Cli::try_parse_from(["dev", "up"]).unwrap();
        match c.cmd {
            DevCommand::Up {
                spec,
                orgs,
                state_dir,
                orderers,
                peers_per_org,
            } => {
                assert_eq!(spec, Path::new("network-spec"));
                assert_eq!(orgs, None);
                assert_eq!(state_dir, Path::new(".opssc-dev"));
                assert_eq!(orderers, "1");
                assert_eq!(peers_per_org, "1");
            }
            _ => panic!("not up"),
        }
        assert!(Cli::try_parse_from(["dev", "up", "--orderers", "2"]).is_err());
        assert!(
            Cli::try_parse_from(["dev", "up", "--orderers", "3", "--peers-per-org", "2"]).is_ok()
        );
        assert!(Cli::try_parse_from(["dev", "up", "--orgs", "0"]).is_err());
        assert!(Cli::try_parse_from(["dev", "up", "--orgs", "2", "--spec", "x"]).is_err());
        let c = Cli::try_parse_from(["dev", "down", "--keep", "--state-dir", "/x"]).unwrap();
        assert!(matches!(c.cmd, DevCommand::Down { keep: true, .. }));
        let c = Cli::try_parse_from(["dev", "demo", "add-org"]).unwrap();
        assert!(
            matches!(c.cmd, DevCommand::Demo { ref scenario, timeout: None, .. } if scenario == "add-org")
        );
        assert!(Cli::try_parse_from(["dev", "demo", "remove-org"]).is_err());
    }

    #[test]
    fn status_and_down_without_a_devnet() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("none");
        assert_eq!(
            run(DevCommand::Status {
                state_dir: dir.clone(),
                json: false
            })
            .unwrap(),
            1
        );
        assert_eq!(
            run(DevCommand::Down {
                state_dir: dir,
                keep: false
            })
            .unwrap(),
            0
        );
    }
}
