//! `opssc dev` without the rest of opssc: `cargo run -p opssc-devnet --example devnet -- up`.
//!
//! The same clap subcommands and the same `cli::run` the `opssc` binary embeds;
//! handy while working on the devnet alone.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "devnet",
    about = "A Fabric network on this machine (the `opssc dev` commands)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: opssc_devnet::cli::DevCommand,
}

fn main() {
    let cli = Cli::parse();
    match opssc_devnet::cli::run(cli.cmd) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
