//! Puts the git commit into `opssc --version` (`OPSSC_VERSION_LINE`).
//!
//! Git is asked, not read: `git rev-parse` knows worktrees, packed refs and
//! `GIT_DIR`. Outside a git checkout (a crate from a registry, a container
//! build without `.git`) the line says the commit is unknown, unless
//! `OPSSC_BUILD_COMMIT` names it (what `deploy/Containerfile` passes in).
//! Cargo re-runs this script when HEAD moves: the files git names for HEAD
//! and the branch it points to are watched.

#[path = "build_support/version.rs"]
mod version;

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build_support/version.rs");
    println!("cargo:rerun-if-env-changed=OPSSC_BUILD_COMMIT");
    let commit = match std::env::var("OPSSC_BUILD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => Some(c),
        _ => {
            let head = git(&["rev-parse", "HEAD"]);
            if head.is_some() {
                // HEAD itself (a checkout or a detached HEAD moving), the
                // branch it points to, and packed refs (a branch packed by gc).
                let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
                if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    watched.push(branch);
                }
                for name in watched {
                    if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
                        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
                        // A missing file would make cargo re-run this script on
                        // every build (no packed-refs yet, say).
                        if path.exists() {
                            println!("cargo:rerun-if-changed={}", path.display());
                        }
                    }
                }
            }
            head
        }
    };
    let line = version::version_line(env!("CARGO_PKG_VERSION"), commit.as_deref());
    println!("cargo:rustc-env=OPSSC_VERSION_LINE={line}");
}
