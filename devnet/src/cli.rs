//! `opssc dev up | down | status` as library functions: the `opssc` binary
//! defines the subcommands (and `opssc dev demo`) and calls these.
//!
//! `up` starts the network detached — the nodes keep running after the
//! command exits — and records everything in `<state-dir>/devnet.json`;
//! `status` and `down` work from that file only, and `down` stops exactly the
//! PIDs recorded there. Founding a devnet started from a spec is the
//! reconciler's (`opssc dev up --spec`): [`start_detached`] gives it the
//! running nodes, [`describe`] then says what runs where.
//!
//! Exit codes: 0 success; 1 error, or `up` while a devnet already runs there;
//! 2 (`status`) some recorded process is down.

use std::path::Path;
use std::time::Duration;

use crate::error::DevnetError;
use crate::network::{Devnet, DevnetOptions};
use crate::process::{Supervised, stop_all};
use crate::state::StateFile;
use crate::status::{render, status};

/// Where `opssc dev` keeps its state unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = ".opssc-dev";

/// Starts `opts` detached in `state_dir`, keeping the state: the nodes
/// outlive this process once the caller calls [`Devnet::detach`] (until
/// then, dropping the devnet stops them, e.g. when founding fails).
pub fn start_detached(mut opts: DevnetOptions, state_dir: &Path) -> Result<Devnet, DevnetError> {
    opts.state_dir = Some(state_dir.to_path_buf());
    opts.keep_state = true;
    opts.detached = true;
    Devnet::start(opts)
}

/// `opssc dev up --orgs N`: starts a bare network detached, prints what runs
/// where, and leaves it running.
pub fn up(opts: DevnetOptions, state_dir: &Path) -> anyhow::Result<i32> {
    let devnet = match start_detached(opts, state_dir) {
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
pub fn describe(d: &Devnet) -> String {
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

/// `opssc dev down`.
pub fn down(state_dir: &Path, keep: bool) -> anyhow::Result<i32> {
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

/// `opssc dev status`.
pub fn show_status(state_dir: &Path, json: bool) -> anyhow::Result<i32> {
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

    #[test]
    fn status_and_down_without_a_devnet() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("none");
        assert_eq!(show_status(&dir, false).unwrap(), 1);
        assert_eq!(down(&dir, false).unwrap(), 0);
    }
}
