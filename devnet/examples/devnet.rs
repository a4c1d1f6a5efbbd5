//! The devnet without the rest of opssc, for working on it alone:
//! `cargo run -p opssc-devnet --example devnet -- up --orgs 3`.
//!
//! Bare networks only (`opssc dev up --orgs`, `down`, `status`): founding a
//! consortium from a spec is the reconciler's (`opssc dev up --spec`).

use std::path::PathBuf;

use clap::Parser;
use opssc_devnet::{DevnetOptions, Topology, cli};

#[derive(Parser)]
#[command(
    name = "devnet",
    about = "A bare Fabric network on this machine (`opssc dev up --orgs`, `down`, `status`)"
)]
enum Cmd {
    /// Start the reference topology with this many peer organizations, detached.
    Up {
        #[arg(long, default_value_t = 3)]
        orgs: usize,
        #[arg(long, default_value = cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Stop the recorded processes and remove the state.
    Down {
        #[arg(long, default_value = cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// What runs, with channel heights.
    Status {
        #[arg(long, default_value = cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
}

fn main() {
    let result = match Cmd::parse() {
        Cmd::Up { orgs, state_dir } => {
            cli::up(DevnetOptions::new(Topology::reference(orgs)), &state_dir)
        }
        Cmd::Down { state_dir } => cli::down(&state_dir, false),
        Cmd::Status { state_dir } => cli::show_status(&state_dir, false),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
