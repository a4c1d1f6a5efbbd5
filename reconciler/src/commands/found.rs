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
use std::time::{Duration, Instant};

use anyhow::Result;

use super::agent::{init_logging, load_config, runtime};
use opssc::agent::{context::Context, founding, spec_source};

pub fn run(config: &Path, spec: Option<&Path>, timeout: Duration) -> Result<i32> {
    init_logging();
    opssc_fabric::participation::install_ring_provider();
    let config = load_config(config)?;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| ".opssc-agent".into());
    let at = spec_source::resolve(&config, &state_dir.join("found"), spec)?;
    let spec = at.spec;
    let me = config.msp_id.clone();
    runtime()?.block_on(async move {
        let started = Instant::now();
        let endpoints = founding::admin_endpoints(&config)?;
        if !endpoints.is_empty() {
            let mut last_err = String::new();
            loop {
                match founding::join_orderers(&spec, &endpoints).await {
                    Ok(done) => {
                        for a in &done {
                            println!("done: {a}");
                        }
                        break;
                    }
                    Err(e) => {
                        let text = format!("{e:#}");
                        if text != last_err {
                            println!("failed (retried): {text}");
                            last_err = text;
                        }
                        if started.elapsed() > timeout {
                            println!("not done after {} s", timeout.as_secs());
                            return Ok(1);
                        }
                        tokio::time::sleep(founding::ROUND_PAUSE).await;
                    }
                }
            }
            println!(
                "orderers of {me} serve every channel of the spec ({} channel(s))",
                spec.channels.len()
            );
        }
        if config.peers.is_empty() {
            return Ok(0);
        }
        let ctx = Context::connect(config).await?;
        let mut last_left: Vec<String> = Vec::new();
        loop {
            let (actions, left) = match founding::peer_step(&ctx, &spec).await {
                Ok(p) => (p.actions, p.left),
                Err(e) => (Vec::new(), vec![format!("failed (retried): {e:#}")]),
            };
            for a in &actions {
                println!("done: {a}");
            }
            if left.is_empty() && actions.is_empty() {
                println!(
                    "founded: {me} joined its channels, the OpsSC is committed on {} and the registry founded",
                    spec.consortium.ops_channel
                );
                return Ok(0);
            }
            if left != last_left {
                for l in &left {
                    println!("left: {l}");
                }
                last_left = left.clone();
            }
            if started.elapsed() > timeout {
                println!("not done after {} s", timeout.as_secs());
                return Ok(1);
            }
            if actions.is_empty() {
                tokio::time::sleep(founding::ROUND_PAUSE).await;
            }
        }
    })
}
