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
//! How the repository is reached (credentials, SSH host keys, CA bundle,
//! proxy) comes from the organization's local configuration as a
//! [`RemoteAccess`] ([`crate::git_transport`]); secrets are handed to git2
//! only, and URLs are shown without user information in every error. The
//! fetch may move branches backwards (`+` refspecs): a chaincode is pinned
//! by its commit hash, which is all this module trusts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, TreeWalkMode};
use opssc_fabric::source_package::{SourcePackage, golang_package};
use sha2::{Digest, Sha256};

pub use crate::git_transport::{
    GitCredentials, GitSecret, RemoteAccess, redact_url, redact_userinfo,
};

/// Where a chaincode's source lives: a commit of a repository, and the
/// directory of the Go module inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// Repository URL (`file://`, `http(s)://`, `ssh://`).
    pub url: String,
    /// Full commit hash, 40 hex digits.
    pub commit: String,
    /// Directory of the Go module inside the repository (`""` = root).
    pub path: String,
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
/// package labelled `label`, reaching the repository with `access`
/// (`None`: anonymously, `~/.ssh/known_hosts`, the system's CAs).
pub fn build_source_package(
    cache_dir: &Path,
    source: &SourceRef,
    label: &str,
    access: Option<&RemoteAccess>,
) -> Result<SourcePackage, SourceError> {
    let files = fetch_tree(cache_dir, source, access)?;
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
    access: Option<&RemoteAccess>,
) -> Result<BTreeMap<String, Vec<u8>>, SourceError> {
    let url = redact_url(&source.url);
    let oid = parse_commit(&source.commit).ok_or_else(|| SourceError::NotACommit {
        url: url.clone(),
        commit: source.commit.clone(),
    })?;
    let repo = open_mirror(cache_dir, &source.url)?;
    if repo.find_commit(oid).is_err() {
        let anonymous = RemoteAccess::default();
        fetch_all(&repo, source, access.unwrap_or(&anonymous))?;
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
    // The scratch directory is this machine's business, not the message's.
    let text = text.replace(&module.display().to_string(), ".");
    let text = text.replace(&work.path().display().to_string(), "$WORK");
    Ok(Some(text))
}

/// The part of `go build`'s output a person needs, in at most `max` bytes:
/// progress lines (`go: downloading ...`) dropped, the compiler's messages
/// kept in order, and a note of how many lines did not fit.
pub fn compiler_error_summary(output: &str, max: usize) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim_end)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("go: downloading ") && !l.starts_with("go: finding ")
        })
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let note = format!("... ({} more lines)", lines.len() - i);
        let last = i + 1 == lines.len();
        let need = line.len() + if last { 0 } else { 1 + note.len() };
        if out.len() + line.len() + 1 > max || (!last && out.len() + need > max) {
            if out.is_empty() {
                // One very long line: show its start.
                let mut cut = max.saturating_sub(note.len() + 5).min(line.len());
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.push_str(&line[..cut]);
                out.push_str(" ...");
                let rest = lines.len() - i - 1;
                if rest > 0 {
                    out.push_str(&format!("\n... ({rest} more lines)"));
                }
                return out;
            }
            out.push_str(&note);
            return out;
        }
        out.push_str(line);
        if !last {
            out.push('\n');
        }
    }
    out
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
    access: &RemoteAccess,
) -> Result<(), SourceError> {
    let url = redact_url(&source.url);
    let explain = |mut message: String| {
        if access.credentials.is_none()
            && message.contains("authentication")
            && !message.contains("gitCredentials")
        {
            message.push_str(
                " (a private repository: add credentials for it under `gitCredentials` in the agent configuration)",
            );
        }
        SourceError::Fetch {
            url: url.clone(),
            message,
        }
    };
    // libgit2 may quote the URL it was given: never show its user
    // information, nor a configured secret.
    let mut remote = repo
        .remote_anonymous(&source.url)
        .map_err(|e| explain(access.redact(e.message(), &source.url)))?;
    access
        .fetch(
            &mut remote,
            &[
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            &source.url,
        )
        .map_err(explain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_output_is_summarized_within_the_limit() {
        let out = "go: downloading github.com/x/y v1.0.0\n# example.com/cc\n./main.go:3:9: cannot use \"x\" (untyped string constant) as int value in variable declaration\n\n";
        assert_eq!(
            compiler_error_summary(out, 4000),
            "# example.com/cc\n./main.go:3:9: cannot use \"x\" (untyped string constant) as int value in variable declaration"
        );
        let many: String = (0..100)
            .map(|i| format!("./main.go:{i}:1: undefined: thing{i}\n"))
            .collect();
        let short = compiler_error_summary(&many, 300);
        assert!(short.len() <= 300, "{} bytes: {short}", short.len());
        assert!(
            short.starts_with("./main.go:0:1: undefined: thing0\n"),
            "{short}"
        );
        let shown = short.lines().count() - 1;
        assert!(
            short.ends_with(&format!("... ({} more lines)", 100 - shown)),
            "{short}"
        );
        let long = format!("./main.go:1:1: {}\nnext", "é".repeat(400));
        let cut = compiler_error_summary(&long, 200);
        assert!(cut.len() <= 200, "{}", cut.len());
        assert!(cut.ends_with(" ...\n... (1 more lines)"), "{cut}");
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

    /// Standard base64 (for the test server's expected `Authorization`).
    fn base64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// A git smart-HTTP server on 127.0.0.1 that demands basic
    /// authentication (`user`:`password`) and serves the repositories under
    /// `root` through `git http-backend` (CGI). Returns its base URL.
    fn serve_git_over_http(root: PathBuf, user: &str, password: &str) -> String {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let expected = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let len: usize = header("content-length").parse().unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                if header("authorization") != expected {
                    let _ = stream.write_all(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                }
                let mut parts = request.split_whitespace();
                let method = parts.next().unwrap_or("GET").to_string();
                let target = parts.next().unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let mut child = std::process::Command::new("git")
                    .arg("http-backend")
                    .env("GIT_PROJECT_ROOT", &root)
                    .env("GIT_HTTP_EXPORT_ALL", "1")
                    .env("REQUEST_METHOD", &method)
                    .env("PATH_INFO", path)
                    .env("QUERY_STRING", query)
                    .env("CONTENT_TYPE", header("content-type"))
                    .env("CONTENT_LENGTH", len.to_string())
                    .env("REMOTE_USER", "tester")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child.stdin.take().unwrap().write_all(&body).unwrap();
                let out = child.wait_with_output().unwrap();
                let text = out.stdout;
                let split = text
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|i| (i, 4))
                    .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)))
                    .unwrap_or((0, 0));
                let head = String::from_utf8_lossy(&text[..split.0]).to_string();
                let content = &text[split.0 + split.1..];
                let mut status = "200 OK".to_string();
                let mut response = String::new();
                for line in head.lines() {
                    match line.split_once(':') {
                        Some((k, v)) if k.eq_ignore_ascii_case("status") => {
                            status = v.trim().into()
                        }
                        Some(_) => response.push_str(&format!("{}\r\n", line.trim_end())),
                        None => {}
                    }
                }
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        content.len()
                    )
                    .as_bytes(),
                );
                let _ = stream.write_all(content);
            }
        });
        base
    }

    #[test]
    fn private_repositories_take_the_configured_credentials_and_never_show_them() {
        let tmp = tempfile::tempdir().unwrap();
        let repo_dir = tmp.path().join("served/cc.git");
        let repo = Repository::init_bare(&repo_dir).unwrap();
        let blob = repo.blob(b"module example.com/cc\n\ngo 1.22\n").unwrap();
        let mut tb = repo.treebuilder(None).unwrap();
        tb.insert("go.mod", blob, 0o100644).unwrap();
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let who = git2::Signature::now("dev", "dev@example.com").unwrap();
        let commit = repo
            .commit(Some("refs/heads/main"), &who, &who, "cc", &tree, &[])
            .unwrap()
            .to_string();
        let base = serve_git_over_http(tmp.path().join("served"), "ci-bot", "t0ken-XYZ");
        let source = SourceRef {
            url: format!("{base}/cc.git"),
            commit: commit.clone(),
            path: String::new(),
        };
        let creds = |password: &str| RemoteAccess {
            credentials: Some(GitCredentials {
                username: "ci-bot".into(),
                secret: GitSecret::Password(password.into()),
            }),
            ..Default::default()
        };

        // No credentials: refused, with what to configure.
        let err = fetch_tree(&tmp.path().join("m1"), &source, None).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SourceError::Fetch { .. }), "{text}");
        assert!(text.contains("gitCredentials"), "{text}");
        eprintln!("no credentials: {text}");

        // Wrong password: refused; neither it nor a password in the URL shows.
        let with_userinfo = SourceRef {
            url: format!(
                "{}//ci-bot:in-url-secret@{}/cc.git",
                "http:",
                &base["http://".len()..]
            ),
            ..source.clone()
        };
        for src in [&source, &with_userinfo] {
            let err =
                fetch_tree(&tmp.path().join("m2"), src, Some(&creds("wrong-pass"))).unwrap_err();
            let text = format!("{err} / {err:?}");
            assert!(matches!(err, SourceError::Fetch { .. }), "{text}");
            assert!(text.contains("refused"), "{text}");
            eprintln!("wrong credentials: {text}");
            for secret in ["wrong-pass", "in-url-secret", "t0ken-XYZ"] {
                assert!(!text.contains(secret), "{secret} shown: {text}");
            }
        }

        // The right ones: the tree at the commit.
        let files = fetch_tree(&tmp.path().join("m3"), &source, Some(&creds("t0ken-XYZ"))).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["go.mod"]);
        assert_eq!(files["go.mod"], b"module example.com/cc\n\ngo 1.22\n");
    }
}
