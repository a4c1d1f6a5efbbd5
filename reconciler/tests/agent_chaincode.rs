//! Chaincode rollouts driven only by git commits, on a real 3-organization
//! devnet with three `opssc agent` processes.
//!
//! The test deploys the OpsSC chaincode on the `ops` channel and founds its
//! registry (what `opssc dev` / a consortium's founding does once), builds a
//! spec repository (a real git repository; the root commit is every agent's
//! trusted root and lists Org1's admin SSH key), and starts one agent per
//! organization. The agents fetch the spec repository from git hosts on
//! loopback: Org1 and Org3 over https, Org2 over ssh (both transports, and
//! Org2's restart in step 3, against real servers). Then, with no Fabric
//! command from the test:
//! 1. a signed commit adds chaincode `kv` 1.0 → it answers on every org's peer;
//! 2. a signed commit upgrades it to 2.0 (sequence 2, computed) → 2.0 answers
//!    everywhere;
//! 3. a signed commit upgrades it to 3.0 and Org2's agent is SIGKILLed as soon
//!    as the proposal is filed and restarted → 3.0 answers everywhere, one
//!    proposal per sequence, every task reported once per org;
//! 4. a signed commit upgrades it to 4.0; the first executor's agent is
//!    SIGKILLed (its vote cast by hand with `opssc vote`) → another
//!    organization commits after the executor timeout (10 s);
//! 5. a commit signed by an unknown key, and 6. an unsigned commit, change
//!    nothing, and `opssc status` says why;
//! 7. Org3 derives another package for kv 4.5 (its server address differs):
//!    the proposal is rejected with the difference as the reason, nobody
//!    files the rejected change again, and `opssc status` says so.
//!
//! The chaincode servers (the kv chaincode, with a `version` function) run in
//! this process: the organizations' peers dial them as chaincode-as-a-service.
//! Figures (commit → answering on all peers, agent idle RSS and CPU) are
//! printed with the prefix `FIGURE`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Agent, Org, SpecTransport, agents_logs, chain, commit, deploy_opssc, found_spec_repo, query,
    serve, start_agents_over,
};
use opssc_fabric::lifecycle;
use opssc_schema::local::AgentConfig;
use opssc_tests::devnet_support::{Topology, start_devnet};
use serde_json::{Value, json};
use ssh_key::{Algorithm, PrivateKey};

use common::{Versioned, kv_yaml};

/// Waits until every org's own peer answers kv's `version` with `want`.
async fn wait_answering(orgs: &[Org], want: &str, agents: &[Agent], limit: Duration) -> Duration {
    common::wait_answering(orgs, "kv", "version", &[""], want, agents, limit).await
}

async fn kv_proposals(o: &Org) -> Vec<Value> {
    common::proposals_for(o, "kv").await
}

/// RSS (kB) and CPU time (clock ticks) of a process.
fn rss_and_cpu(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = after.split_whitespace().collect();
    let cpu = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (rss, cpu)
}

#[test]
fn chaincode_rollouts_driven_by_git_commits() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
}

async fn scenario(devnet: &opssc_tests::devnet_support::Devnet) {
    let handles = devnet.orgs();
    let orgs = common::orgs_of(devnet).await;
    deploy_opssc(&orgs).await;

    // The chaincode servers every version will dial.
    let mut servers = std::collections::BTreeMap::new();
    for (label, version) in [
        ("kv_1.0", "1.0"),
        ("kv_2.0", "2.0"),
        ("kv_3.0", "3.0"),
        ("kv_4.0", "4.0"),
        ("kv_5.0", "5.0"),
        ("kv_6.0", "6.0"),
        ("kv_4.5", "4.5"),
    ] {
        let (addr, _) = serve(label, Versioned(version)).await;
        servers.insert(label.to_string(), addr);
    }

    // The spec repository: the root lists Org1's admin key and no chaincode.
    let work = tempfile::tempdir().unwrap();
    let spec = found_spec_repo(work.path());
    let repo = &spec.repo;

    // One agent per organization, as a separate process; Org2's fetches the
    // spec over ssh, the others' over https.
    let transport = |msp_id: &str| match msp_id {
        "Org2MSP" => SpecTransport::Ssh,
        _ => SpecTransport::Https,
    };
    let mut agents = start_agents_over(handles, work.path(), &spec, transport, |msp_id, config| {
        config.chaincode_servers = servers.clone();
        if msp_id == "Org3MSP" {
            // Org3 runs kv 4.5 elsewhere: it derives another package ID.
            config
                .chaincode_servers
                .insert("kv_4.5".into(), "kv-elsewhere.org3.example.com:9999".into());
        }
    });

    // Every shared change below is signed by Org1's admin and approved in
    // git by Org2's and Org3's admins (`SpecRepo::commit_consented`, the
    // library function `opssc approve` runs): each organization consents.
    // 1. Deploy.
    let t = Instant::now();
    spec.commit_consented(
        &[("chaincodes/kv.yaml".into(), kv_yaml("1.0"))],
        "add kv 1.0",
    );
    let took = wait_answering(&orgs, "1.0", &agents, Duration::from_secs(240)).await;
    println!(
        "FIGURE deploy kv 1.0: {:.1} s from commit to answering on all 3 peers",
        took.as_secs_f64()
    );
    let _ = t;
    // Each agent got the spec from its git host (no file:// path is left).
    let servers = &agents[0].spec_servers;
    assert!(servers.https.requests() > 0, "no https fetch was served");
    let sshd_log = servers.ssh_log();
    assert!(
        sshd_log.contains("Accepted publickey"),
        "Org2's agent did not fetch over ssh:\n{sshd_log}"
    );
    // The chaincode works across orgs: a put endorsed by two orgs, read on each.
    orgs[0]
        .gateway
        .submit_transaction("trade", "kv", "put", [b"k".as_slice(), b"v1".as_slice()])
        .await
        .unwrap_or_else(|e| panic!("put: {}", chain(&e)));
    // One ordered round on this devnet: a transaction submitted alone, from
    // signing to its commit status (median of 7).
    let mut rounds = Vec::new();
    for i in 0..7 {
        let t = Instant::now();
        let key = format!("round{i}");
        orgs[0]
            .gateway
            .submit_transaction("trade", "kv", "put", [key.as_bytes(), b"x".as_slice()])
            .await
            .unwrap_or_else(|e| panic!("put: {}", chain(&e)));
        rounds.push(t.elapsed());
    }
    rounds.sort();
    let round = rounds[3].as_secs_f64();
    println!(
        "FIGURE one ordered round (median of 7 sequential puts): {:.2} s; lower bounds: 2 rounds (approve, commit: the peer CLI's minimum) {:.1} s, 3 rounds (propose, vote, commit: OpsSC's minimum) {:.1} s, 4 rounds (this agent: propose, vote + own approval, tally, commit + reports) {:.1} s",
        round,
        2.0 * round,
        3.0 * round,
        4.0 * round
    );

    // 2. Upgrade.
    let commit_2 =
        spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("2.0"))], "kv 2.0");
    println!(
        "TRACE commit {commit_2} written at {:?}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    );
    let took = wait_answering(&orgs, "2.0", &agents, Duration::from_secs(240)).await;
    println!(
        "FIGURE upgrade kv 2.0: {:.1} s from commit to answering on all 3 peers",
        took.as_secs_f64()
    );
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", "kv")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (def.sequence, def.version.as_str()),
            (2, "2.0"),
            "{}",
            o.msp_id
        );
        let v = o
            .gateway
            .evaluate_transaction("trade", "kv", "get", [b"k".as_slice()])
            .await
            .unwrap();
        assert_eq!(v, b"v1", "state survives the upgrade on {}", o.msp_id);
    }

    // What each agent did for the upgrade, with times (for the figures).
    for a in &agents {
        let text = std::fs::read_to_string(&a.log).unwrap_or_default();
        for line in text
            .lines()
            .filter(|l| l.contains("acted") && l.contains(&format!("commit={commit_2}")))
        {
            println!("TRACE {} {line}", a.msp_id);
        }
    }

    // `opssc status --watch --until-ready` exits 0 once the upgrade is Ready
    // (its proposal reported committed), the last status printed being Ready.
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["status", "--watch", "--until-ready", "--timeout", "60"])
        .arg("--config")
        .arg(&agents[1].config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "status --watch --until-ready\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("--- "), "{stdout}");
    let last = stdout.rsplit("\n--- ").next().unwrap();
    assert!(last.contains("condition: Ready"), "{stdout}");

    // Idle figures: 10 s with nothing to do.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: Vec<(u64, u64)> = agents.iter().map(|a| rss_and_cpu(a.pid())).collect();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after: Vec<(u64, u64)> = agents.iter().map(|a| rss_and_cpu(a.pid())).collect();
    let tick = 100.0; // USER_HZ
    for (a, (b, e)) in agents.iter().zip(before.iter().zip(after.iter())) {
        println!(
            "FIGURE agent {} idle: RSS {} kB, CPU {:.2}% over 10 s",
            a.msp_id,
            e.0,
            (e.1 - b.1) as f64 / tick / 10.0 * 100.0
        );
    }

    // 3. Upgrade with Org2's agent killed once the proposal is filed.
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("3.0"))], "kv 3.0");
    let start = Instant::now();
    loop {
        let filed = kv_proposals(&orgs[0]).await.len();
        if filed >= 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the 3.0 proposal was never filed\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    agents[1].kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    agents[1].start();
    wait_answering(&orgs, "3.0", &agents, Duration::from_secs(240)).await;

    // One proposal per sequence, all committed (the executor reports it
    // right after the definition commits); every task reported once per org.
    let start = Instant::now();
    let proposals = loop {
        let proposals = kv_proposals(&orgs[0]).await;
        if proposals.iter().all(|p| p["state"] == "committed")
            || start.elapsed() > Duration::from_secs(60)
        {
            break proposals;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(proposals.len(), 3, "{proposals:#?}");
    for p in &proposals {
        assert_eq!(p["state"], "committed", "{p:#}");
        let tasks = query(&orgs[0], "tasks", json!({"id": p["id"]})).await;
        let tasks = tasks["tasks"].as_array().unwrap().clone();
        let mut seen = std::collections::BTreeSet::new();
        for t in &tasks {
            let key = (t["org"].to_string(), t["task"].to_string());
            assert!(
                seen.insert(key.clone()),
                "task {key:?} reported twice: {tasks:#?}"
            );
        }
    }

    // 4. The executor is killed: another organization commits after the
    //    executor timeout. The first executor is known from the proposal ID
    //    (the contract's order); its agent is killed as soon as the proposal
    //    is filed and its vote is cast by hand with `opssc vote`.
    let trusted_4 =
        spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("4.0"))], "kv 4.0");
    let start = Instant::now();
    let id = loop {
        let ps = kv_proposals(&orgs[0]).await;
        if ps.len() >= 4 {
            break ps[3]["id"].as_str().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the 4.0 proposal was never filed\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let members: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    let first = opssc_chaincode::contract::executor_order(&id, &members)[0].clone();
    let e = agents.iter().position(|a| a.msp_id == first).unwrap();
    agents[e].kill();
    let votes = query(&orgs[0], "votes", json!({"id": id})).await;
    let voted = votes["votes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["org"] == first.as_str());
    if !voted {
        let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
            .args([
                "vote",
                &id,
                "approve",
                "--reason",
                "checked by hand",
                "--config",
            ])
            .arg(&agents[e].config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "opssc vote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let start = Instant::now();
    let (approved_at, committed) = loop {
        let got = query(&orgs[0], "get", json!({"id": id})).await;
        if let Some(c) = got["proposal"]["execution"]["committed"].as_object() {
            break (
                got["proposal"]["execution"]["started_at"].as_i64().unwrap(),
                c.clone(),
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "nobody committed after the executor was killed: {got:#}\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by = committed["by"].as_str().unwrap();
    assert_ne!(by, first, "the killed executor cannot have committed");
    let waited = committed["at"].as_i64().unwrap() - approved_at;
    assert!(
        waited >= 10,
        "the next executor took over after the timeout, not before ({waited} s)"
    );
    println!(
        "FIGURE executor {first} killed: {by} committed {waited} s after approval (timeout 10 s)"
    );
    agents[e].start();
    wait_answering(&orgs, "4.0", &agents, Duration::from_secs(120)).await;

    // 5. A commit signed by an unknown key changes nothing, and status says why.
    let mallory = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let unknown = commit(
        repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("5.0"))],
        "kv 5.0 by mallory",
        Some(&mallory),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", "kv")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            def.version, "4.0",
            "a commit signed by an unknown key must change nothing"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["status", "--config"])
        .arg(&agents[2].config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "status is Stalled\n{stdout}");
    assert!(stdout.contains(&format!("REFUSED {unknown}")), "{stdout}");
    // Rewind the branch (as a reviewer reverting the merge would).
    repo.reference("refs/heads/main", trusted_4, true, "revert")
        .unwrap();

    // 6. An unsigned commit changes nothing, and status says why.
    let unsigned = commit(
        repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("6.0"))],
        "kv 6.0 unsigned",
        None,
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", "kv")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(def.version, "4.0", "an unsigned commit must change nothing");
    }
    assert_eq!(
        kv_proposals(&orgs[0]).await.len(),
        4,
        "no proposal for refused commits"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["status", "--config"])
        .arg(&agents[0].config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(4),
        "status is Stalled\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("REFUSED {unsigned}")), "{stdout}");
    assert!(stdout.contains("condition: Stalled"), "{stdout}");
    println!("{stdout}");

    // A pass on a converged network does nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["reconcile", "--once", "--config"])
        .arg(&agents[1].config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "reconcile --once\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert!(
        stdout.contains(&format!("refused spec commit {unsigned}")),
        "{stdout}"
    );

    // Health and metrics.
    let listen = AgentConfig::load(&agents[0].config)
        .unwrap()
        .listen
        .unwrap();
    let metrics = http_get(&listen, "/metrics").await;
    assert!(metrics.contains("opssc_agent_passes_total"), "{metrics}");
    assert!(
        metrics.contains("opssc_agent_refused_commits 1"),
        "{metrics}"
    );
    assert!(
        http_get(&listen, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );

    // 7. Org3 computes another package for kv 4.5 (another server address):
    //    the proposal is rejected with the difference as the reason, and
    //    nobody files the rejected change again.
    repo.reference("refs/heads/main", trusted_4, true, "revert")
        .unwrap();
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("4.5"))], "kv 4.5");
    let start = Instant::now();
    let rejected = loop {
        let ps = kv_proposals(&orgs[0]).await;
        if let Some(p) = ps.iter().find(|p| p["state"] == "rejected") {
            break p["id"].as_str().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the 4.5 proposal was never rejected: {ps:#?}\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let votes = query(&orgs[0], "votes", json!({"id": rejected})).await;
    let reasons: Vec<String> = votes["votes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["decision"] == "reject")
        .map(|v| format!("{}: {}", v["org"], v["reason"]))
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("package_id: proposed")),
        "a reject names the difference: {votes:#}"
    );
    println!("rejected {rejected}: {reasons:?}");
    // Stable: wait for the filings in flight, then 5 s without a new proposal.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = kv_proposals(&orgs[0]).await.len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        kv_proposals(&orgs[0]).await.len(),
        settled,
        "a rejected change is not filed again\n{}",
        agents_logs(&agents)
    );
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", "kv")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(def.version, "4.0", "a rejected change changes nothing");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["status", "--config"])
        .arg(&agents[0].config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(4),
        "status is Stalled\n{stdout}\n{}",
        agents_logs(&agents)
    );
    assert!(stdout.contains("was rejected"), "{stdout}");
    println!("{stdout}");

    // 8. `opssc audit`, as Org3 (any organization gets the same answer),
    //    lists every rollout step by step as the chain and the spec
    //    repository have it: Org1's admin signed each commit, Org2's and
    //    Org3's approved it, and each committed definition names its
    //    `_lifecycle` commit.
    let records = common::audit_against_chain(&agents[2], &orgs[2]).await;
    for version in ["1.0", "2.0", "3.0", "4.0"] {
        let r = records
            .iter()
            .find(|r| {
                r["outcome"] == "committed" && r["change"].as_str().unwrap().ends_with(version)
            })
            .unwrap_or_else(|| panic!("no committed kv {version}: {records:#?}"));
        let spec = &r["spec"]["found"];
        assert_eq!(spec["signed_by"]["org"], "Org1MSP", "{r:#}");
        let approvers: Vec<&str> = spec["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["org"].as_str().unwrap())
            .collect();
        assert!(
            approvers.contains(&"Org2MSP") && approvers.contains(&"Org3MSP"),
            "{r:#}"
        );
        assert_eq!(r["decision"]["outcome"], "approved", "{r:#}");
        assert!(r["execution"]["committed"]["by"].is_string(), "{r:#}");
        assert_eq!(r["applied"]["tx"]["channel"], "trade", "{r:#}");
        assert!(!r["tasks"].as_array().unwrap().is_empty(), "{r:#}");
    }
    let r = records
        .iter()
        .find(|r| r["proposal_id"] == rejected.as_str())
        .unwrap();
    assert_eq!(r["outcome"], "rejected");
    assert!(r["applied"].is_null(), "{r:#}");
    let out = agents[2].opssc(&["audit", "--chaincode", "kv", "--org", "Org3MSP"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[rejected]"), "{text}");
    println!("{text}");
}

async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
