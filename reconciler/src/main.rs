//! The `opssc` command line: a declarative GitOps reconciler for Hyperledger
//! Fabric consortia.
//!
//! Every subcommand is declared once in [`cli`] with its help text; `main` parses
//! the arguments, runs the command, prints an error once (with its chain) and
//! exits with the command's code. Exit codes: 0 success, 1 a finding (invalid
//! spec, failed step), 2 usage or I/O error; `plan` uses 2 for "changes".

mod cli;
mod commands;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let code = match commands::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            2
        }
    };
    std::process::exit(code);
}
