//! A hostile member against the OpsSC and the agents, on a real
//! 3-organization devnet with three real `opssc agent` processes (issue 18,
//! "Done when").
//!
//! The honest consortium changes chaincode `kv` only through signed git
//! commits; the agents do the rest. The attacker is Org3's admin (sometimes
//! with Org2's admin as an accomplice, or a stolen `User1` client
//! certificate) calling the contract **as a member would: with Fabric's own
//! `peer` CLI** (`peer chaincode invoke` against the organizations' peers and
//! the orderer). Two attacks the CLI cannot express (a transaction timestamp
//! decades ahead) go through the Rust gateway with a forged channel header.
//!
//! Every case asserts three things: the call is refused (or ignored), the
//! honest change still goes through, and no state an honest organization
//! relies on changed (the registry, and every proposal's state, compared
//! before and after). Cases run in sequence on one devnet; each records
//! (case, expected, observed) and the test prints the table at the end and
//! fails if any case failed, so one broken rule does not hide the others.
//!
//! Not covered here (unit-level): credentials matched by URL parts, and the
//! agent's `/trigger` endpoint from a non-loopback address (the devnet only
//! has 127.0.0.1).

mod common;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Agent, OPS, Org, agents_logs, chain, org, query, serve};
use opssc_fabric::Signer;
use opssc_fabric::protos::common::{ChannelHeader, Header};
use opssc_fabric::tx::{ChaincodeCall, SignedProposal};
use opssc_tests::devnet_support::{Devnet, OrgHandle, Topology, start_devnet};
use prost::Message;
use serde_json::{Value, json};

use common::{Versioned, kv_yaml};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ------------------------------------------------------------------ results

/// One row of the final table.
struct Row {
    case: &'static str,
    expected: String,
    observed: String,
    ok: bool,
}

#[derive(Default)]
struct Table(Vec<Row>);

impl Table {
    fn record(&mut self, case: &'static str, expected: &str, observed: String, ok: bool) {
        println!(
            "CASE {case}: {} — expected: {expected}; observed: {observed}",
            if ok { "ok" } else { "FAILED" }
        );
        self.0.push(Row {
            case,
            expected: expected.to_string(),
            observed,
            ok,
        });
    }

    fn print(&self) {
        println!("\n| case | expected | observed | result |\n|---|---|---|---|");
        for r in &self.0 {
            let cut = |s: &str| s.chars().take(200).collect::<String>().replace('\n', " ");
            println!(
                "| {} | {} | {} | {} |",
                r.case,
                r.expected,
                cut(&r.observed),
                if r.ok { "ok" } else { "FAILED" }
            );
        }
    }
}

// ------------------------------------------------------------------ the attacker's tools

/// Who calls: an organization's admin, or its `User1` client identity.
#[derive(Clone, Copy, PartialEq, Eq)]
enum As {
    Admin,
    Client,
}

/// `peer chaincode invoke -C ops -n opssc` of `function(arg)` as `org`'s
/// admin or client, endorsed by every organization's first peer and waiting
/// for the commit: `Ok(output)` when the CLI exits 0 (it committed), `Err(output)`
/// otherwise (the endorsement refused, or the transaction invalid).
fn cli_invoke(
    devnet: &Devnet,
    org: &OrgHandle,
    who: As,
    function: &str,
    arg: &Value,
) -> Result<String, String> {
    let input = json!({"Args": [function, arg.to_string()]}).to_string();
    cli_invoke_input(devnet, org, who, &input)
}

/// Runs `peer chaincode invoke` with the `-c` input `input` (see
/// [`cli_invoke`]). A transaction that lost a read conflict with an agent's
/// concurrent one, or whose endorsing peers were a block apart, is sent
/// again (at most five times), as an admin would: only the contract's
/// answer counts as a refusal.
fn cli_invoke_input(
    devnet: &Devnet,
    org: &OrgHandle,
    who: As,
    input: &str,
) -> Result<String, String> {
    let peer = &org.peers[0];
    let orderer = &devnet.orderers()[0];
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut cmd = Command::new(&devnet.bin().peer);
        cmd.envs(devnet.peer_cli_env(org, peer));
        if who == As::Client {
            cmd.env("CORE_PEER_MSPCONFIGPATH", &org.user_msp_dir);
        }
        cmd.args(["chaincode", "invoke", "-C", OPS, "-n", "opssc", "-c", input]);
        cmd.args([
            "-o",
            &orderer.address,
            "--ordererTLSHostnameOverride",
            &orderer.host,
        ]);
        cmd.args(["--tls", "--cafile"]).arg(&orderer.tls_ca_cert);
        for o in devnet.orgs() {
            cmd.args(["--peerAddresses", &o.peers[0].address, "--tlsRootCertFiles"])
                .arg(&o.peers[0].tls_ca_cert);
        }
        cmd.args(["--waitForEvent", "--waitForEventTimeout", "30s"]);
        let out = cmd.output().expect("run the peer CLI");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            return Ok(text);
        }
        let transient = [
            "MVCC_READ_CONFLICT",
            "PHANTOM_READ_CONFLICT",
            "ProposalResponsePayloads do not match",
        ]
        .iter()
        .any(|c| text.contains(c));
        if !transient || attempt >= 5 {
            return Err(text);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// The first line of a refusal that names the contract's error class.
fn why(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("message:"))
        .map(|l| {
            let i = l.find("message:").unwrap();
            l[i..].chars().take(240).collect()
        })
        .unwrap_or_else(|| text.chars().take(240).collect())
}

/// A proposal for `function(arg)` on the OpsSC as `signer`, with its
/// transaction timestamp moved by `shift` seconds: what a client that sets
/// its own clock sends. Fabric 2.5 does not bound the timestamp.
fn dated_proposal(signer: &dyn Signer, function: &str, arg: &Value, shift: i64) -> SignedProposal {
    let arg = serde_json::to_vec(arg).unwrap();
    let mut p = ChaincodeCall::new(OPS, "opssc", function, [arg])
        .sign(signer)
        .unwrap();
    let mut header = Header::decode(p.proposal.header.as_slice()).unwrap();
    let mut ch = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    ch.timestamp.as_mut().unwrap().seconds += shift;
    header.channel_header = ch.encode_to_vec();
    p.proposal.header = header.encode_to_vec();
    let bytes = p.proposal.encode_to_vec();
    p.signed.signature = signer.sign(&bytes).unwrap();
    p.signed.proposal_bytes = bytes;
    p
}

const FIFTY_YEARS: i64 = 50 * 365 * 24 * 3600;

/// Submits a future-dated call as `o`'s admin through the gateway; the
/// contract's response or the refusal.
async fn submit_dated(o: &Org, function: &str, arg: &Value, shift: i64) -> Result<Value, String> {
    let p = dated_proposal(o.gateway.signer().as_ref(), function, arg, shift);
    match o.gateway.submit_proposal(&p, &[]).await {
        Ok(c) => Ok(serde_json::from_slice(&c.result).unwrap_or(Value::Null)),
        Err(e) => Err(chain(&e)),
    }
}

// ------------------------------------------------------------------ observation

/// What an honest organization relies on: the registry and every
/// proposal's state (in filing order).
async fn snapshot(o: &Org) -> Value {
    let registry = query(o, "registry", json!({})).await;
    let mut items = Vec::new();
    let mut bookmark = Value::Null;
    loop {
        let mut a = json!({"page_size": 200});
        if !bookmark.is_null() {
            a["bookmark"] = bookmark.clone();
        }
        let page = query(o, "list", a).await;
        for p in page["items"].as_array().unwrap() {
            items.push(json!([p["id"], p["state"]]));
        }
        bookmark = page["bookmark"].clone();
        if bookmark.is_null() {
            break;
        }
    }
    json!({"registry": registry, "proposals": items})
}

async fn get(o: &Org, id: &str) -> Value {
    query(o, "get", json!({"id": id})).await["proposal"].clone()
}

async fn votes(o: &Org, id: &str) -> Vec<Value> {
    query(o, "votes", json!({"id": id})).await["votes"]
        .as_array()
        .unwrap()
        .clone()
}

async fn kv_proposals(o: &Org) -> Vec<Value> {
    common::proposals_for(o, "kv").await
}

/// Waits until every org's own peer answers kv's `version` with `want`.
async fn answering(orgs: &[Org], want: &str, limit: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let mut all = true;
        for o in orgs {
            let got = o
                .gateway
                .evaluate_transaction("trade", "kv", "version", [""])
                .await;
            if got.as_deref().ok() != Some(want.as_bytes()) {
                all = false;
            }
        }
        if all {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(format!(
                "kv {want} does not answer on every peer after {limit:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `opssc status` with `agent`'s configuration: exit code and stdout.
fn status(agent: &Agent) -> (i32, String) {
    let out = agent.opssc(&["status"]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn stop_all(agents: &mut [Agent]) {
    for a in agents.iter_mut() {
        a.kill();
    }
}

fn start_all(agents: &mut [Agent]) {
    for a in agents.iter_mut() {
        a.start();
    }
}

/// A refusal whose text names `class`.
fn refused_with(r: &Result<String, String>, class: &str) -> bool {
    matches!(r, Err(t) if t.contains(class))
}

fn describe(r: &Result<String, String>) -> String {
    match r {
        Ok(t) => format!("ACCEPTED: {}", why(t)),
        Err(t) => format!("refused: {}", why(t)),
    }
}

/// An unplanned upgrade of kv: Org3's own package, endorsed by Org3 alone.
fn hostile_upgrade(version: &str, sequence: u64) -> Value {
    json!({
        "kind": "ChaincodeUpgrade",
        "target": {"channel": "trade", "chaincode": "kv"},
        "payload": {
            "name": "kv",
            "version": version,
            "sequence": sequence,
            "package_id": format!("kv_{version}:{}", "e".repeat(64)),
            "package_hash": "e".repeat(64),
            "endorsement_policy": "OR('Org3MSP.peer')",
            "init_required": false,
        },
        "spec_ref": {"git_commit": "0".repeat(40), "spec_hash": "0".repeat(64), "committed_chaincode_sequence": sequence - 1},
    })
}

// ------------------------------------------------------------------ the test

#[test]
fn a_hostile_member_cannot_block_or_hijack_the_consortium() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    let table = rt.block_on(scenario(&devnet));
    table.print();
    let failed: Vec<&str> = table.0.iter().filter(|r| !r.ok).map(|r| r.case).collect();
    assert!(table.0.len() >= 15, "at least 15 cases ran");
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

async fn scenario(devnet: &Devnet) -> Table {
    let mut t = Table::default();
    let handles = devnet.orgs();
    let (h2, h3) = (&handles[1], &handles[2]);
    let mut orgs = Vec::new();
    for h in handles {
        orgs.push(org(h).await);
    }
    // Founding: the reference spec's `found` argument, chaincode changes
    // decided by a majority (so that two colluding members can approve a
    // hostile upgrade), confirmed by every member.
    let mut found = common::reference_found_args();
    found["governance"]["quorum"]["chaincode"] = json!("majority");
    common::deploy_opssc_founding(&orgs, found.clone()).await;
    let registry = query(&orgs[0], "registry", json!({})).await;
    assert!(!registry["meta"].is_null(), "founded: {registry:#}");

    let mut servers = std::collections::BTreeMap::new();
    let mut package_ids = std::collections::BTreeMap::new();
    for (label, version) in [
        ("kv_1.0", "1.0"),
        ("kv_1.1", "1.1"),
        ("kv_1.2", "1.2"),
        ("kv_1.3", "1.3"),
    ] {
        let (addr, id) = serve(label, Versioned(version)).await;
        servers.insert(label.to_string(), addr);
        package_ids.insert(version, id);
    }
    let work = tempfile::tempdir().unwrap();
    // The spec's Governance states the same (the spec wins: otherwise the
    // honest agents would file a GovernanceChange back to its rule).
    let mut files = common::reference_spec();
    for (rel, text) in &mut files {
        if rel == "consortium.yaml" {
            let from = "- change: chaincode\n      quorum: all";
            assert!(text.contains(from), "{text}");
            *text = text.replace(from, "- change: chaincode\n      quorum: majority");
        }
    }
    let spec = common::found_spec_repo_of(work.path(), files);
    let mut agents = common::start_agents(handles, work.path(), &spec, |_, config| {
        config.chaincode_servers = servers.clone();
    });

    // The honest baseline: kv 1.0 from a commit signed by Org1's admin and
    // approved in git by Org2's and Org3's (each organization's consent).
    spec.commit_consented(
        &[("chaincodes/kv.yaml".into(), kv_yaml("1.0"))],
        "add kv 1.0",
    );
    if let Err(e) = answering(&orgs, "1.0", Duration::from_secs(300)).await {
        panic!("{e}\n{}", agents_logs(&agents));
    }
    let settle = Instant::now();
    while !kv_proposals(&orgs[0])
        .await
        .iter()
        .all(|p| p["state"] == "committed")
        && settle.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let deploy = kv_proposals(&orgs[0]).await[0].clone();
    let deploy = get(&orgs[0], deploy["id"].as_str().unwrap()).await;

    // ---- 1. A second `found` (capture): refused, registry unchanged.
    let before = snapshot(&orgs[0]).await;
    let r = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "found",
        &json!({"ops_channel": OPS, "members": ["Org3MSP"]}),
    );
    let after = snapshot(&orgs[0]).await;
    t.record(
        "second_found_capture",
        "refused; registry unchanged",
        describe(&r),
        r.is_err() && before == after,
    );

    // ---- 2. A client identity proposes.
    let before = snapshot(&orgs[0]).await;
    let r = cli_invoke(
        devnet,
        h3,
        As::Client,
        "propose",
        &hostile_upgrade("6.0", 2),
    );
    let after = snapshot(&orgs[0]).await;
    t.record(
        "client_proposes",
        "refused forbidden; nothing filed",
        describe(&r),
        refused_with(&r, "forbidden") && before == after,
    );

    // ---- 3. A 20,000-deep JSON payload.
    let before = snapshot(&orgs[0]).await;
    let mut deep = hostile_upgrade("6.0", 2);
    deep["payload"] = json!("DEEP");
    let deep_text = deep.to_string().replace(
        "\"DEEP\"",
        &format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
    );
    let r = cli_invoke_raw(devnet, h3, "propose", &deep_text);
    let after = snapshot(&orgs[0]).await;
    t.record(
        "deep_json_payload",
        "refused bad_argument; nothing filed",
        describe(&r),
        r.is_err() && before == after,
    );

    // ---- 4. ChannelCreate with members [itself]: the electorate is the ops channel's.
    let r = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "propose",
        &json!({
            "kind": "ChannelCreate",
            "target": {"channel": "squat"},
            "payload": {"members": ["Org3MSP"]},
            "spec_ref": {"git_commit": "0".repeat(40), "spec_hash": "0".repeat(64)},
        }),
    );
    let observed;
    let ok;
    match &r {
        Err(_) => {
            observed = describe(&r);
            ok = true;
        }
        Ok(text) => {
            let squat: Vec<Value> = snapshot_list(&orgs[0])
                .await
                .into_iter()
                .filter(|p| p["target"]["channel"] == "squat")
                .collect();
            let id = squat.first().map(|p| p["id"].as_str().unwrap().to_string());
            match id {
                None => {
                    observed = format!("filed but not listed: {}", why(text));
                    ok = false;
                }
                Some(id) => {
                    let _ = cli_invoke(
                        devnet,
                        h3,
                        As::Admin,
                        "vote",
                        &json!({"id": id, "decision": "approve"}),
                    );
                    let _ = cli_invoke(devnet, h3, As::Admin, "tally", &json!({"id": id}));
                    let g = query(&orgs[0], "get", json!({"id": id})).await;
                    let electorate = g["tally"]["electorate"].clone();
                    let state = g["proposal"]["state"].clone();
                    observed = format!(
                        "filed; electorate {electorate}; after Org3's approve+tally: {state}"
                    );
                    // `electorate` is the count, or the list in other versions.
                    ok = (electorate == 3 || electorate.as_array().map(|a| a.len()) == Some(3))
                        && state != "approved"
                        && state != "committed";
                    let _ = cli_invoke(devnet, h3, As::Admin, "withdraw", &json!({"id": id}));
                }
            }
        }
    }
    t.record(
        "channel_create_electorate",
        "electorate = ops members (3); Org3 alone cannot approve",
        observed,
        ok,
    );

    // ---- Agents stopped: the attacker files an unplanned upgrade first.
    stop_all(&mut agents);
    let r = cli_invoke(devnet, h3, As::Admin, "propose", &hostile_upgrade("6.6", 2));
    let unplanned = match &r {
        Ok(_) => kv_proposals(&orgs[0])
            .await
            .into_iter()
            .find(|p| p["state"] == "proposed")
            .map(|p| p["id"].as_str().unwrap().to_string()),
        Err(_) => None,
    };
    let Some(unplanned) = unplanned else {
        panic!(
            "the admin's unplanned upgrade could not even be filed: {}",
            describe(&r)
        );
    };

    // ---- 5. status shows the unplanned proposal and its proposer.
    let (code, text) = status(&agents[0]);
    t.record(
        "status_shows_unplanned",
        "condition Unplanned (exit 5) naming Org3MSP and the proposal",
        format!(
            "exit {code}: {}",
            text.lines()
                .filter(|l| l.contains("condition")
                    || l.contains("Org3MSP")
                    || l.contains("nplanned"))
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        code == 5 && text.contains("Unplanned") && text.contains("Org3MSP"),
    );

    // ---- 6. A client identity votes (Org2's stolen User1).
    let before = snapshot(&orgs[0]).await;
    let r = cli_invoke(
        devnet,
        h2,
        As::Client,
        "vote",
        &json!({"id": unplanned, "decision": "approve"}),
    );
    let v = votes(&orgs[0], &unplanned).await;
    t.record(
        "client_votes",
        "refused forbidden; no Org2 vote recorded",
        describe(&r),
        refused_with(&r, "forbidden")
            && v.iter().all(|v| v["org"] != "Org2MSP")
            && before == snapshot(&orgs[0]).await,
    );

    // ---- 6b. Ballots (several votes in one transaction): a client
    // identity's, then an admin's two votes on one proposal at once.
    let before = snapshot(&orgs[0]).await;
    let ballot = |decision: &str| json!({"function": "vote", "args": {"id": unplanned, "decision": decision}});
    let r = cli_invoke(
        devnet,
        h2,
        As::Client,
        "ballots",
        &json!({"calls": [ballot("approve")]}),
    );
    t.record(
        "client_ballots",
        "refused forbidden; nothing recorded",
        describe(&r),
        refused_with(&r, "forbidden") && before == snapshot(&orgs[0]).await,
    );
    let r = cli_invoke(
        devnet,
        h2,
        As::Admin,
        "ballots",
        &json!({"calls": [ballot("approve"), ballot("reject")]}),
    );
    let v = votes(&orgs[0], &unplanned).await;
    t.record(
        "ballots_vote_twice",
        "refused; no Org2 vote recorded",
        describe(&r),
        r.is_err() && v.iter().all(|v| v["org"] != "Org2MSP") && before == snapshot(&orgs[0]).await,
    );

    // ---- 7. A client identity withdraws.
    let r = cli_invoke(
        devnet,
        h3,
        As::Client,
        "withdraw",
        &json!({"id": unplanned}),
    );
    t.record(
        "client_withdraws",
        "refused forbidden; still proposed",
        describe(&r),
        refused_with(&r, "forbidden") && get(&orgs[0], &unplanned).await["state"] == "proposed",
    );

    // ---- 8. A client identity reports.
    let before = snapshot(&orgs[0]).await;
    let r = cli_invoke(
        devnet,
        h3,
        As::Client,
        "report_task",
        &json!({"id": unplanned, "task": "install", "status": "done"}),
    );
    t.record(
        "client_reports",
        "refused forbidden; nothing recorded",
        describe(&r),
        refused_with(&r, "forbidden") && before == snapshot(&orgs[0]).await,
    );

    // ---- 9. A vote carrying a ConfigSignature.
    let before = snapshot(&orgs[0]).await;
    let r = cli_invoke(
        devnet,
        h2,
        As::Admin,
        "vote",
        &json!({"id": unplanned, "decision": "approve", "config_signature": {"signature_header": "AAAA", "signature": "AAAA"}}),
    );
    let v = votes(&orgs[0], &unplanned).await;
    t.record(
        "vote_with_config_signature",
        "refused; no Org2 vote recorded",
        describe(&r),
        r.is_err() && v.iter().all(|v| v["org"] != "Org2MSP") && before == snapshot(&orgs[0]).await,
    );

    // ---- 10. A signature before the decision, on a channel update (the
    //      kind that is signed) still `proposed`.
    let update = json!({
        "kind": "ChannelUpdate",
        "target": {"channel": "trade"},
        "payload": {"config_update": "CgV0cmFkZRIA"},
        "spec_ref": {"git_commit": "0".repeat(40), "spec_hash": "0".repeat(64), "base_config_sequence": 1},
    });
    let filed = cli_invoke(devnet, h3, As::Admin, "propose", &update);
    let uid = snapshot_list(&orgs[0])
        .await
        .into_iter()
        .rev()
        .find(|p| p["kind"] == "ChannelUpdate" && p["state"] == "proposed")
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let _ = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "vote",
        &json!({"id": uid, "decision": "approve"}),
    );
    let r = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "sign",
        &json!({"id": uid, "config_signature": {"signature_header": "AAAA", "signature": "AAAA"}}),
    );
    // Naming approvals that were never cast does not make a quorum: the
    // contract reads each named vote.
    let named = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "sign",
        &json!({"id": uid, "counted": ["Org1MSP", "Org2MSP", "Org3MSP"], "config_signature": {"signature_header": "AAAA", "signature": "AAAA"}}),
    );
    let sigs = query(&orgs[0], "signatures", json!({"id": uid})).await;
    t.record(
        "sign_before_approval",
        "refused while proposed, also when naming approvals that were never cast; no signature stored",
        format!(
            "update filed {}; sign {}; sign naming every member {}",
            filed.is_ok(),
            describe(&r),
            describe(&named)
        ),
        filed.is_ok()
            && refused_with(&r, "approved")
            && refused_with(&named, "do not reach the quorum")
            && sigs["signatures"].as_array().is_some_and(|a| a.is_empty()),
    );
    // Org3 cleans up its own, unbacked proposal.
    let _ = cli_invoke(devnet, h3, As::Admin, "withdraw", &json!({"id": uid}));

    // ---- 11. report_committed before a decision.
    let r = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "report_committed",
        &json!({"id": unplanned}),
    );
    t.record(
        "report_committed_before_decision",
        "refused; still proposed",
        describe(&r),
        r.is_err() && get(&orgs[0], &unplanned).await["state"] == "proposed",
    );

    // ---- 12. Second vote by the same organization.
    let first = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "vote",
        &json!({"id": unplanned, "decision": "approve"}),
    );
    let r = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "vote",
        &json!({"id": unplanned, "decision": "reject"}),
    );
    let v = votes(&orgs[0], &unplanned).await;
    let org3: Vec<&Value> = v.iter().filter(|v| v["org"] == "Org3MSP").collect();
    t.record(
        "second_vote_same_org",
        "first counted, second refused",
        format!("first {}; second {}", describe(&first), describe(&r)),
        first.is_ok() && r.is_err() && org3.len() == 1 && org3[0]["decision"] == "approve",
    );

    // ---- 13. Withdraw by a non-proposer (Org2's admin).
    let r = cli_invoke(devnet, h2, As::Admin, "withdraw", &json!({"id": unplanned}));
    t.record(
        "withdraw_by_non_proposer",
        "refused forbidden; still proposed",
        describe(&r),
        refused_with(&r, "forbidden") && get(&orgs[0], &unplanned).await["state"] == "proposed",
    );

    // ---- 14. A future-dated expire (Rust gateway, +50 years).
    let r = submit_dated(&orgs[2], "expire", &json!({"id": unplanned}), FIFTY_YEARS).await;
    let state = get(&orgs[0], &unplanned).await["state"].clone();
    t.record(
        "future_dated_expire",
        "at most an attestation; still proposed",
        format!(
            "{}; state {state}",
            match &r {
                Ok(v) => format!("accepted {v}"),
                Err(e) => format!("refused {}", e.chars().take(200).collect::<String>()),
            }
        ),
        state == "proposed",
    );

    // ---- 15. Agents back: every agent rejects the unplanned upgrade within one pass.
    start_all(&mut agents);
    let start = Instant::now();
    let (state, rejects) = loop {
        let v = votes(&orgs[0], &unplanned).await;
        let rejects: Vec<String> = v
            .iter()
            .filter(|v| v["decision"] == "reject")
            .map(|v| format!("{}: {}", v["org"].as_str().unwrap_or("?"), v["reason"]))
            .collect();
        let state = get(&orgs[0], &unplanned).await["state"].clone();
        if (rejects.len() >= 2 && state == "rejected") || start.elapsed() > Duration::from_secs(45)
        {
            break (state, rejects);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    t.record(
        "unplanned_upgrade_rejected",
        "Org1 and Org2 vote reject with a reason within one pass; rejected",
        format!(
            "state {state} after {:?}; rejects {rejects:?}",
            start.elapsed()
        ),
        state == "rejected"
            && rejects.iter().any(|r| r.starts_with("Org1MSP"))
            && rejects.iter().any(|r| r.starts_with("Org2MSP")),
    );

    // ---- 15b. The same attack naming the spec commit every agent has:
    //      whether the rejection above only waits for an unknown commit.
    let head = spec.repo.head().unwrap().target().unwrap().to_string();
    let mut known = hostile_upgrade("6.5", 2);
    known["spec_ref"]["git_commit"] = json!(head);
    let r = cli_invoke(devnet, h3, As::Admin, "propose", &known);
    let kid = kv_proposals(&orgs[0])
        .await
        .into_iter()
        .rev()
        .find(|p| p["state"] == "proposed" && p["id"] != unplanned.as_str())
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let start = Instant::now();
    let (state, rejects) = loop {
        let v = votes(&orgs[0], &kid).await;
        let rejects: Vec<String> = v
            .iter()
            .filter(|v| v["decision"] == "reject")
            .map(|v| format!("{}: {}", v["org"].as_str().unwrap_or("?"), v["reason"]))
            .collect();
        let state = get(&orgs[0], &kid).await["state"].clone();
        if state == "rejected" || start.elapsed() > Duration::from_secs(45) {
            break (state, rejects);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    t.record(
        "unplanned_upgrade_known_commit_rejected",
        "rejected within one pass, with reasons",
        format!(
            "filed {}; state {state} after {:?}; rejects {rejects:?}",
            r.is_ok(),
            start.elapsed()
        ),
        r.is_ok() && state == "rejected" && !rejects.is_empty(),
    );

    // ---- 16. Short deadline on the agents' exact next change.
    let copy_11 = predicted_upgrade(&deploy, "1.1", 2, &package_ids["1.1"]);
    let mut short = copy_11.clone();
    short["deadline"] = json!(now() + 1);
    let before = snapshot(&orgs[0]).await;
    let r = cli_invoke(devnet, h3, As::Admin, "propose", &short);
    t.record(
        "short_deadline_copy",
        "refused bad_argument deadline; nothing filed",
        describe(&r),
        refused_with(&r, "deadline") && before == snapshot(&orgs[0]).await,
    );

    // ---- 17. The agents' exact change filed first with another summary,
    //      then withdrawn by its filer once backed: same proposal, not
    //      withdrawable, and kv 1.1 rolls out.
    stop_all(&mut agents);
    let mut summary = copy_11.clone();
    summary["payload"]["summary"] = json!("nothing to see here");
    let r = cli_invoke(devnet, h3, As::Admin, "propose", &summary);
    let copy_id = kv_proposals(&orgs[0])
        .await
        .into_iter()
        .find(|p| p["state"] == "proposed")
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    start_all(&mut agents);
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("1.1"))], "kv 1.1");
    // Wait until an honest organization backs it (files it too or approves).
    let start = Instant::now();
    let backed = loop {
        let p = get(&orgs[0], &copy_id).await;
        let v = votes(&orgs[0], &copy_id).await;
        if v.iter()
            .any(|v| v["org"] != "Org3MSP" && v["decision"] == "approve")
            || p["also_filed_by"].as_array().is_some_and(|a| !a.is_empty())
        {
            break true;
        }
        if start.elapsed() > Duration::from_secs(60) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let w = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "withdraw",
        &json!({"id": copy_id, "reason": "changed my mind"}),
    );
    let rolled = answering(&orgs, "1.1", Duration::from_secs(150)).await;
    let final_state =
        common::wait_proposal_state(&orgs[0], &copy_id, "committed", Duration::from_secs(30)).await
            ["proposal"]["state"]
            .clone();
    t.record(
        "summary_copy_filed_first",
        "same proposal as the agents'; kv 1.1 rolls out",
        format!(
            "filed {}; backed {backed}; rollout {rolled:?}; state {final_state}",
            describe(&r)
        ),
        r.is_ok() && backed && rolled.is_ok() && final_state == "committed",
    );
    t.record(
        "withdraw_of_backed_proposal",
        "refused; the change still commits",
        describe(&w),
        w.is_err() && final_state == "committed",
    );
    if rolled.is_err() {
        println!("{}", agents_logs(&agents));
    }

    // ---- 18. A claim dated decades ahead on the honest kv 1.2 change.
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("1.2"))], "kv 1.2");
    let start = Instant::now();
    let id_12 = loop {
        let ps = kv_proposals(&orgs[0]).await;
        if let Some(p) = ps.iter().find(|p| p["state"] == "approved") {
            break Some(p["id"].as_str().unwrap().to_string());
        }
        if start.elapsed() > Duration::from_secs(120) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let claim = match &id_12 {
        Some(id) => {
            submit_dated(&orgs[2], "claim_execution", &json!({"id": id}), FIFTY_YEARS).await
        }
        None => Err("kv 1.2 was never approved".into()),
    };
    let rolled = answering(&orgs, "1.2", Duration::from_secs(150)).await;
    t.record(
        "future_dated_claim",
        "kv 1.2 still commits (claim refused or ignored)",
        format!(
            "claim {}; rollout {rolled:?}",
            match &claim {
                Ok(v) => format!("accepted {v}"),
                Err(e) => format!("refused {}", e.chars().take(200).collect::<String>()),
            }
        ),
        id_12.is_some() && rolled.is_ok(),
    );

    // ---- 19. A hostile upgrade approved by two colluding members does not
    //      block the spec's next change; Stalled meanwhile.
    stop_all(&mut agents);
    let hostile = hostile_upgrade("6.7", 4);
    let r = cli_invoke(devnet, h3, As::Admin, "propose", &hostile);
    let hid = kv_proposals(&orgs[0])
        .await
        .into_iter()
        .find(|p| p["state"] == "proposed")
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let a3 = cli_invoke(
        devnet,
        h3,
        As::Admin,
        "vote",
        &json!({"id": hid, "decision": "approve"}),
    );
    let a2 = cli_invoke(
        devnet,
        h2,
        As::Admin,
        "vote",
        &json!({"id": hid, "decision": "approve"}),
    );
    let _ = cli_invoke(devnet, h3, As::Admin, "tally", &json!({"id": hid}));
    let hstate = get(&orgs[0], &hid).await["state"].clone();
    start_all(&mut agents);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (code, text) = status(&agents[0]);
    t.record(
        "hostile_approved_status_stalled",
        "Stalled (exit 4) naming the proposal, its proposer and voters",
        format!(
            "filed {}, approves {} / {}, state {hstate}; status exit {code}: {}",
            r.is_ok(),
            a3.is_ok(),
            a2.is_ok(),
            text.lines()
                .filter(|l| l.contains("condition") || l.contains(&hid[..hid.len().min(12)]))
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        hstate == "approved"
            && code == 4
            && text.contains(&hid[..hid.len().min(12)])
            && text.contains("Org3MSP"),
    );
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("1.3"))], "kv 1.3");
    let rolled = answering(&orgs, "1.3", Duration::from_secs(150)).await;
    let hend = get(&orgs[0], &hid).await["state"].clone();
    t.record(
        "hostile_approved_does_not_block",
        "kv 1.3 rolls out; the hostile proposal ends failed or superseded",
        format!("rollout {rolled:?}; hostile proposal {hend}"),
        rolled.is_ok() && (hend == "failed" || hend == "superseded"),
    );
    if rolled.is_err() {
        println!("{}", agents_logs(&agents));
    }

    // ---- 20. The open-proposal limit per organization (agents stopped, so
    //      nobody rejects the filings).
    stop_all(&mut agents);
    let mut filed = Vec::new();
    let mut refusal = None;
    for i in 0..200u32 {
        let mut p = hostile_upgrade(&format!("9.{i}"), 5);
        p["target"]["chaincode"] = json!(format!("spam{i}"));
        p["payload"]["name"] = json!(format!("spam{i}"));
        p["kind"] = json!("ChaincodeDeploy");
        p["payload"]["sequence"] = json!(1);
        p["spec_ref"]["committed_chaincode_sequence"] = json!(0);
        let arg = serde_json::to_vec(&p).unwrap();
        match orgs[2]
            .gateway
            .submit_transaction(OPS, "opssc", "propose", [arg])
            .await
        {
            Ok(c) => {
                let v: Value = serde_json::from_slice(&c.result).unwrap_or(Value::Null);
                filed.push(v["id"].as_str().unwrap_or_default().to_string());
            }
            Err(e) => {
                let e = chain(&e);
                if e.contains("MVCC") || e.contains("PHANTOM") {
                    continue;
                }
                refusal = Some(e);
                break;
            }
        }
    }
    // Org1's filings are not limited by Org3's.
    let honest = common::submit_ops(&orgs[0], "propose", &{
        let mut p = hostile_upgrade("1.0", 1);
        p["kind"] = json!("ChaincodeDeploy");
        p["target"]["chaincode"] = json!("honest");
        p["payload"]["name"] = json!("honest");
        p["spec_ref"]["committed_chaincode_sequence"] = json!(0);
        p
    })
    .await;
    t.record(
        "open_proposal_limit",
        "Org3 refused after 64 open proposals; Org1 still files",
        format!(
            "{} filed, then {}; Org1 {}",
            filed.len(),
            refusal
                .as_deref()
                .map(why)
                .unwrap_or_else(|| "never refused".into()),
            if honest.is_ok() { "filed" } else { "refused" }
        ),
        refusal
            .as_deref()
            .is_some_and(|e| e.contains("conflict") || e.contains("at most"))
            && (64..=128).contains(&filed.len())
            && honest.is_ok(),
    );
    drop(agents);
    t
}

/// `peer chaincode invoke` of `function` with a raw argument text (for
/// arguments a `Value` cannot hold, like 20,000 nested arrays), as `org`'s admin.
fn cli_invoke_raw(
    devnet: &Devnet,
    org: &OrgHandle,
    function: &str,
    raw: &str,
) -> Result<String, String> {
    let escaped = raw.replace('\\', "\\\\").replace('"', "\\\"");
    cli_invoke_input(
        devnet,
        org,
        As::Admin,
        &format!("{{\"Args\":[\"{function}\",\"{escaped}\"]}}"),
    )
}

/// Every proposal (all pages).
async fn snapshot_list(o: &Org) -> Vec<Value> {
    let list = query(o, "list", json!({"page_size": 200})).await;
    list["items"].as_array().unwrap().clone()
}

/// The agents' next upgrade of kv as a member can predict it: the deploy's
/// payload (as the agents filed it) with the new version, sequence and
/// package. The proposal ID covers kind, target, round and payload only.
fn predicted_upgrade(deploy: &Value, version: &str, sequence: u64, package_id: &str) -> Value {
    let mut payload = deploy["payload"].clone();
    payload["version"] = json!(version);
    payload["sequence"] = json!(sequence);
    payload["package_id"] = json!(package_id);
    payload["package_hash"] = json!(package_id.rsplit_once(':').unwrap().1);
    if let Some(o) = payload.as_object_mut() {
        o.remove("summary");
    }
    json!({
        "kind": "ChaincodeUpgrade",
        "target": deploy["target"],
        "payload": payload,
        "spec_ref": {"git_commit": "0".repeat(40), "spec_hash": "0".repeat(64), "committed_chaincode_sequence": sequence - 1},
    })
}
