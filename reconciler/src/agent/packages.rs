//! The chaincode packages this organization builds from the spec.
//!
//! Source (Go) packages come from the commit the spec pins
//! ([`crate::chaincode_source::build_source_package`]): fetched once into a
//! mirror under the agent's state directory and cached in memory by
//! (repository, commit, path, label), since a pinned commit never changes.
//! For chaincode-as-a-service the package is `metadata.json` + a
//! `connection.json` naming the chaincode server; the bytes are reproducible
//! (`opssc_fabric::package`), so every organization that configures the same
//! server address derives the same package ID and can compare it with the
//! proposal's. Key decision: the address comes from the organization's local
//! configuration (`chaincodeServers`, by label, then by chaincode name), never
//! from the shared spec, because it is where *this* organization runs it.

use std::collections::BTreeMap;

use std::path::Path;

use opssc_fabric::package::{self, Connection};
use opssc_schema::local::AgentConfig;
use opssc_schema::{Chaincode, PackageSource, Spec};

use crate::chaincode_source::{
    SourceRef, build_source_package, compiler_error_summary, fetch_tree, go_build_output,
};
use crate::git_transport::{AccessError, RemoteAccess};

pub type Result<T, E = PackageError> = std::result::Result<T, E>;

/// Why this organization cannot build a chaincode's package: a package kind
/// this agent does not build, a missing local setting, or the build itself
/// failed (its error kept as the source).
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "chaincode {channel}/{name}: {language} source packages are not built by this agent yet (only Go)"
    )]
    NotGo {
        channel: String,
        name: String,
        language: String,
    },
    /// The `gitCredentials` entry for the chaincode's repository.
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("chaincode {channel}/{name}: build the source package")]
    Build {
        channel: String,
        name: String,
        #[source]
        source: crate::chaincode_source::SourceError,
    },
    #[error(
        "chaincode {channel}/{name}: ccaas with TLS is not supported by this agent yet; set `tls: false`"
    )]
    CcaasTls { channel: String, name: String },
    #[error(
        "chaincode {channel}/{name} (label {label}): {msp_id} runs no server for it; add `chaincodeServers: {{{label}: host:port}}` to the agent configuration"
    )]
    NoServer {
        channel: String,
        name: String,
        label: String,
        msp_id: String,
    },
    /// Fabric's package writer refused the inputs.
    #[error(transparent)]
    Package(Box<super::error::FabricCall>),
    #[error(
        "chaincode {channel}/{name}: source packages are not built by this agent yet (only chaincode-as-a-service)"
    )]
    NoSourceBuilder { channel: String, name: String },
}

/// A built package.
#[derive(Debug, Clone)]
pub struct Built {
    pub label: String,
    pub bytes: Vec<u8>,
    pub package_id: String,
}

/// Built source packages, by (repository, commit, path, label).
pub type SourceCache = std::sync::Mutex<BTreeMap<String, Built>>;

/// Builds the package of `cc` (source packages through `cache`, fetched into
/// `source_dir`).
pub fn build(config: &AgentConfig, cc: &Chaincode) -> Result<Built> {
    build_with_sources(config, cc, None)
}

fn build_with_sources(
    config: &AgentConfig,
    cc: &Chaincode,
    sources: Option<(&Path, &SourceCache)>,
) -> Result<Built> {
    if let (
        PackageSource::Source {
            git,
            commit,
            path,
            language,
        },
        Some((dir, cache)),
    ) = (&cc.package, sources)
    {
        if !matches!(language.as_str(), "golang" | "go") {
            return Err(PackageError::NotGo {
                channel: cc.channel.clone(),
                name: cc.name.clone(),
                language: language.clone(),
            });
        }
        let key = format!("{git}\n{commit}\n{path}\n{}", cc.label);
        if let Some(b) = cache.lock().expect("source cache lock").get(&key) {
            return Ok(b.clone());
        }
        let source = SourceRef {
            url: git.clone(),
            commit: commit.clone(),
            path: path.clone(),
        };
        let access = access_for(config, git)?;
        let pkg =
            build_source_package(dir, &source, &cc.label, Some(&access)).map_err(|source| {
                PackageError::Build {
                    channel: cc.channel.clone(),
                    name: cc.name.clone(),
                    source,
                }
            })?;
        let b = Built {
            label: cc.label.clone(),
            bytes: pkg.bytes,
            package_id: pkg.package_id,
        };
        cache
            .lock()
            .expect("source cache lock")
            .insert(key, b.clone());
        return Ok(b);
    }
    match &cc.package {
        PackageSource::Ccaas { tls: true, .. } => Err(PackageError::CcaasTls {
            channel: cc.channel.clone(),
            name: cc.name.clone(),
        }),
        PackageSource::Ccaas { .. } => {
            let Some(address) = config
                .chaincode_servers
                .get(&cc.label)
                .or_else(|| config.chaincode_servers.get(&cc.name))
            else {
                return Err(PackageError::NoServer {
                    channel: cc.channel.clone(),
                    name: cc.name.clone(),
                    label: cc.label.clone(),
                    msp_id: config.msp_id.clone(),
                });
            };
            let bytes = package::ccaas_package(&cc.label, &Connection::plaintext(address))
                .map_err(|e| {
                    PackageError::Package(super::error::FabricCall::boxed(
                        format!("chaincode package {}", cc.label),
                        e,
                    ))
                })?;
            let package_id = package::package_id(&cc.label, &bytes);
            Ok(Built {
                label: cc.label.clone(),
                bytes,
                package_id,
            })
        }
        PackageSource::Source { .. } => Err(PackageError::NoSourceBuilder {
            channel: cc.channel.clone(),
            name: cc.name.clone(),
        }),
    }
}

/// How this organization reaches the repository at `url`: the
/// `gitCredentials` entry that matches it by scheme, host, port and whole
/// path segments ([`crate::git_transport::matching_entry`]; never a text
/// prefix), with its secret read now. Errors name the entry and the file or
/// variable, never the secret.
pub fn access_for(config: &AgentConfig, url: &str) -> Result<RemoteAccess, AccessError> {
    RemoteAccess::for_url(config, url)
}

/// Where the agent keeps its mirrors of chaincode source repositories.
pub fn source_dir(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("chaincode-sources")
}

/// Why the source package of `cc` does not compile, in at most `max` bytes
/// of go's own messages: compiles it here the way the peer's `opssc-golang`
/// builder does ([`go_build_output`]). `None` when it compiles here, when
/// `cc` is no source package, or when this host cannot tell (no `go`, the
/// commit cannot be read): the caller keeps the peer's own error then.
///
/// Why: Fabric v2.5 answers a failed install with only "external builder
/// failed", and logs the compiler's output where only the peer's operator
/// sees it; the agent puts it into its install task for every organization.
pub fn compile_errors(
    config: &AgentConfig,
    cc: &Chaincode,
    source_dir: &Path,
    max: usize,
) -> Option<String> {
    let PackageSource::Source {
        git, commit, path, ..
    } = &cc.package
    else {
        return None;
    };
    let source = SourceRef {
        url: git.clone(),
        commit: commit.clone(),
        path: path.clone(),
    };
    let access = access_for(config, git).ok();
    let files = match fetch_tree(source_dir, &source, access.as_ref()) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(chaincode = %cc.name, error = %e, "cannot read the source to diagnose a failed install");
            return None;
        }
    };
    match go_build_output(&files, path) {
        Ok(Some(out)) => Some(compiler_error_summary(&out, max)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(chaincode = %cc.name, error = %e, "cannot run `go build` to diagnose a failed install");
            None
        }
    }
}

/// Builds every chaincode of the spec: successes by label, failures as
/// messages. Source packages are fetched into `source_dir` and cached.
pub fn build_all(
    config: &AgentConfig,
    spec: &Spec,
    source_dir: &Path,
    cache: &SourceCache,
) -> (BTreeMap<String, Built>, Vec<String>) {
    let mut ok = BTreeMap::new();
    let mut errors = Vec::new();
    for cc in spec.chaincodes.values() {
        match build_with_sources(config, cc, Some((source_dir, cache))) {
            Ok(b) => {
                ok.insert(b.label.clone(), b);
            }
            Err(e) => errors.push(super::error::chain(&e)),
        }
    }
    (ok, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: &[(&str, &str)]) -> AgentConfig {
        let yaml = "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {mspDir: msp}\npeers: []\norderers: []\n";
        let mut c: AgentConfig = serde_saphyr_free_parse(yaml);
        c.chaincode_servers = servers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c
    }

    fn serde_saphyr_free_parse(yaml: &str) -> AgentConfig {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("opssc.yaml");
        std::fs::write(&p, yaml).unwrap();
        AgentConfig::load(&p).unwrap()
    }

    fn kv(version: &str) -> Chaincode {
        Chaincode {
            name: "kv".into(),
            channel: "trade".into(),
            version: version.into(),
            label: format!("kv_{version}"),
            package: PackageSource::Ccaas {
                artifact: None,
                tls: false,
            },
            endorsement_policy: None,
            collections: Vec::new(),
            init_required: false,
        }
    }

    #[test]
    fn same_address_same_package_id_across_orgs() {
        let a = build(&config(&[("kv_1.0", "kv:9999")]), &kv("1.0")).unwrap();
        let b = build(&config(&[("kv", "kv:9999")]), &kv("1.0")).unwrap();
        assert_eq!(a.package_id, b.package_id);
        assert!(a.package_id.starts_with("kv_1.0:"));
        let c = build(&config(&[("kv", "other:9999")]), &kv("1.0")).unwrap();
        assert_ne!(a.package_id, c.package_id);
    }

    /// A git repository with a Go module under `cc/`; its commit.
    fn go_repo(dir: &Path) -> String {
        let repo = git2::Repository::init(dir).unwrap();
        std::fs::create_dir_all(dir.join("cc")).unwrap();
        std::fs::write(dir.join("cc/go.mod"), "module example.com/kv\n\ngo 1.21\n").unwrap();
        std::fs::write(dir.join("cc/main.go"), "package main\n\nfunc main() {}\n").unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let who = git2::Signature::now("dev", "dev@example.com").unwrap();
        repo.commit(Some("HEAD"), &who, &who, "kv", &tree, &[])
            .unwrap()
            .to_string()
    }

    #[test]
    fn source_packages_are_built_once_from_the_pinned_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let commit = go_repo(&tmp.path().join("repo"));
        let mut cc = kv("1.0");
        cc.package = PackageSource::Source {
            git: format!("file://{}", tmp.path().join("repo").display()),
            commit: commit.clone(),
            path: "cc".into(),
            language: "golang".into(),
        };
        let cache = SourceCache::default();
        let mirror = tmp.path().join("mirror");
        let a = build_with_sources(&config(&[]), &cc, Some((&mirror, &cache))).unwrap();
        assert!(a.package_id.starts_with("kv_1.0:"), "{}", a.package_id);
        assert_eq!(cache.lock().unwrap().len(), 1);
        // A second org (fresh mirror and cache) derives the same package ID.
        let other = SourceCache::default();
        let b =
            build_with_sources(&config(&[]), &cc, Some((&tmp.path().join("m2"), &other))).unwrap();
        assert_eq!(a.package_id, b.package_id);
        // Cached: the repository can disappear.
        std::fs::remove_dir_all(tmp.path().join("repo")).unwrap();
        let c = build_with_sources(&config(&[]), &cc, Some((&mirror, &cache))).unwrap();
        assert_eq!(c.package_id, a.package_id);
        // Without the source machinery (no cache), it says what is missing.
        let e = build(&config(&[]), &cc).unwrap_err().to_string();
        assert!(e.contains("source packages"), "{e}");
    }

    #[test]
    fn credentials_are_matched_by_url_parts_and_never_show() {
        use crate::git_transport::GitSecret;
        use opssc_schema::local::GitCredentialConfig;
        let tmp = tempfile::tempdir().unwrap();
        let token = tmp.path().join("token");
        std::fs::write(&token, "t0ken-XYZ\nignored\n").unwrap();
        let entry = |prefix: &str| GitCredentialConfig {
            url_prefix: prefix.into(),
            username: "ci-bot".into(),
            ..Default::default()
        };
        let mut c = config(&[]);
        c.git_credentials = vec![
            GitCredentialConfig {
                password_file: Some(token.clone()),
                ..entry("https://git.example.com/")
            },
            GitCredentialConfig {
                ssh_key: Some("/keys/deploy".into()),
                ..entry("https://git.example.com/team/")
            },
            GitCredentialConfig {
                password_env: Some("OPSSC_TEST_UNSET_VARIABLE_FOR_GIT".into()),
                ..entry("https://other.example.com/")
            },
            entry("https://empty.example.com/"),
        ];
        let secret = |url: &str| {
            access_for(&c, url)
                .unwrap()
                .credentials
                .map(|g| (g.username, g.secret))
        };
        assert!(
            secret("https://git.example.com/x/cc.git")
                == Some(("ci-bot".into(), GitSecret::Password("t0ken-XYZ".into())))
        );
        assert!(matches!(
            secret("https://git.example.com/team/cc.git"),
            Some((_, GitSecret::SshKey { .. }))
        ));
        // Not a text prefix: neither a longer host name nor a longer segment.
        for elsewhere in [
            "https://git.example.com.evil.io/x/cc.git",
            "https://elsewhere.example.com/cc",
            "http://git.example.com/x/cc.git",
        ] {
            assert!(secret(elsewhere).is_none(), "{elsewhere}");
        }
        assert!(matches!(
            secret("https://git.example.com/team-b/cc.git"),
            Some((_, GitSecret::Password(_)))
        ));
        let e = access_for(&c, "https://other.example.com/cc")
            .unwrap_err()
            .to_string();
        assert!(e.contains("OPSSC_TEST_UNSET_VARIABLE_FOR_GIT"), "{e}");
        let e = access_for(&c, "https://empty.example.com/cc")
            .unwrap_err()
            .to_string();
        assert!(e.contains("passwordFile"), "{e}");
        std::fs::remove_file(&token).unwrap();
        let e =
            super::super::error::chain(&access_for(&c, "https://git.example.com/cc").unwrap_err());
        assert!(e.contains("password file") && !e.contains("t0ken"), "{e}");
        // Through the package build: a configured secret never reaches the
        // error (nothing listens on 127.0.0.1:1).
        std::fs::write(&token, "t0ken-XYZ\n").unwrap();
        c.git_credentials[0].url_prefix = "https://127.0.0.1:1/".into();
        let mut cc = kv("1.0");
        cc.package = PackageSource::Source {
            git: "https://127.0.0.1:1/x/cc.git".into(),
            commit: "a".repeat(40),
            path: "".into(),
            language: "golang".into(),
        };
        let cache = SourceCache::default();
        let e = build_with_sources(&c, &cc, Some((&tmp.path().join("m"), &cache))).unwrap_err();
        assert!(matches!(e, PackageError::Build { .. }), "{e:?}");
        let e = super::super::error::chain(&e);
        assert!(e.contains("cannot fetch") && !e.contains("t0ken"), "{e}");
    }

    #[test]
    fn missing_server_says_what_to_configure() {
        let e = build(&config(&[]), &kv("1.0")).unwrap_err().to_string();
        assert!(
            e.contains("chaincodeServers") && e.contains("kv_1.0"),
            "{e}"
        );
    }
}
