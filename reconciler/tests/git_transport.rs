//! Git over https and ssh against real servers on loopback: git's smart HTTP
//! (`git http-backend`) behind TLS with a test CA and basic authentication,
//! and Debian's OpenSSH `sshd` with a test key (both from
//! `opssc_devnet::git_server`). Each transport is exercised through both
//! users of it: the spec repository (`GitSource`) and chaincode sources
//! (`fetch_tree`), with the agent configuration's `gitCredentials`.
//!
//! sshd must be installed (`apt-get install -y openssh-server`; scripts/test.sh
//! does it): without it the ssh tests fail and say so.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use opssc::agent::packages::access_for;
use opssc::chaincode_source::{SourceRef, fetch_tree};
use opssc::source::GitSource;
use opssc_devnet::git_server::{HttpsGitServer, SshGitServer, generate_ssh_key};
use opssc_schema::local::{AgentConfig, GitCredentialConfig};
use rand::RngCore as _;

/// Bytes of the blob each commit adds: big enough that the pack is still
/// being sent when a server is cut.
const BLOB: usize = 1 << 20;
/// Where a cut server stops: inside the pack.
const CUT_AT: usize = 64 * 1024;
/// How long a fetch waits for a silent server here (120 s in the agent).
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

/// Every test calls this before its first fetch: git2 reads the timeout once.
fn init() {
    opssc::git_transport::set_read_timeout(READ_TIMEOUT);
}

/// A bare repository `<root>/<name>` whose `main` holds a Go module and an
/// incompressible blob; returns its path and the commit.
fn served_repo(root: &Path, name: &str) -> (PathBuf, Oid) {
    let path = root.join(name);
    Repository::init_bare(&path).unwrap();
    let commit = add_commit(&path, "first");
    (path, commit)
}

/// Adds a commit on `main` with a new random blob.
fn add_commit(path: &Path, message: &str) -> Oid {
    let repo = Repository::open_bare(path).unwrap();
    let mut noise = vec![0u8; BLOB];
    rand::thread_rng().fill_bytes(&mut noise);
    let gomod = repo.blob(b"module example.com/cc\n\ngo 1.22\n").unwrap();
    let noise = repo.blob(&noise).unwrap();
    let mut tree = repo.treebuilder(None).unwrap();
    tree.insert("go.mod", gomod, 0o100644).unwrap();
    tree.insert("noise.bin", noise, 0o100644).unwrap();
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let who = git2::Signature::now("dev", "dev@example.com").unwrap();
    let parents: Vec<git2::Commit> = repo
        .find_reference("refs/heads/main")
        .ok()
        .and_then(|r| r.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    let oid = repo
        .commit(
            Some("refs/heads/main"),
            &who,
            &who,
            message,
            &tree,
            &parents,
        )
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    oid
}

/// An agent configuration with these `gitCredentials`.
fn config(dir: &Path, entries: Vec<GitCredentialConfig>) -> AgentConfig {
    let path = dir.join("opssc.yaml");
    std::fs::write(
        &path,
        "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {mspDir: msp}\npeers: []\norderers: []\n",
    )
    .unwrap();
    let mut config = AgentConfig::load(&path).unwrap();
    config.git_credentials = entries;
    config
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The mirror is whole: `git fsck` finds nothing wrong, and no pack file is
/// left without its index.
fn assert_mirror_is_sound(mirror: &Path) {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(mirror)
        .args(["fsck", "--no-dangling"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git fsck of the mirror failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let packs = mirror.join("objects/pack");
    for entry in std::fs::read_dir(&packs).into_iter().flatten() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let pair = match name.strip_suffix(".pack") {
            Some(stem) => packs.join(format!("{stem}.idx")),
            None => match name.strip_suffix(".idx") {
                Some(stem) => packs.join(format!("{stem}.pack")),
                None => panic!("stray file {name} in the mirror's packs"),
            },
        };
        assert!(pair.exists(), "{name} has no partner in the mirror's packs");
    }
}

fn tracking(mirror: &Path) -> Option<Oid> {
    Repository::open_bare(mirror)
        .unwrap()
        .find_reference("refs/remotes/origin/main")
        .ok()
        .and_then(|r| r.target())
}

struct Https {
    tmp: tempfile::TempDir,
    server: HttpsGitServer,
    repo: PathBuf,
    first: Oid,
    url: String,
    /// urlPrefix, passwordFile with the right token, caBundle.
    entry: GitCredentialConfig,
}

fn https() -> Https {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    let (repo, first) = served_repo(&root, "spec.git");
    let server = HttpsGitServer::start(&root, "ci-bot", "t0ken-right").unwrap();
    let url = server.url("spec.git");
    let entry = GitCredentialConfig {
        url_prefix: server.url(""),
        username: "ci-bot".into(),
        password_file: Some(write(tmp.path(), "token", "t0ken-right\n")),
        ca_bundle: Some(write(tmp.path(), "ca.pem", server.ca_pem())),
        ..Default::default()
    };
    Https {
        tmp,
        server,
        repo,
        first,
        url,
        entry,
    }
}

#[test]
fn https_with_a_token_and_a_ca_bundle_serves_the_spec_and_chaincode_sources() {
    let h = https();
    let config = config(h.tmp.path(), vec![h.entry.clone()]);
    let mirror = h.tmp.path().join("spec-mirror");
    let source = GitSource::open_for(&mirror, &h.url, &config).unwrap();
    assert_eq!(source.fetch("main").unwrap(), h.first);

    let access = access_for(&config, &h.url).unwrap();
    let files = fetch_tree(
        &h.tmp.path().join("cc-mirrors"),
        &SourceRef {
            url: h.url.clone(),
            commit: h.first.to_string(),
            path: String::new(),
        },
        Some(&access),
    )
    .unwrap();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["go.mod", "noise.bin"],
        "the tree at the pinned commit"
    );

    // The token from an environment variable works the same way (PATH is
    // set in every test process; the server is told to expect it).
    let path_value = std::env::var("PATH").unwrap();
    let root = h.tmp.path().join("served2");
    let (_, commit) = served_repo(&root, "cc.git");
    let other = HttpsGitServer::start(&root, "ci-bot", &path_value).unwrap();
    let entry = GitCredentialConfig {
        url_prefix: other.url(""),
        password_file: None,
        password_env: Some("PATH".into()),
        ca_bundle: Some(write(h.tmp.path(), "ca2.pem", other.ca_pem())),
        ..h.entry.clone()
    };
    let config = self::config(h.tmp.path(), vec![h.entry.clone(), entry]);
    let source =
        GitSource::open_for(&h.tmp.path().join("m2"), &other.url("cc.git"), &config).unwrap();
    assert_eq!(source.fetch("main").unwrap(), commit);
}

#[test]
fn https_refuses_wrong_or_missing_credentials_and_never_shows_them() {
    let h = https();
    let wrong = GitCredentialConfig {
        password_file: Some(write(h.tmp.path(), "wrong", "t0ken-wrong\n")),
        ..h.entry.clone()
    };
    let config_wrong = config(h.tmp.path(), vec![wrong]);
    let mirror = h.tmp.path().join("m");
    let err = GitSource::open_for(&mirror, &h.url, &config_wrong)
        .unwrap()
        .fetch("main")
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("refused the configured credentials"),
        "{text}"
    );
    assert!(
        !text.contains("t0ken-wrong") && !text.contains("t0ken-right"),
        "{text}"
    );
    assert_eq!(tracking(&mirror), None);

    // A password in the URL itself never shows either.
    let in_url = h
        .url
        .replacen("https://", "https://ci-bot:in-url-secret@", 1);
    let err = GitSource::open_for(&mirror, &in_url, &config_wrong)
        .unwrap()
        .fetch("main")
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(!text.contains("in-url-secret"), "{text}");

    // Only a CA bundle, no secret: the server asks, the agent says what to add.
    let no_secret = GitCredentialConfig {
        password_file: None,
        username: String::new(),
        ..h.entry.clone()
    };
    let access = access_for(&config(h.tmp.path(), vec![no_secret]), &h.url).unwrap();
    let err = fetch_tree(
        &h.tmp.path().join("cc"),
        &SourceRef {
            url: h.url.clone(),
            commit: h.first.to_string(),
            path: String::new(),
        },
        Some(&access),
    )
    .unwrap_err();
    assert!(err.to_string().contains("gitCredentials"), "{err}");

    // An entry for a look-alike host is not used for this one.
    let lookalike = GitCredentialConfig {
        url_prefix: h.url.replacen("127.0.0.1", "127.0.0.1.evil.io", 1),
        ..h.entry.clone()
    };
    let access = access_for(&config(h.tmp.path(), vec![lookalike]), &h.url).unwrap();
    assert!(access.credentials.is_none());
}

#[test]
fn https_refuses_a_server_its_ca_bundle_does_not_vouch_for() {
    let h = https();
    // No CA bundle: the system's roots do not know the test CA.
    let system_roots = GitCredentialConfig {
        ca_bundle: None,
        ..h.entry.clone()
    };
    let err = GitSource::open_for(
        &h.tmp.path().join("m1"),
        &h.url,
        &config(h.tmp.path(), vec![system_roots]),
    )
    .unwrap()
    .fetch("main")
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    // Another CA's bundle: refused by the check, saying which bundle.
    let other = tempfile::tempdir().unwrap();
    let other_server = HttpsGitServer::start(other.path(), "x", "y").unwrap();
    let wrong_ca = GitCredentialConfig {
        ca_bundle: Some(write(h.tmp.path(), "other-ca.pem", other_server.ca_pem())),
        ..h.entry.clone()
    };
    let err = GitSource::open_for(
        &h.tmp.path().join("m2"),
        &h.url,
        &config(h.tmp.path(), vec![wrong_ca]),
    )
    .unwrap()
    .fetch("main")
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("not trusted by the configured caBundle"),
        "{text}"
    );
    assert!(
        h.server.requests() == 0,
        "a request went to an untrusted server"
    );
}

#[test]
fn https_server_dying_mid_fetch_leaves_the_mirror_sound_and_the_next_fetch_works() {
    let h = https();
    let config = config(h.tmp.path(), vec![h.entry.clone()]);
    let mirror = h.tmp.path().join("spec-mirror");
    let source = GitSource::open_for(&mirror, &h.url, &config).unwrap();
    assert_eq!(source.fetch("main").unwrap(), h.first);

    let second = add_commit(&h.repo, "second");
    h.server.cut_next_pack_after(CUT_AT);
    let err = source.fetch("main").unwrap_err();
    eprintln!("cut mid-fetch: {err:#}");
    assert!(
        format!("{err:#}").contains("cannot fetch branch main"),
        "{err:#}"
    );
    assert_eq!(tracking(&mirror), Some(h.first), "the ref moved");
    assert!(source.repository().find_commit(second).is_err());
    assert_mirror_is_sound(&mirror);

    assert_eq!(source.fetch("main").unwrap(), second);
    assert_mirror_is_sound(&mirror);
}

struct Ssh {
    tmp: tempfile::TempDir,
    server: SshGitServer,
    repo: PathBuf,
    first: Oid,
    url: String,
    /// urlPrefix, sshKey (authorized), knownHosts with the server's key.
    entry: GitCredentialConfig,
}

fn ssh() -> Ssh {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, first) = served_repo(&tmp.path().join("served"), "spec.git");
    let key = tmp.path().join("client_key");
    let public = generate_ssh_key(&key).unwrap();
    let server = SshGitServer::start(&tmp.path().join("sshd"), &public)
        .unwrap_or_else(|e| panic!("cannot start sshd for the ssh tests: {e}"));
    let url = server.url(&repo);
    let entry = GitCredentialConfig {
        url_prefix: format!("ssh://127.0.0.1:{}/", server.port()),
        ssh_key: Some(key),
        known_hosts: Some(write(
            tmp.path(),
            "known_hosts",
            &format!("{}\n", server.known_hosts_line()),
        )),
        ..Default::default()
    };
    Ssh {
        tmp,
        server,
        repo,
        first,
        url,
        entry,
    }
}

#[test]
fn ssh_with_a_key_and_known_hosts_serves_the_spec_and_chaincode_sources() {
    let s = ssh();
    let config = config(s.tmp.path(), vec![s.entry.clone()]);
    let source = GitSource::open_for(&s.tmp.path().join("spec-mirror"), &s.url, &config).unwrap();
    let tip = source
        .fetch("main")
        .unwrap_or_else(|e| panic!("{e:#}\nsshd log:\n{}", s.server.log()));
    assert_eq!(tip, s.first);

    let access = access_for(&config, &s.url).unwrap();
    let files = fetch_tree(
        &s.tmp.path().join("cc-mirrors"),
        &SourceRef {
            url: s.url.clone(),
            commit: s.first.to_string(),
            path: String::new(),
        },
        Some(&access),
    )
    .unwrap();
    assert!(files.contains_key("go.mod"));
}

#[test]
fn ssh_refuses_a_key_the_server_does_not_accept() {
    let s = ssh();
    let other_key = s.tmp.path().join("other_key");
    generate_ssh_key(&other_key).unwrap();
    let wrong = GitCredentialConfig {
        ssh_key: Some(other_key),
        ..s.entry.clone()
    };
    let mirror = s.tmp.path().join("m");
    let err = GitSource::open_for(&mirror, &s.url, &config(s.tmp.path(), vec![wrong]))
        .unwrap()
        .fetch("main")
        .unwrap_err();
    let text = format!("{err:#}");
    eprintln!("wrong key: {text}");
    assert!(
        text.contains("refused the configured credentials") || text.contains("authentic"),
        "{text}"
    );
    assert_eq!(tracking(&mirror), None);
}

#[test]
fn ssh_refuses_an_unknown_or_changed_host_key_unless_told_to_accept_unknown_ones() {
    let s = ssh();
    let fetch = |entry: GitCredentialConfig, mirror: &str| {
        GitSource::open_for(
            &s.tmp.path().join(mirror),
            &s.url,
            &config(s.tmp.path(), vec![entry]),
        )
        .unwrap()
        .fetch("main")
    };

    // Unknown: an empty known_hosts.
    let empty = GitCredentialConfig {
        known_hosts: Some(write(s.tmp.path(), "empty_known_hosts", "")),
        ..s.entry.clone()
    };
    let err = fetch(empty.clone(), "m1").unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("host key of this server is unknown"),
        "{text}"
    );
    // The message shows the key to check and add.
    assert!(text.contains(s.server.known_hosts_line()), "{text}");

    // Changed: known_hosts lists another key for this host and port.
    let stranger = s.tmp.path().join("stranger");
    let stranger_pub = generate_ssh_key(&stranger).unwrap();
    let mut fields = stranger_pub.split_whitespace();
    let changed_line = format!(
        "[127.0.0.1]:{} {} {}\n",
        s.server.port(),
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    let changed = GitCredentialConfig {
        known_hosts: Some(write(s.tmp.path(), "changed_known_hosts", &changed_line)),
        accept_unknown_host_key: true,
        ..s.entry.clone()
    };
    let err = fetch(changed, "m2").unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("differs from the one known_hosts lists"),
        "{text}"
    );

    // The same key listed for another port is another host: unknown.
    let other_port = GitCredentialConfig {
        known_hosts: Some(write(
            s.tmp.path(),
            "other_port_known_hosts",
            &s.server
                .known_hosts_line()
                .replacen(&format!(":{} ", s.server.port()), ":2 ", 1),
        )),
        ..s.entry.clone()
    };
    let err = fetch(other_port, "m3").unwrap_err();
    assert!(format!("{err:#}").contains("unknown"), "{err:#}");

    // Development: an unknown host accepted when configured so.
    let dev = GitCredentialConfig {
        accept_unknown_host_key: true,
        ..empty
    };
    assert_eq!(fetch(dev, "m4").unwrap(), s.first);
}

#[test]
fn ssh_server_going_silent_mid_fetch_leaves_the_mirror_sound_and_the_next_fetch_works() {
    let s = ssh();
    let config = config(s.tmp.path(), vec![s.entry.clone()]);
    let mirror = s.tmp.path().join("spec-mirror");
    let source = GitSource::open_for(&mirror, &s.url, &config).unwrap();
    assert_eq!(source.fetch("main").unwrap(), s.first);

    let second = add_commit(&s.repo, "second");
    s.server.cut_next_pack_after(CUT_AT).unwrap();
    let started = std::time::Instant::now();
    let err = source.fetch("main").unwrap_err();
    let waited = started.elapsed();
    eprintln!("silent mid-fetch, gave up after {waited:?}: {err:#}");
    assert!(
        waited < READ_TIMEOUT * 3,
        "waited {waited:?} for a silent server"
    );
    assert!(
        format!("{err:#}").contains("cannot fetch branch main"),
        "{err:#}"
    );
    assert_eq!(tracking(&mirror), Some(s.first), "the ref moved");
    assert!(source.repository().find_commit(second).is_err());
    assert_mirror_is_sound(&mirror);

    assert_eq!(source.fetch("main").unwrap(), second);
    assert_mirror_is_sound(&mirror);

    // A chaincode source mirror recovers the same way.
    let third = add_commit(&s.repo, "third");
    let access = access_for(&config, &s.url).unwrap();
    let cc_mirrors = s.tmp.path().join("cc-mirrors");
    let source_ref = SourceRef {
        url: s.url.clone(),
        commit: third.to_string(),
        path: String::new(),
    };
    s.server.cut_next_pack_after(CUT_AT).unwrap();
    let err = fetch_tree(&cc_mirrors, &source_ref, Some(&access)).unwrap_err();
    assert!(err.to_string().contains("cannot fetch"), "{err}");
    let files = fetch_tree(&cc_mirrors, &source_ref, Some(&access)).unwrap();
    assert_eq!(files["noise.bin"].len(), BLOB);
}

/// An HTTP `CONNECT` proxy on 127.0.0.1 that records where it was asked
/// to connect; returns its URL and the record.
fn connect_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let record = record.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut words = head.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                    return;
                };
                record.lock().unwrap().push(target.to_string());
                let Ok(upstream) = std::net::TcpStream::connect(target) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut client, mut upstream) = (client, upstream);
                let up = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut u2);
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut upstream, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
                let _ = up.join();
            });
        }
    });
    (url, seen)
}

#[test]
fn https_goes_through_the_proxy_git_is_configured_with() {
    let h = https();
    let (proxy, seen) = connect_proxy();
    let config = config(h.tmp.path(), vec![h.entry.clone()]);
    let mirror = h.tmp.path().join("spec-mirror");
    let source = GitSource::open_for(&mirror, &h.url, &config).unwrap();
    // git's own setting, as `git config http.proxy` writes it (here in the
    // mirror's configuration; ~/.gitconfig and https_proxy work the same).
    source
        .repository()
        .config()
        .unwrap()
        .set_str("http.proxy", &proxy)
        .unwrap();
    assert_eq!(source.fetch("main").unwrap(), h.first);
    let server = h.url["https://".len()..]
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|t| *t == server),
        "the proxy saw {seen:?}, expected CONNECTs to {server}"
    );
}
