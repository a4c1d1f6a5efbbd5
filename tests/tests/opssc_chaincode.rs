//! The OpsSC chaincode on a real 3-organization devnet.
//!
//! `opssc_chaincode::ccaas::OpsSc` is served in this process as
//! chaincode-as-a-service, installed on every peer, approved by each
//! organization and committed on the `ops` channel. Then, through each
//! organization's own gateway: the registry is founded; a chaincode proposal
//! is filed twice (one proposal), voted by the three organizations in
//! parallel (no MVCC conflict between voters), tallied, its tasks reported,
//! its execution claimed and committed, and every transition arrives as a
//! chaincode event; a channel update carries real `ConfigSignature`s made by
//! the voters' admins, checked by the contract, collected from the chain by
//! the executor and accepted by the orderer; `list` pages; hostile calls are
//! refused with the contract's reason. Last, vote throughput is measured
//! against the key-value chaincode (`kvbench`) on the same channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use opssc_chaincode::ccaas::OpsSc;
use opssc_devnet::{Devnet, OrgHandle, Topology};
use opssc_fabric::configtx::{self, client, compute_update, edit, sign};
use opssc_fabric::deliver::{Deliverer, Seek};
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::ChaincodeDefinition;
use opssc_fabric::orderer::Orderer;
use opssc_fabric::package::{self, Connection};
use opssc_fabric::protos::common::ConfigSignature;
use opssc_fabric::{Error, Node, NodeConfig, Signer, SigningIdentity};
use opssc_tests::devnet_support::start_devnet;
use opssc_tests::fabric_support::{chain, peer_config, read, retry};
use opssc_tests::kvcc::Kv;
use opssc_tests::lifecycle::deploy_chaincode;
use serde_json::{Value, json};

const OPS: &str = "ops";
const CC: &str = "opssc";

struct Org {
    msp_id: String,
    admin: Arc<dyn Signer>,
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
        gateway: Gateway::new(node.clone(), admin.clone()),
        deliver: Deliverer::peer(node, admin.clone()),
        admin,
    }
}

/// Submits `function(args)` to the OpsSC chaincode as `org`; the JSON response.
async fn submit(org: &Org, function: &str, args: Value) -> Result<Value, Error> {
    let arg = serde_json::to_vec(&args).unwrap();
    let done = org
        .gateway
        .submit_transaction(OPS, CC, function, [arg])
        .await?;
    Ok(serde_json::from_slice(&done.result).unwrap())
}

async fn ok(org: &Org, function: &str, args: Value) -> Value {
    submit(org, function, args.clone())
        .await
        .unwrap_or_else(|e| panic!("{} {function} {args}: {}", org.msp_id, chain(&e)))
}

async fn refused(org: &Org, function: &str, args: Value, class: &str) -> String {
    let e = submit(org, function, args.clone())
        .await
        .err()
        .unwrap_or_else(|| panic!("{} {function} {args} should be refused", org.msp_id));
    let text = chain(&e);
    assert!(
        text.contains(&format!("{class}: ")),
        "expected a {class} refusal, got: {text}"
    );
    text
}

async fn query(org: &Org, function: &str, args: Value) -> Value {
    let arg = serde_json::to_vec(&args).unwrap();
    let out = org
        .gateway
        .evaluate_transaction(OPS, CC, function, [arg])
        .await
        .unwrap_or_else(|e| panic!("{} {function}: {}", org.msp_id, chain(&e)));
    serde_json::from_slice(&out).unwrap()
}

fn spec_ref() -> Value {
    json!({ "git_commit": "a".repeat(40), "spec_hash": "b".repeat(64) })
}

fn deploy(name: &str, version: &str) -> Value {
    let mut sr = spec_ref();
    sr["committed_chaincode_sequence"] = json!(0);
    json!({
        "kind": "ChaincodeDeploy",
        "target": { "channel": "trade", "chaincode": name },
        "payload": {
            "name": name, "version": version, "sequence": 1,
            "package_id": format!("{name}_{version}:{}", "c".repeat(64)),
            "package_hash": "c".repeat(64),
        },
        "spec_ref": sr,
    })
}

fn signature_json(sig: &ConfigSignature) -> Value {
    json!({
        "signature_header": STANDARD.encode(&sig.signature_header),
        "signature": STANDARD.encode(&sig.signature),
    })
}

/// Serves `chaincode` here, then installs it on every peer, approves it as
/// every org and commits it on the ops channel (the devnet's shared
/// lifecycle recipe, `opssc_tests::lifecycle::deploy_chaincode`).
async fn deploy_ccaas<C: opssc_fabric::shim::Chaincode>(
    devnet: &Devnet,
    name: &str,
    chaincode: C,
) -> u64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let label = format!("{name}_1.0");
    let pkg = package::ccaas_package(&label, &Connection::plaintext(&addr)).unwrap();
    let package_id = package::package_id(&label, &pkg);
    tokio::spawn({
        let package_id = package_id.clone();
        async move {
            opssc_fabric::shim::serve(
                chaincode,
                &package_id,
                listener,
                None,
                std::future::pending(),
            )
            .await
        }
    });
    let orgs: Vec<&OrgHandle> = devnet.orgs().iter().collect();
    let def = ChaincodeDefinition::new(name, "1.0", 1);
    let (installed, block) = deploy_chaincode(&orgs, OPS, &def, &pkg)
        .await
        .unwrap_or_else(|e| panic!("deploying {name}: {e}"));
    assert_eq!(installed, package_id);
    block
}

#[test]
fn opssc_chaincode_on_a_real_network() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
    drop(rt);
    devnet.stop().unwrap();
}

async fn scenario(devnet: &Devnet) {
    opssc_fabric::participation::install_ring_provider();
    let t0 = Instant::now();
    let mut orgs = Vec::new();
    for h in devnet.orgs() {
        orgs.push(org(h).await);
    }
    let (org1, org2, org3) = (&orgs[0], &orgs[1], &orgs[2]);

    let committed_at = deploy_ccaas(devnet, CC, OpsSc).await;
    eprintln!(
        "opssc committed on {OPS} in block {committed_at} at {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let mut events = org2
        .gateway
        .chaincode_events(OPS, CC, Seek::Number(committed_at + 1), None)
        .await
        .unwrap();

    // ---- founding ------------------------------------------------------------
    // The argument `opssc found` sends for the reference spec (this devnet's
    // topology): its members, channels and governance.
    let spec_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let spec = opssc_schema::load_dir(&spec_dir)
        .spec
        .expect("the reference spec validates");
    let found_args = opssc::agent::founding::found_args(&spec).unwrap();
    assert_eq!(found_args.members, ["Org1MSP", "Org2MSP", "Org3MSP"]);
    let found_arg = serde_json::to_vec(&found_args).unwrap();
    // Every founding member confirms the same content; the last one founds.
    let mut first = None;
    for org in &orgs {
        let arg = found_arg.clone();
        let done = retry("found", Duration::from_secs(90), || {
            let arg = arg.clone();
            let gw = org.gateway.clone();
            async move { gw.submit_transaction(OPS, CC, "found", [arg]).await }
        })
        .await;
        first = Some(done);
    }
    let first = first.unwrap();
    let founded: Value = serde_json::from_slice(&first.result).unwrap();
    assert_eq!(founded["outcome"], "founded");
    assert_eq!(first.event.as_ref().unwrap().event_name, "RegistryFounded");
    refused(
        org2,
        "found",
        json!({"ops_channel": OPS, "members": ["Org2MSP"]}),
        "conflict",
    )
    .await;

    // ---- hostile calls --------------------------------------------------------
    refused(org1, "drop_table", json!({}), "unknown_function").await;
    let e = org1
        .gateway
        .submit_transaction(OPS, CC, "propose", [b"{not json".to_vec()])
        .await
        .unwrap_err();
    assert!(chain(&e).contains("bad_argument: "), "{}", chain(&e));
    let mut huge = deploy("basic", "1.0");
    huge["payload"]["summary"] = json!("x".repeat(2 * 1024 * 1024));
    refused(org1, "propose", huge, "bad_argument").await;
    let mut float = deploy("basic", "1.0");
    float["payload"]["collections"] = json!({"x": 0.5});
    refused(org1, "propose", float, "bad_argument").await;

    // ---- a chaincode proposal, end to end -----------------------------------
    let filed = ok(org1, "propose", deploy("basic", "1.0")).await;
    assert_eq!(filed["outcome"], "filed");
    assert_eq!(filed["quorum"], 2);
    let id = filed["id"].as_str().unwrap().to_string();
    let again = ok(org2, "propose", deploy("basic", "1.0")).await;
    assert_eq!(
        (again["outcome"].as_str(), again["id"].as_str()),
        (Some("exists"), Some(id.as_str()))
    );
    assert_eq!(again["proposer"], "Org1MSP");

    // Three votes at once, each naming no other vote it counts (`counted:
    // []`): each reads and writes only its own key, so all commit. (A vote
    // without `counted` reads every vote to see whether it decides, and is
    // invalidated by any other vote ordered before it in its block.)
    let (v1, v2, v3) = tokio::join!(
        submit(
            org1,
            "vote",
            json!({"id": id, "decision": "approve", "reason": "matches spec", "counted": []})
        ),
        submit(
            org2,
            "vote",
            json!({"id": id, "decision": "approve", "counted": []})
        ),
        submit(
            org3,
            "vote",
            json!({"id": id, "decision": "reject", "reason": "not reviewed", "counted": []})
        ),
    );
    for (who, v) in [("Org1", v1), ("Org2", v2), ("Org3", v3)] {
        let v = v.unwrap_or_else(|e| panic!("{who}'s concurrent vote failed: {}", chain(&e)));
        assert_eq!(v["outcome"], "vote_recorded");
    }
    refused(
        org1,
        "vote",
        json!({"id": id, "decision": "reject"}),
        "conflict",
    )
    .await;
    let tallied = ok(org3, "tally", json!({"id": id})).await;
    assert_eq!(tallied["state"], "approved");
    assert_eq!(tallied["approvals"], json!(["Org1MSP", "Org2MSP"]));
    refused(
        org3,
        "vote",
        json!({"id": id, "decision": "approve"}),
        "conflict",
    )
    .await;

    for org in &orgs {
        for task in ["install", "approve"] {
            ok(
                org,
                "report_task",
                json!({"id": id, "task": task, "status": "done"}),
            )
            .await;
        }
    }
    refused(
        org1,
        "report_task",
        json!({"id": id, "task": "install", "status": "done", "org": "Org2MSP"}),
        "forbidden",
    )
    .await;
    let got = query(org3, "get", json!({"id": id})).await;
    let order: Vec<String> =
        serde_json::from_value(got["proposal"]["execution"]["order"].clone()).unwrap();
    assert_eq!(
        order,
        opssc_chaincode::contract::executor_order(&id, &["Org1MSP".into(), "Org2MSP".into()])
    );
    let by = |msp: &str| orgs.iter().find(|o| o.msp_id == msp).unwrap();
    refused(
        by(&order[1]),
        "claim_execution",
        json!({"id": id}),
        "forbidden",
    )
    .await;
    refused(org3, "report_committed", json!({"id": id}), "forbidden").await;
    ok(by(&order[0]), "claim_execution", json!({"id": id})).await;
    let done = ok(
        by(&order[0]),
        "report_committed",
        json!({"id": id, "detail": "committed"}),
    )
    .await;
    assert_eq!(done["state"], "committed");
    let tasks = query(org1, "tasks", json!({"id": id})).await;
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 6);

    // Every transition arrived as a chaincode event, in order.
    let mut names = Vec::new();
    while !names.contains(&"ProposalCommitted".to_string()) {
        let block = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("events within 30 s")
            .expect("the event stream is open")
            .unwrap();
        for e in block.events {
            let payload: Value = serde_json::from_slice(&e.payload).unwrap();
            assert_eq!(payload["event"], e.event_name.as_str());
            names.push(e.event_name);
        }
    }
    let votes_seen = names.iter().filter(|n| *n == "VoteCast").count();
    assert_eq!(votes_seen, 3, "{names:?}");
    let significant: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "VoteCast" && *n != "TaskReported")
        .collect();
    assert_eq!(
        significant,
        [
            "FoundingConfirmed",
            "FoundingConfirmed",
            "RegistryFounded",
            "ProposalFiled",
            "ProposalBacked",
            "ProposalApproved",
            "ExecutionClaimed",
            "ProposalCommitted"
        ],
        "{names:?}"
    );
    eprintln!(
        "chaincode proposal committed at {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // ---- a channel update with real ConfigSignatures --------------------------
    let before = configtx::client::fetch_config(&org1.deliver, "trade")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let changed = edit::set_acl(
        &before,
        "qscc/GetChainInfo",
        Some("/Channel/Application/Writers"),
    )
    .unwrap();
    let update_bytes = sign::encode_update(&compute_update(&before, &changed).unwrap());
    let mut sr = spec_ref();
    sr["base_config_sequence"] = json!(before.sequence);
    let cu = ok(org2, "propose", json!({
        "kind": "ChannelUpdate",
        "target": {"channel": "trade"},
        "payload": {"config_update": STANDARD.encode(&update_bytes), "summary": "ACL qscc/GetChainInfo -> Writers"},
        "spec_ref": sr,
    }))
    .await;
    let cu_id = cu["id"].as_str().unwrap().to_string();
    // A vote carrying a signature is refused: signatures come after approval.
    let org3_sig = sign::sign_update(org3.admin.as_ref(), &update_bytes).unwrap();
    refused(
        org3,
        "vote",
        json!({"id": cu_id, "decision": "approve", "config_signature": signature_json(&org3_sig)}),
        "bad_argument",
    )
    .await;
    for org in [org1, org3] {
        ok(org, "vote", json!({"id": cu_id, "decision": "approve"})).await;
    }
    assert_eq!(
        ok(org2, "tally", json!({"id": cu_id})).await["state"],
        "approved"
    );
    // Org3 tries to pass off Org1's signature as its own.
    let org1_sig = sign::sign_update(org1.admin.as_ref(), &update_bytes).unwrap();
    let text = refused(
        org3,
        "sign",
        json!({"id": cu_id, "config_signature": signature_json(&org1_sig)}),
        "bad_argument",
    )
    .await;
    assert!(text.contains("not of the voting organization"), "{text}");
    // A signature over other bytes.
    let wrong = sign::sign_update(org3.admin.as_ref(), b"other bytes").unwrap();
    refused(
        org3,
        "sign",
        json!({"id": cu_id, "config_signature": signature_json(&wrong)}),
        "bad_argument",
    )
    .await;
    for org in [org1, org3] {
        let sig = sign::sign_update(org.admin.as_ref(), &update_bytes).unwrap();
        ok(
            org,
            "sign",
            json!({"id": cu_id, "config_signature": signature_json(&sig)}),
        )
        .await;
    }
    // The executor collects the signatures from the chain and submits.
    let got = query(org2, "get", json!({"id": cu_id})).await;
    let executor = by(got["proposal"]["execution"]["order"][0].as_str().unwrap());
    let votes = query(executor, "signatures", json!({"id": cu_id})).await;
    let signatures: Vec<ConfigSignature> = votes["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.get("config_signature"))
        .map(|s| ConfigSignature {
            signature_header: STANDARD
                .decode(s["signature_header"].as_str().unwrap())
                .unwrap(),
            signature: STANDARD.decode(s["signature"].as_str().unwrap()).unwrap(),
        })
        .collect();
    assert_eq!(signatures.len(), 2);
    let envelope = sign::submission(
        executor.admin.as_ref(),
        "trade",
        &sign::update_envelope(update_bytes.clone(), signatures),
    )
    .unwrap();
    let o = &devnet.orderers()[0];
    let orderer_node =
        Node::connect(&NodeConfig::tls(&o.address, read(&o.tls_ca_cert)).with_server_name(&o.host))
            .await
            .unwrap();
    let after = client::submit_and_wait(
        &Orderer::new(orderer_node),
        &executor.deliver,
        "trade",
        envelope,
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "the orderer refused the update built from the votes: {}",
            chain(&e)
        )
    });
    assert_eq!(after.sequence, before.sequence + 1);
    assert_eq!(
        after.acls().get("qscc/GetChainInfo").map(String::as_str),
        Some("/Channel/Application/Writers")
    );
    let done = ok(
        executor,
        "report_committed",
        json!({"id": cu_id, "detail": format!("config sequence {}", after.sequence)}),
    )
    .await;
    assert_eq!(done["state"], "committed");
    eprintln!(
        "channel update committed at {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // ---- list pages ------------------------------------------------------------
    for i in 0..4 {
        ok(org1, "propose", deploy(&format!("cc{i}"), "1.0")).await;
    }
    let mut seen = Vec::new();
    let mut bookmark = Value::Null;
    loop {
        let mut args = json!({"page_size": 2});
        if !bookmark.is_null() {
            args["bookmark"] = bookmark.clone();
        }
        let page = query(org3, "list", args).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        bookmark = page["bookmark"].clone();
        if bookmark.is_null() {
            break;
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen[0], id);
    assert_eq!(seen[1], cu_id);
    let open = query(
        org3,
        "list",
        json!({"state": "proposed", "kind": "ChaincodeDeploy"}),
    )
    .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 4);

    // ---- throughput: votes against kv puts -----------------------------------------
    let kv_at = deploy_ccaas(devnet, "kvbench", Kv).await;
    eprintln!("kvbench committed in block {kv_at}");
    retry("kv warm-up", Duration::from_secs(60), || {
        org1.gateway
            .submit_transaction(OPS, "kvbench", "put", ["warm", "up"])
    })
    .await;
    // Sizes: small by default (CI); OPSSC_BENCH_PROPOSALS / OPSSC_BENCH_INFLIGHT for a real run.
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let proposals = env("OPSSC_BENCH_PROPOSALS", 20);
    let width = env("OPSSC_BENCH_INFLIGHT", 6);
    // The IDs are computed here, before filing: the contract must agree.
    let mut ids = Vec::new();
    let mut filings: Vec<(Gateway, &'static str, String, Vec<u8>)> = Vec::new();
    for i in 0..proposals {
        let args = deploy(&format!("bench{i}"), "1.0");
        let target = serde_json::from_value(args["target"].clone()).unwrap();
        let id = opssc_chaincode::compute_proposal_id(
            opssc_chaincode::model::Kind::ChaincodeDeploy,
            &target,
            0,
            &args["payload"],
        )
        .unwrap();
        ids.push(id);
        // Spread over the organizations: the contract's open-proposal limit
        // reads the filer's open set, so one organization's concurrent
        // filings can invalidate each other (PHANTOM_READ_CONFLICT).
        filings.push((
            orgs[i % orgs.len()].gateway.clone(),
            CC,
            "propose".into(),
            serde_json::to_vec(&args).unwrap(),
        ));
    }
    let file_secs = run_concurrently(filings, width).await;
    let mut calls: Vec<(Gateway, &'static str, String, Vec<u8>)> = Vec::new();
    for id in &ids {
        for org in &orgs {
            // `counted: []`: a vote that reads no other vote never
            // conflicts with the concurrent votes on its proposal.
            let arg = serde_json::to_vec(&json!({"id": id, "decision": "approve", "counted": []}))
                .unwrap();
            calls.push((org.gateway.clone(), CC, "vote".into(), arg));
        }
    }
    let n = calls.len();
    let vote_secs = run_concurrently(calls, width).await;
    let mut puts: Vec<(Gateway, &'static str, String, Vec<u8>)> = Vec::new();
    for i in 0..n {
        let org = &orgs[i % 3];
        puts.push((
            org.gateway.clone(),
            "kvbench",
            "put".into(),
            format!("k{i}").into_bytes(),
        ));
    }
    let put_secs = run_concurrently(puts, width).await;
    eprintln!(
        "BENCH opssc proposals: {proposals} in {file_secs:.2} s = {:.1}/s; votes: {n} in {vote_secs:.2} s = {:.1}/s; \
         kv puts: {n} in {put_secs:.2} s = {:.1}/s (3 orgs, {width} in flight, MAJORITY endorsement)",
        proposals as f64 / file_secs,
        n as f64 / vote_secs,
        n as f64 / put_secs
    );
    for id in &ids {
        let g = query(org2, "get", json!({"id": id})).await;
        assert_eq!(
            g["tally"]["approvals"].as_array().unwrap().len(),
            3,
            "every benchmark vote was recorded"
        );
    }
    eprintln!("scenario done in {:.1} s", t0.elapsed().as_secs_f64());
}

/// Submits every call (at most `width` in flight) and returns the wall time;
/// each must commit.
async fn run_concurrently(
    calls: Vec<(Gateway, &'static str, String, Vec<u8>)>,
    width: usize,
) -> f64 {
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(width));
    let mut set = tokio::task::JoinSet::new();
    for (gw, cc, function, arg) in calls {
        let permit = sem.clone().acquire_owned().await.unwrap();
        set.spawn(async move {
            let args: Vec<Vec<u8>> = if cc == "kvbench" {
                vec![arg.clone(), b"v".to_vec()]
            } else {
                vec![arg]
            };
            // A filing invalidated by a concurrent filing of the same
            // organization (the open-limit range read) is submitted again,
            // as an agent's next pass would.
            let mut tries = 0;
            let r = loop {
                let r = gw
                    .submit_transaction(OPS, cc, &function, args.clone())
                    .await;
                match &r {
                    Err(e)
                        if function == "propose"
                            && tries < 5
                            && chain(e).contains("PHANTOM_READ_CONFLICT") =>
                    {
                        tries += 1;
                    }
                    _ => break r,
                }
            };
            drop(permit);
            r.map(|_| ()).map_err(|e| chain(&e))
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap()
            .unwrap_or_else(|e| panic!("a benchmark transaction failed: {e}"));
    }
    start.elapsed().as_secs_f64()
}
