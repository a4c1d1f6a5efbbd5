//! Running Fabric's command-line tools (cryptogen, configtxgen, osnadmin, the
//! peer CLI) to completion.
//!
//! Fabric's tools read configuration from the environment (`CORE_*`,
//! `ORDERER_*`, `CONFIGTX_*`, `FABRIC_*`), so [`Tool`] removes every such
//! variable inherited from the user's shell and sets only what the devnet
//! chose: a stray `CORE_PEER_ADDRESS` in a terminal must not redirect a node.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{CommandFailure, DevnetError, Result};

/// Prefixes of environment variables Fabric binaries interpret.
const FABRIC_ENV_PREFIXES: [&str; 5] = ["CORE_", "ORDERER_", "CONFIGTX_", "FABRIC_", "OSNADMIN_"];

/// Removes inherited Fabric configuration variables from `cmd`.
pub fn scrub_fabric_env(cmd: &mut Command) {
    scrub(cmd, std::env::vars_os().map(|(k, _)| k));
}

fn scrub(cmd: &mut Command, inherited: impl Iterator<Item = OsString>) {
    for key in inherited {
        let k = key.to_string_lossy();
        if FABRIC_ENV_PREFIXES.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

/// One invocation of a Fabric tool.
pub struct Tool {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    what: String,
}

/// What a successful invocation printed.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub stdout: String,
    pub stderr: String,
}

impl Tool {
    /// `what` describes the purpose for error messages, e.g. "joining peer0.org1 to ops".
    pub fn new(program: &Path, what: impl Into<String>) -> Tool {
        Tool {
            program: program.to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            what: what.into(),
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Tool {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Tool
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<OsString>) -> Tool {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn envs(mut self, env: &[(String, String)]) -> Tool {
        for (k, v) in env {
            self.env.push((k.clone(), v.into()));
        }
        self
    }

    /// The command line as a user could type it (environment first).
    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(&v.to_string_lossy())))
            .collect();
        parts.push(shell_quote(&self.program.to_string_lossy()));
        parts.extend(self.args.iter().map(|a| shell_quote(&a.to_string_lossy())));
        parts.join(" ")
    }

    /// Runs to completion; a non-zero exit becomes [`DevnetError::Command`].
    pub fn run(self) -> Result<ToolOutput> {
        let mut cmd = Command::new(&self.program);
        scrub_fabric_env(&mut cmd);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        let out = cmd.output().map_err(|source| DevnetError::Spawn {
            program: self.program.clone(),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            let mut output = tail_lines(&stderr, 40);
            if !stdout.trim().is_empty() {
                if !output.is_empty() {
                    output.push('\n');
                }
                output.push_str(&tail_lines(&stdout, 20));
            }
            return Err(DevnetError::Command {
                what: self.what.clone(),
                failure: CommandFailure {
                    command: self.command_line(),
                    status: out.status.to_string(),
                    output,
                },
            });
        }
        Ok(ToolOutput { stdout, stderr })
    }
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_command_reports_command_line_and_stderr() {
        let err = Tool::new(Path::new("sh"), "testing failure")
            .args(["-c", "echo broken >&2; exit 3"])
            .env("CORE_PEER_ID", "x y")
            .run()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("testing failure: `CORE_PEER_ID='x y' sh -c"),
            "{err}"
        );
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("----- output -----\nbroken\n"), "{err}");
    }

    #[test]
    fn inherited_fabric_variables_are_removed() {
        let mut cmd = Command::new("true");
        let inherited = [
            "CORE_PEER_ADDRESS",
            "PATH",
            "ORDERER_GENERAL_LISTENPORT",
            "FABRIC_CFG_PATH",
        ];
        scrub(&mut cmd, inherited.iter().map(OsString::from));
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            removed,
            [
                "CORE_PEER_ADDRESS",
                "FABRIC_CFG_PATH",
                "ORDERER_GENERAL_LISTENPORT"
            ]
        );
    }
}
