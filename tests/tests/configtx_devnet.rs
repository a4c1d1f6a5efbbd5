//! Channel configuration updates made by `opssc_fabric::configtx` on a real
//! 3-organization devnet, judged by the orderer:
//! - a fourth organization (MSP material from `cryptogen`, made at test time)
//!   added to channel `trade` with admin signatures from a majority of the
//!   members, each made by that organization's own admin identity and
//!   submitted by a third; the same update with one signature is refused and
//!   the orderer's reason is shown; the new config block shows the org, its
//!   `last_update` carries our bytes and signatures, and a peer sees it too;
//! - the batch timeout (signed by the orderer organization) and an anchor
//!   peer (signed by its own organization) changed;
//! - a channel created from a genesis block built by this crate (no
//!   configtxgen): the orderer joins it, every peer joins it, and it takes a
//!   config update.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opssc_devnet::{Devnet, OrdererHandle, Topology};
use opssc_fabric::configtx::genesis::{self, ChannelDescription};
use opssc_fabric::configtx::{
    ChannelConfig, ConfigError, MspDefinition, Organization, client, compute_update, edit,
    required_signatures, sign,
};
use opssc_fabric::cscc::{self, Joined};
use opssc_fabric::deliver::{Deliverer, Seek};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::orderer::Orderer;
use opssc_fabric::participation::{AdminEndpoint, ChannelParticipation, JoinOutcome};
use opssc_fabric::protos::common::{ConfigEnvelope, Envelope, Payload};
use opssc_fabric::protos::protos::AnchorPeer;
use opssc_fabric::{Error, Fault, Signer, SigningIdentity};
use opssc_tests::devnet_support::{run_checked, start_devnet};
use opssc_tests::fabric_support::{chain, connect, orderer_config, peer_config, read};
use prost::Message;

const CHANNEL: &str = "trade";
const NEW_CHANNEL: &str = "madeinrust";
const WAIT: Duration = Duration::from_secs(60);

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn admin(msp_id: &str, dir: &Path) -> Arc<dyn Signer> {
    Arc::new(SigningIdentity::from_msp_dir(msp_id, dir).unwrap_or_else(|e| panic!("{msp_id}: {e}")))
}

/// Signs `update` by each of `signers`, wraps it, and has `submitter` sign the envelope.
fn envelope(
    update: &opssc_fabric::protos::common::ConfigUpdate,
    signers: &[&Arc<dyn Signer>],
    submitter: &Arc<dyn Signer>,
) -> Envelope {
    let bytes = sign::encode_update(update);
    let signatures = signers
        .iter()
        .map(|s| sign::sign_update(s.as_ref(), &bytes).unwrap())
        .collect();
    sign::submission(
        submitter.as_ref(),
        &update.channel_id,
        &sign::update_envelope(bytes, signatures),
    )
    .unwrap()
}

/// MSP material of a fourth organization, made with the devnet's cryptogen.
fn org4_msp(devnet: &Devnet, dir: &Path) -> MspDefinition {
    std::fs::write(
        dir.join("crypto-config.yaml"),
        "PeerOrgs:\n  - Name: Org4\n    Domain: org4.example.com\n    EnableNodeOUs: true\n    \
         Template: {Count: 1}\n    Users: {Count: 1}\n",
    )
    .unwrap();
    run_checked(
        Command::new(&devnet.bin().cryptogen)
            .args(["generate", "--config"])
            .arg(dir.join("crypto-config.yaml"))
            .arg("--output")
            .arg(dir.join("crypto")),
    );
    MspDefinition::from_msp_dir(
        "Org4MSP",
        &dir.join("crypto/peerOrganizations/org4.example.com/msp"),
    )
    .unwrap()
}

#[test]
fn config_updates_are_accepted_and_refused_by_a_real_orderer() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
    drop(rt);
    devnet.stop().unwrap();
}

async fn scenario(devnet: &Devnet) {
    opssc_fabric::participation::install_ring_provider();
    let org_admins: Vec<Arc<dyn Signer>> = devnet
        .orgs()
        .iter()
        .map(|o| admin(&o.msp_id, &o.admin_msp_dir))
        .collect();
    let (org1, org2, org3) = (&org_admins[0], &org_admins[1], &org_admins[2]);
    let orderer_org = devnet.orderer_org();
    let orderer_admin = admin(&orderer_org.msp_id, &orderer_org.admin_msp_dir);
    let o = &devnet.orderers()[0];
    let orderer_node = connect(&orderer_config(o)).await;
    let orderer = Orderer::new(orderer_node.clone());
    let deliver = Deliverer::orderer(orderer_node.clone(), org1.clone());

    let current = client::fetch_config(&deliver, CHANNEL)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(
        current.application_msp_ids(),
        ["Org1MSP", "Org2MSP", "Org3MSP"]
    );

    // ---- add Org4MSP -----------------------------------------------------
    let tmp = tempfile::tempdir().unwrap();
    let org4 = Organization::application(org4_msp(devnet, tmp.path())).unwrap();
    let with_org4 = edit::add_application_org(&current, &org4).unwrap();
    let update = compute_update(&current, &with_org4).unwrap();
    let needed = required_signatures(&current, &update).unwrap();
    eprintln!("adding Org4MSP needs: {needed}");
    assert_eq!(
        needed.threshold(),
        Some((2, set(&["Org1MSP", "Org2MSP", "Org3MSP"])))
    );

    // One signature is not enough: the orderer says why.
    assert!(!needed.is_satisfied_by(&set(&["Org1MSP"])));
    let too_few = envelope(&update, &[org1], org1);
    let refused = client::submit_and_wait(&orderer, &deliver, CHANNEL, too_few, WAIT)
        .await
        .expect_err("the orderer accepted an update signed by one of three admins");
    let reason = match &refused {
        ConfigError::Fabric { source, .. } => match source.as_ref() {
            Error::Refused { message, .. } => message.clone(),
            other => panic!("expected a refusal, got: {}", chain(other)),
        },
        other => panic!("expected a refusal, got: {}", chain(other)),
    };
    eprintln!(
        "orderer refused the update with one signature:\n  {}",
        chain(&refused)
    );
    assert!(
        reason.contains("/Channel/Application not satisfied")
            && reason.contains("1 sub-policies were satisfied, but this policy requires 2"),
        "unexpected reason: {reason}"
    );
    assert_eq!(
        client::fetch_config(&deliver, CHANNEL)
            .await
            .unwrap()
            .sequence,
        current.sequence,
        "a refused update must not change the config"
    );

    // Org1 and Org2 approve, each with its own admin; Org3 submits.
    assert!(needed.is_satisfied_by(&set(&["Org1MSP", "Org2MSP"])));
    let t0 = Instant::now();
    let majority = envelope(&update, &[org1, org2], org3);
    let after_add = client::submit_and_wait(&orderer, &deliver, CHANNEL, majority, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    eprintln!("Org4MSP added in {:.2} s", t0.elapsed().as_secs_f64());
    assert_eq!(after_add.sequence, current.sequence + 1);
    assert_eq!(
        after_add.application_msp_ids(),
        ["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"]
    );
    // The config block records our exact update and both approvals.
    let block = deliver.latest_config_block(CHANNEL).await.unwrap();
    let env = Envelope::decode(block.data.as_ref().unwrap().data[0].as_slice()).unwrap();
    let payload = Payload::decode(env.payload.as_slice()).unwrap();
    let config_envelope = ConfigEnvelope::decode(payload.data.as_slice()).unwrap();
    // A config block written by the orderer (Go, maps in random order)
    // decodes and re-encodes to the same config.
    assert!(
        config_envelope.config.as_ref() == Some(&after_add.to_proto()),
        "the orderer's config block does not round-trip through the model"
    );
    let last_update = config_envelope
        .last_update
        .expect("a config block made by an update records it");
    let (recorded, recorded_update) = sign::open_submission(&last_update).unwrap();
    assert_eq!(recorded.config_update, sign::encode_update(&update));
    assert_eq!(recorded_update, update);
    let signers: BTreeSet<String> = recorded
        .signatures
        .iter()
        .map(|s| {
            sign::verify_signature(s, &recorded.config_update)
                .unwrap_or_else(|e| panic!("{}", chain(&e)))
                .mspid
        })
        .collect();
    assert_eq!(signers, set(&["Org1MSP", "Org2MSP"]));
    // A peer has the new config too.
    let peer_deliver = Deliverer::peer(
        connect(&peer_config(&devnet.orgs()[1].peers[0])).await,
        org2.clone(),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = client::fetch_config(&peer_deliver, CHANNEL).await.unwrap();
        if seen.sequence == after_add.sequence {
            assert_eq!(seen.to_proto(), after_add.to_proto());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Org2's peer still at sequence {}",
            seen.sequence
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // With four members, the next membership change needs three.
    let without_org4 = edit::remove_application_org(&after_add, "Org4MSP").unwrap();
    let next = required_signatures(
        &after_add,
        &compute_update(&after_add, &without_org4).unwrap(),
    )
    .unwrap();
    assert_eq!(
        next.threshold(),
        Some((3, set(&["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"])))
    );
    // The update we already applied is now stale.
    assert!(matches!(
        required_signatures(&after_add, &update),
        Err(ConfigError::Stale { .. })
    ));

    // ---- batch timeout, signed by the orderer organization ------------------
    let timeout = if after_add.batch_timeout() == Some("300ms") {
        "400ms"
    } else {
        "300ms"
    };
    let changed = edit::set_batch_timeout(&after_add, timeout).unwrap();
    let update = compute_update(&after_add, &changed).unwrap();
    let needed = required_signatures(&after_add, &update).unwrap();
    assert_eq!(needed.threshold(), Some((1, set(&["OrdererMSP"]))));
    let after_timeout = client::submit_and_wait(
        &orderer,
        &deliver,
        CHANNEL,
        envelope(&update, &[&orderer_admin], &orderer_admin),
        WAIT,
    )
    .await
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(after_timeout.batch_timeout(), Some(timeout));
    assert_eq!(after_timeout.sequence, after_add.sequence + 1);

    // ---- an anchor peer of Org2, signed by Org2 ----------------------------
    let mut anchors = after_timeout.anchor_peers("Org2MSP");
    assert!(
        !anchors.is_empty(),
        "the devnet sets an anchor peer per org"
    );
    let extra = AnchorPeer {
        host: "localhost".into(),
        port: anchors[0].port,
    };
    anchors.push(extra);
    let changed = edit::set_anchor_peers(&after_timeout, "Org2MSP", &anchors).unwrap();
    let update = compute_update(&after_timeout, &changed).unwrap();
    let needed = required_signatures(&after_timeout, &update).unwrap();
    assert_eq!(needed.threshold(), Some((1, set(&["Org2MSP"]))));
    let after_anchor = client::submit_and_wait(
        &orderer,
        &deliver,
        CHANNEL,
        envelope(&update, &[org2], org2),
        WAIT,
    )
    .await
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(after_anchor.anchor_peers("Org2MSP"), anchors);

    // ---- a channel from a genesis block built here ---------------------------
    new_channel(devnet, &after_anchor, &org_admins, &orderer_admin, o).await;
}

async fn new_channel(
    devnet: &Devnet,
    trade: &ChannelConfig,
    org_admins: &[Arc<dyn Signer>],
    orderer_admin: &Arc<dyn Signer>,
    o: &OrdererHandle,
) {
    let app_orgs: Vec<Organization> = devnet
        .orgs()
        .iter()
        .map(|h| {
            let peer = &h.peers[0];
            let (host, port) = peer.address.rsplit_once(':').unwrap();
            Organization::application(MspDefinition::from_msp_dir(&h.msp_id, &h.msp_dir).unwrap())
                .unwrap()
                .with_anchor_peers(&[(host, port.parse().unwrap())])
        })
        .collect();
    let orderer_org = devnet.orderer_org();
    let orderer_org = Organization::orderer(
        MspDefinition::from_msp_dir(&orderer_org.msp_id, &orderer_org.msp_dir).unwrap(),
        devnet
            .orderers()
            .iter()
            .map(|o| o.address.clone())
            .collect(),
    )
    .unwrap();
    // The consenters as the devnet's orderers know themselves (cluster
    // endpoint and TLS certificate), read from the running network.
    let consenters = trade
        .etcdraft()
        .expect("trade runs Raft")
        .consenters
        .clone();
    let mut desc = ChannelDescription::new(NEW_CHANNEL, app_orgs, vec![orderer_org], consenters);
    desc.batch_timeout = "500ms".into();
    let expected = genesis::channel_config(&desc).unwrap();
    let block = genesis::genesis_block_now(&desc).unwrap();

    let participation = ChannelParticipation::new(&AdminEndpoint {
        address: o.admin_address.clone(),
        server_name: Some(o.host.clone()),
        tls_ca_pem: read(&o.tls_ca_cert),
        client_cert_pem: read(&o.admin_client_cert),
        client_key_pem: read(&o.admin_client_key),
    })
    .unwrap();
    match participation
        .join(&block)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)))
    {
        JoinOutcome::Joined(info) => assert_eq!(info.consensus_relation, "consenter"),
        JoinOutcome::AlreadyMember => panic!("the orderer already had {NEW_CHANNEL}"),
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let info = participation
            .get(NEW_CHANNEL)
            .await
            .unwrap()
            .expect("listed");
        if info.status == "active" && info.height >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{NEW_CHANNEL} not active: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (h, admin) in devnet.orgs().iter().zip(org_admins) {
        let endorser = Endorser::new(connect(&peer_config(&h.peers[0])).await, admin.clone());
        assert_eq!(
            cscc::join_channel(&endorser, &block)
                .await
                .unwrap_or_else(|e| panic!("{}: {}", h.msp_id, chain(&e))),
            Joined::Joined
        );
    }

    // The orderer serves exactly the config we built, and takes an update to it.
    let orderer_node = connect(&orderer_config(o)).await;
    let deliver = Deliverer::orderer(orderer_node.clone(), orderer_admin.clone());
    // The channel's Raft leader may still be in election: Deliver answers
    // SERVICE_UNAVAILABLE until then.
    let deadline = Instant::now() + WAIT;
    let config = loop {
        match client::fetch_config(&deliver, NEW_CHANNEL).await {
            Ok(c) => break c,
            Err(ConfigError::Fabric { source, .. })
                if source.fault() == Fault::Transient && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{}", chain(&e)),
        }
    };
    assert_eq!(config.to_proto(), expected.to_proto());
    let changed = edit::set_batch_timeout(&config, "1s").unwrap();
    let update = compute_update(&config, &changed).unwrap();
    let updated = client::submit_and_wait(
        &Orderer::new(orderer_node),
        &deliver,
        NEW_CHANNEL,
        envelope(&update, &[orderer_admin], orderer_admin),
        WAIT,
    )
    .await
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(updated.sequence, 1);
    assert_eq!(updated.batch_timeout(), Some("1s"));
    // Every peer receives the new config block.
    for (h, admin) in devnet.orgs().iter().zip(org_admins) {
        let peer = Deliverer::peer(connect(&peer_config(&h.peers[0])).await, admin.clone());
        let block = tokio::time::timeout(WAIT, peer.block(NEW_CHANNEL, Seek::Number(1)))
            .await
            .unwrap_or_else(|_| panic!("{}'s peer did not get block 1", h.msp_id))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert!(client::is_config_block(&block));
        assert_eq!(
            ChannelConfig::from_block(&block).unwrap().batch_timeout(),
            Some("1s")
        );
    }
}
