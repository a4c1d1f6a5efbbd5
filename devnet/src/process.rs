//! Starting, watching and stopping the node processes — only ours, by PID.
//!
//! A [`ProcessRecord`] remembers a PID together with the process's start time
//! from `/proc/<pid>/stat`; a PID whose start time differs belongs to someone
//! else (the kernel reused it) and is never signalled. Zombies count as gone.
//!
//! Two modes: *attached* (tests) — nodes stay in the caller's process group
//! and a [`Watchdog`] shell process stops them if the caller dies without
//! cleaning up (a panic in a static, SIGKILL of the test binary); *detached*
//! (`opssc dev up`) — nodes run in their own session (`setsid`) and outlive
//! the command, and `opssc dev down` stops them from the recorded PIDs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{DevnetError, Result};
use crate::tools::scrub_fabric_env;

/// What kind of node a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Orderer,
    Peer,
    /// A chaincode-as-a-service server the devnet supervises (the OpsSC's).
    Chaincode,
}

/// A process the devnet started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// The node's host name, e.g. `peer0.org1.example.com`.
    pub name: String,
    pub kind: NodeKind,
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// FABRIC_CFG_PATH of the node.
    pub config_dir: PathBuf,
    pub log: PathBuf,
}

/// How to start one node.
pub struct NodeCommand<'a> {
    pub name: &'a str,
    pub kind: NodeKind,
    pub program: &'a Path,
    pub args: &'a [&'a str],
    pub config_dir: &'a Path,
    pub log: &'a Path,
    pub detached: bool,
}

/// Fabric's log level for the nodes: info, with the chattiest modules quieter.
const LOGGING_SPEC: &str = "info:gossip.discovery,gossip.election,gossip.privdata=warning";

/// Starts a node with its output appended to its log file.
pub fn spawn_node(n: &NodeCommand<'_>) -> Result<(Child, ProcessRecord)> {
    if let Some(dir) = n.log.parent() {
        std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(n.log)
        .map_err(DevnetError::io("open", n.log))?;
    let log_err = log.try_clone().map_err(DevnetError::io("open", n.log))?;
    let mut cmd = Command::new(n.program);
    scrub_fabric_env(&mut cmd);
    cmd.args(n.args)
        .env("FABRIC_CFG_PATH", n.config_dir)
        .env("FABRIC_LOGGING_SPEC", LOGGING_SPEC)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    if n.detached {
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn().map_err(|source| DevnetError::Spawn {
        program: n.program.to_path_buf(),
        source,
    })?;
    let pid = child.id();
    // The child exists from fork on, so its stat entry is there already.
    let start_time = proc_stat(pid).map(|s| s.start_time).unwrap_or(0);
    let record = ProcessRecord {
        name: n.name.to_string(),
        kind: n.kind,
        pid,
        start_time,
        program: n.program.to_path_buf(),
        args: n.args.iter().map(|a| a.to_string()).collect(),
        config_dir: n.config_dir.to_path_buf(),
        log: n.log.to_path_buf(),
    };
    Ok((child, record))
}

/// The fields of `/proc/<pid>/stat` the devnet needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

/// Reads `/proc/<pid>/stat`; `None` when there is no such process.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may contain anything;
    // the fields after the last ')' start with field 3, the state.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(22 - 3)?.parse().ok()?;
    let rss_pages = fields.get(24 - 3)?.parse().ok()?;
    Some(ProcStat {
        state,
        start_time,
        rss_pages,
    })
}

impl ProcessRecord {
    /// True while the recorded process runs (not exited, not a zombie, PID not reused).
    pub fn is_running(&self) -> bool {
        match proc_stat(self.pid) {
            Some(s) => s.start_time == self.start_time && s.state != 'Z' && s.state != 'X',
            None => false,
        }
    }

    /// Resident memory in bytes, when running.
    pub fn rss_bytes(&self) -> Option<u64> {
        let s = proc_stat(self.pid).filter(|s| s.start_time == self.start_time)?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(s.rss_pages * page.max(0) as u64)
    }

    /// Sends `signal` if the process is still the one recorded.
    pub fn signal(&self, signal: i32) -> bool {
        if !self.is_running() {
            return false;
        }
        // SAFETY: kill has no memory-safety preconditions; the PID was checked above.
        unsafe { libc::kill(self.pid as libc::pid_t, signal) == 0 }
    }
}

/// A process of ours, with its `Child` when this process started it (to reap it).
pub struct Supervised {
    pub record: ProcessRecord,
    pub child: Option<Child>,
}

impl Supervised {
    /// Reaps the child if it exited; true while it runs.
    pub fn is_running(&mut self) -> bool {
        if let Some(child) = &mut self.child
            && let Ok(Some(_)) = child.try_wait()
        {
            return false;
        }
        self.record.is_running()
    }

    /// A description of how the process ended, if it did.
    pub fn exit_status(&mut self) -> Option<String> {
        if let Some(child) = &mut self.child
            && let Ok(Some(status)) = child.try_wait()
        {
            return Some(status.to_string());
        }
        (!self.record.is_running()).then(|| "exited".to_string())
    }
}

/// Stops the processes: SIGTERM, then SIGKILL for those still running after
/// `grace`. Returns an error naming any process that survived both.
pub fn stop_all(procs: &mut [Supervised], grace: Duration) -> Result<()> {
    for p in procs.iter() {
        p.record.signal(libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && procs.iter_mut().any(|p| p.is_running()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in procs.iter_mut().filter(|p| p.record.is_running()) {
        p.record.signal(libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && procs.iter_mut().any(|p| p.is_running()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(p) = procs.iter_mut().find_map(|p| p.is_running().then_some(p)) {
        return Err(DevnetError::Stop {
            node: p.record.name.clone(),
            pid: p.record.pid,
            reason: "still running 5 s after SIGKILL".into(),
        });
    }
    Ok(())
}

/// Stops the node processes if the process that started them dies first.
///
/// A `sh` process reads PIDs from a pipe whose only writer is this process.
/// When the pipe closes without [`Watchdog::disarm`] (this process exited or
/// was killed), it sends SIGTERM, then SIGKILL, to those PIDs and removes the
/// state directory if asked to.
pub struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

const WATCHDOG_SCRIPT: &str = r#"
pids=""
while read -r pid; do pids="$pids $pid"; done
if [ -n "$pids" ]; then
    kill -TERM $pids 2>/dev/null
    sleep 3
    kill -KILL $pids 2>/dev/null
fi
if [ -n "$1" ]; then rm -rf -- "$1"; fi
"#;

impl Watchdog {
    /// `remove_on_orphan`: a directory to delete after the nodes are stopped.
    pub fn start(remove_on_orphan: Option<&Path>) -> Result<Watchdog> {
        let dir = remove_on_orphan
            .map(|p| p.as_os_str().to_os_string())
            .unwrap_or_default();
        let mut child = Command::new("sh")
            .args(["-c", WATCHDOG_SCRIPT, "opssc-devnet-watchdog"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C to the test run must not kill it
            // before it has cleaned up.
            .process_group(0)
            .spawn()
            .map_err(|source| DevnetError::Spawn {
                program: "sh".into(),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// Adds a PID to stop if this process dies.
    pub fn watch(&mut self, pid: u32) {
        if let Some(stdin) = &mut self.stdin {
            // A failed write means the watchdog is gone; the nodes are still
            // stopped by Drop in the normal case.
            let _ = writeln!(stdin, "{pid}");
            let _ = stdin.flush();
        }
    }

    /// Ends the watchdog without it touching anything (normal shutdown).
    pub fn disarm(mut self) {
        // SIGKILL while it still blocks in `read`: it cannot act on EOF.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin.take();
    }
}

/// The last `n` lines of a log file (for error messages).
pub fn log_tail(path: &Path, n: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    crate::tools::tail_lines(&String::from_utf8_lossy(&buf), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 12 0 987654 123456789 4321 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_time, 987654);
        assert_eq!(s.rss_pages, 4321);
    }

    #[test]
    fn records_survive_only_while_the_same_process_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("x.log");
        let (child, rec) = spawn_node(&NodeCommand {
            name: "sleeper",
            kind: NodeKind::Peer,
            program: Path::new("sleep"),
            args: &["30"],
            config_dir: tmp.path(),
            log: &log,
            detached: false,
        })
        .unwrap();
        let mut procs = vec![Supervised {
            record: rec.clone(),
            child: Some(child),
        }];
        assert!(rec.is_running());
        let reused = ProcessRecord {
            start_time: rec.start_time + 1,
            ..rec.clone()
        };
        assert!(
            !reused.is_running(),
            "a different start time is another process"
        );
        assert!(!reused.signal(libc::SIGKILL));
        stop_all(&mut procs, Duration::from_secs(5)).unwrap();
        assert!(!rec.is_running());
        assert!(proc_stat(rec.pid).is_none(), "the child was reaped");
    }

    #[test]
    fn a_killed_child_is_reported_down_even_before_it_is_reaped() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut child, rec) = spawn_node(&NodeCommand {
            name: "sleeper",
            kind: NodeKind::Peer,
            program: Path::new("sleep"),
            args: &["30"],
            config_dir: tmp.path(),
            log: &tmp.path().join("x.log"),
            detached: false,
        })
        .unwrap();
        assert!(rec.signal(libc::SIGKILL));
        let deadline = Instant::now() + Duration::from_secs(5);
        while rec.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!rec.is_running(), "a zombie is not running");
        child.wait().unwrap();
    }

    #[test]
    fn watchdog_stops_watched_processes_when_its_pipe_closes() {
        let tmp = tempfile::tempdir().unwrap();
        let doomed = tmp.path().join("doomed");
        std::fs::create_dir(&doomed).unwrap();
        let (mut child, rec) = spawn_node(&NodeCommand {
            name: "sleeper",
            kind: NodeKind::Peer,
            program: Path::new("sleep"),
            args: &["30"],
            config_dir: tmp.path(),
            log: &tmp.path().join("x.log"),
            detached: false,
        })
        .unwrap();
        let mut dog = Watchdog::start(Some(&doomed)).unwrap();
        dog.watch(rec.pid);
        // Simulate our own death: close the pipe without disarming.
        dog.stdin.take();
        let status = child.wait().unwrap();
        assert!(!status.success());
        dog.child.wait().unwrap();
        assert!(!doomed.exists(), "the watchdog removes the state directory");
    }

    #[test]
    fn disarmed_watchdog_leaves_processes_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let (child, rec) = spawn_node(&NodeCommand {
            name: "sleeper",
            kind: NodeKind::Peer,
            program: Path::new("sleep"),
            args: &["30"],
            config_dir: tmp.path(),
            log: &tmp.path().join("x.log"),
            detached: false,
        })
        .unwrap();
        let mut dog = Watchdog::start(Some(tmp.path())).unwrap();
        dog.watch(rec.pid);
        dog.disarm();
        std::thread::sleep(Duration::from_millis(200));
        assert!(rec.is_running());
        assert!(tmp.path().exists());
        let mut procs = vec![Supervised {
            record: rec,
            child: Some(child),
        }];
        stop_all(&mut procs, Duration::from_secs(5)).unwrap();
    }
}
