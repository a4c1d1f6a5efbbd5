//! The Fabric binaries: found in a per-user cache, or built there from source.
//!
//! Two release lines, two ways to get their source ([`fabric_binaries_for`]):
//! - Fabric v2.5.9 from its Go module. The pin lives in one place,
//!   `devnet/fabric-build/go.mod` (with its `go.sum`), compiled into this
//!   crate; the build runs with `-mod=readonly`, so every downloaded module is
//!   checked against the committed `go.sum`.
//! - Fabric v3.1.5 from its source tree ([`FABRIC_3_1_5`]), because the Go
//!   module proxy refuses every Fabric v3 commit. Fabric's repository vendors
//!   its dependencies, so the tree builds offline (`-mod=vendor`,
//!   `GOPROXY=off`). The tree comes from the archive named by
//!   `OPSSC_FABRIC_SOURCE`, else from `../shared/fabric/` beside the
//!   workspace, its sha256 checked against the pin before anything is
//!   unpacked; on a machine with neither, from `git clone --depth 1 --branch
//!   v3.1.5`, its HEAD checked against the pinned commit.
//!
//! Either way the six binaries land in
//! `${XDG_CACHE_HOME:-~/.cache}/opssc/fabric/<release>-<commit prefix>/bin`
//! ([`cache_key`]) and are rebuilt only when one is missing; a file lock in
//! that directory makes concurrent test binaries wait for one build instead
//! of racing. [`go_tool`] builds other pinned Go tools (Helm for the chart
//! tests) the same way into `opssc/tools/<name>/<version>/`, with `go install
//! <package>@<version>`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use opssc_schema::FabricVersion;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CommandFailure, DevnetError, Result};

const GO_MOD: &str = include_str!("../fabric-build/go.mod");
const GO_SUM: &str = include_str!("../fabric-build/go.sum");
const FABRIC_MODULE: &str = "github.com/hyperledger/fabric";

/// The binaries the devnet runs, by name.
pub const BINARIES: [&str; 6] = [
    "peer",
    "orderer",
    "configtxgen",
    "cryptogen",
    "osnadmin",
    "configtxlator",
];

/// The pinned Fabric version, read from `fabric-build/go.mod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedFabric {
    /// The release name, e.g. `v2.5.9` (names the cache directory).
    pub release: String,
    /// The full commit hash the release tag points to.
    pub commit: String,
    /// The Go pseudo-version of that commit, as `go.mod` requires it.
    pub module_version: String,
}

/// Parses the pinned version out of the build module's `go.mod`.
pub fn pinned_fabric() -> Result<PinnedFabric> {
    parse_go_mod(GO_MOD)
}

fn parse_go_mod(text: &str) -> Result<PinnedFabric> {
    let bad = |m: &str| DevnetError::BuildModule(m.to_string());
    let comment = |key: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("//")
                .and_then(|l| l.trim().strip_prefix(key))
                .map(|v| v.trim().to_string())
        })
    };
    let release = comment("fabric-release:").ok_or_else(|| bad("no `// fabric-release:` line"))?;
    let commit = comment("fabric-commit:").ok_or_else(|| bad("no `// fabric-commit:` line"))?;
    let module_version = text
        .lines()
        .find_map(|l| {
            let l = l.trim().strip_prefix("require")?.trim();
            let mut words = l.split_whitespace();
            (words.next()? == FABRIC_MODULE).then(|| words.next().map(str::to_string))?
        })
        .ok_or_else(|| bad("no `require github.com/hyperledger/fabric <version>` line"))?;
    if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("fabric-commit is not a 40-digit hex commit hash"));
    }
    // A pseudo-version ends in the first 12 hex digits of the commit.
    if !module_version.ends_with(&format!("-{}", &commit[..12])) {
        return Err(bad(&format!(
            "the required version {module_version} is not the pseudo-version of commit {commit}"
        )));
    }
    if !release.starts_with('v') || release.contains('/') {
        return Err(bad("fabric-release must look like v2.5.9"));
    }
    Ok(PinnedFabric {
        release,
        commit,
        module_version,
    })
}

/// Paths to the Fabric binaries used by the devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FabricBinaries {
    /// The Fabric release they were built from, e.g. `v2.5.9`.
    pub version: String,
    pub dir: PathBuf,
    pub peer: PathBuf,
    pub orderer: PathBuf,
    pub configtxgen: PathBuf,
    pub cryptogen: PathBuf,
    pub osnadmin: PathBuf,
    pub configtxlator: PathBuf,
}

impl FabricBinaries {
    /// The binaries in `dir` (not checked).
    pub fn in_dir(version: &str, dir: &Path) -> FabricBinaries {
        FabricBinaries {
            version: version.to_string(),
            dir: dir.to_path_buf(),
            peer: dir.join("peer"),
            orderer: dir.join("orderer"),
            configtxgen: dir.join("configtxgen"),
            cryptogen: dir.join("cryptogen"),
            osnadmin: dir.join("osnadmin"),
            configtxlator: dir.join("configtxlator"),
        }
    }

    fn all_present(&self) -> bool {
        BINARIES.iter().all(|b| is_executable(&self.dir.join(b)))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/opssc`: every tool opssc builds for
/// itself lives under it, outside any repository.
fn opssc_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("opssc")
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/opssc/fabric`.
pub fn cache_root() -> PathBuf {
    opssc_cache().join("fabric")
}

/// A command-line tool built from its Go module at a pinned version, e.g.
/// Helm for the chart tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTool {
    /// The binary's name, e.g. `helm`.
    pub name: &'static str,
    /// The main package, e.g. `helm.sh/helm/v4/cmd/helm`.
    pub package: &'static str,
    /// The module version, e.g. `v4.3.2` (names the cache directory).
    pub version: &'static str,
}

/// The binary of `tool`, from `${XDG_CACHE_HOME:-~/.cache}/opssc/tools/<name>/<version>/`,
/// or first built there with `go install <package>@<version>` (Go checks every
/// module against the checksum database). Like [`fabric_binaries`], a file
/// lock makes concurrent callers wait for one build.
pub fn go_tool(tool: &GoTool, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    go_tool_in(
        tool,
        &opssc_cache().join("tools"),
        &GoCommand::default(),
        progress,
    )
}

fn go_tool_in(
    tool: &GoTool,
    tools_dir: &Path,
    go: &GoCommand,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    // The pin names a cache directory: no path tricks.
    if !tool.version.starts_with('v') || tool.version.contains('/') || tool.name.contains('/') {
        return Err(DevnetError::ToolBuild {
            tool: format!("{} {}", tool.name, tool.version),
            failure: CommandFailure {
                command: format!("go install {}@{}", tool.package, tool.version),
                status: "not run: the version must look like v4.3.2 and the name be a file name"
                    .into(),
                output: String::new(),
            },
        });
    }
    let version_dir = tools_dir.join(tool.name).join(tool.version);
    let bin = version_dir.join("bin").join(tool.name);
    if is_executable(&bin) {
        return Ok(bin);
    }
    fs::create_dir_all(&version_dir).map_err(DevnetError::io("create", &version_dir))?;
    let lock_path = version_dir.join(".build.lock");
    let lock = File::create(&lock_path).map_err(DevnetError::io("create", &lock_path))?;
    if lock.try_lock().is_err() {
        progress(&format!(
            "waiting for another process building {} {} (lock {})",
            tool.name,
            tool.version,
            lock_path.display()
        ));
        lock.lock().map_err(DevnetError::io("lock", &lock_path))?;
    }
    if is_executable(&bin) {
        return Ok(bin);
    }
    let started = Instant::now();
    let out_dir = version_dir.join("bin.partial");
    if out_dir.exists() {
        fs::remove_dir_all(&out_dir).map_err(DevnetError::io("remove", &out_dir))?;
    }
    fs::create_dir_all(&out_dir).map_err(DevnetError::io("create", &out_dir))?;
    let target = format!("{}@{}", tool.package, tool.version);
    let gobin = out_dir.to_string_lossy().into_owned();
    let env = [("CGO_ENABLED", "0"), ("GOBIN", gobin.as_str())];
    let command_line = format!("CGO_ENABLED=0 GOBIN={gobin} go install -v -trimpath {target}");
    progress(&format!(
        "building {} {} from its Go module into {}; this happens once",
        tool.name,
        tool.version,
        bin.display()
    ));
    progress(&format!("running: {command_line}"));
    let args: Vec<std::ffi::OsString> = vec![
        "install".into(),
        "-v".into(),
        "-trimpath".into(),
        target.into(),
    ];
    run_go(
        go,
        &args,
        &version_dir,
        &env,
        &command_line,
        started,
        progress,
    )
    .map_err(|e| match e {
        GoRunError::Missing(source) => DevnetError::GoMissing {
            building: format!("{} {}", tool.name, tool.version),
            source,
        },
        GoRunError::Spawn(e) => e,
        GoRunError::Failed(failure) => DevnetError::ToolBuild {
            tool: format!("{} {}", tool.name, tool.version),
            failure,
        },
    })?;
    if !is_executable(&out_dir.join(tool.name)) {
        return Err(DevnetError::ToolBuild {
            tool: format!("{} {}", tool.name, tool.version),
            failure: CommandFailure {
                command: command_line,
                status: format!("succeeded but did not produce {}", tool.name),
                output: String::new(),
            },
        });
    }
    let bin_dir = version_dir.join("bin");
    if bin_dir.exists() {
        fs::remove_dir_all(&bin_dir).map_err(DevnetError::io("remove", &bin_dir))?;
    }
    fs::rename(&out_dir, &bin_dir).map_err(DevnetError::io("rename", &out_dir))?;
    progress(&format!(
        "built {} {} in {} s",
        tool.name,
        tool.version,
        started.elapsed().as_secs()
    ));
    drop(lock);
    Ok(bin)
}

/// The pinned Fabric 2.5 binaries: from the cache, or built into it first.
///
/// `progress` receives one line per stage of a build (nothing when the cache
/// is warm). Concurrent callers, in this or other processes, wait for one build.
pub fn fabric_binaries(progress: &mut dyn FnMut(&str)) -> Result<FabricBinaries> {
    fabric_binaries_for(FabricVersion::V2_5, progress)
}

/// The binaries of the release the devnet runs for `version`: v2.5.9 built
/// from its Go module, v3.1.5 from its source tree; from the cache when
/// they are all there.
pub fn fabric_binaries_for(
    version: FabricVersion,
    progress: &mut dyn FnMut(&str),
) -> Result<FabricBinaries> {
    let go = GoCommand::default();
    match version {
        FabricVersion::V2_5 => {
            let pinned = pinned_fabric()?;
            cached_or_built(
                &cache_root(),
                &pinned.release,
                &pinned.commit,
                progress,
                |dir, progress| build(&pinned, dir, &go, progress),
            )
        }
        FabricVersion::V3_1 => {
            let pin = FABRIC_3_1_5;
            let origin = source_origin(
                &pin,
                std::env::var_os(SOURCE_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .as_deref(),
                &default_source_dir(),
                &|p| p.exists(),
            )?;
            cached_or_built(
                &cache_root(),
                pin.release,
                pin.commit,
                progress,
                |dir, progress| build_from_source(&pin, &origin, dir, &go, progress),
            )
        }
    }
}

/// The cache directory name of a release: `v3.1.5-86c1172bec37`. The commit
/// is part of it so that binaries of a tag that was moved, or of another
/// pin, are never taken for the pinned ones.
pub fn cache_key(release: &str, commit: &str) -> String {
    format!("{release}-{}", &commit[..commit.len().min(12)])
}

/// The binaries in `<root>/<cache_key>/bin`, or `build` run there first
/// (under the directory's lock, and only if they are still missing once the
/// lock is held).
fn cached_or_built(
    root: &Path,
    release: &str,
    commit: &str,
    progress: &mut dyn FnMut(&str),
    build: impl FnOnce(&Path, &mut dyn FnMut(&str)) -> Result<()>,
) -> Result<FabricBinaries> {
    let version_dir = root.join(cache_key(release, commit));
    let bins = FabricBinaries::in_dir(release, &version_dir.join("bin"));
    if bins.all_present() {
        return Ok(bins);
    }
    fs::create_dir_all(&version_dir).map_err(DevnetError::io("create", &version_dir))?;
    let lock_path = version_dir.join(".build.lock");
    let lock = File::create(&lock_path).map_err(DevnetError::io("create", &lock_path))?;
    if lock.try_lock().is_err() {
        progress(&format!(
            "waiting for another process building Fabric {release} (lock {})",
            lock_path.display()
        ));
        lock.lock().map_err(DevnetError::io("lock", &lock_path))?;
    }
    // Another process may have finished the build while we waited.
    if bins.all_present() {
        return Ok(bins);
    }
    build(&version_dir, progress)?;
    drop(lock);
    Ok(bins)
}

/// A Fabric release built from its source tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePin {
    /// The release and the tag it is cut from, e.g. `v3.1.5`.
    pub release: &'static str,
    /// The full commit hash the tag points to.
    pub commit: &'static str,
    /// The archive's file name (a `git archive` of the tag).
    pub archive: &'static str,
    /// The archive's sha256, hex.
    pub archive_sha256: &'static str,
    /// The directory every path in the archive starts with.
    pub prefix: &'static str,
    /// Where the tag can be cloned from.
    pub repository: &'static str,
}

/// Fabric v3.1.5 (see `../shared/fabric/README.md` for how the archive was made).
pub const FABRIC_3_1_5: SourcePin = SourcePin {
    release: "v3.1.5",
    commit: "86c1172bec37e6590c6b1ae6f847833df48d65fc",
    archive: "fabric-3.1.5-src.tar.gz",
    archive_sha256: "3f2694ac9c9173902a990a27871a39bf099d2493f21339769d55727ed9ab6f25",
    prefix: "fabric-3.1.5",
    repository: "https://github.com/hyperledger/fabric",
};

/// The environment variable naming a Fabric source archive (or the
/// directory holding it) to build Fabric 3 from.
pub const SOURCE_ENV: &str = "OPSSC_FABRIC_SOURCE";

/// `../shared/fabric` beside the workspace this crate was built in, where
/// the project's machines and CI keep the source archive.
pub fn default_source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fabric")
}

impl SourcePin {
    /// The version Fabric reports (`peer version`), e.g. `3.1.5`.
    pub fn version_number(&self) -> &'static str {
        self.release.trim_start_matches('v')
    }
}

/// Where a release's source tree comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceOrigin {
    /// A `git archive` of the tag, checked against the pinned sha256.
    Archive(PathBuf),
    /// A shallow clone of the tag, checked against the pinned commit.
    Clone { url: String, tag: String },
}

/// Decides where `pin`'s source comes from: the archive `env` names (a file,
/// or a directory holding `pin.archive`; it must exist, since the user asked
/// for it), else the archive in `default_dir` when it `exists`, else a clone.
pub fn source_origin(
    pin: &SourcePin,
    env: Option<&Path>,
    default_dir: &Path,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<SourceOrigin> {
    if let Some(path) = env {
        let archive = if path.extension().is_some_and(|e| e == "gz") {
            path.to_path_buf()
        } else {
            path.join(pin.archive)
        };
        if !exists(&archive) {
            return Err(DevnetError::SourceMissing {
                release: pin.release.into(),
                archive: pin.archive.into(),
                path: archive,
            });
        }
        return Ok(SourceOrigin::Archive(archive));
    }
    let archive = default_dir.join(pin.archive);
    if exists(&archive) {
        return Ok(SourceOrigin::Archive(archive));
    }
    Ok(SourceOrigin::Clone {
        url: pin.repository.into(),
        tag: pin.release.into(),
    })
}

/// The sha256 of a file, hex.
fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(DevnetError::io("open", path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher).map_err(DevnetError::io("read", path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Refuses an archive whose sha256 is not the pinned one.
fn check_archive(pin: &SourcePin, path: &Path) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual != pin.archive_sha256 {
        return Err(DevnetError::SourceChecksum {
            release: pin.release.into(),
            path: path.to_path_buf(),
            expected: pin.archive_sha256.into(),
            actual,
        });
    }
    Ok(())
}

/// Refuses a clone whose HEAD is not the pinned commit.
fn check_commit(pin: &SourcePin, url: &str, actual: &str) -> Result<()> {
    if actual.trim() != pin.commit {
        return Err(DevnetError::SourceCommit {
            url: url.into(),
            tag: pin.release.into(),
            expected: pin.commit.into(),
            actual: actual.trim().into(),
        });
    }
    Ok(())
}

/// Puts `pin`'s source tree under `dest` (emptied first) and returns it.
fn fetch_source(
    pin: &SourcePin,
    origin: &SourceOrigin,
    dest: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    if dest.exists() {
        fs::remove_dir_all(dest).map_err(DevnetError::io("remove", dest))?;
    }
    fs::create_dir_all(dest).map_err(DevnetError::io("create", dest))?;
    match origin {
        SourceOrigin::Archive(archive) => {
            check_archive(pin, archive)?;
            progress(&format!(
                "unpacking {} (sha256 {}… as pinned) into {}",
                archive.display(),
                &pin.archive_sha256[..12],
                dest.display()
            ));
            let f = File::open(archive).map_err(DevnetError::io("open", archive))?;
            tar::Archive::new(flate2::read::GzDecoder::new(f))
                .unpack(dest)
                .map_err(DevnetError::io("unpack", archive))?;
            let tree = dest.join(pin.prefix);
            if !tree.join("go.mod").is_file() {
                return Err(DevnetError::Output {
                    what: format!("the archive {}", archive.display()),
                    detail: format!("it has no {}/go.mod", pin.prefix),
                });
            }
            Ok(tree)
        }
        SourceOrigin::Clone { url, tag } => {
            let tree = dest.join(pin.prefix);
            progress(&format!(
                "no source archive: cloning {url} at tag {tag} into {}",
                tree.display()
            ));
            crate::tools::Tool::new(Path::new("git"), "cloning the Fabric source")
                .args(["clone", "--quiet", "--depth", "1", "--branch", tag, url])
                .arg(&tree)
                .run()?;
            let head = crate::tools::Tool::new(Path::new("git"), "reading the clone's commit")
                .arg("-C")
                .arg(&tree)
                .args(["rev-parse", "HEAD"])
                .run()?;
            check_commit(pin, url, &head.stdout)?;
            Ok(tree)
        }
    }
}

/// Builds the six binaries of `pin` from its source into `version_dir/bin`.
fn build_from_source(
    pin: &SourcePin,
    origin: &SourceOrigin,
    version_dir: &Path,
    go: &GoCommand,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let started = Instant::now();
    let src_dir = version_dir.join("src");
    let out_dir = version_dir.join("bin.partial");
    let tree = fetch_source(pin, origin, &src_dir, progress)?;
    if out_dir.exists() {
        fs::remove_dir_all(&out_dir).map_err(DevnetError::io("remove", &out_dir))?;
    }
    fs::create_dir_all(&out_dir).map_err(DevnetError::io("create", &out_dir))?;
    let args = source_build_args(pin, &out_dir);
    let env = [
        ("CGO_ENABLED", "0"),
        ("GOFLAGS", "-mod=vendor"),
        ("GOPROXY", "off"),
    ];
    let command_line = format!(
        "cd {} && {} go {}",
        tree.display(),
        env.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        args.iter()
            .map(|a| {
                let a = a.to_string_lossy();
                if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    a.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    progress(&format!(
        "building Fabric {} (commit {}) from source into {}; this happens once and takes a few minutes",
        pin.release,
        &pin.commit[..12],
        version_dir.join("bin").display()
    ));
    progress(&format!("running: {command_line}"));
    run_go(go, &args, &tree, &env, &command_line, started, progress).map_err(|e| match e {
        GoRunError::Missing(source) => DevnetError::GoMissing {
            building: format!("Fabric {}", pin.release),
            source,
        },
        GoRunError::Spawn(e) => e,
        GoRunError::Failed(failure) => DevnetError::FabricSourceBuild {
            version: pin.release.into(),
            failure,
        },
    })?;
    install_built(
        pin.release,
        &out_dir,
        version_dir,
        &command_line,
        |failure| DevnetError::FabricSourceBuild {
            version: pin.release.into(),
            failure,
        },
    )?;
    // The tree is only needed for the build (about 250 MB unpacked).
    let _ = fs::remove_dir_all(&src_dir);
    progress(&format!(
        "built Fabric {} in {} s",
        pin.release,
        started.elapsed().as_secs()
    ));
    Ok(())
}

/// `go build` of the six commands of a source tree, into `out_dir`, with the
/// version Fabric reports set as its Makefile does.
fn source_build_args(pin: &SourcePin, out_dir: &Path) -> Vec<std::ffi::OsString> {
    let mut out_arg = out_dir.as_os_str().to_os_string();
    out_arg.push("/");
    let mut args: Vec<std::ffi::OsString> = vec![
        "build".into(),
        "-v".into(),
        "-trimpath".into(),
        "-ldflags".into(),
        format!(
            "-X github.com/hyperledger/fabric/common/metadata.Version={}",
            pin.version_number()
        )
        .into(),
        "-o".into(),
        out_arg,
    ];
    args.extend(BINARIES.iter().map(|b| format!("./cmd/{b}").into()));
    args
}

/// Moves the binaries built into `out_dir` to `version_dir/bin`, once all
/// six are there (else the build's error, made by `failed`).
fn install_built(
    release: &str,
    out_dir: &Path,
    version_dir: &Path,
    command_line: &str,
    failed: impl FnOnce(CommandFailure) -> DevnetError,
) -> Result<()> {
    let built = FabricBinaries::in_dir(release, out_dir);
    if !built.all_present() {
        return Err(failed(CommandFailure {
            command: command_line.to_string(),
            status: "succeeded but did not produce all six binaries".into(),
            output: String::new(),
        }));
    }
    let bin_dir = version_dir.join("bin");
    if bin_dir.exists() {
        fs::remove_dir_all(&bin_dir).map_err(DevnetError::io("remove", &bin_dir))?;
    }
    fs::rename(out_dir, &bin_dir).map_err(DevnetError::io("rename", out_dir))
}

/// The `go` program and extra environment to build with (tests point these
/// at a missing program or an unreachable proxy).
struct GoCommand {
    program: PathBuf,
    extra_env: Vec<(String, String)>,
}

impl Default for GoCommand {
    fn default() -> GoCommand {
        GoCommand {
            program: PathBuf::from("go"),
            extra_env: Vec::new(),
        }
    }
}

fn build(
    pinned: &PinnedFabric,
    version_dir: &Path,
    go: &GoCommand,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let started = Instant::now();
    let module_dir = version_dir.join("build-module");
    let out_dir = version_dir.join("bin.partial");
    let bin_dir = version_dir.join("bin");
    for dir in [&module_dir, &out_dir] {
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(DevnetError::io("remove", dir))?;
        }
        fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
    }
    for (name, text) in [("go.mod", GO_MOD), ("go.sum", GO_SUM)] {
        let p = module_dir.join(name);
        fs::write(&p, text).map_err(DevnetError::io("write", &p))?;
    }
    let packages: Vec<String> = BINARIES
        .iter()
        .map(|b| format!("{FABRIC_MODULE}/cmd/{b}"))
        .collect();
    let mut out_arg = out_dir.as_os_str().to_os_string();
    out_arg.push("/");
    let env = [
        ("CGO_ENABLED", "0"),
        ("GOFLAGS", "-mod=readonly"),
        ("GONOSUMDB", FABRIC_MODULE),
    ];
    let command_line = format!(
        "cd {} && {} go build -v -trimpath -o {} {}",
        module_dir.display(),
        env.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        out_arg.to_string_lossy(),
        packages.join(" ")
    );
    progress(&format!(
        "building Fabric {} (commit {}) from its Go module into {}; this happens once and takes a few minutes",
        pinned.release,
        &pinned.commit[..12],
        bin_dir.display()
    ));
    progress(&format!("running: {command_line}"));
    let mut args: Vec<std::ffi::OsString> = ["build", "-v", "-trimpath", "-o"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(out_arg);
    args.extend(packages.iter().map(Into::into));
    run_go(
        go,
        &args,
        &module_dir,
        &env,
        &command_line,
        started,
        progress,
    )
    .map_err(|e| match e {
        GoRunError::Missing(source) => DevnetError::GoMissing {
            building: format!("Fabric {}", pinned.release),
            source,
        },
        GoRunError::Spawn(e) => e,
        GoRunError::Failed(failure) => DevnetError::FabricBuild {
            version: pinned.release.clone(),
            failure,
        },
    })?;
    install_built(
        &pinned.release,
        &out_dir,
        version_dir,
        &command_line,
        |failure| DevnetError::FabricBuild {
            version: pinned.release.clone(),
            failure,
        },
    )?;
    let _ = fs::remove_dir_all(&module_dir);
    progress(&format!(
        "built Fabric {} in {} s",
        pinned.release,
        started.elapsed().as_secs()
    ));
    Ok(())
}

/// Why running `go` failed.
enum GoRunError {
    /// No `go` on PATH.
    Missing(std::io::Error),
    /// `go` could not be started or waited for.
    Spawn(DevnetError),
    /// It ran and failed: the command and Go's own error lines.
    Failed(CommandFailure),
}

/// Runs `go <args>` in `dir` with `env` (and the test overrides of `go`),
/// reporting downloads and a running count of compiled packages to
/// `progress`; on failure keeps Go's error lines, each once.
fn run_go(
    go: &GoCommand,
    args: &[std::ffi::OsString],
    dir: &Path,
    env: &[(&str, &str)],
    command_line: &str,
    started: Instant,
    progress: &mut dyn FnMut(&str),
) -> std::result::Result<(), GoRunError> {
    let mut child = Command::new(&go.program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .envs(go.extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                GoRunError::Missing(source)
            } else {
                GoRunError::Spawn(DevnetError::Spawn {
                    program: go.program.clone(),
                    source,
                })
            }
        })?;
    // stdout is empty for `go build`; drain it on a thread so it can never block.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    // `-v` prints one line per package built and `go: downloading ...` lines;
    // report downloads and a running count so a long cold build shows life.
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut tail: Vec<String> = Vec::new();
    let mut compiled = 0usize;
    let mut downloading = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.starts_with("go: downloading") {
            if !downloading {
                progress(
                    "downloading modules (Go checks each against its go.sum or checksum database hash)",
                );
                downloading = true;
            }
        } else if !line.contains(' ') {
            compiled += 1;
            if compiled.is_multiple_of(100) {
                progress(&format!(
                    "compiled {compiled} packages ({} s)",
                    started.elapsed().as_secs()
                ));
            }
        }
        tail.push(line);
        if tail.len() > 200 {
            tail.remove(0);
        }
    }
    let status = child.wait().map_err(|source| {
        GoRunError::Spawn(DevnetError::Spawn {
            program: go.program.clone(),
            source,
        })
    })?;
    let stdout = drain.join().unwrap_or_default();
    if !status.success() {
        // Keep only what explains the failure: Go's error lines, not the package list.
        let errors: Vec<&String> = tail.iter().filter(|l| l.contains(' ')).collect();
        let mut shown: Vec<&String> = if errors.is_empty() {
            tail.iter().collect()
        } else {
            errors
        };
        // Go repeats a failed download once per package that needs the module.
        let mut seen = std::collections::HashSet::new();
        shown.retain(|l| seen.insert(l.as_str()));
        let mut output = shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        if !stdout.trim().is_empty() {
            output.push('\n');
            output.push_str(stdout.trim_end());
        }
        return Err(GoRunError::Failed(CommandFailure {
            command: command_line.to_string(),
            status: status.to_string(),
            output,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_go_mod_pins_v2_5_9() {
        let p = pinned_fabric().unwrap();
        assert_eq!(p.release, "v2.5.9");
        assert_eq!(p.commit, "7c3876255bf064b789a839ce347b6a02adb6333c");
        assert_eq!(p.module_version, "v0.0.0-20240618194258-7c3876255bf0");
        assert!(
            GO_SUM.contains(&format!("{FABRIC_MODULE} {} h1:", p.module_version)),
            "go.sum must pin the Fabric module itself"
        );
    }

    #[test]
    fn go_mod_with_mismatched_commit_is_rejected() {
        let text = GO_MOD.replace("fabric-commit: 7c3876255bf0", "fabric-commit: 0000000000ff");
        let err = parse_go_mod(&text).unwrap_err().to_string();
        assert!(err.contains("not the pseudo-version"), "{err}");
        let err = parse_go_mod("module x\n").unwrap_err().to_string();
        assert!(err.contains("fabric-release"), "{err}");
    }

    #[test]
    fn fabric_3_pins_are_well_formed() {
        let pin = FABRIC_3_1_5;
        assert_eq!(pin.release, "v3.1.5");
        assert_eq!(pin.version_number(), "3.1.5");
        assert_eq!(pin.commit, "86c1172bec37e6590c6b1ae6f847833df48d65fc");
        assert!(pin.commit.len() == 40 && pin.commit.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(pin.archive_sha256.len() == 64);
        assert!(pin.archive_sha256.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(pin.archive.starts_with(pin.prefix));
    }

    #[test]
    fn cache_is_keyed_by_release_and_commit() {
        assert_eq!(
            cache_key(FABRIC_3_1_5.release, FABRIC_3_1_5.commit),
            "v3.1.5-86c1172bec37"
        );
        let p = pinned_fabric().unwrap();
        assert_eq!(cache_key(&p.release, &p.commit), "v2.5.9-7c3876255bf0");
        // Another commit under the same tag is another directory.
        assert_ne!(
            cache_key("v3.1.5", "0000000000000000000000000000000000000000"),
            cache_key(FABRIC_3_1_5.release, FABRIC_3_1_5.commit)
        );
    }

    #[test]
    fn source_comes_from_the_named_archive_the_shared_one_or_a_clone() {
        let pin = FABRIC_3_1_5;
        let shared = Path::new("/ws/../shared/fabric");
        let archive = shared.join(pin.archive);
        let only = |there: PathBuf| move |p: &Path| p == there;
        // The shared archive when it is there, a clone of the tag otherwise.
        assert_eq!(
            source_origin(&pin, None, shared, &only(archive.clone())).unwrap(),
            SourceOrigin::Archive(archive.clone())
        );
        assert_eq!(
            source_origin(&pin, None, shared, &|_| false).unwrap(),
            SourceOrigin::Clone {
                url: "https://github.com/hyperledger/fabric".into(),
                tag: "v3.1.5".into()
            }
        );
        // OPSSC_FABRIC_SOURCE: an archive, or a directory holding it; never
        // silently replaced by another source when it names nothing.
        let mine = PathBuf::from("/src/my-fabric.tar.gz");
        assert_eq!(
            source_origin(&pin, Some(&mine), shared, &only(mine.clone())).unwrap(),
            SourceOrigin::Archive(mine.clone())
        );
        let dir = PathBuf::from("/src");
        assert_eq!(
            source_origin(&pin, Some(&dir), shared, &only(dir.join(pin.archive))).unwrap(),
            SourceOrigin::Archive(dir.join(pin.archive))
        );
        let err = source_origin(&pin, Some(&mine), shared, &only(archive)).unwrap_err();
        assert!(matches!(err, DevnetError::SourceMissing { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("OPSSC_FABRIC_SOURCE names /src/my-fabric.tar.gz"),
            "{err}"
        );
    }

    #[test]
    fn an_archive_with_another_checksum_is_refused_before_unpacking() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join(FABRIC_3_1_5.archive);
        fs::write(&archive, b"not fabric").unwrap();
        let dest = tmp.path().join("src");
        let err = fetch_source(
            &FABRIC_3_1_5,
            &SourceOrigin::Archive(archive.clone()),
            &dest,
            &mut |_| {},
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DevnetError::SourceChecksum { .. }), "{text}");
        // sha256("not fabric"), the pin, and what to do.
        let actual = hex::encode(Sha256::digest(b"not fabric"));
        assert!(text.contains(&format!("has sha256 {actual}")), "{text}");
        assert!(text.contains(FABRIC_3_1_5.archive_sha256), "{text}");
        assert!(text.contains("refusing to build from it"), "{text}");
        assert!(
            fs::read_dir(&dest).unwrap().next().is_none(),
            "nothing unpacked"
        );
    }

    #[test]
    fn a_clone_at_another_commit_is_refused() {
        let pin = FABRIC_3_1_5;
        check_commit(&pin, pin.repository, &format!("{}\n", pin.commit)).unwrap();
        let err = check_commit(
            &pin,
            pin.repository,
            "0123456789abcdef0123456789abcdef01234567",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("at tag v3.1.5 is at commit 0123456789ab"),
            "{err}"
        );
        assert!(err.contains("not the pinned 86c1172bec37"), "{err}");
    }

    #[test]
    fn source_build_is_offline_with_the_release_version() {
        let args: Vec<String> = source_build_args(&FABRIC_3_1_5, Path::new("/c/bin.partial"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args[..7],
            [
                "build",
                "-v",
                "-trimpath",
                "-ldflags",
                "-X github.com/hyperledger/fabric/common/metadata.Version=3.1.5",
                "-o",
                "/c/bin.partial/"
            ]
        );
        assert_eq!(args[7..], BINARIES.map(|b| format!("./cmd/{b}")));
    }

    #[test]
    fn cached_binaries_are_not_rebuilt() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp
            .path()
            .join(cache_key("v3.1.5", FABRIC_3_1_5.commit))
            .join("bin");
        fs::create_dir_all(&bin).unwrap();
        for b in BINARIES {
            fs::write(bin.join(b), "#!/bin/sh\n").unwrap();
            fs::set_permissions(bin.join(b), fs::Permissions::from_mode(0o755)).unwrap();
        }
        let got = cached_or_built(
            tmp.path(),
            "v3.1.5",
            FABRIC_3_1_5.commit,
            &mut |_| {},
            |_, _| panic!("built although cached"),
        )
        .unwrap();
        assert_eq!(got.peer, bin.join("peer"));
        // One binary missing: built again.
        fs::remove_file(bin.join("osnadmin")).unwrap();
        let mut built = false;
        let _ = cached_or_built(
            tmp.path(),
            "v3.1.5",
            FABRIC_3_1_5.commit,
            &mut |_| {},
            |dir, _| {
                built = true;
                assert_eq!(dir, bin.parent().unwrap());
                Ok(())
            },
        );
        assert!(built);
    }

    #[test]
    fn missing_go_is_reported_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let go = GoCommand {
            program: tmp.path().join("no-such-go"),
            extra_env: Vec::new(),
        };
        let err = build(&pinned_fabric().unwrap(), tmp.path(), &go, &mut |_| {}).unwrap_err();
        assert!(matches!(err, DevnetError::GoMissing { .. }), "{err}");
        assert!(err.to_string().contains("Install Go"), "{err}");
    }

    /// The real `go`, an empty module cache and a proxy that refuses
    /// connections: the error shows the command and Go's own words.
    #[test]
    fn unreachable_proxy_shows_the_command_and_go_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let modcache = tmp.path().join("gomod");
        let go = GoCommand {
            program: PathBuf::from("go"),
            extra_env: vec![
                ("GOPROXY".into(), format!("http://127.0.0.1:{closed_port}")),
                ("GOMODCACHE".into(), modcache.to_string_lossy().into_owned()),
                ("GOTOOLCHAIN".into(), "local".into()),
            ],
        };
        let mut lines = Vec::new();
        let err = build(
            &pinned_fabric().unwrap(),
            &tmp.path().join("v"),
            &go,
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DevnetError::FabricBuild { .. }), "{text}");
        assert!(text.contains("go build -v -trimpath"), "{text}");
        assert!(text.contains("----- output -----"), "{text}");
        let lines_of_output: Vec<&str> = text.lines().collect();
        let unique: std::collections::HashSet<&&str> = lines_of_output.iter().collect();
        assert_eq!(
            unique.len(),
            lines_of_output.len(),
            "repeated lines: {text}"
        );
        assert!(
            text.contains(&format!("127.0.0.1:{closed_port}")),
            "Go's stderr names the proxy: {text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("building Fabric v2.5.9")),
            "{lines:?}"
        );
        // Go makes its module cache read-only; let the temp dir go away.
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(&modcache)
            .status();
    }

    #[test]
    fn go_tool_without_go_says_what_it_was_building() {
        let tmp = tempfile::tempdir().unwrap();
        let go = GoCommand {
            program: tmp.path().join("no-such-go"),
            extra_env: Vec::new(),
        };
        let tool = GoTool {
            name: "helm",
            package: "helm.sh/helm/v4/cmd/helm",
            version: "v4.3.2",
        };
        let err = go_tool_in(&tool, tmp.path(), &go, &mut |_| {}).unwrap_err();
        assert!(matches!(err, DevnetError::GoMissing { .. }), "{err}");
        assert!(err.to_string().contains("helm v4.3.2"), "{err}");
        // Nothing half-built is taken for the tool next time.
        assert!(!tmp.path().join("helm/v4.3.2/bin/helm").exists());
    }

    #[test]
    fn go_tool_found_in_the_cache_is_not_rebuilt() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("helm/v4.3.2/bin/helm");
        fs::create_dir_all(bin.parent().unwrap()).unwrap();
        fs::write(&bin, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        // A `go` that does not exist proves nothing was run.
        let go = GoCommand {
            program: tmp.path().join("no-such-go"),
            extra_env: Vec::new(),
        };
        let tool = GoTool {
            name: "helm",
            package: "helm.sh/helm/v4/cmd/helm",
            version: "v4.3.2",
        };
        assert_eq!(
            go_tool_in(&tool, tmp.path(), &go, &mut |_| {}).unwrap(),
            bin
        );
        let other = GoTool {
            version: "v4.3.1",
            ..tool
        };
        assert!(
            go_tool_in(&other, tmp.path(), &go, &mut |_| {}).is_err(),
            "keyed by version"
        );
        let sneaky = GoTool {
            version: "v4/../../x",
            ..tool
        };
        assert!(matches!(
            go_tool_in(&sneaky, tmp.path(), &go, &mut |_| {}),
            Err(DevnetError::ToolBuild { .. })
        ));
    }

    #[test]
    fn build_failure_shows_command_and_output_in_a_block() {
        let e = DevnetError::FabricBuild {
            version: "v2.5.9".into(),
            failure: CommandFailure {
                command: "go build x".into(),
                status: "exit status: 1".into(),
                output: "go: github.com/x: 403 Forbidden".into(),
            },
        };
        let s = e.to_string();
        assert!(s.contains("`go build x` failed (exit status: 1)"), "{s}");
        assert!(
            s.contains(
                "----- output -----\ngo: github.com/x: 403 Forbidden\n----- end of output -----"
            ),
            "{s}"
        );
        assert!(s.contains("GOPROXY"), "{s}");
    }
}
