//! The chaincode lifecycle for tests that deploy their own
//! chaincode-as-a-service (the key-value test chaincode, the OpsSC contract
//! under test): install on every peer, approve as each organization, commit.
//! Founding a consortium does not use this: that is `opssc found`'s work.

use std::time::{Duration, Instant};

use opssc_devnet::OrgHandle;
use opssc_devnet::founding::{admin, connect};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};

use crate::fabric_support::{chain, retry};

/// Installs `pkg` on every peer of `orgs`, approves `definition` on
/// `channel` as each organization (with its own admin identity, for the
/// package ID the peers derived), waits until every organization's peer sees
/// every approval, then commits it as the first organization, endorsed by
/// all of them. Returns the package ID and the block of the commit; what
/// fails for good panics with the error chain (transient errors are retried).
pub async fn deploy_chaincode(
    orgs: &[&OrgHandle],
    channel: &str,
    definition: &ChaincodeDefinition,
    pkg: &[u8],
) -> Result<(String, u64), String> {
    if orgs.is_empty() {
        return Err(format!(
            "deploying {} on {channel}: no organization to deploy it",
            definition.name
        ));
    }
    let mut package_id = None::<String>;
    let mut gateways = Vec::new();
    for org in orgs {
        let signer = admin(org).map_err(|e| e.to_string())?;
        for peer in &org.peers {
            let endorser = Endorser::new(
                connect(peer).await.map_err(|e| e.to_string())?,
                signer.clone(),
            );
            let what = format!("installing {} on {}", definition.name, peer.host);
            let installed = retry(&what, Duration::from_secs(60), || {
                lifecycle::install(&endorser, pkg)
            })
            .await;
            match &package_id {
                Some(id) if id != &installed.package_id => {
                    return Err(format!(
                        "{what}: the peer derived package ID {}, another peer {id}",
                        installed.package_id
                    ));
                }
                Some(_) => {}
                None => package_id = Some(installed.package_id),
            }
        }
        let node = connect(&org.peers[0]).await.map_err(|e| e.to_string())?;
        gateways.push((org, Gateway::new(node, signer)));
    }
    let package_id = package_id.expect("every organization has a peer");
    for (org, gw) in &gateways {
        let what = format!("approving {} as {}", definition.name, org.msp_id);
        retry(&what, Duration::from_secs(60), || {
            lifecycle::approve(gw, channel, definition, Some(&package_id))
        })
        .await;
    }
    // Every peer must see every approval, or the commit's endorsements differ.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (org, gw) in &gateways {
        let endorser = Endorser::new(gw.node().clone(), gw.signer().clone());
        loop {
            let readiness = lifecycle::check_commit_readiness(&endorser, channel, definition)
                .await
                .map_err(|e| format!("commit readiness on {}: {}", org.msp_id, chain(&e)))?;
            let missing: Vec<&str> = orgs
                .iter()
                .map(|o| o.msp_id.as_str())
                .filter(|m| readiness.approvals.get(*m) != Some(&true))
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}'s peer sees no approval of {} from {} after 60 s",
                    org.msp_id,
                    definition.name,
                    missing.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let endorsing: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    let gw = &gateways[0].1;
    let what = format!("committing {} as {}", definition.name, orgs[0].msp_id);
    let committed = retry(&what, Duration::from_secs(90), || {
        lifecycle::commit(gw, channel, definition, &endorsing)
    })
    .await;
    Ok((package_id, committed.block))
}
