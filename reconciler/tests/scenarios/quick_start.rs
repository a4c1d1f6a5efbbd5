//! The README's main job, as a new user runs it, with the `opssc` binary
//! (shared by `quickstart.rs` on the spec's Fabric release and `fabric31.rs`
//! on Fabric 3.1): `opssc dev up --spec network-spec [--fabric V]` (the
//! devnet starts the nodes; each organization's `opssc found` creates the
//! channels and founds the OpsSC), one `opssc agent` per organization, `opssc
//! status --watch --until-ready` for each (the spec's `kv` chaincode-as-a-
//! service rolled out by the agents), then `opssc dev demo add-org` (Org4
//! joins by signed commits and `kv` answers on its own peer) and `opssc dev
//! demo chaincode` (a signed upgrade converges on all four organizations),
//! then `opssc dev down`.
//!
//! The binaries the devnet runs next to `opssc` (`opssc-chaincode`, `kvcc`)
//! come from the same workspace build (`cargo test --workspace` builds them;
//! when missing, the test builds them with the same cargo).
//! Every process this test starts is stopped by PID, also when it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use opssc_tests::devnet_support::FabricVersion;

fn opssc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opssc"))
}

/// `opssc-chaincode` and `kvcc` next to `opssc`, built if missing.
fn sibling_binaries() {
    let dir = opssc().parent().unwrap().to_path_buf();
    if dir.join("opssc-chaincode").is_file() && dir.join("kvcc").is_file() {
        return;
    }
    // target/<profile>/opssc → --target-dir target
    let target_dir = dir.parent().unwrap();
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "opssc-chaincode",
            "-p",
            "opssc-tests",
            "--bins",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building opssc-chaincode and kvcc failed");
}

fn run(args: &[&str]) -> Output {
    Command::new(opssc())
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stops what the test started: the agents (by PID, including Org4's, which
/// the demo records in `<state>/agents.pids`), then the devnet.
struct Cleanup {
    state: PathBuf,
    agents: Vec<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for a in &mut self.agents {
            let _ = a.kill();
            let _ = a.wait();
        }
        if let Ok(pids) = std::fs::read_to_string(self.state.join("agents.pids")) {
            for pid in pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                // A PID the demo recorded for the agent it started.
                let _ = Command::new("sh")
                    .args(["-c", &format!("kill {pid} 2>/dev/null")])
                    .status();
            }
        }
        let out = run(&["dev", "down", "--state-dir", self.state.to_str().unwrap()]);
        if !out.status.success() {
            eprintln!("dev down: {}", text(&out));
        }
    }
}

/// A devnet founded by the agents with every agent Ready; dropping it
/// stops everything it started.
pub struct Session {
    /// `--state-dir` of the devnet.
    pub state_arg: String,
    _cleanup: Cleanup,
    // Dropped after `_cleanup`: the state directory outlives `dev down`.
    _tmp: tempfile::TempDir,
}

/// The quick start and both demos, on the Fabric release `fabric` names
/// (`opssc dev up --fabric`), else the one `network-spec/` names.
pub fn quick_start_and_both_demos(fabric: Option<FabricVersion>) {
    let session = founded_and_ready("network-spec", fabric);
    demos(&session.state_arg);
}

impl Session {
    /// The state directory of the devnet.
    #[allow(dead_code)] // fabric31.rs only
    pub fn state(&self) -> &Path {
        Path::new(&self.state_arg)
    }

    /// Starts `opssc agent --config <config>` as `msp`'s agent, stopped
    /// with the devnet; its log is `<state>/agent-<msp>.log`.
    #[allow(dead_code)] // fabric31.rs only
    pub fn start_agent(&mut self, msp: &str, config: &Path) {
        let log = std::fs::File::create(self.state().join(format!("agent-{msp}.log"))).unwrap();
        let child = Command::new(opssc())
            .args(["agent", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self._cleanup.agents.push(child);
    }
}

/// `opssc dev up --spec <spec>` (founded by each organization's `opssc
/// found`), then one agent per peer organization until each is Ready (the
/// spec's `kv` rolled out).
pub fn founded_and_ready(spec: &str, fabric: Option<FabricVersion>) -> Session {
    sibling_binaries();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("dev");
    let state_arg = state.to_str().unwrap().to_string();
    let t0 = Instant::now();
    let mut up_args = vec!["dev", "up", "--spec", spec, "--state-dir", &state_arg];
    if let Some(v) = fabric {
        up_args.extend(["--fabric", v.as_str()]);
    }
    let up = run(&up_args);
    let mut cleanup = Cleanup {
        state: state.clone(),
        agents: Vec::new(),
    };
    assert!(up.status.success(), "dev up\n{}", text(&up));
    let up_text = text(&up);
    assert!(
        up_text.contains("founded by each organization's `opssc found`"),
        "{up_text}"
    );
    eprintln!(
        "FIGURE dev up (founded by the agents) {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if let Some(v) = fabric {
        // The nodes run the release of that line, and the spec repository
        // the agents follow says so.
        let status = run(&["dev", "status", "--json", "--state-dir", &state_arg]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout)
            .unwrap_or_else(|e| panic!("dev status --json: {e}\n{}", text(&status)));
        let release = status["fabric_version"].as_str().unwrap_or_default();
        assert!(release.starts_with(&format!("v{v}.")), "{status:#}");
        let consortium = std::fs::read_to_string(state.join("spec-repo/consortium.yaml")).unwrap();
        assert!(
            consortium.contains(&format!("fabricVersion: \"{v}\"")),
            "{consortium}"
        );
    }

    let orgs = ["Org1MSP", "Org2MSP", "Org3MSP"];
    for msp in orgs {
        let config = state.join("orgs").join(msp).join("opssc.yaml");
        let log = std::fs::File::create(state.join(format!("agent-{msp}.log"))).unwrap();
        let child = Command::new(opssc())
            .args(["agent", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        cleanup.agents.push(child);
    }
    for msp in orgs {
        let config = state.join("orgs").join(msp).join("opssc.yaml");
        let out = run(&[
            "status",
            "--config",
            config.to_str().unwrap(),
            "--watch",
            "--until-ready",
            "--timeout",
            "180",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{msp} not Ready\n{}",
            text(&out)
        );
    }
    eprintln!(
        "FIGURE quick start: every agent Ready {:.1} s after dev up began",
        t0.elapsed().as_secs_f64()
    );
    Session {
        state_arg,
        _cleanup: cleanup,
        _tmp: tmp,
    }
}

/// `opssc dev demo add-org`, then `opssc dev demo chaincode`.
fn demos(state_arg: &str) {
    let state_arg = state_arg.to_string();

    let demo = run(&[
        "dev",
        "demo",
        "add-org",
        "--state-dir",
        &state_arg,
        "--timeout",
        "240",
    ]);
    let demo_text = text(&demo);
    assert_eq!(demo.status.code(), Some(0), "dev demo add-org\n{demo_text}");
    assert!(
        demo_text.contains("answers on Org4MSP's peer"),
        "{demo_text}"
    );
    if let Some(line) = demo_text.lines().find(|l| l.starts_with("Org4MSP added")) {
        eprintln!("FIGURE {line}");
    }

    let demo = run(&[
        "dev",
        "demo",
        "chaincode",
        "--state-dir",
        &state_arg,
        "--timeout",
        "180",
    ]);
    let demo_text = text(&demo);
    assert_eq!(
        demo.status.code(),
        Some(0),
        "dev demo chaincode\n{demo_text}"
    );
    assert!(demo_text.contains("4 of 4 organizations"), "{demo_text}");
    if let Some(line) = demo_text.lines().find(|l| l.contains("converged in")) {
        eprintln!("FIGURE dev demo chaincode: {}", line.trim());
    }
}
