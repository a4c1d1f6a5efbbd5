//! One module per subcommand; each returns the process exit code.

mod plan;
mod state;
mod validate;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Validate { dir, format } => validate::run(&dir, format),
        Command::Plan {
            spec,
            state,
            org,
            format,
        } => plan::run(&spec, state.as_deref(), org.as_deref(), format),
        Command::State { command } => state::run(command),
        Command::Dev { cmd } => opssc_devnet::cli::run(cmd),
        Command::Schema { agent_config } => {
            if agent_config {
                print!("{}", opssc_schema::schema_json::agent_config_schema());
            } else {
                print!("{}", opssc_schema::schema_json::network_spec_schema());
            }
            Ok(0)
        }
    }
}
