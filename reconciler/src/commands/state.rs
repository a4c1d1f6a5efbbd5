//! `opssc state`: state snapshots for `opssc plan --state`. `save` observes
//! the live network as an organization (the agent's observer); `empty`
//! (nothing exists yet: the founding plan) and `from-spec` (what a network
//! that applied the spec shows) build one from a spec alone.

use std::path::Path;

use opssc::observe;

use crate::cli::StateCommand;

pub fn run(cmd: StateCommand) -> anyhow::Result<i32> {
    let (spec_dir, org, file, converged) = match &cmd {
        StateCommand::Empty { spec, org, file } => (spec, org, file, false),
        StateCommand::FromSpec { spec, org, file } => (spec, org, file, true),
        StateCommand::Save { config, spec, file } => return save(config, spec.as_deref(), file),
    };
    if !spec_dir.exists() {
        anyhow::bail!(
            "spec directory {} does not exist (pass the directory that holds the spec's *.yaml files with --spec DIR)",
            spec_dir.display()
        );
    }
    let loaded = opssc_schema::load_dir(spec_dir);
    let Some(spec) = loaded.spec else {
        eprint!("{}", loaded.report.render());
        eprintln!(
            "error: the spec in {} is invalid; no state written",
            spec_dir.display()
        );
        return Ok(1);
    };
    let me = match org {
        Some(o) => {
            if !spec.organizations.contains_key(o) {
                eprintln!(
                    "error: {o} is not an organization of the spec in {}\n  hint: one of {}",
                    spec_dir.display(),
                    spec.organizations
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Ok(1);
            }
            o.clone()
        }
        None => match observe::first_peer_org(&spec) {
            Some(o) => o.to_string(),
            None => {
                eprintln!(
                    "error: the spec has no peer organization to observe from; pass --org MSP"
                );
                return Ok(1);
            }
        },
    };
    let observed = if converged {
        observe::converged(&spec, &me)
    } else {
        observe::empty(&spec, &me)
    };
    write(&observed, file)
}

/// `opssc state save`: the live network as the organization of `config` sees it.
fn save(config: &Path, spec_dir: Option<&Path>, file: &Path) -> anyhow::Result<i32> {
    let spec = match spec_dir {
        Some(dir) => {
            let loaded = opssc_schema::load_dir(dir);
            let Some(spec) = loaded.spec else {
                eprint!("{}", loaded.report.render());
                eprintln!(
                    "error: the spec in {} is invalid; no state written",
                    dir.display()
                );
                return Ok(1);
            };
            Some(spec)
        }
        None => None,
    };
    let (_, observed) = super::live::observe(config, spec).map_err(|e| {
        anyhow::anyhow!(
            "cannot observe the network with {}: {e:#} (check that its peers and orderers are up and reachable)",
            config.display()
        )
    })?;
    write(&observed, file)
}

fn write(observed: &observe::Observed, file: &Path) -> anyhow::Result<i32> {
    let text = observe::to_json(observed);
    if file == Path::new("-") {
        print!("{text}");
    } else {
        std::fs::write(file, text)
            .map_err(|e| anyhow::anyhow!("cannot write state file {}: {e}", file.display()))?;
        eprintln!(
            "wrote {} (observed by {})",
            file.display(),
            observed.observed_by
        );
    }
    Ok(0)
}
