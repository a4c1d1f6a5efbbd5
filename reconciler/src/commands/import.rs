//! `opssc import`: writes the spec a running network implies, as the
//! organization of `--config` sees it (issue 22, part 1).
//!
//! The shell around [`opssc::import`]: it connects with the agent's own
//! [`Context`], reads every channel the organization's main peer joined with
//! the agent's observer ([`observe_live::live_full`], over a skeleton spec
//! that names just those channels), adds what the observer does not keep
//! (MSP certificates, orderer endpoints and consenter TLS certificates from
//! the decoded configs, [`opssc::import::config_facts`], the packages this organization approved), and writes
//! the files. Exit codes: 0 written (placeholders listed on stdout), 1 error.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use opssc::agent::context::Context;
use opssc::agent::observe_live;
use opssc::import::{Facts, TODO, config_facts, import};
use opssc::observe::Observed;
use opssc_fabric::{cscc, lifecycle};
use opssc_schema::{Batch, Capabilities, Channel, Consortium, Spec};

use super::agent::{load_config, runtime};

pub fn run(config: &Path, out: &Path) -> Result<i32> {
    if out.exists()
        && std::fs::read_dir(out)
            .with_context(|| format!("read {}", out.display()))?
            .next()
            .is_some()
    {
        eprintln!(
            "error: {} is not empty; opssc import writes a new spec directory\n  hint: pass a new or empty directory with --out DIR",
            out.display()
        );
        return Ok(1);
    }
    let facts = match read(config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: cannot read the network with {}: {e:#}\n  hint: check that this organization's peers in it are up and reachable",
                config.display()
            );
            return Ok(1);
        }
    };
    let imported = import(&facts);
    for (rel, text) in &imported.files {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    println!(
        "wrote {} spec files to {} as {}: {} channels, {} chaincodes",
        imported.files.len(),
        out.display(),
        facts.observed.observed_by,
        facts.observed.channels.len(),
        imported
            .files
            .iter()
            .filter(|(p, _)| p.starts_with("chaincodes/"))
            .count()
    );
    if !imported.placeholders.is_empty() {
        println!("\nplaceholders to complete (marked `{TODO}` in the files):");
        for p in &imported.placeholders {
            println!("  - {p}");
        }
    }
    if !imported.warnings.is_empty() {
        println!("\nwarnings:");
        for w in &imported.warnings {
            println!("  - {w}");
        }
    }
    println!(
        "\nnext: `opssc validate {}`, then `opssc plan --spec {} --config {}` should show no change",
        out.display(),
        out.display(),
        config.display()
    );
    Ok(0)
}

/// A spec that names only `channels` (with placeholder settings): what the
/// observer needs to know which channels to read.
fn skeleton(channels: &[String]) -> Spec {
    Spec {
        root: Default::default(),
        spec_hash: String::new(),
        consortium: Consortium {
            name: String::new(),
            fabric_version: String::new(),
            // No ops channel: the observer then reads no proposals.
            ops_channel: String::new(),
            consensus: "etcdraft".into(),
            consenters: Vec::new(),
            governance: Default::default(),
        },
        organizations: BTreeMap::new(),
        channels: channels
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    Channel {
                        name: c.clone(),
                        members: Vec::new(),
                        policies: BTreeMap::new(),
                        capabilities: Capabilities {
                            channel: String::new(),
                            orderer: String::new(),
                            application: String::new(),
                        },
                        batch: Batch::default(),
                        acls: BTreeMap::new(),
                    },
                )
            })
            .collect(),
        chaincodes: BTreeMap::new(),
    }
}

fn read(config: &Path) -> Result<Facts> {
    let config = load_config(config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let main = ctx.main_peer();
        let joined = cscc::channels(&main.endorser)
            .await
            .with_context(|| format!("list the channels of {}'s peer {}", ctx.me, main.name))?;
        if joined.is_empty() {
            bail!(
                "{}'s peer {} joined no channel: there is nothing to import",
                ctx.me,
                main.name
            );
        }
        let observe_live::Live {
            mut observed,
            configs,
            ..
        } = observe_live::live_full(&ctx, &skeleton(&joined), &BTreeMap::new()).await?;
        let ops_chaincode = ctx
            .config
            .ops_chaincode
            .clone()
            .unwrap_or_else(|| "opssc".into());
        // The governance the consortium registered, from the channel that
        // runs the OpsSC (the skeleton names no ops channel, so the
        // observer did not read it).
        let ops_channel = observed
            .chaincodes
            .keys()
            .filter_map(|k| k.split_once('/'))
            .find(|(_, name)| *name == ops_chaincode)
            .map(|(channel, _)| channel.to_string());
        if let Some(channel) = ops_channel {
            observed.governance = ctx
                .ops(&channel)
                .governance()
                .await
                .with_context(|| format!("read the OpsSC registry on {channel}"))?;
        }
        let (orgs, consenter_tls) = config_facts(&configs);
        let consenter_sign_certs = opssc::import::bft_sign_certs(&configs);
        // The label of the package this organization approved, per chaincode.
        let mut approved_labels = BTreeMap::new();
        for key in observed.chaincodes.keys() {
            let Some((channel, name)) = key.split_once('/') else {
                continue;
            };
            let approved = lifecycle::query_approved(&main.endorser, channel, name, None)
                .await
                .with_context(|| format!("read {}'s approval of {key}", ctx.me))?;
            let label = approved
                .map(|a| observe_live::approved_definition(&a))
                .and_then(|a| a.package_id)
                .and_then(|id| label_of(&observed, &id));
            if let Some(label) = label {
                approved_labels.insert(key.clone(), label);
            }
        }
        Ok(Facts {
            my_peers: ctx
                .config
                .peers
                .iter()
                .map(|p| (p.name.clone(), p.address.clone()))
                .collect(),
            ops_chaincode,
            observed,
            orgs,
            consenter_tls,
            consenter_sign_certs,
            approved_labels,
        })
    })
}

/// The label of an installed package (a package ID is `<label>:<hash>`).
fn label_of(observed: &Observed, package_id: &str) -> Option<String> {
    observed
        .local
        .peers
        .values()
        .flat_map(|p| p.installed_packages.iter())
        .find(|p| p.package_id == package_id)
        .map(|p| p.label.clone())
        .or_else(|| package_id.rsplit_once(':').map(|(l, _)| l.to_string()))
}
