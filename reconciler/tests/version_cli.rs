//! `opssc --version` names the commit the binary was built from
//! (`reconciler/build.rs`), and says so plainly when it cannot know.

#[path = "../build_support/version.rs"]
mod version;

use std::process::Command;

#[test]
fn version_names_the_commit_of_this_checkout() {
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .arg("--version")
        .output()
        .expect("run opssc --version");
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let commit = std::env::var("OPSSC_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or(git);
    let expected = format!(
        "opssc {}\n",
        version::version_line(env!("CARGO_PKG_VERSION"), commit.as_deref())
    );
    assert_eq!(printed, expected);
    // The test suite runs from a git checkout (CI clones one): the line must
    // carry a real commit there, not the fallback.
    if commit.is_some() {
        assert!(printed.contains("(commit "), "{printed}");
        assert!(!printed.contains("unknown"), "{printed}");
    }
}

#[test]
fn version_line_shortens_a_commit_and_explains_a_missing_one() {
    let hash = "252c6a6e0f1d2c3b4a5968778695a4b3c2d1e0f9";
    assert_eq!(
        version::version_line("0.1.0", Some(&format!("{hash}\n"))),
        "0.1.0 (commit 252c6a6e0f1d)"
    );
    for not_a_commit in [
        None,
        Some(""),
        Some("HEAD\n"),
        Some("fatal: not a git repository (or any of the parent directories): .git\n"),
        Some("252c6a6e0f1d\n"),
        Some("zz2c6a6e0f1d2c3b4a5968778695a4b3c2d1e0f9\n"),
    ] {
        assert_eq!(
            version::version_line("0.1.0", not_a_commit),
            "0.1.0 (commit unknown: not built from a git checkout)",
            "{not_a_commit:?}"
        );
    }
}
