//! `opssc state`: state snapshots for `opssc plan --state`. Reading a live
//! network (`state save`) comes with the Fabric observer; for now a snapshot
//! can be built from a spec: `empty` (nothing exists yet: the founding plan)
//! or `from-spec` (what a network that applied the spec shows).

use std::path::Path;

use opssc::observe;

use crate::cli::StateCommand;

pub fn run(cmd: StateCommand) -> anyhow::Result<i32> {
    let (spec_dir, org, file, converged) = match &cmd {
        StateCommand::Empty { spec, org, file } => (spec, org, file, false),
        StateCommand::FromSpec { spec, org, file } => (spec, org, file, true),
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
    let text = observe::to_json(&observed);
    if file == Path::new("-") {
        print!("{text}");
    } else {
        std::fs::write(file, text)
            .map_err(|e| anyhow::anyhow!("cannot write state file {}: {e}", file.display()))?;
        eprintln!("wrote {} (observed by {me})", file.display());
    }
    Ok(0)
}
