//! Where the spec comes from, and why the agent may trust it.
//!
//! The spec lives on a branch of a git repository that every organization can
//! push to (through reviewed pull requests). The agent fetches that branch with
//! git2 and acts only on commits it can trust: starting from a trusted root
//! commit (named in the organization's local configuration, or the first commit
//! of the branch), every commit on the first-parent chain to the tip must carry
//! an SSH signature (git's `gpg.format ssh`) by an admin key that the spec *of
//! its parent* lists for some organization. A commit cannot vouch for itself:
//! a key added by a commit only counts from the next commit on. A merge commit
//! vouches for what it merges, as a reviewed pull request does. The first
//! refused commit stops the walk: the agent keeps acting on the last trusted
//! commit and reports why the next one was refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use git2::{Oid, Repository};

use crate::git_transport::{RemoteAccess, redact_url};

/// The trusted state of a branch: the newest commit the agent may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The newest trusted commit (the root when nothing after it is trusted).
    pub trusted: Oid,
    /// Who signed each trusted commit after the root: (commit, "Org1MSP/alice").
    pub signers: Vec<(Oid, String)>,
    /// The first commit that was refused, with the reason, if any.
    pub refused: Option<(Oid, String)>,
}

/// A spec repository: a local mirror of the remote branch.
///
/// The transport (credentials, SSH host keys, CA bundle, proxy) is a
/// [`RemoteAccess`]: [`GitSource::open_for`] takes it from the agent
/// configuration's `gitCredentials` entry for the URL. The branch is fetched
/// into `refs/remotes/origin/<branch>` without force: a rewritten branch
/// leaves that ref where it was, and what to trust is decided by
/// [`GitSource::verify`], not by the fetch. A fetch that fails half-way
/// (the server went away) moves no ref; libgit2 keeps an incomplete pack out
/// of the object database, so the next fetch starts clean.
pub struct GitSource {
    repo: Repository,
    url: String,
    access: RemoteAccess,
}

impl GitSource {
    /// Opens (or creates) a bare mirror in `cache_dir` fetching from `url`
    /// anonymously (`~/.ssh/known_hosts`, the system's CAs).
    pub fn open(cache_dir: &Path, url: &str) -> anyhow::Result<GitSource> {
        GitSource::open_with(cache_dir, url, RemoteAccess::default())
    }

    /// Opens the mirror, reaching `url` as `config` says (its matching
    /// `gitCredentials` entry, read now).
    pub fn open_for(
        cache_dir: &Path,
        url: &str,
        config: &opssc_schema::local::AgentConfig,
    ) -> anyhow::Result<GitSource> {
        let access = RemoteAccess::for_url(config, url)
            .with_context(|| format!("spec repository {}", redact_url(url)))?;
        GitSource::open_with(cache_dir, url, access)
    }

    /// Opens (or creates) a bare mirror in `cache_dir` fetching from `url`
    /// with `access`.
    pub fn open_with(
        cache_dir: &Path,
        url: &str,
        access: RemoteAccess,
    ) -> anyhow::Result<GitSource> {
        let repo = match Repository::open_bare(cache_dir) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(cache_dir)
                    .with_context(|| format!("cannot create {}", cache_dir.display()))?;
                Repository::init_bare(cache_dir).with_context(|| {
                    format!("cannot create a git mirror in {}", cache_dir.display())
                })?
            }
        };
        Ok(GitSource {
            repo,
            url: url.to_string(),
            access,
        })
    }

    /// Fetches `branch` and returns its tip (as far as it moved forward).
    pub fn fetch(&self, branch: &str) -> anyhow::Result<Oid> {
        // The URL may carry user information, the access a secret: neither
        // shows, not even in libgit2's own message.
        let url = redact_url(&self.url);
        let redacted = |e: git2::Error| anyhow::anyhow!(self.access.redact(e.message(), &self.url));
        let mut remote = self
            .repo
            .remote_anonymous(&self.url)
            .map_err(redacted)
            .with_context(|| format!("invalid spec repository URL {url}"))?;
        // No `+`: the fetch never moves the ref backwards or sideways.
        let refspec = format!("refs/heads/{branch}:refs/remotes/origin/{branch}");
        self.access
            .fetch(&mut remote, &[&refspec], &self.url)
            .map_err(|message| anyhow::anyhow!(message))
            .with_context(|| {
                format!(
                    "cannot fetch branch {branch} of {url} (check the URL, the branch, network access and the gitCredentials entry for it)"
                )
            })?;
        let reference = self
            .repo
            .find_reference(&format!("refs/remotes/origin/{branch}"))
            .with_context(|| format!("branch {branch} does not exist in {url}"))?;
        reference
            .target()
            .context("the branch reference is symbolic")
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// Writes the files of `commit` under `subdir` (or the whole tree) into `dest`,
    /// replacing what was there.
    pub fn checkout(&self, commit: Oid, subdir: Option<&Path>, dest: &Path) -> anyhow::Result<()> {
        checkout_tree(&self.repo, commit, subdir, dest)
    }

    /// Walks the first-parent chain from `root` (or the branch's first commit)
    /// to `tip`, accepting commits signed by an admin key of the parent's spec.
    pub fn verify(
        &self,
        tip: Oid,
        root: Option<Oid>,
        subdir: Option<&Path>,
    ) -> anyhow::Result<Verification> {
        verify_chain(&self.repo, tip, root, subdir)
    }
}

/// Writes a commit's tree (or one directory of it) into `dest`.
pub fn checkout_tree(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
    dest: &Path,
) -> anyhow::Result<()> {
    let commit = repo
        .find_commit(commit)
        .with_context(|| format!("commit {commit} not found"))?;
    let mut tree = commit.tree()?;
    if let Some(sub) = subdir.filter(|s| !s.as_os_str().is_empty()) {
        let entry = tree.get_path(sub).with_context(|| {
            format!("commit {} has no directory {}", commit.id(), sub.display())
        })?;
        tree = repo
            .find_tree(entry.id())
            .with_context(|| format!("{} is not a directory", sub.display()))?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest)
            .with_context(|| format!("cannot clear {}", dest.display()))?;
    }
    std::fs::create_dir_all(dest)?;
    write_tree(repo, &tree, dest)
}

fn write_tree(repo: &Repository, tree: &git2::Tree, dest: &Path) -> anyhow::Result<()> {
    for entry in tree.iter() {
        let Ok(name) = entry.name() else { continue };
        // A tree from a remote is untrusted input: no path tricks.
        if name.contains('/') || name == ".." || name == "." {
            bail!("refusing tree entry {name:?}");
        }
        let path = dest.join(name);
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                std::fs::create_dir_all(&path)?;
                write_tree(repo, &repo.find_tree(entry.id())?, &path)?;
            }
            Some(git2::ObjectType::Blob) => {
                let blob = repo.find_blob(entry.id())?;
                std::fs::write(&path, blob.content())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Admin signing keys listed in the spec of a commit: ("Org1MSP/alice", key).
fn admin_keys(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
) -> anyhow::Result<Option<Vec<(String, ssh_key::PublicKey)>>> {
    let scratch = tempfile::tempdir()?;
    let dir: PathBuf = scratch.path().join("spec");
    checkout_tree(repo, commit, subdir, &dir)?;
    let loaded = opssc_schema::load_dir(&dir);
    let Some(spec) = loaded.spec else {
        return Ok(None);
    };
    let mut keys = Vec::new();
    for org in spec.organizations.values() {
        for admin in &org.admins {
            if let Ok(key) = ssh_key::PublicKey::from_openssh(&admin.signing_key) {
                keys.push((format!("{}/{}", org.msp_id, admin.name), key));
            }
        }
    }
    Ok(Some(keys))
}

/// Checks a commit's SSH signature against the given keys; returns the signer.
pub fn check_commit_signature(
    repo: &Repository,
    commit: Oid,
    keys: &[(String, ssh_key::PublicKey)],
) -> Result<String, String> {
    let (signature, signed) = match repo.extract_signature(&commit, None) {
        Ok(parts) => parts,
        Err(_) => return Err("the commit is not signed (sign spec commits with an admin's SSH key: git config gpg.format ssh; git commit -S)".into()),
    };
    let signature =
        std::str::from_utf8(&signature).map_err(|_| "the signature is not text".to_string())?;
    if signature.contains("BEGIN PGP SIGNATURE") {
        return Err("the commit has an OpenPGP signature; opssc verifies SSH signatures only (git config gpg.format ssh)".into());
    }
    let sig = ssh_key::SshSig::from_pem(signature)
        .map_err(|e| format!("the SSH signature does not parse: {e}"))?;
    for (who, key) in keys {
        if key.key_data() == sig.public_key() && key.verify("git", &signed, &sig).is_ok() {
            return Ok(who.clone());
        }
    }
    let fingerprint =
        ssh_key::PublicKey::from(sig.public_key().clone()).fingerprint(Default::default());
    Err(format!(
        "signed by {fingerprint}, which is not an admin key listed in the spec before this commit"
    ))
}

fn verify_chain(
    repo: &Repository,
    tip: Oid,
    root: Option<Oid>,
    subdir: Option<&Path>,
) -> anyhow::Result<Verification> {
    // First-parent chain, newest first, down to the root.
    let mut chain = Vec::new();
    let mut current = repo.find_commit(tip)?;
    loop {
        if Some(current.id()) == root {
            break;
        }
        let parent = current.parent(0).ok();
        chain.push(current.id());
        match parent {
            Some(p) => current = p,
            None if root.is_none() => break,
            None => bail!(
                "commit {tip} does not descend from the trusted root {}",
                root.expect("checked")
            ),
        }
    }
    chain.reverse();
    // Without an explicit root, the first commit of the branch is the root.
    let root = match root {
        Some(r) => r,
        None => chain.remove(0),
    };
    let mut keys = admin_keys(repo, root, subdir)?.unwrap_or_default();
    let mut verification = Verification {
        trusted: root,
        signers: Vec::new(),
        refused: None,
    };
    for commit in chain {
        match check_commit_signature(repo, commit, &keys) {
            Ok(signer) => {
                verification.trusted = commit;
                verification.signers.push((commit, signer));
                if let Some(next) = admin_keys(repo, commit, subdir)? {
                    keys = next;
                }
            }
            Err(reason) => {
                verification.refused = Some((commit, reason));
                break;
            }
        }
    }
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_errors_never_show_the_urls_user_information() {
        let tmp = tempfile::tempdir().unwrap();
        // Nothing listens on port 1: the fetch fails after parsing the URL.
        let source = GitSource::open(
            &tmp.path().join("m"),
            "http://bob:s3cret@127.0.0.1:1/spec.git",
        )
        .unwrap();
        let e = format!("{:#}", source.fetch("main").unwrap_err());
        assert!(e.contains("http://***@127.0.0.1:1/spec.git"), "{e}");
        assert!(!e.contains("s3cret") && !e.contains("bob"), "{e}");
    }
}
