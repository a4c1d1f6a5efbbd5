//! The one error type of `opssc-devnet`.
//!
//! Every variant names the object that failed (a file, a node, a channel, a
//! command) and, where the fix is not obvious, what the user should do next.
//! A child process's output is kept in the variant and shown in a marked block
//! by `Display`, so a failed `go build` or `osnadmin` call explains itself.

use std::fmt;
use std::path::PathBuf;

/// A command that ran and failed: what was run and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    /// The command line, as the user could type it again.
    pub command: String,
    /// Exit status description, e.g. `exit status: 1`.
    pub status: String,
    /// The end of the command's output (stderr, then stdout when stderr is empty).
    pub output: String,
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed ({})", self.command, self.status)?;
        let output = self.output.trim_end();
        if !output.is_empty() {
            write!(
                f,
                "\n----- output -----\n{output}\n----- end of output -----"
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "`go` was not found on PATH; opssc builds {building} with Go. \
         Install Go 1.26 or newer (https://go.dev/dl/) and run again"
    )]
    GoMissing {
        /// What was to be built, e.g. `Fabric v2.5.9` or `helm v4.3.2`.
        building: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "building Fabric {version} failed: {failure}\n\
         hint: the build downloads modules through GOPROXY; check that the proxy is reachable \
         (`go env GOPROXY`) and that the Go version is 1.22 or newer"
    )]
    FabricBuild {
        version: String,
        failure: CommandFailure,
    },

    #[error(
        "building {tool} failed: {failure}\n\
         hint: `go install` downloads modules through GOPROXY; check that the proxy is reachable \
         (`go env GOPROXY`) and that the Go version is at least the one the module's go.mod names"
    )]
    ToolBuild {
        /// The tool and its version, e.g. `helm v4.3.2`.
        tool: String,
        failure: CommandFailure,
    },

    #[error(
        "building Fabric {version} from source failed: {failure}\n\
         hint: the build uses only the source tree's vendored modules (GOPROXY=off); check \
         that the Go version is at least the one its go.mod names (`go version`)"
    )]
    FabricSourceBuild {
        version: String,
        failure: CommandFailure,
    },

    #[error(
        "the Fabric source archive {} has sha256 {actual}, not the pinned {expected} of \
         {release}; refusing to build from it. Put the archive of tag {release} there \
         (see ../shared/fabric/README.md) or point OPSSC_FABRIC_SOURCE at one",
        path.display()
    )]
    SourceChecksum {
        release: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error(
        "the clone of {url} at tag {tag} is at commit {actual}, not the pinned {expected}; \
         refusing to build from it (the tag was moved?). Build from the archive instead: \
         OPSSC_FABRIC_SOURCE=<path of the archive of commit {expected}>"
    )]
    SourceCommit {
        url: String,
        tag: String,
        expected: String,
        actual: String,
    },

    #[error(
        "OPSSC_FABRIC_SOURCE names {}, which does not exist; point it at the Fabric {release} \
         source archive ({archive}) or at the directory holding it, or unset it",
        path.display()
    )]
    SourceMissing {
        release: String,
        archive: String,
        path: PathBuf,
    },

    #[error("the pinned Fabric build module devnet/fabric-build/go.mod is malformed: {0}")]
    BuildModule(String),

    #[error("invalid topology: {0}")]
    Topology(String),

    #[error("cannot run {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{what}: {failure}")]
    Command {
        what: String,
        failure: CommandFailure,
    },

    #[error("no free loopback port")]
    Ports(#[source] std::io::Error),

    #[error(
        "a devnet is already running from {}: {running}. Stop it with `opssc dev down --state-dir {}` \
         or choose another --state-dir",
        state_dir.display(), state_dir.display()
    )]
    AlreadyRunning { state_dir: PathBuf, running: String },

    #[error(
        "{} exists and is not a devnet state directory (no devnet.json); refusing to use it. \
         Choose another --state-dir",
        .0.display()
    )]
    ForeignStateDir(PathBuf),

    #[error("no devnet state in {}: start one with `opssc dev up`", .0.display())]
    NoState(PathBuf),

    #[error("the devnet state file {} is unreadable", path.display())]
    StateFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "{node} exited during start-up ({status}); its log is {}{}",
        log.display(), format_tail(tail)
    )]
    NodeExited {
        node: String,
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error(
        "{what} was not ready after {seconds} s: {last}; see {}{}",
        log.display(), format_tail(tail)
    )]
    NotReady {
        what: String,
        seconds: u64,
        last: String,
        log: PathBuf,
        tail: String,
    },

    #[error("unexpected output from {what}: {detail}")]
    Output { what: String, detail: String },

    /// Founding the consortium (spec repository, OpsSC deployment) failed.
    #[error("{what}: {detail}")]
    Founding { what: String, detail: String },

    #[error("no {kind} named {name} in this devnet")]
    UnknownNode { kind: &'static str, name: String },

    #[error("could not stop {node} (pid {pid}): {reason}")]
    Stop {
        node: String,
        pid: u32,
        reason: String,
    },
}

fn format_tail(tail: &str) -> String {
    let tail = tail.trim_end();
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n----- last lines of the log -----\n{tail}\n----- end of the log excerpt -----")
    }
}

impl DevnetError {
    /// A node could not bind one of its ports (someone took it after the
    /// devnet chose it).
    pub fn is_port_taken(&self) -> bool {
        match self {
            DevnetError::NodeExited { tail, .. } | DevnetError::NotReady { tail, .. } => {
                tail.contains("address already in use")
            }
            _ => false,
        }
    }

    /// The first line of the message (without log excerpts).
    pub fn summary(&self) -> String {
        self.to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> DevnetError {
        let path = path.into();
        move |source| DevnetError::Io {
            action,
            path,
            source,
        }
    }
}

pub type Result<T, E = DevnetError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_that_could_not_bind_is_a_port_collision() {
        // The line a v2.5 peer logs before it exits when its port is taken.
        let tail = "INFO [ledgermgmt] NewLedgerMgr -> Initialized LedgerMgr\n\
                    FATA [nodeCmd] serve -> Failed to create peer server \
                    (listen tcp 127.0.0.1:46575: bind: address already in use)";
        let e = DevnetError::NodeExited {
            node: "peer0.org1.example.com".into(),
            status: "exit status: 1".into(),
            log: "/s/logs/peer0.org1.example.com.log".into(),
            tail: tail.into(),
        };
        assert!(e.is_port_taken());
        assert_eq!(
            e.summary(),
            "peer0.org1.example.com exited during start-up (exit status: 1); its log is /s/logs/peer0.org1.example.com.log"
        );
        let other = DevnetError::NodeExited {
            node: "x".into(),
            status: "exit status: 2".into(),
            log: "/l".into(),
            tail: "FATA cannot read MSP".into(),
        };
        assert!(!other.is_port_taken());
    }
}
