//! One module per subcommand; each returns the process exit code.

mod agent;
mod approve;
mod audit;
mod bootstrap;
mod dev;
mod dev_add_org;
mod dev_bench;
mod dev_demo;
mod found;
mod import;
mod live;
mod ops_package;
mod plan;
mod proposal;
mod reconcile;
mod state;
mod status;
mod validate;
mod vote;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Validate { dir, format } => validate::run(&dir, format),
        Command::Import { config, out } => import::run(&config, &out),
        Command::Plan {
            spec,
            state,
            config,
            org,
            format,
        } => plan::run(
            &spec,
            state.as_deref(),
            config.as_deref(),
            org.as_deref(),
            format,
        ),
        Command::State { command } => state::run(command),
        Command::Reconcile { config, once, spec } => reconcile::run(&config, once, spec.as_deref()),
        Command::Agent { config } => agent::run(&config),
        Command::Bootstrap {
            config,
            spec,
            timeout,
        } => bootstrap::run(
            &config,
            spec.as_deref(),
            std::time::Duration::from_secs(timeout),
        ),
        Command::Found {
            config,
            spec,
            timeout,
            adopt,
        } => found::run(
            &config,
            spec.as_deref(),
            std::time::Duration::from_secs(timeout),
            adopt,
        ),
        Command::Status {
            config,
            spec,
            watch,
        } => status::run(&config, spec.as_deref(), watch),
        Command::Audit {
            config,
            spec,
            channel,
            chaincode,
            org,
            since,
            until,
            ops_channel,
            format,
        } => {
            let time = |t: Option<String>| -> anyhow::Result<Option<i64>> {
                t.map(|t| opssc::audit::parse_time(&t).map_err(anyhow::Error::msg))
                    .transpose()
            };
            audit::run(audit::Args {
                config: &config,
                spec: spec.as_deref(),
                ops_channel: &ops_channel,
                filter: opssc::audit::Filter {
                    channel,
                    chaincode,
                    org,
                    since: time(since)?,
                    until: time(until)?,
                },
                format,
            })
        }
        Command::Vote {
            id,
            decision,
            reason,
            config,
            ops_channel,
        } => vote::run(&config, &id, decision, &reason, &ops_channel),
        Command::Approve {
            commit,
            repo,
            path,
            list: true,
            ..
        } => approve::list(&repo, &commit, path.as_deref()),
        Command::Approve {
            commit,
            repo,
            key,
            path,
            push,
            list: false,
        } => approve::run(
            &repo,
            &commit,
            key.as_deref(),
            path.as_deref(),
            push.as_deref(),
        ),
        Command::Retry {
            id,
            reason,
            config,
            ops_channel,
        } => proposal::act(&config, proposal::Action::Retry, &id, &reason, &ops_channel),
        Command::Proposal { command } => proposal::run(command),
        Command::OpsPackageId { config, output } => ops_package::run(&config, output.as_deref()),
        Command::Dev { cmd } => dev::run(cmd),
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
