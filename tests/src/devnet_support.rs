//! Devnet helpers shared by the end-to-end tests.
//!
//! [`shared_devnet`] starts one 3-organization devnet per test binary on first
//! use and hands the same one to every test in it (tests in one binary run on
//! threads; starting a network per test would not fit on two cores). A static
//! is never dropped, so the devnet's watchdog stops the nodes and removes the
//! temporary state when the test binary exits. Tests that need to kill or
//! restart nodes start their own [`Devnet`] instead (in their own test binary).
//!
//! Every devnet started here runs the Fabric release the topology names,
//! unless `OPSSC_TEST_FABRIC` (`2.5` or `3.1`) names another for the whole
//! run ([`test_fabric_override`]): `OPSSC_TEST_FABRIC=3.1 cargo test ...`
//! runs a test binary on Fabric v3.1.5.
//!
//! [`run_peer_cli`] runs Fabric's own `peer` CLI as an organization's admin —
//! the oracle the tests compare opssc's view against — and fails with the
//! command line, stdout and stderr.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

pub use opssc_devnet::{Devnet, DevnetOptions, FabricVersion, OrgHandle, PeerHandle, Topology};

/// The environment variable that runs the tests on another Fabric release.
pub const TEST_FABRIC_ENV: &str = "OPSSC_TEST_FABRIC";

/// The Fabric release `OPSSC_TEST_FABRIC` names, if it is set; panics on a
/// value that names none, so a typo never silently tests 2.5.
pub fn test_fabric_override() -> Option<FabricVersion> {
    let v = std::env::var(TEST_FABRIC_ENV)
        .ok()
        .filter(|v| !v.is_empty())?;
    Some(FabricVersion::parse(&v).unwrap_or_else(|| {
        panic!(
            "{TEST_FABRIC_ENV}={v:?} names no Fabric release; {}",
            FabricVersion::hint_for(&v)
        )
    }))
}

/// `topology` on the Fabric release `OPSSC_TEST_FABRIC` names, if set.
pub fn with_test_fabric(topology: Topology) -> Topology {
    match test_fabric_override() {
        Some(v) => topology.with_fabric(v),
        None => topology,
    }
}

/// The devnet of this test binary: `Topology::reference(3)` (Org1MSP..Org3MSP,
/// one orderer, channels `ops` and `trade`; see [`with_test_fabric`]),
/// started on first use.
pub fn shared_devnet() -> &'static Devnet {
    static DEVNET: OnceLock<Result<Devnet, String>> = OnceLock::new();
    let started = DEVNET.get_or_init(|| {
        Devnet::start(DevnetOptions::new(with_test_fabric(Topology::reference(3))))
            .map_err(|e| e.to_string())
    });
    match started {
        Ok(d) => d,
        Err(e) => panic!("the shared devnet did not start:\n{e}"),
    }
}

/// Starts a devnet for one test ([`with_test_fabric`]), panicking with the
/// full error (and the log excerpt it carries) if it does not come up.
pub fn start_devnet(topology: Topology) -> Devnet {
    Devnet::start(DevnetOptions::new(with_test_fabric(topology)))
        .unwrap_or_else(|e| panic!("the devnet did not start:\n{e}"))
}

/// The runtime an end-to-end test drives its scenario on: two worker
/// threads, as the machine has two cores.
pub fn test_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the test")
}

/// Runs `peer <args>` as `org`'s admin against `peer`; returns stdout.
pub fn run_peer_cli(devnet: &Devnet, org: &OrgHandle, peer: &PeerHandle, args: &[&str]) -> String {
    let mut cmd = Command::new(&devnet.bin().peer);
    cmd.args(args).envs(devnet.peer_cli_env(org, peer));
    run_checked(&mut cmd)
}

/// Runs a command; on failure panics with the command, its status and output.
pub fn run_checked(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!(
            "command failed ({}): {:?}\n----- stdout -----\n{stdout}\n----- stderr -----\n{}\n----- end -----",
            out.status,
            cmd,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
}

/// True while a process with this PID exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}
