//! Channel operations through the OpsSC, end to end (issue 20). One
//! 3-organization devnet with three `opssc agent` processes following a
//! spec repository whose root describes the devnet as it runs
//! ([`common::devnet_spec`]), so no agent files anything until a commit asks
//! for it. Org1's agent files channel changes (`channelChanges: propose`),
//! the others vote and sign. Every change is one signed spec commit that every organization
//! consented to ([`common::SpecRepo::commit_consented`]). The cases run in
//! sequence on the same network:
//!
//! a. a channel policy by itself: `trade`'s Admins policy becomes
//!    `ALL Admins`. One ChannelUpdate is filed, counted with the rule the
//!    channel has (MAJORITY of 3: 2), states the rules it leaves the channel
//!    with, commits as one config block, and the registry records `ALL`;
//! b. removing an organization: Org3 leaves `trade`. The OrgRemove is
//!    counted with the channel's new rule (ALL: 3 of 3, more than the
//!    governance's twoThirds), approved and signed by all three, submitted
//!    and committed; `trade`'s config no longer lists Org3MSP, the registry
//!    neither; `opssc audit` lists the removal with its config block;
//! c. meta-governance: the Governance document raises the orgAdd quorum to
//!    `all`. One GovernanceChange is filed on the ops channel, approved by
//!    every member (the contract's rule for it) and applied by the deciding
//!    vote or tally; the registry's `governance` shows the new rule.
//! d. an orderer setting, which only the orderer organization can sign:
//!    first the ops channel lets the orderer organization read the OpsSC
//!    (its `peer/Propose` ACL becomes `/Channel/Writers`, one ChannelUpdate
//!    of the members), then the orderer organization's agent starts (no
//!    peer: it reads the OpsSC through Org1's, `opsGateway`), and `trade`'s
//!    batch timeout changes. The members file, approve and sign the
//!    ChannelUpdate; the orderer organization, which consented through an
//!    autoApprove rule of its own configuration, adds its signature and
//!    submits; Org1's agent reports it committed.
//! e. a new channel: `market` for Org1 and Org2 is added to the spec. Org1
//!    files the ChannelCreate, the ops channel's three members approve it,
//!    the orderer organization's agent joins its orderer to it (its own
//!    consent: the same autoApprove rule), Org1's and Org2's agents join
//!    their peers, and the creation is reported committed, which registers
//!    `market` with its members and rules; the chaincode `mkv`, committed
//!    with the channel, then rolls out on it and answers on both peers;
//! g. a private data collection: mkv's definition gains `org1only` (Org1's
//!    members only, reads included) by one consented commit; Org1 writes
//!    a secret through the chaincode and reads it back, Org2's peer refuses it.
//! f. Raft consenters (the devnet runs three orderers): orderer2 leaves the
//!    consenter set of ops, trade and market, then comes back, each by one
//!    consented commit; the orderer organization's agent signs and submits
//!    the ChannelUpdates, and orderer2 ends an active consenter again.
//!
//! After each case every agent's `opssc status` is Ready.

mod common;

use std::time::{Duration, Instant};

use common::{Agent, Org, agents_logs, query};
use opssc_fabric::configtx::{self, ChannelConfig};
use opssc_schema::local::ChannelChangePolicy;
use opssc_tests::devnet_support::{Topology, start_devnet, test_runtime};
use serde_json::{Value, json};

/// The tests' spec ([`common::reference_spec`]) states the governance the
/// tests found the registry with ([`common::reference_found_args`]): no
/// agent files a GovernanceChange until a commit asks for one.
#[test]
fn the_tests_spec_states_the_registered_governance() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in common::reference_spec() {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let loaded = opssc_schema::load_dir(dir.path());
    let spec = loaded
        .spec
        .unwrap_or_else(|| panic!("{}", loaded.report.render()));
    let found: opssc_chaincode::api::FoundArgs =
        serde_json::from_value(common::reference_found_args()).unwrap();
    let from_spec = opssc::agent::founding::governance(&spec);
    let registered = found.governance.unwrap();
    assert_eq!(
        opssc::plan::governance::governance_change(&from_spec, &registered),
        None
    );
    // And the check sees a difference the spec states.
    let mut other = registered;
    other.quorum.org_add = opssc_chaincode::model::QuorumLevel::All;
    assert!(opssc::plan::governance::governance_change(&from_spec, &other).is_some());
}

#[test]
fn channel_operations_go_through_the_opssc() {
    let devnet = start_devnet(Topology::reference(3).with_orderers(3));
    let rt = test_runtime();
    rt.block_on(scenario(&devnet));
}

/// `opssc status` of every agent: exit code and standard output.
fn statuses(agents: &[Agent]) -> Vec<(Option<i32>, String)> {
    agents
        .iter()
        .map(|a| {
            let out = a.opssc(&["status"]);
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).to_string(),
            )
        })
        .collect()
}

/// Waits until proposal `id` is in state `want` and every agent's
/// `opssc status` is Ready (exit 0).
async fn settled(o: &Org, id: &str, want: &str, agents: &[Agent], limit: Duration) {
    let start = Instant::now();
    loop {
        let state = query(o, "get", json!({"id": id})).await["proposal"]["state"].clone();
        let st = statuses(agents);
        if state == want && st.iter().all(|(code, _)| *code == Some(0)) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "proposal {id} is {state}, want {want}; statuses:\n{}\n{}",
            st.iter()
                .map(|(c, o)| format!("exit {c:?}:\n{o}"))
                .collect::<Vec<_>>()
                .join("\n"),
            agents_logs(agents)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `channel`'s config once its sequence passed `after`.
async fn config_after(o: &Org, channel: &str, after: u64, agents: &[Agent]) -> ChannelConfig {
    let start = Instant::now();
    loop {
        let c = configtx::client::fetch_config(&o.deliver, channel)
            .await
            .unwrap();
        if c.sequence > after {
            println!(
                "FIGURE {channel} config {}: {:.1} s after the commit",
                c.sequence,
                start.elapsed().as_secs_f64()
            );
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "{channel}'s config stays at sequence {after}\n{}",
            agents_logs(agents)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The proposals of `kind` on `channel`, in filing order.
async fn proposals(o: &Org, kind: &str, channel: &str) -> Vec<Value> {
    let list = query(o, "list", json!({"page_size": 200})).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind && p["target"]["channel"] == channel)
        .cloned()
        .collect()
}

/// The proposals of `kind` on `channel` once at least one is filed (within
/// 40 s of a commit that calls for it).
async fn filed(o: &Org, kind: &str, channel: &str, agents: &[Agent]) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let found = proposals(o, kind, channel).await;
        if !found.is_empty() {
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "no {kind} filed on {channel}:\n{}",
            agents_logs(agents)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The registry's entry of `channel`.
async fn registered(o: &Org, channel: &str) -> Value {
    let reg = query(o, "registry", json!({})).await;
    reg["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == channel)
        .cloned()
        .unwrap_or_else(|| panic!("{channel} is not registered: {reg:#}"))
}

fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in\n{text}");
    text.replace(from, to)
}

async fn scenario(devnet: &opssc_tests::devnet_support::Devnet) {
    let orgs = common::orgs_of(devnet).await;
    common::deploy_opssc(&orgs).await;
    let ops_config = configtx::client::fetch_config(&orgs[0].deliver, "ops")
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let spec = common::found_spec_repo_of(
        work.path(),
        common::devnet_spec_with_certificates(&ops_config),
    );
    // The chaincode case (e) deploys on the new channel, served by every
    // organization (chaincode-as-a-service, one server here).
    let (mkv_server, _) = common::serve("mkv_1.0", common::Versioned("mkv 1.0")).await;
    // Org1's agent files the channel changes; every agent votes and signs.
    let agents = common::start_agents(devnet.orgs(), work.path(), &spec, |msp, config| {
        if msp == "Org1MSP" {
            config.channel_changes = ChannelChangePolicy::Propose;
        }
        config
            .chaincode_servers
            .insert("mkv_1.0".into(), mkv_server.clone());
    });
    let trade_path = spec.dir.join("channels/trade.yaml");

    // Founding recorded trade's real rules.
    let trade = registered(&orgs[0], "trade").await;
    assert_eq!(
        trade["policies"],
        json!({"admins": "MAJORITY", "lifecycle_endorsement": "MAJORITY"})
    );

    // (a) trade's Admins policy, by itself.
    let before = configtx::client::fetch_config(&orgs[0].deliver, "trade")
        .await
        .unwrap();
    let yaml = std::fs::read_to_string(&trade_path).unwrap();
    let yaml = edit(&yaml, "Admins: MAJORITY Admins", "Admins: ALL Admins");
    spec.commit_consented(
        &[("channels/trade.yaml".into(), yaml)],
        "trade: every member's admin changes the channel",
    );
    let after = config_after(&orgs[0], "trade", before.sequence, &agents).await;
    assert_eq!(after.sequence, before.sequence + 1);
    assert_eq!(
        after
            .policy("/Channel/Application/Admins")
            .map(|p| p.to_string()),
        Some("ALL Admins".to_string())
    );
    let updates = proposals(&orgs[0], "ChannelUpdate", "trade").await;
    assert_eq!(updates.len(), 1, "one ChannelUpdate on trade: {updates:#?}");
    // Counted with the rule the orderer checks it against: MAJORITY of 3.
    assert_eq!(updates[0]["electorate"], 3, "{:#}", updates[0]);
    assert_eq!(updates[0]["quorum"], 2, "{:#}", updates[0]);
    let update = updates[0]["id"].as_str().unwrap().to_string();
    let got = query(&orgs[0], "get", json!({"id": update})).await;
    assert_eq!(
        got["proposal"]["payload"]["policies"]["admins"], "ALL",
        "{got:#}"
    );
    settled(
        &orgs[0],
        &update,
        "committed",
        &agents,
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(
        registered(&orgs[0], "trade").await["policies"]["admins"],
        "ALL"
    );

    // (b) Org3 leaves trade.
    let before = after;
    let yaml = std::fs::read_to_string(&trade_path).unwrap();
    let yaml = edit(
        &yaml,
        "members: [Org1MSP, Org2MSP, Org3MSP]",
        "members: [Org1MSP, Org2MSP]",
    );
    spec.commit_consented(
        &[("channels/trade.yaml".into(), yaml)],
        "trade: Org3 leaves",
    );
    let after = config_after(&orgs[0], "trade", before.sequence, &agents).await;
    assert_eq!(
        after.application_msp_ids(),
        vec!["Org1MSP".to_string(), "Org2MSP".to_string()]
    );
    let removals = proposals(&orgs[0], "OrgRemove", "trade").await;
    assert_eq!(removals.len(), 1, "one OrgRemove on trade: {removals:#?}");
    // ALL Admins of 3, more than the governance's twoThirds (2).
    assert_eq!(removals[0]["quorum"], 3, "{:#}", removals[0]);
    let removal = removals[0]["id"].as_str().unwrap().to_string();
    settled(
        &orgs[0],
        &removal,
        "committed",
        &agents,
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(
        registered(&orgs[0], "trade").await["members"],
        json!(["Org1MSP", "Org2MSP"])
    );
    let records = common::audit_against_chain(&agents[0], &orgs[0]).await;
    let record = records
        .iter()
        .find(|r| r["proposal_id"] == removal.as_str())
        .unwrap_or_else(|| panic!("opssc audit lists the removal: {records:#?}"));
    assert!(
        record["change"].as_str().unwrap().contains("Org3MSP"),
        "{record:#}"
    );
    assert_eq!(record["outcome"], "committed", "{record:#}");
    assert_eq!(
        record["applied"]["tx"]["kind"], "config_block",
        "{record:#}"
    );
    assert_eq!(
        record["applied"]["config_sequence"], after.sequence,
        "{record:#}"
    );

    // (c) the Governance document: adding an organization needs every member.
    let registry = query(&orgs[0], "registry", json!({})).await;
    assert_eq!(registry["governance"]["quorum"]["org_add"], "majority");
    let consortium_path = spec.dir.join("consortium.yaml");
    let yaml = std::fs::read_to_string(&consortium_path).unwrap();
    let yaml = edit(
        &yaml,
        "- change: orgAdd\n      quorum: majority",
        "- change: orgAdd\n      quorum: all",
    );
    spec.commit_consented(
        &[("consortium.yaml".into(), yaml)],
        "governance: every member approves a new organization",
    );
    let changes = filed(&orgs[0], "GovernanceChange", "ops", &agents).await;
    assert_eq!(changes.len(), 1, "one GovernanceChange: {changes:#?}");
    // Meta-governance needs every member of the ops channel.
    assert_eq!(changes[0]["electorate"], 3, "{:#}", changes[0]);
    assert_eq!(changes[0]["quorum"], 3, "{:#}", changes[0]);
    let change = changes[0]["id"].as_str().unwrap().to_string();
    settled(
        &orgs[0],
        &change,
        "committed",
        &agents,
        Duration::from_secs(40),
    )
    .await;
    let registry = query(&orgs[0], "registry", json!({})).await;
    assert_eq!(
        registry["governance"]["quorum"]["org_add"], "all",
        "{registry:#}"
    );
    // Nothing else changed: what the spec cannot state kept its value.
    assert_eq!(
        registry["governance"]["executor_timeout_secs"], 10,
        "{registry:#}"
    );
    assert_eq!(
        proposals(&orgs[0], "GovernanceChange", "ops").await.len(),
        1,
        "no second GovernanceChange once the registry holds the spec's"
    );

    // (d) An orderer setting. First the ops channel admits the orderer
    //     organization's queries of the OpsSC (a members' change).
    let ops_path = spec.dir.join("channels/ops.yaml");
    let before = configtx::client::fetch_config(&orgs[0].deliver, "ops")
        .await
        .unwrap();
    let yaml = std::fs::read_to_string(&ops_path).unwrap();
    let yaml = format!("{yaml}  acls:\n    peer/Propose: /Channel/Writers\n");
    spec.commit_consented(
        &[("channels/ops.yaml".into(), yaml)],
        "ops: the orderer organization reads the OpsSC",
    );
    let after = config_after(&orgs[0], "ops", before.sequence, &agents).await;
    assert_eq!(
        after.acls().get("peer/Propose").map(String::as_str),
        Some("/Channel/Writers")
    );
    let acl_update = proposals(&orgs[0], "ChannelUpdate", "ops").await;
    assert_eq!(acl_update.len(), 1, "{acl_update:#?}");
    let acl_update = acl_update[0]["id"].as_str().unwrap().to_string();
    settled(
        &orgs[0],
        &acl_update,
        "committed",
        &agents,
        Duration::from_secs(60),
    )
    .await;
    // The ACL lets the orderer organization's admin read the OpsSC through
    // a member's peer, and nothing more: the contract refuses its filing
    // (it is in no electorate).
    let orderer_org = devnet.orderer_org();
    let orderer_admin = orderer_admin_gateway(devnet).await;
    let listed = orderer_admin
        .evaluate_transaction("ops", "opssc", "list", [json!({}).to_string()])
        .await
        .unwrap_or_else(|e| panic!("the orderer organization reads the OpsSC: {e}"));
    assert!(serde_json::from_slice::<Value>(&listed).unwrap()["items"].is_array());
    let filing = json!({
        "kind": "ChannelUpdate",
        "target": {"channel": "trade"},
        "payload": {"config_update": "AQID"},
        "spec_ref": {
            "git_commit": "0".repeat(40),
            "spec_hash": "0".repeat(64),
            "base_config_sequence": 0,
        },
    });
    let refused = orderer_admin
        .submit_transaction("ops", "opssc", "propose", [filing.to_string()])
        .await;
    let why = refused.map(|_| ()).map_err(|e| e.to_string()).unwrap_err();
    assert!(why.contains("electorate"), "{why}");
    // Its agent: no peer, the OpsSC through Org1's peer; it consents to
    // channel updates and new channels in advance.

    let mut agents = agents;
    agents.push(common::start_agent_beside(
        &agents[0],
        &orderer_org.msp_id,
        &orderer_org.agent_config,
        work.path(),
        &spec,
        |_, config| {
            assert!(config.peers.is_empty() && config.ops_gateway.is_some());
            config.auto_approve = vec![opssc_schema::local::AutoApproveRule {
                name: Some("channel settings and new channels".into()),
                kinds: vec!["ChannelUpdate".into(), "ChannelCreate".into()],
                channels: vec![],
                chaincodes: vec![],
                proposed_by: vec![],
            }];
        },
    ));
    let before = configtx::client::fetch_config(&orgs[0].deliver, "trade")
        .await
        .unwrap();
    assert_eq!(before.batch_timeout(), Some("500ms"));
    let yaml = std::fs::read_to_string(&trade_path).unwrap();
    let yaml = edit(
        &yaml,
        "timeout: 500ms",
        "timeout: 1s\n    maxMessageCount: 50",
    );
    spec.commit_consented(
        &[("channels/trade.yaml".into(), yaml)],
        "trade: a block at most every second or 50 transactions",
    );
    let after = config_after(&orgs[0], "trade", before.sequence, &agents).await;
    assert_eq!(after.sequence, before.sequence + 1);
    assert_eq!(after.batch_timeout(), Some("1000ms"));
    assert_eq!(after.batch_size().unwrap().max_message_count, 50);
    // Signed by the orderer organization (the only policy the orderer
    // checks for it is /Channel/Orderer/Admins), submitted by it.
    let block = orgs[0].deliver.latest_config_block("trade").await.unwrap();
    assert_eq!(
        update_signers(&block),
        vec!["OrdererMSP".to_string()],
        "the update is signed by the orderer organization"
    );
    // One ChannelUpdate for it, after case (a)'s.
    let updates = proposals(&orgs[0], "ChannelUpdate", "trade").await;
    assert_eq!(updates.len(), 2, "{updates:#?}");
    let batch = updates[1]["id"].as_str().unwrap().to_string();
    settled(
        &orgs[0],
        &batch,
        "committed",
        &agents,
        Duration::from_secs(60),
    )
    .await;

    // (e) A new channel, `market`, for Org1 and Org2: the ops channel's
    //     members decide, the orderer organization joins its orderer, each
    //     member's agent joins its peer, the registry records it.
    let trade_yaml = std::fs::read_to_string(&trade_path).unwrap();
    // trade's text since case (b): Org1 and Org2, ALL Admins.
    assert!(trade_yaml.contains("members: [Org1MSP, Org2MSP]\n"));
    let market_yaml = edit(&trade_yaml, "name: trade", "name: market");
    let mkv_yaml = common::kv_yaml("1.0")
        .replace("name: kv", "name: mkv")
        .replace("channel: trade", "channel: market")
        .replace(
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer')",
        );
    assert!(mkv_yaml.contains("channel: market") && !mkv_yaml.contains("Org3MSP"));
    spec.commit_consented(
        &[
            ("channels/market.yaml".into(), market_yaml),
            ("chaincodes/mkv.yaml".into(), mkv_yaml),
        ],
        "market: a channel for Org1 and Org2, and its chaincode",
    );
    let start = Instant::now();
    let creates = filed(&orgs[0], "ChannelCreate", "market", &agents).await;
    assert_eq!(creates.len(), 1, "one ChannelCreate: {creates:#?}");
    // The ops channel's members decide (3), not the members it names.
    assert_eq!(creates[0]["electorate"], 3, "{:#}", creates[0]);
    let create = creates[0]["id"].as_str().unwrap().to_string();
    settled(
        &orgs[0],
        &create,
        "committed",
        &agents,
        Duration::from_secs(90),
    )
    .await;
    println!(
        "FIGURE market created and reported: {:.1} s after the commit",
        start.elapsed().as_secs_f64()
    );
    for o in &orgs[..2] {
        let market = configtx::client::fetch_config(&o.deliver, "market")
            .await
            .unwrap_or_else(|e| panic!("{}'s peer serves market: {e}", o.msp_id));
        assert_eq!(
            market.application_msp_ids(),
            vec!["Org1MSP".to_string(), "Org2MSP".to_string()]
        );
    }
    let registered_market = registered(&orgs[0], "market").await;
    assert_eq!(
        registered_market["members"],
        json!(["Org1MSP", "Org2MSP"]),
        "{registered_market:#}"
    );
    // Created from trade's text: ALL Admins.
    assert_eq!(registered_market["policies"]["admins"], "ALL");
    // Its chaincode rolls out once the channel exists.
    let took = common::wait_answering_on(
        &orgs[..2],
        "market",
        "mkv",
        "version",
        &[],
        "mkv 1.0",
        &agents,
        Duration::from_secs(120),
    )
    .await;
    println!(
        "FIGURE mkv answering on market's peers: {:.1} s after the creation was reported",
        took.as_secs_f64()
    );

    // (g) A private data collection: mkv's definition gains `org1only`
    //     (Org1's members only, read included). One ChaincodeUpgrade at
    //     sequence 2, same package; then Org1 writes a secret that Org1's
    //     peer returns and Org2's peer refuses to read.
    let mkv_yaml = std::fs::read_to_string(spec.dir.join("chaincodes/mkv.yaml")).unwrap();
    let private = format!(
        "{mkv_yaml}  collections:\n    - name: org1only\n      policy: \"OR('Org1MSP.member')\"\n      requiredPeerCount: 0\n      maxPeerCount: 1\n      blockToLive: 0\n      memberOnlyRead: true\n"
    );
    spec.commit_consented(
        &[("chaincodes/mkv.yaml".into(), private)],
        "mkv: a collection only Org1 reads",
    );
    let start = Instant::now();
    let with_collection = loop {
        let def = opssc_fabric::lifecycle::query_committed(&orgs[0].endorser, "market", "mkv")
            .await
            .unwrap();
        if let Some(d) = def.filter(|d| d.sequence == 2) {
            break d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "mkv's collection is not committed\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let collections = opssc::agent::observe_live::collections(with_collection.collections.as_ref());
    assert_eq!(collections.len(), 1, "{collections:?}");
    assert!(collections[0].name == "org1only" && collections[0].member_only_read);
    println!(
        "FIGURE mkv's collection committed: {:.1} s after the commit",
        start.elapsed().as_secs_f64()
    );
    orgs[0]
        .gateway
        .submit_transaction("market", "mkv", "pput", ["org1only", "secret", "s3cr3t"])
        .await
        .unwrap_or_else(|e| panic!("Org1 writes its private data: {}", common::chain(&e)));
    let start = Instant::now();
    loop {
        let got = orgs[0]
            .gateway
            .evaluate_transaction("market", "mkv", "pget", ["org1only", "secret"])
            .await;
        if got.as_deref().ok() == Some(b"s3cr3t".as_slice()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Org1 does not read its private data: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let refused = orgs[1]
        .gateway
        .evaluate_transaction("market", "mkv", "pget", ["org1only", "secret"])
        .await;
    assert!(
        refused.is_err(),
        "Org2 is no member of org1only, yet read {refused:?}"
    );
    println!(
        "FIGURE Org2 refused the private read: {}",
        common::chain(&refused.unwrap_err())
    );

    // (f) Raft consenters: orderer2 leaves every channel's consenter set,
    //     then comes back. Only the orderer organization signs these.
    let consortium_path = spec.dir.join("consortium.yaml");
    let three = std::fs::read_to_string(&consortium_path).unwrap();
    let orderer2 = "      - org: OrdererMSP\n        node: orderer2\n";
    let two = edit(&three, orderer2, "");
    let channels = ["ops", "trade", "market"];
    for (text, n, message) in [
        (two, 2, "ordering: orderer2 leaves the consenter set"),
        (three, 3, "ordering: orderer2 is a consenter again"),
    ] {
        spec.commit_consented(&[("consortium.yaml".into(), text)], message);
        let start = Instant::now();
        for channel in channels {
            loop {
                let c = configtx::client::fetch_config(&orgs[0].deliver, channel)
                    .await
                    .unwrap();
                if c.etcdraft().unwrap().consenters.len() == n {
                    break;
                }
                // A peer that pulls blocks from the orderer being evicted
                // lags until that node catches up as a follower: the OpsSC
                // endorsements disagree and are retried meanwhile.
                assert!(
                    start.elapsed() < Duration::from_secs(240),
                    "{channel} does not get {n} consenters\n{}",
                    agents_logs(&agents)
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        println!(
            "FIGURE {n} Raft consenters on ops, trade and market: {:.1} s after the commit",
            start.elapsed().as_secs_f64()
        );
    }
    // orderer2 is a consenter of every channel again, and active.
    let orderer_config = opssc_schema::local::AgentConfig::load(&orderer_org.agent_config).unwrap();
    let endpoints = opssc::agent::founding::admin_endpoints(&orderer_config).unwrap();
    let (_, endpoint) = endpoints
        .iter()
        .find(|(name, _)| name == "orderer2")
        .unwrap_or_else(|| {
            panic!(
                "orderer2 in {:?}",
                endpoints.iter().map(|e| &e.0).collect::<Vec<_>>()
            )
        });
    let api = opssc_fabric::participation::ChannelParticipation::new(endpoint).unwrap();
    let start = Instant::now();
    for channel in channels {
        loop {
            let info = api.get(channel).await.unwrap().unwrap();
            if info.consensus_relation == "consenter" && info.status == "active" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "orderer2 on {channel}: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // Every update is reported committed (its executor reads it from the
    // blocks); none is left open.
    let start = Instant::now();
    for channel in channels {
        loop {
            let updates = proposals(&orgs[0], "ChannelUpdate", channel).await;
            let done = updates.last().is_some_and(|p| p["state"] == "committed")
                && updates
                    .iter()
                    .all(|p| p["state"] != "proposed" && p["state"] != "approved");
            if done {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{channel}: {updates:#?}\n{}",
                agents_logs(&agents)
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    settled(
        &orgs[0],
        &create,
        "committed",
        &agents,
        Duration::from_secs(30),
    )
    .await;
}

/// A gateway on Org1's peer signing as the orderer organization's admin.
async fn orderer_admin_gateway(
    devnet: &opssc_tests::devnet_support::Devnet,
) -> opssc_fabric::gateway::Gateway {
    use opssc_fabric::{Node, NodeConfig, SigningIdentity};
    let oo = devnet.orderer_org();
    let signer =
        std::sync::Arc::new(SigningIdentity::from_msp_dir(&oo.msp_id, &oo.admin_msp_dir).unwrap());
    let p = &devnet.orgs()[0].peers[0];
    let node = Node::connect(
        &NodeConfig::tls_from_file(&p.address, &p.tls_ca_cert)
            .unwrap()
            .with_server_name(&p.host),
    )
    .await
    .unwrap();
    opssc_fabric::gateway::Gateway::new(node, signer)
}

/// The MSP IDs whose ConfigSignatures a config block's update carries.
fn update_signers(block: &opssc_fabric::protos::common::Block) -> Vec<String> {
    use opssc_fabric::protos::common::{ConfigEnvelope, Envelope, Payload};
    use prost::Message;
    let data = &block.data.as_ref().unwrap().data[0];
    let payload = Payload::decode(
        Envelope::decode(data.as_slice())
            .unwrap()
            .payload
            .as_slice(),
    )
    .unwrap();
    let config = ConfigEnvelope::decode(payload.data.as_slice()).unwrap();
    let (envelope, _) =
        configtx::sign::open_submission(config.last_update.as_ref().unwrap()).unwrap();
    let mut out: Vec<String> = envelope
        .signatures
        .iter()
        .map(|s| configtx::sign::signature_creator(s).unwrap().mspid)
        .collect();
    out.sort();
    out
}
