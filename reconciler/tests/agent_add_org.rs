//! The paper's first scenario, driven only by signed git commits: a new
//! organization joins a running consortium.
//!
//! A devnet with four peer organizations, where only Org1..Org3 are members
//! of the channels `ops`, `trade` and `market`; two chaincodes run on each
//! application channel. Four `opssc agent` processes follow one spec
//! repository (its root lists the admin keys of Org1 and Org4; Org4 has no
//! certificates and no channel yet). Then, with no Fabric command from the
//! test:
//! 1. a hostile ChannelUpdate on `market` (filed by hand with the current
//!    spec commit, a batch timeout the spec does not want) is rejected by the
//!    agents with the reason, and the channel config does not change;
//! 2. Org4's admin commits, signed, its certificates and its membership of
//!    the three channels; the members' agents file an OrgAdd per channel
//!    (ops first: the contract admits a member to an application channel only
//!    from the ops channel), recompute and sign it, the executor submits the
//!    update with the signatures from the chain; Org2's agent is SIGKILLed
//!    as soon as the first proposal is filed and restarted a few seconds
//!    later;
//! 3. Org4's agent sees itself in each config, joins its peer from the
//!    orderer's block 0, waits until its ledger caught up, installs and
//!    approves the four chaincodes at their committed definitions: all four
//!    answer on Org4's peer.
//!
//! Asserted: each channel's config sequence went up by exactly one and lists
//! Org4; one committed OrgAdd per channel and none failed; nothing filed
//! twice. Printed with the prefix `FIGURE`: the seconds from the commit to
//! each milestone, and the human actions of the scenario.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{
    Agent, Org, agents_logs, chain, commit, deploy_opssc_founding, query, serve, start_agents,
};
use git2::Repository;
use opssc_fabric::configtx::{self, ChannelConfig, compute_update, edit, sign};
use opssc_fabric::deliver::Deliverer;
use opssc_fabric::lifecycle;
use opssc_fabric::tx::ChaincodeCall;
use opssc_tests::devnet_support::{Topology, start_devnet};
use opssc_tests::kvcc::Kv;
use serde_json::{Value, json};
use ssh_key::{Algorithm, PrivateKey};

const CHANNELS: [&str; 3] = ["ops", "trade", "market"];
/// (channel, chaincode) of the four chaincodes.
const CHAINCODES: [(&str, &str); 4] = [
    ("trade", "asset"),
    ("trade", "escrow"),
    ("market", "offer"),
    ("market", "bid"),
];

fn topology() -> Topology {
    let members: Vec<String> = ["Org1MSP", "Org2MSP", "Org3MSP"].map(String::from).into();
    let mut t = Topology::reference(4).with_members(&members);
    let mut market = t.channels[1].clone();
    market.name = "market".into();
    t.channels.push(market);
    t
}

async fn configs(d: &Deliverer) -> Vec<ChannelConfig> {
    let mut out = Vec::new();
    for ch in CHANNELS {
        out.push(
            configtx::client::fetch_config(d, ch)
                .await
                .unwrap_or_else(|e| panic!("config of {ch}: {}", chain(&e))),
        );
    }
    out
}

fn chaincode_yaml(channel: &str, name: &str) -> String {
    format!(
        "apiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: {name}\nspec:\n  channel: {channel}\n  version: \"1.0\"\n  package:\n    ccaas: {{}}\n"
    )
}

fn channel_yaml(name: &str, members: &str, caps: &Caps) -> String {
    format!(
        "apiVersion: opssc/v1alpha1\nkind: Channel\nmetadata:\n  name: {name}\nspec:\n  members: [{members}]\n  capabilities:\n    channel: {}\n    orderer: {}\n    application: {}\n",
        caps.0, caps.1, caps.2
    )
}

/// Channel, orderer and application capability of a config.
struct Caps(String, String, String);

fn caps(config: &ChannelConfig) -> Caps {
    let top = |g: &[&str]| {
        config
            .capabilities(g)
            .into_iter()
            .max()
            .unwrap_or_else(|| "V2_0".into())
    };
    Caps(top(&[]), top(&["Orderer"]), top(&["Application"]))
}

/// The reference spec with what this devnet really runs written in
/// ([`common::devnet_spec`]), without its channels (the test commits them)
/// and with Org1's admin key `alice`.
fn spec_of_devnet(config: &ChannelConfig, org1_key: &PrivateKey) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = common::devnet_spec(config)
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("channels/"))
        .collect();
    for (rel, text) in &mut files {
        // The Governance this test founds the registry with (every rule
        // the channel's own, a voting period of 1 h), so that the agents
        // find no GovernanceChange to file.
        if rel == "consortium.yaml" {
            for (from, to) in [
                ("quorum: all", "quorum: policy"),
                ("quorum: majority", "quorum: policy"),
                (
                    "quorum: twoThirds     # removing a member needs 2f+1 of 3f+1",
                    "quorum: policy",
                ),
            ] {
                assert!(text.contains(from), "{from:?} not in\n{text}");
                *text = text.replace(from, to);
            }
        }
        if rel == "orgs/org1.yaml" {
            text.push_str(&format!(
                "  admins:\n    - name: alice\n      signingKey: \"{}\"\n",
                org1_key.public_key().to_openssh().unwrap()
            ));
        }
    }
    files
}

fn org4_yaml(key: &PrivateKey, with_msp: bool) -> String {
    let mut text = "apiVersion: opssc/v1alpha1\nkind: Organization\nmetadata:\n  name: org4\nspec:\n  mspId: Org4MSP\n  peers:\n    - name: peer0\n      endpoint: peer0.org4.example.com:7051\n      anchor: true\n".to_string();
    if with_msp {
        text.push_str(
            "  msp:\n    caCerts:\n      - file: org4/ca.pem\n    tlsCaCerts:\n      - file: org4/tlsca.pem\n",
        );
    }
    text.push_str(&format!(
        "  admins:\n    - name: dave\n      signingKey: \"{}\"\n",
        key.public_key().to_openssh().unwrap()
    ));
    text
}

async fn evaluate(
    o: &Org,
    channel: &str,
    cc: &str,
    function: &str,
    args: &[&str],
) -> Option<Vec<u8>> {
    o.gateway
        .evaluate_transaction(channel, cc, function, args.iter().copied())
        .await
        .ok()
}

async fn proposals(o: &Org) -> Vec<Value> {
    query(o, "list", json!({"page_size": 200})).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_new_organization_joins_by_one_signed_commit() {
    let devnet = start_devnet(topology());
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
}

async fn scenario(devnet: &opssc_tests::devnet_support::Devnet) {
    let handles = devnet.orgs();
    let orgs = common::orgs_of(devnet).await;
    let members = &orgs[..3];
    let opssc_server = deploy_opssc_founding(
        members,
        json!({
            "ops_channel": "ops",
            "members": ["Org1MSP", "Org2MSP", "Org3MSP"],
            "channels": [
                {"name": "trade", "members": ["Org1MSP", "Org2MSP", "Org3MSP"]},
                {"name": "market", "members": ["Org1MSP", "Org2MSP", "Org3MSP"]},
            ],
            "governance": {
                "voting_period_secs": 3600,
                "max_voting_period_secs": 86400,
                "executor_timeout_secs": 10,
            },
        }),
    )
    .await;
    let org1_deliver = &orgs[0].deliver;

    // Every organization (Org4 too) serves the four chaincodes.
    let mut servers = std::collections::BTreeMap::new();
    // Org4 runs the OpsSC too once it is on `ops` (the same server here).
    servers.insert("opssc_1.0".to_string(), opssc_server.clone());
    for (_, name) in CHAINCODES {
        let label = format!("{name}_1.0");
        let (addr, _) = serve(&label, Kv).await;
        servers.insert(label, addr);
    }

    // The spec repository: the reference orgs, Org4 without certificates or
    // channels, three channels of Org1..Org3, four chaincodes.
    let work = tempfile::tempdir().unwrap();
    let repo_dir = work.path().join("spec");
    let repo = Repository::init(&repo_dir).unwrap();
    let org1_key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let org4_key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let three = "Org1MSP, Org2MSP, Org3MSP";
    let ops_config = configtx::client::fetch_config(org1_deliver, "ops")
        .await
        .unwrap();
    let caps = caps(&ops_config);
    let mut files = spec_of_devnet(&ops_config, &org1_key);
    files.push(("orgs/org4.yaml".into(), org4_yaml(&org4_key, false)));
    for ch in CHANNELS {
        files.push((
            format!("channels/{ch}.yaml"),
            channel_yaml(ch, three, &caps),
        ));
    }
    for (ch, name) in CHAINCODES {
        files.push((format!("chaincodes/{name}.yaml"), chaincode_yaml(ch, name)));
    }
    let root = commit(&repo, &files, "founding spec", Some(&org1_key));
    let spec_source = common::SpecRepo {
        dir: repo_dir.clone(),
        repo: Repository::open(&repo_dir).unwrap(),
        admin_key: org1_key.clone(),
        root,
        admins: vec![("Org1MSP".into(), org1_key.clone())],
    };

    // This test is about how a new organization is added (its channel
    // updates, joins, faults and timings), not about consent: every agent
    // consents in advance to every kind of shared change by an autoApprove
    // rule, as a consortium that wants full automation configures it.
    // Consent through admins' approvals is agent_consent.rs's subject.
    let mut agents = start_agents(handles, work.path(), &spec_source, |_, config| {
        config.chaincode_servers = servers.clone();
        config.channel_changes = opssc_schema::local::ChannelChangePolicy::Propose;
        config.auto_approve = vec![opssc_schema::local::AutoApproveRule {
            name: Some("this test: everything".into()),
            kinds: opssc_schema::local::PROPOSAL_KINDS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            channels: Vec::new(),
            chaincodes: Vec::new(),
            proposed_by: Vec::new(),
        }];
    });
    let t_start = Instant::now();
    for (ch, name) in CHAINCODES {
        wait_until(
            &agents,
            Duration::from_secs(240),
            &format!("{ch}/{name} on Org1..3"),
            || async {
                for o in members {
                    if evaluate(o, ch, name, "put", &["k", "v"]).await.is_none() {
                        return false;
                    }
                }
                true
            },
        )
        .await;
    }
    eprintln!(
        "FIGURE four chaincodes deployed on Org1..3 by the agents in {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
    let before = configs(org1_deliver).await;

    // 1. A hostile ChannelUpdate on market, filed by hand as Org1 with the
    //    current spec commit: the spec does not want it.
    let market = &before[2];
    let hostile = edit::set_batch_timeout(market, "5s").unwrap();
    let bytes = sign::encode_update(&compute_update(market, &hostile).unwrap());
    let filed = common::submit_ops(
        &orgs[0],
        "propose",
        &json!({
        "kind": "ChannelUpdate",
        "target": {"channel": "market"},
        "payload": {"config_update": base64::engine::general_purpose::STANDARD.encode(&bytes)},
        "spec_ref": {
            "git_commit": root.to_string(),
            "spec_hash": "0".repeat(64),
            "base_config_sequence": market.sequence,
        },
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("file the hostile update: {e}"));
    let hostile_id = filed["id"].as_str().unwrap().to_string();
    wait_until(
        &agents,
        Duration::from_secs(60),
        "the hostile update rejected",
        || async {
            query(&orgs[0], "get", json!({"id": hostile_id})).await["proposal"]["state"]
                == "rejected"
        },
    )
    .await;
    let votes = query(&orgs[0], "votes", json!({"id": hostile_id})).await;
    let reasons: Vec<String> = votes["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{} {}: {}", v["org"], v["decision"], v["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("reject")
                && r.contains("calls for no ChannelUpdate on channel market")),
        "{reasons:#?}"
    );
    assert!(reasons.len() >= 2, "{reasons:#?}");
    let market_now = configtx::client::fetch_config(org1_deliver, "market")
        .await
        .unwrap();
    assert_eq!(
        market_now.sequence, market.sequence,
        "the hostile update reached the orderer"
    );
    assert_eq!(market_now.batch_timeout(), market.batch_timeout());

    // 2. Org4 commits itself into the three channels (its admin signs).
    let org4 = &handles[3];
    let four = "Org1MSP, Org2MSP, Org3MSP, Org4MSP";
    let mut change = vec![
        ("orgs/org4.yaml".to_string(), org4_yaml(&org4_key, true)),
        (
            "orgs/org4/ca.pem".to_string(),
            std::fs::read_to_string(&org4.ca_cert).unwrap(),
        ),
        (
            "orgs/org4/tlsca.pem".to_string(),
            std::fs::read_to_string(&org4.tls_ca_cert).unwrap(),
        ),
    ];
    for ch in CHANNELS {
        change.push((format!("channels/{ch}.yaml"), channel_yaml(ch, four, &caps)));
    }
    let t0 = Instant::now();
    commit(
        &repo,
        &change,
        "Org4MSP joins ops, trade and market",
        Some(&org4_key),
    );
    let human_actions = 1;
    eprintln!(
        "TRACE Org4's commit at {:?} since the epoch",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    );

    // Org2's agent dies as soon as the first OrgAdd is filed, and comes back.
    wait_until(
        &agents,
        Duration::from_secs(60),
        "the first OrgAdd filed",
        || async {
            proposals(&orgs[0])
                .await
                .iter()
                .any(|p| p["kind"] == "OrgAdd")
        },
    )
    .await;
    let t_filed = t0.elapsed();
    agents[1].kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    agents[1].start();

    let mut joined_at = Vec::new();
    for ch in CHANNELS {
        wait_until(
            &agents,
            Duration::from_secs(240),
            &format!("Org4MSP in the config of {ch}"),
            || async {
                configtx::client::fetch_config(org1_deliver, ch)
                    .await
                    .is_ok_and(|c| c.application_msp_ids().contains(&"Org4MSP".to_string()))
            },
        )
        .await;
        joined_at.push((ch, t0.elapsed()));
    }
    let t_configs = t0.elapsed();

    // 3. Org4's peer answers all four chaincodes.
    let org4_view = &orgs[3];
    for (ch, name) in CHAINCODES {
        // Straight to Org4's peer (not through a gateway, which could ask
        // another organization's peer).
        let call = ChaincodeCall::new(ch, name, "put", ["k", "v"]);
        wait_until(
            &agents,
            Duration::from_secs(240),
            &format!("{ch}/{name} on Org4's peer"),
            || async { org4_view.endorser.query("put", &call).await.is_ok() },
        )
        .await;
    }
    let t_answering = t0.elapsed();
    // Org4's own peer runs them: installed and approved by Org4.
    let installed = lifecycle::query_installed(&org4_view.endorser)
        .await
        .unwrap();
    for (ch, name) in CHAINCODES {
        assert!(
            installed.iter().any(|i| i.label == format!("{name}_1.0")),
            "{name} is not installed on Org4's peer: {installed:?}"
        );
        let approved = lifecycle::query_approved(&org4_view.endorser, ch, name, None)
            .await
            .unwrap();
        assert!(approved.is_some(), "Org4 did not approve {ch}/{name}");
    }

    // Org4's own peer runs the OpsSC: its agent installed and approved it.
    let list = ChaincodeCall::new("ops", "opssc", "list", [r#"{"page_size": 1}"#]);
    wait_until(
        &agents,
        Duration::from_secs(60),
        "the OpsSC on Org4's peer",
        || async { org4_view.endorser.query("opssc list", &list).await.is_ok() },
    )
    .await;

    // `opssc bootstrap` (the same catch-up in the foreground) finds nothing left.
    let out = agents[3].opssc(&["bootstrap", "--timeout", "60"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "opssc bootstrap as Org4MSP\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("bootstrapped: Org4MSP"), "{stdout}");

    // Every organization's status says Ready (no channel change left, Org4
    // in every channel) once the records are closed: the reports follow
    // the updates, and Org4's chaincodes may answer before the last one.
    let status_of = |a: &Agent| {
        let out = a.opssc(&["status"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    wait_until(
        &agents,
        Duration::from_secs(60),
        "every organization's status Ready",
        || async {
            [&agents[0], &agents[3]]
                .iter()
                .all(|a| status_of(a).0 == Some(0))
        },
    )
    .await;
    for a in [&agents[0], &agents[3]] {
        let (code, stdout) = status_of(a);
        assert_eq!(code, Some(0), "status as {}\n{stdout}", a.msp_id);
        assert!(stdout.contains("condition: Ready"), "{stdout}");
    }

    // Nothing applied twice: one config update per channel, one committed
    // OrgAdd per channel, none failed.
    let after = configs(org1_deliver).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            a.sequence,
            b.sequence + 1,
            "channel {}: {} → {}",
            a.channel_id,
            b.sequence,
            a.sequence
        );
        assert!(a.application_msp_ids().contains(&"Org4MSP".to_string()));
    }
    let all = proposals(&orgs[0]).await;
    for ch in CHANNELS {
        let adds: Vec<&Value> = all
            .iter()
            .filter(|p| p["kind"] == "OrgAdd" && p["target"]["channel"] == ch)
            .collect();
        let committed = adds.iter().filter(|p| p["state"] == "committed").count();
        assert_eq!(committed, 1, "{ch}: {adds:#?}");
        assert!(
            adds.iter().all(|p| p["state"] != "failed"),
            "{ch}: {adds:#?}"
        );
    }
    // The registry follows: Org4 votes on the three channels from now on.
    let registry = query(&orgs[0], "registry", json!({})).await;
    for ch in CHANNELS {
        let entry = registry["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == ch)
            .unwrap_or_else(|| panic!("{ch} is not in the registry: {registry:#}"));
        assert!(
            entry["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "Org4MSP"),
            "{ch}: {entry:#}"
        );
    }

    // 4. A member's copy of a change differs from the proposal on the chain:
    //    the agents are stopped, a signed commit sets an ACL of market
    //    (qscc/GetChainInfo → Writers), and a tampered ChannelUpdate (→ Admins,
    //    the same commit, the same base) is filed before any agent runs. Every agent recomputes the
    //    update, rejects the tampered one naming the difference instead of
    //    filing its own over it, and once it is rejected files, signs and
    //    submits the update the spec asks for: exactly one more config block.
    for a in agents.iter_mut() {
        a.kill();
    }
    let market_before = configtx::client::fetch_config(org1_deliver, "market")
        .await
        .unwrap();
    let mut market_doc = channel_yaml("market", four, &caps);
    market_doc.push_str("  acls:\n    qscc/GetChainInfo: /Channel/Application/Writers\n");
    let batch_commit = commit(
        &repo,
        &[("channels/market.yaml".to_string(), market_doc)],
        "market: qscc/GetChainInfo for Writers",
        Some(&org1_key),
    );
    let tampered = edit::set_acl(
        &market_before,
        "qscc/GetChainInfo",
        Some("/Channel/Application/Admins"),
    )
    .unwrap();
    let tampered_bytes = sign::encode_update(&compute_update(&market_before, &tampered).unwrap());
    let filed = common::submit_ops(
        &orgs[0],
        "propose",
        &json!({
        "kind": "ChannelUpdate",
        "target": {"channel": "market"},
        "payload": {"config_update": base64::engine::general_purpose::STANDARD.encode(&tampered_bytes)},
        "spec_ref": {
            "git_commit": batch_commit.to_string(),
            "spec_hash": "0".repeat(64),
            "base_config_sequence": market_before.sequence,
        },
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("file the tampered update: {e}"));
    let tampered_id = filed["id"].as_str().unwrap().to_string();
    for a in agents.iter_mut() {
        a.start();
    }
    wait_until(
        &agents,
        Duration::from_secs(90),
        "the tampered update rejected",
        || async {
            query(&orgs[0], "get", json!({"id": tampered_id})).await["proposal"]["state"]
                == "rejected"
        },
    )
    .await;
    let votes = query(&orgs[0], "votes", json!({"id": tampered_id})).await;
    let rejects: Vec<String> = votes["votes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["decision"] == "reject")
        .map(|v| format!("{}: {}", v["org"], v["reason"]))
        .collect();
    assert!(rejects.len() >= 2, "{votes:#}");
    assert!(
        rejects.iter().all(|r| r.contains("config_update")),
        "each reject names the differing field: {rejects:#?}"
    );
    assert!(
        !votes["votes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["decision"] == "approve"),
        "nobody approved the tampered update: {votes:#}"
    );
    wait_until(
        &agents,
        Duration::from_secs(120),
        "market's ACL as the spec says",
        || async {
            configtx::client::fetch_config(org1_deliver, "market")
                .await
                .is_ok_and(|c| {
                    c.acls().get("qscc/GetChainInfo").map(String::as_str)
                        == Some("/Channel/Application/Writers")
                })
        },
    )
    .await;
    // The executor reports the update after its config block: the audit
    // below reads the record, so it waits for the report too.
    wait_until(
        &agents,
        Duration::from_secs(60),
        "market's ACL update reported committed",
        || async {
            proposals(&orgs[0]).await.iter().any(|p| {
                p["kind"] == "ChannelUpdate"
                    && p["target"]["channel"] == "market"
                    && p["state"] == "committed"
            })
        },
    )
    .await;
    let market_after = configtx::client::fetch_config(org1_deliver, "market")
        .await
        .unwrap();
    assert_eq!(
        market_after.sequence,
        market_before.sequence + 1,
        "exactly one update"
    );

    eprintln!(
        "FIGURE add-org: commit → first OrgAdd filed {:.1} s; configs: {}; all configs {:.1} s; 4 chaincodes answering on Org4's peer {:.1} s; human actions {human_actions}",
        t_filed.as_secs_f64(),
        joined_at
            .iter()
            .map(|(ch, t)| format!("{ch} {:.1} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        t_configs.as_secs_f64(),
        t_answering.as_secs_f64()
    );
    // What Org4's agent did, with timestamps (for docs/BENCHMARKS.md).
    for line in std::fs::read_to_string(&agents[3].log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("acted") || l.contains("WARN"))
    {
        eprintln!("TRACE Org4MSP {line}");
    }

    // 5. `opssc audit` lists every step of both rollouts, and what it names
    //    is on the chain.
    audit_matches_the_chain(&agents[0], &orgs[0], &hostile_id, &tampered_id).await;
    drop(agents);
}

/// `opssc audit` as `agent`'s organization, checked against the chain by
/// [`common::audit_against_chain`]; then both rollouts (the four chaincode
/// deploys, the three OrgAdds, the ACL update) are listed step by step.
async fn audit_matches_the_chain(agent: &Agent, o: &Org, hostile_id: &str, tampered_id: &str) {
    let records = common::audit_against_chain(agent, o).await;
    let records = &records;
    let find = |kind: &str, channel: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["kind"] == kind && r["channel"] == channel && r["outcome"] == "committed")
            .collect()
    };
    // Both rollouts, every step: filed, a quorum of votes, the decision, the
    // executor, the definition commit or config block, the tasks.
    let mut committed = Vec::new();
    for (ch, name) in CHAINCODES {
        let deploys = find("ChaincodeDeploy", ch);
        let d = deploys
            .iter()
            .find(|r| r["chaincode"] == name)
            .unwrap_or_else(|| panic!("no committed deploy of {ch}/{name}"));
        assert!(d["applied"]["what"].as_str().unwrap().contains(name));
        committed.push(*d);
    }
    for ch in CHANNELS {
        let adds = find("OrgAdd", ch);
        assert_eq!(adds.len(), 1, "{ch}");
        let add = adds[0];
        assert_eq!(add["change"], format!("OrgAdd Org4MSP on channel {ch}"));
        assert_eq!(add["applied"]["tx"]["kind"], "config_block");
        // Org4's admin signed the spec commit that asked for it.
        assert_eq!(
            add["spec"]["found"]["signed_by"]["org"], "Org4MSP",
            "{add:#}"
        );
        assert_eq!(
            add["spec"]["found"]["subject"],
            "Org4MSP joins ops, trade and market"
        );
        assert!(!add["signatures"].as_array().unwrap().is_empty(), "{add:#}");
        committed.push(add);
    }
    let acl = find("ChannelUpdate", "market");
    assert_eq!(acl.len(), 1);
    committed.push(acl[0]);
    for r in committed {
        let quorum = r["filed"]["quorum"].as_u64().unwrap() as usize;
        let approvals = r["votes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["decision"] == "approve")
            .count();
        assert!(approvals >= quorum, "{r:#}");
        assert_eq!(r["decision"]["outcome"], "approved", "{r:#}");
        assert!(r["execution"]["committed"]["by"].is_string(), "{r:#}");
        assert!(r["applied"]["tx"]["block"].is_u64(), "{r:#}");
        // Organizations report install and approve tasks for chaincode kinds.
        if r["chaincode"].is_string() {
            assert!(!r["tasks"].as_array().unwrap().is_empty(), "{r:#}");
        }
    }
    for rejected in [hostile_id, tampered_id] {
        let r = records
            .iter()
            .find(|r| r["proposal_id"] == rejected)
            .unwrap();
        assert_eq!(r["outcome"], "rejected");
        assert!(r["applied"].is_null(), "{r:#}");
    }

    // The filters: only market's changes; and the text form names them.
    let out = agent.opssc(&["audit", "--channel", "market", "--format", "text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("# OrgAdd Org4MSP on channel market [committed]"),
        "{text}"
    );
    assert!(!text.contains("on channel trade"), "{text}");
    eprintln!("AUDIT --channel market\n{text}");
}

/// Polls `check` every 200 ms until it holds; panics with the agents' logs.
async fn wait_until<F, Fut>(agents: &[Agent], limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        if start.elapsed() > limit {
            panic!("{what}: not after {limit:?}\n{}", agents_logs(agents));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
