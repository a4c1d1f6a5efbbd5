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
    /// and peers on free 127.0.0.1 ports and joins them to the channels `ops`
    /// and `trade`. Prints where everything runs and each organization's agent
    /// configuration (opssc.yaml).
    Up {
        /// Number of peer organizations (Org1MSP, Org2MSP, ...).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=20))]
        orgs: u16,
        /// Directory for all state: crypto material, ledgers, logs, devnet.json.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Number of Raft orderers.
        #[arg(long, default_value = "1", value_parser = PossibleValuesParser::new(["1", "3"]))]
        orderers: String,
        /// Number of peers in every organization.
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
            orgs,
            state_dir,
            orderers,
            peers_per_org,
        } => up(
            orgs.into(),
            &state_dir,
            parse_count(&orderers)?,
            parse_count(&peers_per_org)?,
        ),
        DevCommand::Down { state_dir, keep } => down(&state_dir, keep),
        DevCommand::Status { state_dir, json } => show_status(&state_dir, json),
    }
}

fn parse_count(s: &str) -> anyhow::Result<usize> {
    s.parse().with_context(|| format!("{s:?} is not a number"))
}

fn up(orgs: usize, state_dir: &Path, orderers: usize, peers: usize) -> anyhow::Result<i32> {
    let topology = Topology::reference(orgs)
        .with_orderers(orderers)
        .with_peers_per_org(peers);
    let mut opts = DevnetOptions::new(topology);
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
                orgs,
                state_dir,
                orderers,
                peers_per_org,
            } => {
                assert_eq!(orgs, 3);
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
        let c = Cli::try_parse_from(["dev", "down", "--keep", "--state-dir", "/x"]).unwrap();
        assert!(matches!(c.cmd, DevCommand::Down { keep: true, .. }));
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
