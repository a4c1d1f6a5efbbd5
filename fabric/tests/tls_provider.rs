//! Only one rustls crypto provider may be compiled in: with both ring and
//! aws-lc-rs present, rustls panics at run time when it must pick a default.
//! The defaults of rustls, tokio-rustls, hyper-rustls and reqwest all turn
//! aws-lc-rs on, so one careless feature flag brings it back; these checks
//! catch that in the lockfile and in the resolved dependency tree.

use std::path::Path;
use std::process::Command;

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fabric/ sits in the workspace root")
}

#[test]
fn lockfile_has_no_aws_lc() {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .expect("Cargo.lock is readable");
    let offenders: Vec<&str> = lock
        .lines()
        .filter(|l| l.starts_with("name = \"aws-lc"))
        .collect();
    assert!(
        offenders.is_empty(),
        "Cargo.lock contains {offenders:?}; find the crate enabling it with `cargo tree -i aws-lc-rs`"
    );
}

#[test]
fn dependency_tree_has_no_aws_lc() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--workspace", "--offline", "-i", "aws-lc-rs"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `cargo tree -i` fails with "did not match any packages" when the crate is absent.
    assert!(
        !out.status.success() && stderr.contains("did not match any packages"),
        "aws-lc-rs is in the dependency tree:\n{stdout}\n{stderr}"
    );
}
