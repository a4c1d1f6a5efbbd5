//! The agent commands' usage errors, without a network: each says what is
//! wrong and what to do, and exits 2.

use std::process::Command;

fn opssc(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

const CONFIG: &str = "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {mspDir: msp}\npeers: []\norderers: []\n";

#[test]
fn reconcile_runs_one_pass_only_with_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = opssc(dir.path(), &["reconcile", "--config", "opssc.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("pass --once") && err.contains("opssc agent"),
        "{err}"
    );
}

#[test]
fn a_missing_configuration_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        &["reconcile", "--once", "--config", "nope.yaml"][..],
        &["status", "--config", "nope.yaml"][..],
        &["vote", "abc", "approve", "--config", "nope.yaml"][..],
        &["retry", "abc", "--config", "nope.yaml"][..],
        &["proposal", "list", "--config", "nope.yaml"][..],
        &["proposal", "show", "abc", "--config", "nope.yaml"][..],
        &["proposal", "withdraw", "abc", "--config", "nope.yaml"][..],
        &["proposal", "retry", "abc", "--config", "nope.yaml"][..],
        &["proposal", "expire", "abc", "--config", "nope.yaml"][..],
    ] {
        let (code, err) = opssc(dir.path(), cmd);
        assert_eq!(code, 2, "{cmd:?}: {err}");
        assert!(
            err.contains("cannot read agent configuration nope.yaml"),
            "{cmd:?}: {err}"
        );
    }
}

#[test]
fn an_empty_msp_directory_says_where_to_point() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("opssc.yaml"), CONFIG).unwrap();
    std::fs::create_dir_all(dir.path().join("msp/signcerts")).unwrap();
    std::fs::create_dir_all(dir.path().join("msp/keystore")).unwrap();
    let (code, err) = opssc(dir.path(), &["status", "--config", "opssc.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("admin identity of Org1MSP"), "{err}");
    assert!(err.contains("identity.mspDir"), "{err}");
}

/// SIGTERM (what a container runtime sends to stop a pod) stops the agent
/// with exit code 0 instead of leaving it to be killed; here the agent is
/// still retrying to connect (an identity it cannot load yet).
#[test]
fn sigterm_stops_the_agent_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("opssc.yaml"), CONFIG).unwrap();
    std::fs::create_dir_all(dir.path().join("msp/signcerts")).unwrap();
    std::fs::create_dir_all(dir.path().join("msp/keystore")).unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["agent", "--config", "opssc.yaml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    if let Some(status) = agent.try_wait().unwrap() {
        let out = agent.wait_with_output().unwrap();
        panic!(
            "the agent exited on its own ({status}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sent = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = agent.kill();
            panic!("the agent did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status}");
}
