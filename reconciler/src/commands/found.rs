//! `opssc found`: this organization's part in founding the consortium from
//! the spec ([`opssc::agent::founding`]), run until done.
//!
//! The organization's agent configuration says which part: with orderer
//! admin endpoints (`orderers[].adminAddress`, `tlsClient`) it joins its
//! orderers to every spec channel; with peers it joins them, installs and
//! approves the OpsSC, and (first ops-channel member by MSP ID) commits it
//! and founds the registry. Rounds repeat until nothing is left or the time
//! is up; every round is idempotent, so running it again does nothing twice.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::agent::{init_logging, load_config, runtime};
use opssc::agent::{founding, spec_source};

pub fn run(config: &Path, spec: Option<&Path>, timeout: Duration) -> Result<i32> {
    init_logging();
    opssc_fabric::participation::install_ring_provider();
    let config = load_config(config)?;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| ".opssc-agent".into());
    let at = spec_source::resolve(&config, &state_dir.join("found"), spec)?;
    let done = runtime()?.block_on(founding::found(
        config,
        &at.spec,
        timeout,
        &mut |line: &str| println!("{line}"),
    ))?;
    Ok(if done { 0 } else { 1 })
}
