//! The Fabric binaries: found in a per-user cache, or built from Fabric's Go module.
//!
//! The pinned version lives in one place, `devnet/fabric-build/go.mod` (with
//! its `go.sum`), compiled into this crate. [`fabric_binaries`] returns the six
//! binaries from `${XDG_CACHE_HOME:-~/.cache}/opssc/fabric/<release>/bin` when
//! they are all there, and otherwise builds them with `go build` in a copy of
//! that module. Key decision: the build runs with `-mod=readonly`, so every
//! downloaded module is checked against the committed `go.sum`, and a file lock
//! in the cache directory makes concurrent test binaries wait for one build
//! instead of racing. [`go_tool`] builds other pinned Go tools (Helm for the
//! chart tests) the same way into `opssc/tools/<name>/<version>/`, with
//! `go install <package>@<version>`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

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

/// The pinned Fabric binaries: from the cache, or built into it first.
///
/// `progress` receives one line per stage of a build (nothing when the cache
/// is warm). Concurrent callers, in this or other processes, wait for one build.
pub fn fabric_binaries(progress: &mut dyn FnMut(&str)) -> Result<FabricBinaries> {
    let pinned = pinned_fabric()?;
    let version_dir = cache_root().join(&pinned.release);
    let bins = FabricBinaries::in_dir(&pinned.release, &version_dir.join("bin"));
    if bins.all_present() {
        return Ok(bins);
    }
    fs::create_dir_all(&version_dir).map_err(DevnetError::io("create", &version_dir))?;
    let lock_path = version_dir.join(".build.lock");
    let lock = File::create(&lock_path).map_err(DevnetError::io("create", &lock_path))?;
    if lock.try_lock().is_err() {
        progress(&format!(
            "waiting for another process building Fabric {} (lock {})",
            pinned.release,
            lock_path.display()
        ));
        lock.lock().map_err(DevnetError::io("lock", &lock_path))?;
    }
    // Another process may have finished the build while we waited.
    if bins.all_present() {
        return Ok(bins);
    }
    build(&pinned, &version_dir, &GoCommand::default(), progress)?;
    drop(lock);
    Ok(bins)
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
    let built = FabricBinaries::in_dir(&pinned.release, &out_dir);
    if !built.all_present() {
        return Err(DevnetError::FabricBuild {
            version: pinned.release.clone(),
            failure: CommandFailure {
                command: command_line,
                status: "succeeded but did not produce all six binaries".into(),
                output: String::new(),
            },
        });
    }
    if bin_dir.exists() {
        fs::remove_dir_all(&bin_dir).map_err(DevnetError::io("remove", &bin_dir))?;
    }
    fs::rename(&out_dir, &bin_dir).map_err(DevnetError::io("rename", &out_dir))?;
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
