//! The command-line definition: every subcommand and flag, with its help, in one place.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "opssc", version, about = "Declarative GitOps for Hyperledger Fabric consortia", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// rustc-style, with the source line (for people)
    Text,
    /// one JSON document (for tools)
    Json,
    /// GitHub Actions workflow commands (annotations on the pull request)
    Github,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a network spec: every problem at once, with file:line:column and a hint.
    ///
    /// Exit codes: 0 valid (warnings are printed), 1 invalid, 2 usage or I/O error.
    Validate {
        /// The spec directory (or a single YAML file).
        #[arg(default_value = "network-spec")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Print the JSON Schema of spec documents (or of the agent's local configuration).
    Schema {
        /// Print the schema of the agent configuration file instead.
        #[arg(long)]
        agent_config: bool,
    },
    /// Run a real Fabric network on this machine for trying opssc (no Docker).
    Dev {
        #[command(subcommand)]
        cmd: opssc_devnet::cli::DevCommand,
    },
}
