//! Chaincode source packages from pinned git commits.
//!
//! A `Chaincode` spec may name its code as a git repository, a commit hash and
//! a path. [`build_source_package`] fetches that commit into a local bare
//! mirror (git2), reads the tree at that commit under the path into a file
//! map (never a working tree: nothing on disk can leak in) and packages it
//! with [`opssc_fabric::source_package::golang_package`]. Every organization
//! that does this gets the same bytes, hence the same package ID, which it
//! compares with the one in a proposal before it installs or votes.
//!
//! Key decision: only a full 40-hex commit hash is accepted (branch and tag
//! names move); the commit is looked up among the remote's branches and tags
//! after a fetch, so no server-side "fetch by SHA" support is needed.
//! Credentials for private repositories come from the organization's local
//! configuration as [`GitCredentials`]; they are handed to git2 only, their
//! `Debug` form is redacted, and URLs are shown without user information in
//! every error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use git2::{FetchOptions, ObjectType, Oid, RemoteCallbacks, Repository, TreeWalkMode};
use opssc_fabric::source_package::{SourcePackage, golang_package};
use sha2::{Digest, Sha256};

/// Where a chaincode's source lives: a commit of a repository, and the
/// directory of the Go module inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// Repository URL (`file://`, `https://`, `ssh://`; the last two need
    /// git2's `https` / `ssh` features).
    pub url: String,
    /// Full commit hash, 40 hex digits.
    pub commit: String,
    /// Directory of the Go module inside the repository (`""` = root).
    pub path: String,
}

/// Username and password (or token) for a private repository.
#[derive(Clone, PartialEq, Eq)]
pub struct GitCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitCredentials")
            .field("username", &"<redacted>")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a source package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The spec names something that is not a full commit hash.
    #[error(
        "chaincode source {url}: {commit:?} is not a commit hash; pin a full 40-hex commit (branch and tag names move)"
    )]
    NotACommit { url: String, commit: String },
    /// Fetching from the repository failed (network, authentication, URL).
    #[error(
        "cannot fetch chaincode source from {url}: {message}; check the URL and the organization's git credentials"
    )]
    Fetch { url: String, message: String },
    /// The commit is not on any branch or tag of the repository.
    #[error(
        "chaincode source {url}: commit {commit} is on no branch or tag of the repository; push it, or fix the hash in the spec"
    )]
    CommitNotFound { url: String, commit: String },
    /// The tree at the commit cannot be packaged as it is.
    #[error("chaincode source {url} at {commit}: {problem}")]
    Tree {
        url: String,
        commit: String,
        problem: String,
    },
    /// The local mirror cannot be created or read.
    #[error("chaincode source mirror {}: {message}", dir.display())]
    Mirror { dir: PathBuf, message: String },
    /// The files are not a Go module package.
    #[error("chaincode source {url} at {commit}")]
    Package {
        url: String,
        commit: String,
        #[source]
        source: Box<opssc_fabric::Error>,
    },
}

/// Fetches `source` into a mirror under `cache_dir` and builds its `golang`
/// package labelled `label`.
pub fn build_source_package(
    cache_dir: &Path,
    source: &SourceRef,
    label: &str,
    credentials: Option<&GitCredentials>,
) -> Result<SourcePackage, SourceError> {
    let files = fetch_tree(cache_dir, source, credentials)?;
    golang_package(label, &files, &source.path).map_err(|e| SourceError::Package {
        url: redact_url(&source.url),
        commit: source.commit.clone(),
        source: Box::new(e),
    })
}

/// The files of the tree at `source.commit` under `source.path`, keyed by
/// their path from the repository root.
pub fn fetch_tree(
    cache_dir: &Path,
    source: &SourceRef,
    credentials: Option<&GitCredentials>,
) -> Result<BTreeMap<String, Vec<u8>>, SourceError> {
    let url = redact_url(&source.url);
    let oid = parse_commit(&source.commit).ok_or_else(|| SourceError::NotACommit {
        url: url.clone(),
        commit: source.commit.clone(),
    })?;
    let repo = open_mirror(cache_dir, &source.url)?;
    if repo.find_commit(oid).is_err() {
        fetch_all(&repo, source, credentials)?;
    }
    let commit = repo
        .find_commit(oid)
        .map_err(|_| SourceError::CommitNotFound {
            url: url.clone(),
            commit: source.commit.clone(),
        })?;
    let tree_err = |problem: String| SourceError::Tree {
        url: url.clone(),
        commit: source.commit.clone(),
        problem,
    };
    let root = commit
        .tree()
        .map_err(|e| tree_err(format!("cannot read the tree: {}", e.message())))?;
    let dir = source.path.trim_matches('/').trim_start_matches("./");
    let dir = if dir == "." { "" } else { dir };
    let tree = if dir.is_empty() {
        root
    } else {
        let entry = root
            .get_path(Path::new(dir))
            .map_err(|_| tree_err(format!("has no directory {dir:?}")))?;
        entry
            .to_object(&repo)
            .ok()
            .and_then(|o| o.into_tree().ok())
            .ok_or_else(|| tree_err(format!("{dir:?} is not a directory")))?
    };
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut files = BTreeMap::new();
    let mut problem = None;
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        let name = entry.name().unwrap_or("");
        let path = format!("{prefix}{parent}{name}");
        match (entry.kind(), entry.filemode()) {
            (Some(ObjectType::Tree), _) => git2::TreeWalkResult::Ok,
            (Some(ObjectType::Blob), 0o100644 | 0o100755) => {
                match repo.find_blob(entry.id()) {
                    Ok(blob) => {
                        files.insert(path, blob.content().to_vec());
                        git2::TreeWalkResult::Ok
                    }
                    Err(e) => {
                        problem = Some(format!("cannot read {path}: {}", e.message()));
                        git2::TreeWalkResult::Abort
                    }
                }
            }
            (Some(ObjectType::Blob), _) => {
                problem = Some(format!(
                    "{path} is a symbolic link; a chaincode package holds regular files only"
                ));
                git2::TreeWalkResult::Abort
            }
            _ => {
                problem = Some(format!(
                    "{path} is a git submodule; vendor its code instead (go mod vendor) or depend on it as a Go module"
                ));
                git2::TreeWalkResult::Abort
            }
        }
    })
    .ok();
    if let Some(problem) = problem {
        return Err(tree_err(problem));
    }
    Ok(files)
}

/// Compiles the Go module at `path` of `files` (a [`fetch_tree`] result) the
/// way the peer's `opssc-golang` builder does (`CGO_ENABLED=0 go build
/// -trimpath`, `-mod=vendor` with a `vendor/` directory, else
/// `-mod=readonly`), output discarded. `Ok(None)` when it compiles,
/// `Ok(Some(go's output))` when it does not.
///
/// Why: Fabric v2.5 logs a builder's stderr but answers a failed install with
/// only `external builder 'opssc-golang' failed: exit status 1`; an agent
/// with Go installed calls this after such a failure to put the compiler's
/// error into its install task. `Err` when `go` cannot be run at all.
pub fn go_build_output(
    files: &BTreeMap<String, Vec<u8>>,
    path: &str,
) -> std::io::Result<Option<String>> {
    let dir = path.trim_matches('/').trim_start_matches("./");
    let dir = if dir == "." { "" } else { dir };
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let work = tempfile::tempdir()?;
    let module = work.path().join("src");
    for (name, data) in files {
        let Some(rel) = name.strip_prefix(&prefix) else {
            continue;
        };
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            continue;
        }
        let target = module.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, data)?;
    }
    let mode = if module.join("vendor").is_dir() {
        "-mod=vendor"
    } else {
        "-mod=readonly"
    };
    let out = std::process::Command::new("go")
        .args(["build", "-trimpath", mode, "-o"])
        .arg(work.path().join("chaincode"))
        .arg(".")
        .current_dir(&module)
        .env("CGO_ENABLED", "0")
        .env("GO111MODULE", "on")
        .output()?;
    if out.status.success() {
        return Ok(None);
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Ok(Some(text))
}

/// A full 40-hex commit hash, or nothing.
fn parse_commit(commit: &str) -> Option<Oid> {
    (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Oid::from_str(commit).ok())
        .flatten()
}

/// The bare mirror of `url`: `cache_dir/<sha256(url)[..16]>.git`.
fn open_mirror(cache_dir: &Path, url: &str) -> Result<Repository, SourceError> {
    let name = hex::encode(&Sha256::digest(url.as_bytes())[..8]);
    let dir = cache_dir.join(format!("{name}.git"));
    let mirror_err = |e: git2::Error| SourceError::Mirror {
        dir: dir.clone(),
        message: e.message().to_string(),
    };
    match Repository::open_bare(&dir) {
        Ok(repo) => Ok(repo),
        Err(_) => {
            std::fs::create_dir_all(&dir).map_err(|e| SourceError::Mirror {
                dir: dir.clone(),
                message: e.to_string(),
            })?;
            Repository::init_bare(&dir).map_err(mirror_err)
        }
    }
}

fn fetch_all(
    repo: &Repository,
    source: &SourceRef,
    credentials: Option<&GitCredentials>,
) -> Result<(), SourceError> {
    let url = redact_url(&source.url);
    let fetch_err = |e: git2::Error| SourceError::Fetch {
        url: url.clone(),
        // libgit2 may quote the URL it was given: never show its user info.
        message: e.message().replace(&source.url, &url),
    };
    let mut remote = repo.remote_anonymous(&source.url).map_err(fetch_err)?;
    let mut callbacks = RemoteCallbacks::new();
    if let Some(creds) = credentials {
        let mut tries = 0;
        callbacks.credentials(move |_url, _user, _allowed| {
            tries += 1;
            if tries > 1 {
                return Err(git2::Error::from_str(
                    "the repository refused the configured credentials",
                ));
            }
            git2::Cred::userpass_plaintext(&creds.username, &creds.password)
        });
    }
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks);
    remote
        .fetch(
            &[
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            Some(&mut options),
            None,
        )
        .map_err(fetch_err)
}

/// `url` without user information (`https://user:token@host/x` →
/// `https://***@host/x`).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_information() {
        assert_eq!(
            redact_url("https://bob:s3cret@git.example.com/cc.git"),
            "https://***@git.example.com/cc.git"
        );
        assert_eq!(
            redact_url("https://git.example.com/a@b"),
            "https://git.example.com/a@b"
        );
        assert_eq!(redact_url("file:///tmp/repo"), "file:///tmp/repo");
        let creds = GitCredentials {
            username: "bob".into(),
            password: "s3cret".into(),
        };
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("bob"),
            "{shown}"
        );
    }

    #[test]
    fn only_full_commit_hashes_are_accepted() {
        assert!(parse_commit("main").is_none());
        assert!(parse_commit("v1.0").is_none());
        assert!(parse_commit("abc1234").is_none());
        assert!(parse_commit(&"g".repeat(40)).is_none());
        assert!(parse_commit(&"a".repeat(40)).is_some());
        let err = fetch_tree(
            Path::new("/nonexistent"),
            &SourceRef {
                url: "https://u:p@example.com/x".into(),
                commit: "main".into(),
                path: "".into(),
            },
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not a commit hash"), "{text}");
        assert!(!text.contains("u:p"), "{text}");
    }
}
