//! Consent per organization, end to end: no single administrator moves the
//! consortium (issue 17). One 3-organization devnet with three `opssc agent`
//! processes; the spec root lists one admin key per organization
//! (`common::ADMINS`). The cases run in sequence on the same network:
//!
//! a. a chaincode upgrade signed by Org1's admin alone is filed but Org2 and
//!    Org3 do not approve it (their `opssc status` names the missing consent
//!    and the command to give it) until their admins approve the commit in
//!    git (`opssc::source::approve`, what `opssc approve` runs); then it
//!    rolls out;
//! b. a commit by Org2's admin that adds an admin key to Org1's document is
//!    refused by every agent (status REFUSED naming the file, the signer and
//!    who must sign), and nothing of it is applied;
//! c. a force-push rewinding the branch to an older signed commit is refused
//!    by every agent, and nothing is downgraded.
//!
//! Not covered here yet: a `votePolicy: manual` organization approving an
//! OrgAdd with `opssc vote` (it needs the agent's sign-after-approval step).

mod common;

use std::time::{Duration, Instant};

use common::{Agent, Org, agents_logs, deploy_opssc, found_spec_repo, org, query, serve};
use opssc_fabric::lifecycle;
use opssc_tests::devnet_support::{Topology, start_devnet};
use serde_json::{Value, json};
use ssh_key::{Algorithm, PrivateKey};

use common::{Versioned, kv_yaml};

async fn wait_answering(orgs: &[Org], want: &str, agents: &[Agent], limit: Duration) -> Duration {
    common::wait_answering(orgs, "kv", "version", &[""], want, agents, limit).await
}

/// The version of kv committed on each organization's peer.
async fn committed_versions(orgs: &[Org]) -> Vec<String> {
    let mut out = Vec::new();
    for o in orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", "kv")
            .await
            .unwrap()
            .expect("kv is committed");
        out.push(def.version);
    }
    out
}

/// `opssc status` of `agent`: exit code and standard output.
fn status(agent: &Agent) -> (Option<i32>, String) {
    let out = agent.opssc(&["status"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// The organizations that voted `decision` on proposal `id`.
async fn voters(o: &Org, id: &str, decision: &str) -> Vec<String> {
    let votes = query(o, "votes", json!({"id": id})).await;
    votes["votes"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["decision"] == decision)
                .filter_map(|v| v["org"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn no_single_admin_moves_the_consortium() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(&devnet));
}

async fn scenario(devnet: &opssc_tests::devnet_support::Devnet) {
    let handles = devnet.orgs();
    let mut orgs = Vec::new();
    for h in handles {
        orgs.push(org(h).await);
    }
    deploy_opssc(&orgs).await;
    let mut servers = std::collections::BTreeMap::new();
    for (label, version) in [("kv_1.0", "1.0"), ("kv_2.0", "2.0"), ("kv_3.0", "3.0")] {
        let (addr, _) = serve(label, Versioned(version)).await;
        servers.insert(label.to_string(), addr);
    }
    let work = tempfile::tempdir().unwrap();
    let spec = found_spec_repo(work.path());
    let agents = common::start_agents(handles, work.path(), &spec, |_, config| {
        config.chaincode_servers = servers.clone();
    });

    // kv 1.0, consented by every organization.
    let c1 = spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("1.0"))], "kv 1.0");
    wait_answering(&orgs, "1.0", &agents, Duration::from_secs(240)).await;

    // (a) kv 2.0 signed by Org1's admin alone: filed, not approved by Org2/Org3.
    let c2 = spec.commit(&[("chaincodes/kv.yaml".into(), kv_yaml("2.0"))], "kv 2.0");
    let start = Instant::now();
    let id = loop {
        let ps = common::proposals_for(&orgs[0], "kv").await;
        if let Some(p) = ps.iter().find(|p| p["state"] == "proposed") {
            break p["id"].as_str().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the kv 2.0 proposal is never filed: {ps:#?}\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Time for every agent to pass over it (a 1 s poll, passes on events).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let approved = voters(&orgs[0], &id, "approve").await;
    assert!(
        !approved.iter().any(|o| o == "Org2MSP" || o == "Org3MSP"),
        "Org2 and Org3 did not consent, yet approved: {approved:?}\n{}",
        agents_logs(&agents)
    );
    assert_eq!(committed_versions(&orgs).await, vec!["1.0"; 3]);
    let short = &c2.to_string()[..12];
    for a in &agents[1..] {
        let (_, out) = status(a);
        assert!(
            out.contains(&format!("waiting for {}'s consent", a.msp_id))
                && out.contains(&format!("opssc approve {short}")),
            "{}'s status names the missing consent and what to run:\n{out}",
            a.msp_id
        );
    }
    let pending = common::proposals_for(&orgs[0], "kv").await;
    let state_of = |ps: &[Value]| {
        ps.iter()
            .find(|p| p["id"] == id.as_str())
            .map(|p| p["state"].clone())
    };
    assert_eq!(state_of(&pending), Some(json!("proposed")));
    // Their admins approve the commit in git: it rolls out.
    spec.approve(c2, "Org2MSP");
    spec.approve(c2, "Org3MSP");
    let took = wait_answering(&orgs, "2.0", &agents, Duration::from_secs(240)).await;
    println!(
        "FIGURE kv 2.0: {:.1} s from the last approval to answering on all 3 peers",
        took.as_secs_f64()
    );
    let approved = voters(&orgs[0], &id, "approve").await;
    assert!(
        approved.iter().any(|o| o == "Org2MSP") || approved.iter().any(|o| o == "Org3MSP"),
        "{approved:?}"
    );

    // (b) Org2's admin adds a key to Org1's document (and bumps kv to 3.0
    //     in the same commit): every agent refuses the whole commit.
    let mallory = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let mut org1 = std::fs::read_to_string(spec.dir.join("orgs/org1.yaml")).unwrap();
    org1.push_str(&format!(
        "    - name: mallory\n      signingKey: \"{}\"\n",
        mallory.public_key().to_openssh().unwrap()
    ));
    let hostile = common::commit(
        &spec.repo,
        &[
            ("orgs/org1.yaml".into(), org1),
            ("chaincodes/kv.yaml".into(), kv_yaml("3.0")),
        ],
        "Org2 adds an admin key to Org1",
        Some(spec.admin_of("Org2MSP")),
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    for a in &agents {
        let (code, out) = status(a);
        assert_eq!(code, Some(4), "{} is Stalled\n{out}", a.msp_id);
        assert!(
            out.contains(&format!("REFUSED {hostile}"))
                && out.contains("orgs/org1.yaml")
                && out.contains("Org2MSP/bob")
                && out.contains("an admin of Org1MSP must sign it"),
            "{}'s status names the file, the signer and who must sign:\n{out}",
            a.msp_id
        );
    }
    assert_eq!(committed_versions(&orgs).await, vec!["2.0"; 3]);
    assert!(
        common::proposals_for(&orgs[0], "kv")
            .await
            .iter()
            .all(|p| p["state"] != "proposed"),
        "nothing of the refused commit is filed"
    );
    // A reviewer reverts it: the branch is back at the last good commit.
    spec.repo
        .reference("refs/heads/main", c2, true, "revert the hostile commit")
        .unwrap();

    // (c) A force-push back to kv 1.0's commit: refused, nothing downgraded.
    tokio::time::sleep(Duration::from_secs(3)).await;
    spec.repo
        .reference("refs/heads/main", c1, true, "force-push to an older commit")
        .unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    for a in &agents {
        let (code, out) = status(a);
        assert_eq!(code, Some(4), "{} is Stalled\n{out}", a.msp_id);
        assert!(
            out.contains("the branch does not move forward"),
            "{}'s status says the branch was rewound:\n{out}",
            a.msp_id
        );
    }
    assert_eq!(committed_versions(&orgs).await, vec!["2.0"; 3]);
    assert!(
        common::proposals_for(&orgs[0], "kv")
            .await
            .iter()
            .all(|p| p["state"] != "proposed"),
        "nothing is filed from the rewound branch\n{}",
        agents_logs(&agents)
    );
}
