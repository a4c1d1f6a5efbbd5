//! `opssc-fabric` against a real 3-organization devnet, with no Fabric CLI:
//! a new channel (genesis block built in Rust from the `trade` channel's
//! config), the orderer joined through the channel participation API, every
//! peer joined through `cscc`; the kv chaincode (`opssc_tests::kvcc`, served
//! in this process as chaincode-as-a-service) packaged, installed on every
//! peer, approved by each organization with its own admin, checked, committed
//! through the gateway (cross-organization endorsement found by discovery);
//! invoked as Org1, read back as Org3, its event received; installed,
//! approved and committed definitions queried; a second chaincode committed
//! the other way (explicit endorsers, orderer Broadcast, peer Deliver); and
//! refusals surfaced with Fabric's own reasons (chaincode error, endorsement
//! policy failure).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opssc_devnet::{Devnet, OrgHandle, Topology};
use opssc_fabric::configtx::ChannelConfig;
use opssc_fabric::configtx::genesis::genesis_block_from_config;
use opssc_fabric::cscc::{self, Joined};
use opssc_fabric::deliver::{Deliverer, Seek};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::identity::TxContext;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::orderer::Orderer;
use opssc_fabric::package::{self, Connection};
use opssc_fabric::participation::{AdminEndpoint, ChannelParticipation, JoinOutcome};
use opssc_fabric::protos::common::Block;
use opssc_fabric::{Error, Fault, Node, Signer, SigningIdentity};
use opssc_tests::devnet_support::start_devnet;
use opssc_tests::fabric_support::{chain, orderer_config, peer_config, read, retry};
use opssc_tests::kvcc::Kv;

const CHANNEL: &str = "fabtest";

/// One organization as its admin sees it: its identity and its own peer.
struct Org {
    msp_id: String,
    admin: Arc<dyn Signer>,
    endorser: Endorser,
    gateway: Gateway,
    deliver: Deliverer,
}

async fn org(handle: &OrgHandle) -> Org {
    let admin: Arc<dyn Signer> = Arc::new(
        SigningIdentity::from_msp_dir(&handle.msp_id, &handle.admin_msp_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", handle.msp_id)),
    );
    let node = Node::connect(&peer_config(&handle.peers[0]))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    Org {
        msp_id: handle.msp_id.clone(),
        endorser: Endorser::new(node.clone(), admin.clone()),
        gateway: Gateway::new(node.clone(), admin.clone()),
        deliver: Deliverer::peer(node, admin.clone()),
        admin,
    }
}

/// The genesis block of a new channel: the `trade` channel's current config
/// (same members, policies, consenters, anchor peers) under a new name.
async fn new_channel_genesis(orderer: &Deliverer, signer: &dyn Signer) -> Block {
    let trade = orderer
        .latest_config_block("trade")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let mut config = ChannelConfig::from_block(&trade).unwrap_or_else(|e| panic!("{}", chain(&e)));
    config.channel_id = CHANNEL.to_string();
    config.sequence = 0;
    let nonce = TxContext::new(signer).nonce;
    genesis_block_from_config(&config, SystemTime::now(), &nonce)
}

#[test]
fn fabric_client_drives_a_real_network_end_to_end() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
    drop(rt);
    devnet.stop().unwrap();
}

async fn scenario(devnet: &Devnet) {
    opssc_fabric::participation::install_ring_provider();
    let t0 = Instant::now();
    let orgs = futures_join_all(devnet.orgs()).await;
    let (org1, org2, org3) = (&orgs[0], &orgs[1], &orgs[2]);
    let o = &devnet.orderers()[0];
    let orderer_node = Node::connect(&orderer_config(o))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));

    // ---- a new channel, with no Fabric CLI ----------------------------------
    let genesis = new_channel_genesis(
        &Deliverer::orderer(orderer_node.clone(), org1.admin.clone()),
        org1.admin.as_ref(),
    )
    .await;
    let participation = ChannelParticipation::new(&AdminEndpoint {
        address: o.admin_address.clone(),
        server_name: Some(o.host.clone()),
        tls_ca_pem: read(&o.tls_ca_cert),
        client_cert_pem: read(&o.admin_client_cert),
        client_key_pem: read(&o.admin_client_key),
    })
    .unwrap();
    let before: Vec<String> = participation
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(
        before.contains(&"trade".to_string()) && !before.contains(&CHANNEL.to_string()),
        "{before:?}"
    );
    match participation
        .join(&genesis)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)))
    {
        JoinOutcome::Joined(info) => {
            assert_eq!(info.name, CHANNEL);
            assert_eq!(info.consensus_relation, "consenter");
        }
        JoinOutcome::AlreadyMember => panic!("the orderer was not a member of {CHANNEL} yet"),
    }
    assert_eq!(
        participation.join(&genesis).await.unwrap(),
        JoinOutcome::AlreadyMember
    );
    let listed: Vec<String> = participation
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(listed.contains(&CHANNEL.to_string()), "{listed:?}");
    // The Raft leader of the new channel takes a moment to be elected.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = participation
            .get(CHANNEL)
            .await
            .unwrap()
            .expect("the channel is listed");
        if info.status == "active" && info.height >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{CHANNEL} not active on the orderer: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for org in &orgs {
        let joined = cscc::join_channel(&org.endorser, &genesis)
            .await
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(joined, Joined::Joined, "{}", org.msp_id);
        assert_eq!(
            cscc::join_channel(&org.endorser, &genesis).await.unwrap(),
            Joined::AlreadyMember
        );
        let channels = cscc::channels(&org.endorser).await.unwrap();
        assert!(
            channels.contains(&CHANNEL.to_string()) && channels.contains(&"trade".to_string()),
            "{channels:?}"
        );
        // Deliver from the peer: the config block of the new channel is its genesis block.
        let config_block = retry("latest config block", Duration::from_secs(30), || {
            org.deliver.latest_config_block(CHANNEL)
        })
        .await;
        assert_eq!(opssc_fabric::block::number(&config_block), 0);
        assert_eq!(cscc::channel_of(&config_block).as_deref(), Some(CHANNEL));
    }
    eprintln!(
        "channel {CHANNEL} created and joined in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // ---- the kv chaincode, served here --------------------------------------
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cc_addr = listener.local_addr().unwrap().to_string();
    let pkg = package::ccaas_package("kv_1.0", &Connection::plaintext(&cc_addr)).unwrap();
    let package_id = package::package_id("kv_1.0", &pkg);
    let (stop_cc, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let package_id = package_id.clone();
        async move {
            opssc_fabric::shim::serve(Kv, &package_id, listener, None, async {
                let _ = stop_rx.await;
            })
            .await
        }
    });

    for org in &orgs {
        let installed = lifecycle::install(&org.endorser, &pkg)
            .await
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(
            installed.package_id, package_id,
            "{}: the peer derived another package ID",
            org.msp_id
        );
        assert!(installed.newly_installed);
        let again = lifecycle::install(&org.endorser, &pkg).await.unwrap();
        assert_eq!(
            (again.package_id.as_str(), again.newly_installed),
            (package_id.as_str(), false)
        );
    }

    let def = ChaincodeDefinition::new("kv", "1.0", 1);
    for org in &orgs {
        let committed = retry("approve", Duration::from_secs(60), || {
            lifecycle::approve(&org.gateway, CHANNEL, &def, Some(&package_id))
        })
        .await;
        assert!(committed.block > 0);
    }
    let readiness = lifecycle::check_commit_readiness(&org1.endorser, CHANNEL, &def)
        .await
        .unwrap();
    for org in &orgs {
        assert_eq!(
            readiness.approvals.get(&org.msp_id),
            Some(&true),
            "{readiness:?}"
        );
    }
    let endorsing: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    let commit = retry("commit", Duration::from_secs(90), || {
        lifecycle::commit(&org1.gateway, CHANNEL, &def, &endorsing)
    })
    .await;
    eprintln!(
        "kv committed in block {} at {:.1} s",
        commit.block,
        t0.elapsed().as_secs_f64()
    );

    // ---- invoke as Org1, read as Org3, receive the event ----------------------
    let mut events = org1
        .gateway
        .chaincode_events(CHANNEL, "kv", Seek::Number(commit.block + 1), None)
        .await
        .unwrap();
    let put = retry("first invoke", Duration::from_secs(90), || {
        org1.gateway
            .submit_transaction(CHANNEL, "kv", "put", ["k1", "v1"])
    })
    .await;
    assert_eq!(
        put.result, b"Org1MSP",
        "the chaincode saw the creator's MSP ID"
    );
    let event = put.event.clone().expect("put sets an event");
    assert_eq!(
        (event.event_name.as_str(), event.payload.as_slice()),
        ("put", b"k1".as_slice())
    );
    let streamed = tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("an event within 30 s")
        .expect("the stream is open")
        .unwrap();
    assert_eq!(streamed.block_number, put.block);
    assert_eq!(streamed.events.len(), 1);
    assert_eq!(streamed.events[0].tx_id, put.tx_id);
    assert_eq!(streamed.events[0].event_name, "put");
    assert_eq!(streamed.events[0].chaincode_id, "kv");

    // Org3's peer has the block once its deliver hands it out.
    org3.deliver
        .block(CHANNEL, Seek::Number(put.block))
        .await
        .unwrap();
    let got = org3
        .gateway
        .evaluate_transaction(CHANNEL, "kv", "get", ["k1"])
        .await
        .unwrap();
    assert_eq!(got, b"v1");

    // Ranges, pagination, deletes and composite keys through the shim.
    for (k, v) in [("k2", "v2"), ("k3", "v3")] {
        org2.gateway
            .submit_transaction(CHANNEL, "kv", "put", [k, v])
            .await
            .unwrap();
    }
    let range: serde_json::Value = serde_json::from_slice(
        &org1
            .gateway
            .evaluate_transaction(CHANNEL, "kv", "range", ["k1", "k9"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        range,
        serde_json::json!([{"key":"k1","value":"v1"},{"key":"k2","value":"v2"},{"key":"k3","value":"v3"}])
    );
    let page: serde_json::Value = serde_json::from_slice(
        &org1
            .gateway
            .evaluate_transaction(CHANNEL, "kv", "page", ["", "", "2", ""])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(page["bookmark"], "k3");
    let rest: serde_json::Value = serde_json::from_slice(
        &org1
            .gateway
            .evaluate_transaction(
                CHANNEL,
                "kv",
                "page",
                ["", "", "2", page["bookmark"].as_str().unwrap()],
            )
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        rest["entries"],
        serde_json::json!([{"key":"k3","value":"v3"}]),
        "{rest}"
    );
    org1.gateway
        .submit_transaction(CHANNEL, "kv", "del", ["k2"])
        .await
        .unwrap();
    org1.gateway
        .submit_transaction(CHANNEL, "kv", "cput", ["vote", "p1", "yes"])
        .await
        .unwrap();
    org1.gateway
        .submit_transaction(CHANNEL, "kv", "cput", ["vote", "p2", "no"])
        .await
        .unwrap();
    org1.gateway
        .submit_transaction(CHANNEL, "kv", "cput", ["other", "p1", "x"])
        .await
        .unwrap();
    let range: serde_json::Value = serde_json::from_slice(
        &org1
            .gateway
            .evaluate_transaction(CHANNEL, "kv", "range", ["", ""])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        range,
        serde_json::json!([{"key":"k1","value":"v1"},{"key":"k3","value":"v3"}]),
        "simple-key ranges skip composite keys"
    );
    let votes: serde_json::Value = serde_json::from_slice(
        &org1
            .gateway
            .evaluate_transaction(CHANNEL, "kv", "cquery", ["vote"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        votes,
        serde_json::json!([
            {"key":{"type":"vote","attrs":["p1"]},"value":"yes"},
            {"key":{"type":"vote","attrs":["p2"]},"value":"no"}
        ])
    );

    // ---- what the peers report ---------------------------------------------
    for org in &orgs {
        let installed = lifecycle::query_installed(&org.endorser).await.unwrap();
        let ours = installed
            .iter()
            .find(|c| c.package_id == package_id)
            .expect("our package is installed");
        assert_eq!(ours.label, "kv_1.0");
        let refs = ours
            .references
            .get(CHANNEL)
            .expect("referenced on the channel");
        assert_eq!(refs.chaincodes[0].name, "kv");
        let one = lifecycle::query_installed_package(&org.endorser, &package_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.label, "kv_1.0");
        let approved = lifecycle::query_approved(&org.endorser, CHANNEL, "kv", None)
            .await
            .unwrap()
            .expect("approved");
        assert_eq!((approved.sequence, approved.version.as_str()), (1, "1.0"));
        match approved.source.and_then(|s| s.r#type) {
            Some(opssc_fabric::protos::lifecycle::chaincode_source::Type::LocalPackage(l)) => {
                assert_eq!(l.package_id, package_id)
            }
            other => panic!("unexpected approved source {other:?}"),
        }
    }
    assert!(
        lifecycle::query_installed_package(&org1.endorser, "nope:00")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        lifecycle::query_approved(&org1.endorser, CHANNEL, "nothing", None)
            .await
            .unwrap()
            .is_none()
    );
    let committed = lifecycle::query_committed(&org3.endorser, CHANNEL, "kv")
        .await
        .unwrap()
        .expect("kv is committed");
    assert_eq!((committed.sequence, committed.version.as_str()), (1, "1.0"));
    assert_eq!(
        committed.approvals.values().filter(|a| **a).count(),
        3,
        "{committed:?}"
    );
    assert_eq!(committed.endorsement_plugin, "escc");
    assert!(
        lifecycle::query_committed(&org3.endorser, CHANNEL, "nothing")
            .await
            .unwrap()
            .is_none()
    );
    let all = lifecycle::query_committed_all(&org2.endorser, CHANNEL)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["kv"]
    );

    // ---- refusals carry Fabric's reasons --------------------------------------
    let err = org3
        .gateway
        .evaluate_transaction(CHANNEL, "kv", "get", ["missing"])
        .await
        .unwrap_err();
    assert!(
        chain(&err).contains("key missing not found"),
        "{}",
        chain(&err)
    );
    // Endorsed by Org1 alone, the transaction cannot meet MAJORITY Endorsement:
    // ordered, then invalidated by every peer.
    let lone = opssc_fabric::tx::ChaincodeCall::new(CHANNEL, "kv", "put", ["k4", "v4"])
        .sign(org1.admin.as_ref())
        .unwrap();
    let err = org1
        .gateway
        .submit_proposal(&lone, &["Org1MSP".to_string()])
        .await
        .unwrap_err();
    match &err {
        Error::TxInvalid { code, tx_id, .. } => {
            assert_eq!(code, "ENDORSEMENT_POLICY_FAILURE");
            assert_eq!(tx_id, lone.tx_id());
        }
        other => panic!("expected an invalidated transaction, got {}", chain(other)),
    }
    assert_eq!(err.fault(), Fault::Rejected);
    // Committing the same definition again is refused by the peers with their reason.
    let err = lifecycle::commit(&org2.gateway, CHANNEL, &def, &endorsing)
        .await
        .unwrap_err();
    assert!(
        chain(&err).contains("requested sequence is 1, but new definition must be sequence 2"),
        "{}",
        chain(&err)
    );

    // ---- the other commit path: explicit endorsers, Broadcast, Deliver ---------
    let def2 = ChaincodeDefinition::new("kv2", "1.0", 1);
    for org in &orgs {
        lifecycle::approve(&org.gateway, CHANNEL, &def2, Some(&package_id))
            .await
            .unwrap();
    }
    // Org2's admin submits; every endorser is called as Org2's admin.
    let endorsers: Vec<Endorser> = orgs
        .iter()
        .map(|o| Endorser::new(o.endorser.node().clone(), org2.admin.clone()))
        .collect();
    let orderer = Orderer::new(orderer_node.clone());
    let done = lifecycle::commit_with_endorsers(
        &endorsers[..2],
        &orderer,
        &org2.deliver,
        CHANNEL,
        &def2,
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert!(done.block > commit.block);
    // Ask the peer whose deliver stream reported the block: the other peers
    // may not have committed it yet.
    let kv2 = lifecycle::query_committed(&org2.endorser, CHANNEL, "kv2")
        .await
        .unwrap()
        .expect("kv2 committed");
    assert_eq!(kv2.sequence, 1);
    // The orderer refuses an envelope signed by a non-member, with its reason.
    let stranger = Arc::new(
        SigningIdentity::from_msp_dir("Org9MSP", &devnet.orgs()[0].admin_msp_dir).unwrap(),
    );
    let bogus = opssc_fabric::tx::signed_envelope(
        stranger.as_ref(),
        opssc_fabric::protos::common::HeaderType::EndorserTransaction,
        CHANNEL,
        vec![],
    )
    .unwrap();
    let err = orderer.broadcast(bogus).await.unwrap_err();
    match &err {
        Error::Refused {
            status, message, ..
        } => {
            assert!(*status == 400 || *status == 403, "{}", chain(&err));
            assert!(!message.is_empty());
        }
        other => panic!("expected the orderer's refusal, got {}", chain(other)),
    }

    // ---- the orderer leaves the channel -------------------------------------
    participation.remove(CHANNEL).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while participation.get(CHANNEL).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "{CHANNEL} still listed on the orderer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let _ = stop_cc.send(());
    drop(events);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .ok();
    eprintln!("scenario done in {:.1} s", t0.elapsed().as_secs_f64());
}

async fn futures_join_all(handles: &[OrgHandle]) -> Vec<Org> {
    let mut out = Vec::new();
    for h in handles {
        out.push(org(h).await);
    }
    out
}
