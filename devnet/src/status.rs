//! What a devnet is doing right now, for `opssc dev status` and tests.
//!
//! Liveness comes from `/proc` (the recorded PID with its recorded start time,
//! zombies count as down); channel membership and heights come from the nodes
//! themselves — the orderers' participation API (`osnadmin`) and the peers'
//! `peer channel getinfo` — queried in parallel, only for running nodes.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::channels::{self, OrdererChannelInfo};
use crate::error::Result;
use crate::process::NodeKind;
use crate::state::StateFile;

#[derive(Debug, Clone, Serialize)]
pub struct NetworkStatus {
    pub state_dir: std::path::PathBuf,
    pub fabric_version: String,
    /// True when start-up completed (channels joined).
    pub ready: bool,
    pub processes: Vec<ProcessStatus>,
    pub channels: Vec<ChannelStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessStatus {
    /// Host name, e.g. `peer0.org1.example.com`.
    pub name: String,
    pub kind: NodeKind,
    pub msp_id: String,
    pub pid: u32,
    pub running: bool,
    /// (label, address) pairs: `grpc`, `operations`, `admin`, ...
    pub addresses: Vec<(String, String)>,
    pub rss_bytes: Option<u64>,
    pub log: std::path::PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelStatus {
    pub name: String,
    pub members: Vec<String>,
    /// Per orderer: its view of the channel, or why it could not be read.
    pub orderers: Vec<(String, Result<OrdererChannelInfo, String>)>,
    /// Per member peer: its ledger height, or why it could not be read.
    pub peers: Vec<(String, Result<u64, String>)>,
}

impl NetworkStatus {
    /// The status of one process by host name.
    pub fn process(&self, name: &str) -> Option<&ProcessStatus> {
        self.processes.iter().find(|p| p.name == name)
    }

    pub fn all_running(&self) -> bool {
        self.processes.iter().all(|p| p.running)
    }
}

/// Reads the state file in `state_dir` and asks the nodes.
pub fn status(state_dir: &Path) -> Result<NetworkStatus> {
    collect_status(&StateFile::load(state_dir)?)
}

pub(crate) fn collect_status(state: &StateFile) -> Result<NetworkStatus> {
    let plan = &state.plan;
    let running = |host: &str| {
        state
            .processes
            .iter()
            .find(|p| p.name == host)
            .is_some_and(|p| p.is_running())
    };
    let mut processes = Vec::new();
    for o in &plan.orderers {
        processes.push((
            o.host.clone(),
            o.msp_id.clone(),
            vec![
                ("grpc".to_string(), o.address.clone()),
                ("admin".to_string(), o.admin_address.clone()),
                ("operations".to_string(), o.operations_address.clone()),
            ],
        ));
    }
    for p in plan.orgs.iter().flat_map(|o| &o.peers) {
        processes.push((
            p.host.clone(),
            p.msp_id.clone(),
            vec![
                ("grpc".to_string(), p.address.clone()),
                ("chaincode".to_string(), p.chaincode_address.clone()),
                ("operations".to_string(), p.operations_address.clone()),
            ],
        ));
    }
    if let Some(f) = &state.founded {
        for org in &plan.orgs {
            if let Some(addr) = f.servers.get(&org.msp_id) {
                processes.push((
                    format!("{}.{}", f.chaincode, org.domain),
                    org.msp_id.clone(),
                    vec![("chaincode server".to_string(), addr.clone())],
                ));
            }
        }
    }
    let processes: Vec<ProcessStatus> = processes
        .into_iter()
        .filter_map(|(name, msp_id, addresses)| {
            let rec = state.processes.iter().find(|p| p.name == name)?;
            Some(ProcessStatus {
                running: rec.is_running(),
                rss_bytes: rec.rss_bytes(),
                kind: rec.kind,
                pid: rec.pid,
                log: rec.log.clone(),
                name,
                msp_id,
                addresses,
            })
        })
        .collect();

    let bin = &state.fabric;
    let channels = std::thread::scope(|s| {
        let jobs: Vec<_> = plan
            .channels
            .iter()
            .map(|ch| {
                let orderers: Vec<_> = plan
                    .orderers
                    .iter()
                    .map(|o| {
                        let up = running(&o.host);
                        let h = s.spawn(move || {
                            if !up {
                                return Err("down".to_string());
                            }
                            channels::orderer_channel_info(bin, o, &ch.name)
                                .map_err(|e| e.to_string())
                        });
                        (o.host.clone(), h)
                    })
                    .collect();
                let peers: Vec<_> = plan
                    .orgs
                    .iter()
                    .filter(|org| ch.members.contains(&org.msp_id))
                    .flat_map(|org| org.peers.iter().map(move |p| (org, p)))
                    .map(|(org, p)| {
                        let up = running(&p.host);
                        let h = s.spawn(move || {
                            if !up {
                                return Err("down".to_string());
                            }
                            channels::peer_height(bin, org, p, &ch.name).map_err(|e| e.to_string())
                        });
                        (p.host.clone(), h)
                    })
                    .collect();
                (ch, orderers, peers)
            })
            .collect();
        jobs.into_iter()
            .map(|(ch, orderers, peers)| ChannelStatus {
                name: ch.name.clone(),
                members: ch.members.clone(),
                orderers: orderers
                    .into_iter()
                    .map(|(n, h)| (n, h.join().unwrap_or_else(|_| Err("query panicked".into()))))
                    .collect(),
                peers: peers
                    .into_iter()
                    .map(|(n, h)| (n, h.join().unwrap_or_else(|_| Err("query panicked".into()))))
                    .collect(),
            })
            .collect()
    });
    Ok(NetworkStatus {
        state_dir: state.state_dir.clone(),
        fabric_version: state.fabric.version.clone(),
        ready: state.ready,
        processes,
        channels,
    })
}

/// The human-readable report `opssc dev status` prints.
pub fn render(s: &NetworkStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "devnet in {} (Fabric {}){}",
        s.state_dir.display(),
        s.fabric_version,
        if s.ready {
            ""
        } else {
            " — start-up did not complete"
        }
    );
    let _ = writeln!(out, "\nprocesses:");
    for p in &s.processes {
        let addrs = p
            .addresses
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mem = p
            .rss_bytes
            .filter(|_| p.running)
            .map(|b| format!(", {} MiB", b / (1024 * 1024)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<28} {:<7} pid {:<8} {:<5} {}{}",
            p.name,
            match p.kind {
                NodeKind::Orderer => "orderer",
                NodeKind::Peer => "peer",
                NodeKind::Chaincode => "cc",
            },
            p.pid,
            if p.running { "up" } else { "DOWN" },
            addrs,
            mem
        );
    }
    let _ = writeln!(out, "\nchannels:");
    for ch in &s.channels {
        let _ = writeln!(out, "  {} (members: {})", ch.name, ch.members.join(", "));
        for (n, r) in &ch.orderers {
            let v = match r {
                Ok(i) => format!(
                    "height {} ({}, {})",
                    i.height, i.status, i.consensus_relation
                ),
                Err(e) => first_line(e),
            };
            let _ = writeln!(out, "    {n:<28} {v}");
        }
        for (n, r) in &ch.peers {
            let v = match r {
                Ok(h) => format!("height {h}"),
                Err(e) => first_line(e),
            };
            let _ = writeln!(out, "    {n:<28} {v}");
        }
    }
    out
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
