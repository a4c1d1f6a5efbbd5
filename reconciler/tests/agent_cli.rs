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
