//! `opssc found`: this organization's part in founding the consortium from
//! the spec ([`opssc::agent::founding`]), run until done; with `--adopt`,
//! in adopting a running network built without opssc
//! ([`opssc::agent::adopt`]).
//!
//! The organization's agent configuration says which part: with orderer
//! admin endpoints (`orderers[].adminAddress`, `tlsClient`) it joins its
//! orderers to every spec channel; with peers it joins them, installs and
//! approves the OpsSC, and (first ops-channel member by MSP ID) commits it
//! and founds the registry. Rounds repeat until nothing is left or the time
//! is up; every round is idempotent, so running it again does nothing twice.
//! Exit codes: 0 founded (adopted), 1 timeout, 2 error, 3 adoption refused
//! (the spec differs from the running network; nothing was done).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::agent::{init_logging, load_config, runtime};
use opssc::agent::adopt::{self, AdoptFailure};
use opssc::agent::{founding, spec_source};

pub fn run(config: &Path, spec: Option<&Path>, timeout: Duration, adopting: bool) -> Result<i32> {
    init_logging();
    opssc_fabric::participation::install_ring_provider();
    let config = load_config(config)?;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| ".opssc-agent".into());
    let at = spec_source::resolve(&config, &state_dir.join("found"), spec)?;
    let mut say = |line: &str| println!("{line}");
    let rt = runtime()?;
    let done = if adopting {
        match rt.block_on(adopt::adopt(config, &at.spec, timeout, &mut say)) {
            Ok(done) => done,
            Err(AdoptFailure::Refused(refused)) => {
                eprintln!("refused: {refused}");
                return Ok(3);
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        rt.block_on(founding::found(config, &at.spec, timeout, &mut say))?
    };
    Ok(if done { 0 } else { 1 })
}
