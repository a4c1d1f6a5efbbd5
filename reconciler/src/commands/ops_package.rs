//! `opssc ops-package-id`: the package ID of this organization's OpsSC
//! chaincode, for starting its OpsSC server.
//!
//! The ID is a hash of the package bytes, and the bytes hold the server
//! address from `chaincodeServers` and the opssc version in the label, so it
//! cannot be written down once: the Helm chart's OpsSC server runs this in an
//! init container on the same `opssc.yaml` the agent reads, and the server
//! always announces the ID the agent installs.

use std::path::Path;

use anyhow::{Context as _, Result};

use super::agent::load_config;
use opssc::agent::founding;

pub fn run(config: &Path, output: Option<&Path>) -> Result<i32> {
    let config = load_config(config)?;
    let (_, _, package_id) = founding::opssc_package(&config)?;
    match output {
        Some(path) => std::fs::write(path, format!("{package_id}\n"))
            .with_context(|| format!("writing the OpsSC package ID to {}", path.display()))?,
        None => println!("{package_id}"),
    }
    Ok(0)
}
