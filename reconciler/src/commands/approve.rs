//! `opssc approve [COMMIT]`: an admin's signed approval of a spec commit's
//! tree, stored under `refs/opssc/approvals/` of a local clone of the spec
//! repository (and pushed with `--push REMOTE`).
//!
//! The approval is a commit on top of the approved one with the same tree,
//! SSH-signed like a git commit (namespace "git"): in-process with the
//! admin's key file, or by `ssh-keygen -Y sign` when the key needs a
//! passphrase or an agent. Because it names the tree, it still applies when
//! the host rebases or squashes the pull request into a commit of its own.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use git2::Repository;
use opssc::source::{Voucher, approvals_of, approve};

/// Opens the repository around `repo_dir` and resolves `commit` in it.
fn open(repo_dir: &Path, commit: &str) -> Result<(Repository, git2::Oid)> {
    let repo = Repository::discover(repo_dir).with_context(|| {
        format!(
            "{} is not in a git repository (run this in a clone of the spec repository, or pass --repo)",
            repo_dir.display()
        )
    })?;
    let oid = repo
        .revparse_single(commit)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| {
            format!("{commit:?} names no commit here (fetch the pull request's branch first)")
        })?
        .id();
    Ok((repo, oid))
}

/// `opssc approve --list`: the approvals present and missing for `commit`.
pub fn list(repo_dir: &Path, commit: &str, subdir: Option<&Path>) -> Result<i32> {
    let (repo, commit) = open(repo_dir, commit)?;
    let per_org = approvals_of(&repo, commit, subdir)?;
    if per_org.is_empty() {
        bail!("the spec before {commit} does not validate: no organization is known");
    }
    println!("approvals of {commit}:");
    let mut missing = Vec::new();
    for (org, vouchers) in &per_org {
        if vouchers.is_empty() {
            println!("  {org}: missing (an admin of {org} runs `opssc approve {commit}`)");
            missing.push(org.as_str());
        } else {
            let who: Vec<String> = vouchers.iter().map(Voucher::describe).collect();
            println!("  {org}: {}", who.join(", "));
        }
    }
    if missing.is_empty() {
        Ok(0)
    } else {
        println!(
            "missing: {} (their agents wait, unless their own autoApprove rules cover the change)",
            missing.join(", ")
        );
        Ok(2)
    }
}

pub fn run(
    repo_dir: &Path,
    commit: &str,
    key: Option<&Path>,
    subdir: Option<&Path>,
    push: Option<&str>,
) -> Result<i32> {
    let (repo, commit) = open(repo_dir, commit)?;
    let key_path = match key {
        Some(k) => k.to_path_buf(),
        None => signing_key_from_git_config(&repo)?,
    };
    let private = ssh_key::PrivateKey::read_openssh_file(&key_path).with_context(|| {
        format!(
            "cannot read the SSH key {} (an OpenSSH private key file)",
            key_path.display()
        )
    })?;
    let stored = approve(&repo, commit, subdir, private.public_key(), |bytes| {
        if private.is_encrypted() {
            ssh_keygen_sign(&key_path, bytes)
        } else {
            private
                .sign("git", ssh_key::HashAlg::Sha512, bytes)
                .and_then(|s| s.to_pem(ssh_key::LineEnding::LF))
                .map_err(|e| format!("signing with {}: {e}", key_path.display()))
        }
    })?;
    let refname = stored.refname;
    println!(
        "{} approved commit {commit} (spec tree {}): approval {} at {refname}",
        stored.who, stored.tree, stored.approval
    );
    match push {
        Some(remote) => {
            let status = Command::new("git")
                .arg("-C")
                .arg(repo.workdir().unwrap_or(repo.path()))
                .args(["push", remote, &format!("{refname}:{refname}")])
                .status()
                .context("cannot run git push")?;
            if !status.success() {
                bail!(
                    "git push {remote} {refname} failed (see its message above); push it again by hand"
                );
            }
        }
        None => println!("push it: git push origin {refname}:{refname}"),
    }
    Ok(0)
}

/// `git config user.signingkey`, when it names a key file (as with
/// `gpg.format ssh`).
fn signing_key_from_git_config(repo: &Repository) -> Result<PathBuf> {
    let config = repo.config()?;
    let key = config.get_string("user.signingkey").map_err(|_| {
        anyhow!("no signing key: pass --key PATH (the admin's SSH private key) or set git config user.signingkey")
    })?;
    let key = key.strip_prefix("~/").map_or_else(
        || PathBuf::from(&key),
        |rest| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(rest)
        },
    );
    if key.to_string_lossy().starts_with("ssh-") || key.to_string_lossy().starts_with("key::") {
        bail!(
            "user.signingkey holds a public key, not a file: pass --key PATH (the private key file)"
        );
    }
    // git names the private key file, or its `.pub`.
    Ok(match key.extension() {
        Some(e) if e == "pub" => key.with_extension(""),
        _ => key,
    })
}

/// Signs with `ssh-keygen -Y sign` (asks for the passphrase, or uses the agent).
fn ssh_keygen_sign(key: &Path, bytes: &[u8]) -> Result<String, String> {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "git", "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen (needed for a key with a passphrase): {e}"))?;
    child
        .stdin
        .take()
        .ok_or("ssh-keygen has no stdin")?
        .write_all(bytes)
        .map_err(|e| format!("writing to ssh-keygen: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for ssh-keygen: {e}"))?;
    if !out.status.success() {
        return Err("ssh-keygen -Y sign failed (see its message above)".into());
    }
    String::from_utf8(out.stdout).map_err(|_| "ssh-keygen wrote no text signature".into())
}
