//! The devnet against Fabric's own tools: a 3-organization network started
//! through the library, checked with `osnadmin` (the orderer's channel
//! participation API) and the `peer` CLI, a peer killed with SIGKILL and
//! restarted, and everything stopped; then the detached `opssc dev up |
//! status | down` path with a one-organization network.
//!
//! The two tests take turns (a mutex): one network at a time on two cores.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use opssc_devnet::cli;
use opssc_devnet::state::StateFile;
use opssc_devnet::{Devnet, DevnetError, DevnetOptions, OrdererHandle, Topology};
use opssc_schema::local::AgentConfig;
use opssc_tests::devnet_support::{pid_alive, run_checked, run_peer_cli, start_devnet};

static ONE_NETWORK_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `osnadmin channel list` as the orderer org's admin, parsed here (not by
/// the devnet crate) from the participation API's JSON.
fn orderer_channel_names(devnet: &Devnet, o: &OrdererHandle) -> BTreeSet<String> {
    let out = run_checked(
        Command::new(&devnet.bin().osnadmin)
            .args(["channel", "list", "-o", &o.admin_address, "--ca-file"])
            .arg(&o.tls_ca_cert)
            .arg("--client-cert")
            .arg(&o.admin_client_cert)
            .arg("--client-key")
            .arg(&o.admin_client_key),
    );
    assert!(out.starts_with("Status: 200"), "osnadmin answered: {out}");
    let json: serde_json::Value =
        serde_json::from_str(&out[out.find('{').expect("a JSON body")..]).unwrap();
    json["channels"]
        .as_array()
        .expect("a channel list")
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn peer_channel_names(devnet: &Devnet, msp_id: &str, peer: &str) -> BTreeSet<String> {
    let org = devnet.org(msp_id).unwrap();
    let peer = org.peers.iter().find(|p| p.name == peer).unwrap();
    let out = run_peer_cli(devnet, org, peer, &["channel", "list"]);
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("Channels peers has joined")),
        "unexpected `peer channel list` output: {out}"
    );
    lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn three_org_devnet_joins_channels_survives_a_peer_crash_and_stops_cleanly() {
    let _turn = ONE_NETWORK_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let t0 = Instant::now();
    let mut devnet = start_devnet(Topology::reference(3));
    eprintln!("3-org devnet ready in {:.1} s", t0.elapsed().as_secs_f64());
    let state_dir = devnet.state_dir().to_path_buf();

    // Every listener is a loopback port, and no two share one.
    let mut addrs: Vec<String> = Vec::new();
    for o in devnet.orderers() {
        addrs.extend([&o.address, &o.admin_address, &o.operations_address].map(Clone::clone));
    }
    for p in devnet.orgs().iter().flat_map(|o| &o.peers) {
        addrs.extend([&p.address, &p.chaincode_address, &p.operations_address].map(Clone::clone));
    }
    assert!(
        addrs.iter().all(|a| a.starts_with("127.0.0.1:")),
        "{addrs:?}"
    );
    assert_eq!(
        addrs.iter().collect::<BTreeSet<_>>().len(),
        addrs.len(),
        "{addrs:?}"
    );

    // The orderer lists both channels through its participation API.
    for o in devnet.orderers() {
        assert_eq!(
            orderer_channel_names(&devnet, o),
            set(&["ops", "trade"]),
            "{}",
            o.host
        );
    }

    // Every peer has joined its channels, by Fabric's own peer CLI.
    for org in devnet.orgs() {
        for peer in &org.peers {
            assert_eq!(
                peer_channel_names(&devnet, &org.msp_id, &peer.name),
                set(&["ops", "trade"]),
                "{}",
                peer.host
            );
        }
    }

    // Each org's agent configuration loads and points at real files.
    for org in devnet.orgs() {
        let cfg = AgentConfig::load(&org.agent_config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.msp_id, org.msp_id);
        assert!(
            cfg.identity.msp_dir.join("signcerts").is_dir(),
            "{:?}",
            cfg.identity.msp_dir
        );
        assert!(cfg.identity.msp_dir.join("keystore").is_dir());
        assert_eq!(cfg.peers.len(), 1);
        assert_eq!(cfg.peers[0].address, org.peers[0].address);
        assert!(cfg.peers[0].tls_root_cert.is_file());
        assert_eq!(cfg.orderers.len(), 1);
        assert_eq!(cfg.orderers[0].address, devnet.orderers()[0].address);
        assert!(cfg.orderers[0].tls_root_cert.is_file());
    }

    // Status: everything up, every channel at height >= 1 on every node.
    let status = devnet.status().unwrap();
    assert!(status.ready && status.all_running(), "{status:#?}");
    assert_eq!(status.processes.len(), 4);
    for ch in &status.channels {
        for (node, r) in &ch.orderers {
            let info = r
                .as_ref()
                .unwrap_or_else(|e| panic!("{node} on {}: {e}", ch.name));
            assert!(
                info.height >= 1 && info.status == "active",
                "{node}: {info:?}"
            );
        }
        assert_eq!(ch.peers.len(), 3);
        for (node, r) in &ch.peers {
            assert!(
                matches!(r, Ok(h) if *h >= 1),
                "{node} on {}: {r:?}",
                ch.name
            );
        }
    }

    // A second start on the same state directory refuses, and leaves it alone.
    let mut again = DevnetOptions::new(Topology::reference(1));
    again.state_dir = Some(state_dir.clone());
    again.quiet = true;
    match Devnet::start(again) {
        Err(DevnetError::AlreadyRunning { running, .. }) => {
            assert!(running.contains("peer0.org1.example.com"))
        }
        Err(e) => panic!("expected AlreadyRunning, got: {e}"),
        Ok(_) => panic!("a second devnet started on a running one's state directory"),
    }
    let up_again = cli::up(DevnetOptions::new(Topology::reference(1)), &state_dir).unwrap();
    assert_eq!(up_again, 1, "`dev up` on a running devnet exits 1");
    assert!(devnet.status().unwrap().all_running());

    // SIGKILL a peer (as a crash would): status reports exactly it as down.
    let victim = devnet.org("Org2MSP").unwrap().peers[0].clone();
    // SAFETY: kill has no memory preconditions; the PID is our child, still unreaped.
    assert_eq!(unsafe { libc::kill(victim.pid as i32, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        let s = opssc_devnet::status(&state_dir).unwrap();
        if !s.process(&victim.host).unwrap().running || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let down: Vec<&str> = status
        .processes
        .iter()
        .filter(|p| !p.running)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(down, [victim.host.as_str()], "{status:#?}");
    let ops = status.channels.iter().find(|c| c.name == "ops").unwrap();
    let victim_height = &ops.peers.iter().find(|(n, _)| *n == victim.host).unwrap().1;
    assert_eq!(victim_height.as_ref().unwrap_err(), "down");
    let rendered = opssc_devnet::status::render(&status);
    assert!(
        rendered
            .lines()
            .any(|l| l.contains(&victim.host) && l.contains("DOWN")),
        "{rendered}"
    );
    let code = cli::show_status(&state_dir, false).unwrap();
    assert_eq!(code, 2, "`dev status` exits 2 when a process is down");

    // Restart it: same ledger, so it is still on both channels.
    let restarted = devnet.restart_peer("Org2MSP", "peer0").unwrap().clone();
    assert_ne!(restarted.pid, victim.pid);
    assert_eq!(
        peer_channel_names(&devnet, "Org2MSP", "peer0"),
        set(&["ops", "trade"])
    );
    assert!(devnet.status().unwrap().all_running());

    // The library's own kill_peer: the same crash, reported the same way.
    let org3_peer = devnet.org("Org3MSP").unwrap().peers[0].host.clone();
    devnet.kill_peer("Org3MSP", "peer0").unwrap();
    let status = devnet.status().unwrap();
    assert!(!status.process(&org3_peer).unwrap().running, "{status:#?}");
    assert_eq!(status.processes.iter().filter(|p| !p.running).count(), 1);
    devnet.restart_peer("Org3MSP", "peer0").unwrap();

    // Memory of the whole network, for the benchmark notes.
    eprintln!("network RSS: {} MiB", devnet.rss_bytes() / (1024 * 1024));

    // Stop: no recorded process survives, and the state directory is gone.
    let recorded: Vec<(String, u32)> = StateFile::load(&state_dir)
        .unwrap()
        .processes
        .iter()
        .map(|p| (p.name.clone(), p.pid))
        .collect();
    assert_eq!(recorded.len(), 4);
    assert!(recorded.iter().any(|(_, pid)| *pid == restarted.pid));
    devnet.stop().unwrap();
    for (name, pid) in &recorded {
        assert!(!pid_alive(*pid), "{name} (pid {pid}) still runs after stop");
    }
    assert!(
        !state_dir.exists(),
        "{} was not removed",
        state_dir.display()
    );
}

/// Stops a CLI-started devnet if the test fails half-way.
struct DownOnDrop<'a>(&'a Path);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = cli::stop_recorded(self.0, false);
        }
    }
}

#[test]
fn dev_up_runs_detached_and_dev_down_stops_exactly_the_recorded_pids() {
    let _turn = ONE_NETWORK_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    let _guard = DownOnDrop(&state_dir);

    // What `opssc dev up --orgs 1` runs.
    let code = cli::up(DevnetOptions::new(Topology::reference(1)), &state_dir).unwrap();
    assert_eq!(code, 0);
    let state = StateFile::load(&state_dir).unwrap();
    assert!(state.ready && state.detached);
    assert_eq!(state.processes.len(), 2);
    // Detached: each node leads its own session.
    for p in &state.processes {
        // SAFETY: getsid has no memory preconditions.
        let sid = unsafe { libc::getsid(p.pid as i32) };
        assert_eq!(sid, p.pid as i32, "{} is not in its own session", p.name);
        assert!(pid_alive(p.pid));
    }
    assert!(state_dir.join("orgs/Org1MSP/opssc.yaml").is_file());
    let code = cli::show_status(&state_dir, true).unwrap();
    assert_eq!(code, 0);

    let code = cli::down(&state_dir, false).unwrap();
    assert_eq!(code, 0);
    for p in &state.processes {
        assert!(
            !pid_alive(p.pid),
            "{} (pid {}) survived `dev down`",
            p.name,
            p.pid
        );
    }
    assert!(!state_dir.exists());
}
