//! Go source chaincode rolled out by the agents, driven only by signed
//! commits to the spec, on a real 3-organization devnet with three
//! `opssc agent` processes (the helpers of `tests/common`).
//!
//! The chaincode (`opssc_tests::gocc`: the official Go contract API, a real
//! module dependency) lives in a local git repository the test creates. The
//! spec pins its commits; each organization's agent fetches the commit into
//! its own mirror, builds the package on its own, votes (`auto`: approve only
//! what it recomputes identically), installs it (the devnet's `opssc-golang`
//! builder compiles it with `go build`), approves, and one commits. Then:
//! 1. a commit adds `gocc` at commit v1 → v1 answers on every org's peer; the
//!    three install tasks name the package ID the test builds itself;
//! 2. a commit pins v2 → upgraded (sequence 2), state kept;
//! 3. a tampered proposal (Org3's admin files the v3 upgrade with another
//!    package: the v1 code under the v3 label) is rejected by the agents,
//!    each reject naming both package IDs; the honest v3 proposal follows and
//!    v3 answers everywhere;
//! 4. a commit pins v4, which does not compile → every organization's
//!    install task fails with go's own message (the agent compiles it locally
//!    to learn why), `opssc status` shows it (Stalled), and v3 keeps serving;
//! 5. the executor reports the v4 proposal failed (too many orgs cannot build
//!    it to commit), and a commit that pins a fixed v5 rolls out.
//!
//! Figures (commit → answering on all peers) are printed with the prefix
//! `FIGURE`. Each run's chaincode answers a fresh nonce, so the peers'
//! builder cache never has the package and every rollout compiles.

mod common;

use std::time::{Duration, Instant};

use common::{Org, agents_logs, chain, deploy_opssc, found_spec_repo, query, start_agents};
use opssc::chaincode_source::{SourceRef, build_source_package};
use opssc_chaincode::api::ProposeArgs;
use opssc_chaincode::model::{Kind, SpecRef, Target};
use opssc_fabric::lifecycle;
use opssc_tests::devnet_support::{Topology, start_devnet};
use opssc_tests::gocc::{ChaincodeRepo, MODULE_DIR, TYPE_ERROR, main_go};
use serde_json::{Value, json};

const CC: &str = "gocc";

fn gocc_yaml(version: &str, url: &str, commit: &str) -> String {
    format!(
        "apiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: {CC}\nspec:\n  channel: trade\n  version: \"{version}\"\n  package:\n    source:\n      git: {url}\n      commit: {commit}\n      path: {MODULE_DIR}\n      language: golang\n  endorsementPolicy: \"OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')\"\n"
    )
}

/// The package ID an organization derives for `commit` (a fresh mirror).
fn package_id(repo: &ChaincodeRepo, commit: &str, label: &str) -> String {
    let mirror = tempfile::tempdir().unwrap();
    let source = SourceRef {
        url: repo.url(),
        commit: commit.to_string(),
        path: MODULE_DIR.into(),
    };
    build_source_package(mirror.path(), &source, label, None)
        .unwrap_or_else(|e| panic!("{}", chain(&e)))
        .package_id
}

async fn proposals(o: &Org) -> Vec<Value> {
    common::proposals_for(o, CC).await
}

async fn tasks(o: &Org, id: &str) -> Vec<Value> {
    query(o, "tasks", json!({"id": id})).await["tasks"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls `f` every 200 ms until it gives a value, for at most `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, agents: &[common::Agent], mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not after {limit:?}\n{}",
            agents_logs(agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn go_chaincode_rollouts_driven_by_git_commits() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
}

async fn scenario(devnet: &opssc_tests::devnet_support::Devnet) {
    opssc_fabric::participation::install_ring_provider();
    let handles = devnet.orgs();
    let orgs = common::orgs_of(devnet).await;
    deploy_opssc(&orgs).await;

    let work = tempfile::tempdir().unwrap();
    let spec = found_spec_repo(work.path());
    let agents = start_agents(handles, work.path(), &spec, |_, _| {});

    // The chaincode repository; a nonce keeps every package new to the
    // peers' builder cache.
    let nonce = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let answer = |v: &str| format!("{v} {nonce}");
    let cc_repo = ChaincodeRepo::new();
    let url = cc_repo.url();

    // ---- 1. deploy v1 ---------------------------------------------------------
    let c1 = cc_repo.commit(&main_go(&answer("v1"), ""), "v1");
    let id1 = package_id(&cc_repo, &c1, "gocc_1");
    spec.commit_consented(
        &[("chaincodes/gocc.yaml".into(), gocc_yaml("1", &url, &c1))],
        "add gocc 1",
    );
    let took = common::wait_answering(
        &orgs,
        CC,
        "Version",
        &[],
        &answer("v1"),
        &agents,
        Duration::from_secs(400),
    )
    .await;
    println!(
        "FIGURE deploy Go chaincode gocc 1: {:.1} s from commit to answering on all 3 peers (compiled by the peers' builder)",
        took.as_secs_f64()
    );
    // Every organization built the same package on its own: its install
    // task names the package ID it installed, which is the one built here.
    let ps = proposals(&orgs[0]).await;
    assert_eq!(ps.len(), 1, "{ps:#?}");
    let p1 = ps[0]["id"].as_str().unwrap().to_string();
    let got = query(&orgs[0], "get", json!({"id": p1})).await;
    assert_eq!(got["proposal"]["payload"]["package_id"], id1.as_str());
    let installs = wait_for(
        "three install tasks",
        Duration::from_secs(60),
        &agents,
        || {
            let (o, p1) = (&orgs[0], p1.clone());
            async move {
                let t: Vec<Value> = tasks(o, &p1)
                    .await
                    .into_iter()
                    .filter(|t| t["task"] == "install")
                    .collect();
                (t.len() == 3).then_some(t)
            }
        },
    )
    .await;
    for t in &installs {
        assert_eq!(t["status"], "done", "{t:#}");
        assert_eq!(t["detail"], id1.as_str(), "{t:#}");
    }
    let put = orgs[0]
        .gateway
        .submit_transaction("trade", CC, "Put", ["colour", "blue"])
        .await
        .unwrap_or_else(|e| panic!("Put: {}", chain(&e)));
    assert_eq!(put.result, b"Org1MSP");

    // ---- 2. upgrade to v2 --------------------------------------------------------
    let c2 = cc_repo.commit(&main_go(&answer("v2"), ""), "v2");
    spec.commit_consented(
        &[("chaincodes/gocc.yaml".into(), gocc_yaml("2", &url, &c2))],
        "gocc 2",
    );
    let took = common::wait_answering(
        &orgs,
        CC,
        "Version",
        &[],
        &answer("v2"),
        &agents,
        Duration::from_secs(400),
    )
    .await;
    println!(
        "FIGURE upgrade Go chaincode gocc 2: {:.1} s from commit to answering on all 3 peers (compiled by the peers' builder)",
        took.as_secs_f64()
    );
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", CC)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (def.sequence, def.version.as_str()),
            (2, "2"),
            "{}",
            o.msp_id
        );
        let v = o
            .gateway
            .evaluate_transaction("trade", CC, "Get", ["colour"])
            .await
            .unwrap_or_else(|e| panic!("Get on {}: {}", o.msp_id, chain(&e)));
        assert_eq!(v, b"blue", "state survives the upgrade on {}", o.msp_id);
    }

    // The agents finish reporting the rollout.
    let p2 = wait_for(
        "the v2 proposal committed",
        Duration::from_secs(60),
        &agents,
        || {
            let o = &orgs[0];
            async move {
                let ps = proposals(o).await;
                (ps.len() == 2 && ps.iter().all(|p| p["state"] == "committed"))
                    .then(|| ps[1]["id"].as_str().unwrap().to_string())
            }
        },
    )
    .await;

    // ---- 3. a tampered proposal for v3 -------------------------------------------
    let c3 = cc_repo.commit(&main_go(&answer("v3"), ""), "v3");
    let honest = package_id(&cc_repo, &c3, "gocc_3");
    // Another package for the same chaincode and label: the v1 code.
    let tampered = package_id(&cc_repo, &c1, "gocc_3");
    assert_ne!(honest, tampered);
    // Org3's admin files it before the spec names v3 (the definition the
    // spec will ask for, with the other package).
    let v3_yaml = gocc_yaml("3", &url, &c3);
    std::fs::write(spec.dir.join("chaincodes/gocc.yaml"), &v3_yaml).unwrap();
    let loaded = opssc_schema::load_dir(&spec.dir);
    let v3_spec = loaded
        .spec
        .unwrap_or_else(|| panic!("the v3 spec is invalid: {:?}", loaded.report));
    let cc = &v3_spec.chaincodes[&("trade".to_string(), CC.to_string())];
    let payload = opssc::plan::proposal::chaincode_payload(cc, 3, &tampered).unwrap();
    let head = spec.repo.head().unwrap().target().unwrap().to_string();
    let args = ProposeArgs {
        kind: Kind::ChaincodeUpgrade,
        target: Target {
            channel: "trade".into(),
            chaincode: Some(CC.into()),
        },
        payload: serde_json::to_value(&payload).unwrap(),
        spec_ref: SpecRef {
            git_commit: head,
            spec_hash: v3_spec.spec_hash.clone(),
            base_config_sequence: None,
            committed_chaincode_sequence: Some(2),
        },
        deadline: None,
        round: 0,
    };
    // The agents' own reports of the v2 rollout may conflict with it: the
    // helper sends it again, as an admin would.
    let filed = common::submit_ops(&orgs[2], "propose", &serde_json::to_value(&args).unwrap())
        .await
        .unwrap_or_else(|e| panic!("propose as Org3's admin: {e}"));
    let tampered_id = filed["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    spec.commit_consented(&[("chaincodes/gocc.yaml".into(), v3_yaml)], "gocc 3");
    let state = wait_for(
        "the tampered proposal decided",
        Duration::from_secs(120),
        &agents,
        || {
            let (o, id) = (&orgs[0], tampered_id.clone());
            async move {
                let got = query(o, "get", json!({"id": id})).await;
                let s = got["proposal"]["state"].as_str().unwrap_or("").to_string();
                (s != "proposed").then_some(s)
            }
        },
    )
    .await;
    assert_eq!(state, "rejected", "the tampered proposal must not pass");
    println!(
        "FIGURE tampered proposal rejected {:.1} s after the spec commit",
        t.elapsed().as_secs_f64()
    );
    let votes = query(&orgs[0], "votes", json!({"id": tampered_id})).await;
    let votes = votes["votes"].as_array().unwrap().clone();
    assert!(
        votes.iter().all(|v| v["decision"] == "reject"),
        "nobody approves another package: {votes:#?}"
    );
    // The quorum is every member, so the first rejection decides (the vote
    // settles it); whichever agent gets there first, Org3's own included:
    // an agent judges a proposal filed in its organization's name like any.
    assert!(!votes.is_empty(), "an agent rejected it: {votes:#?}");
    // An agent that judges it before its spec has v3 rejects it as a
    // proposal its plan does not contain (filed from the trusted v2 commit);
    // one that judges it after recomputes v3 and names the package mismatch.
    for v in &votes {
        let reason = v["reason"].as_str().unwrap();
        if reason.contains("calls for no ChaincodeUpgrade on channel trade for chaincode gocc") {
            println!("reject by {} (unplanned): {reason}", v["org"]);
            continue;
        }
        assert!(
            reason.contains(&format!(
                "package mismatch: the proposal installs {tampered}, this organization builds {honest}"
            )),
            "{reason}"
        );
        assert!(
            reason.contains(&c3),
            "the reason names the commit: {reason}"
        );
        println!("reject by {}: {reason}", v["org"]);
    }
    common::wait_answering(
        &orgs,
        CC,
        "Version",
        &[],
        &answer("v3"),
        &agents,
        Duration::from_secs(400),
    )
    .await;
    println!(
        "FIGURE upgrade Go chaincode gocc 3 after a rejected tampered proposal: {:.1} s from the spec commit to answering on all 3 peers",
        t.elapsed().as_secs_f64()
    );
    let def = lifecycle::query_committed(&orgs[1].endorser, "trade", CC)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((def.sequence, def.version.as_str()), (3, "3"));
    // The executor reports the commit right after it.
    let earlier = [p1.clone(), p2.clone(), tampered_id.clone()];
    let honest_p = wait_for(
        "the honest v3 proposal committed",
        Duration::from_secs(60),
        &agents,
        || {
            let (o, earlier) = (&orgs[0], earlier.clone());
            async move {
                proposals(o).await.into_iter().find_map(|p| {
                    let id = p["id"].as_str().unwrap().to_string();
                    (p["state"] == "committed" && !earlier.contains(&id)).then_some(id)
                })
            }
        },
    )
    .await;
    let got = query(&orgs[0], "get", json!({"id": honest_p})).await;
    assert_eq!(got["proposal"]["payload"]["package_id"], honest.as_str());

    // ---- 4. v4 does not compile ---------------------------------------------------
    let c4 = cc_repo.commit(&main_go(&answer("v4"), TYPE_ERROR), "v4, broken");
    let broken = package_id(&cc_repo, &c4, "gocc_4");
    let t = Instant::now();
    spec.commit_consented(
        &[("chaincodes/gocc.yaml".into(), gocc_yaml("4", &url, &c4))],
        "gocc 4",
    );
    let known = [
        p1.clone(),
        p2.clone(),
        tampered_id.clone(),
        honest_p.clone(),
    ];
    let p4 = wait_for("the v4 proposal", Duration::from_secs(120), &agents, || {
        let (o, known) = (&orgs[0], known.clone());
        async move {
            proposals(o).await.into_iter().find_map(|p| {
                let id = p["id"].as_str().unwrap().to_string();
                (!known.contains(&id)).then_some(id)
            })
        }
    })
    .await;
    let failed = wait_for(
        "every organization's failed install task",
        Duration::from_secs(300),
        &agents,
        || {
            let (o, id) = (&orgs[0], p4.clone());
            async move {
                let t: Vec<Value> = tasks(o, &id)
                    .await
                    .into_iter()
                    .filter(|t| t["task"] == "install" && t["status"] == "failed")
                    .collect();
                (t.len() == 3).then_some(t)
            }
        },
    )
    .await;
    println!(
        "FIGURE broken Go chaincode gocc 4: every organization reported its failed install {:.1} s after the spec commit",
        t.elapsed().as_secs_f64()
    );
    for t in &failed {
        let detail = t["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{broken} does not compile:")),
            "{detail}"
        );
        assert!(
            detail.contains("main.go:") && detail.contains("cannot use \"not a number\""),
            "the compiler's own message: {detail}"
        );
        assert!(!detail.contains("/tmp/"), "no machine paths: {detail}");
    }
    println!(
        "failed install task of {}: {}",
        failed[0]["org"], failed[0]["detail"]
    );
    // Reported once per organization, however many passes ran meanwhile.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let again: Vec<Value> = tasks(&orgs[0], &p4)
        .await
        .into_iter()
        .filter(|t| t["task"] == "install")
        .collect();
    assert_eq!(again.len(), 3, "{again:#?}");
    // `opssc status` shows the compiler's error.
    let out = agents[0].opssc(&["status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("install: Failed") && stdout.contains("cannot use \"not a number\""),
        "status shows the failed task\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(4), "Stalled\n{stdout}");
    assert!(
        stdout.contains("condition: Stalled")
            && stdout.contains(&format!(
                "Org2MSP's install task failed: {broken} does not compile"
            )),
        "{stdout}"
    );
    println!("{stdout}");
    // The running version keeps serving, on every peer.
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", CC)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (def.sequence, def.version.as_str()),
            (3, "3"),
            "{}",
            o.msp_id
        );
        let v = o
            .gateway
            .evaluate_transaction("trade", CC, "Version", Vec::<&str>::new())
            .await
            .unwrap_or_else(|e| panic!("Version on {}: {}", o.msp_id, chain(&e)));
        assert_eq!(String::from_utf8(v).unwrap(), answer("v3"), "{}", o.msp_id);
    }
    // What the peers' builder did (for the figures): compile or cache, and how long.
    for h in handles {
        let log = std::fs::read_to_string(&h.peers[0].log).unwrap_or_default();
        for line in log.lines().filter(|l| {
            l.contains("opssc-golang build:")
                && (l.contains(" built ") || l.contains("cached build") || l.contains("failed"))
        }) {
            let text = line.split("opssc-golang build:").nth(1).unwrap_or(line);
            println!("TRACE {} builder:{text}", h.msp_id);
        }
    }
    let put = orgs[1]
        .gateway
        .submit_transaction("trade", CC, "Put", ["colour", "green"])
        .await
        .unwrap_or_else(|e| panic!("Put: {}", chain(&e)));
    assert_eq!(put.result, b"Org2MSP");

    // ---- 5. the executor ends the rollout that cannot commit; a fix follows -----
    let got = wait_for(
        "the v4 proposal failed",
        Duration::from_secs(60),
        &agents,
        || {
            let (o, id) = (&orgs[0], p4.clone());
            async move {
                let got = query(o, "get", json!({"id": id})).await;
                (got["proposal"]["state"] == "failed").then_some(got)
            }
        },
    )
    .await;
    let failure = got["proposal"]["execution"]["failures"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        failure.contains(&format!("package {broken} does not compile on ")),
        "{got:#}"
    );
    let c5 = cc_repo.commit(&main_go(&answer("v5"), ""), "v5, fixed");
    let t = Instant::now();
    spec.commit_consented(
        &[("chaincodes/gocc.yaml".into(), gocc_yaml("5", &url, &c5))],
        "gocc 5",
    );
    common::wait_answering(
        &orgs,
        CC,
        "Version",
        &[],
        &answer("v5"),
        &agents,
        Duration::from_secs(400),
    )
    .await;
    println!(
        "FIGURE fixed Go chaincode gocc 5 after the failed 4: {:.1} s from the spec commit to answering on all 3 peers",
        t.elapsed().as_secs_f64()
    );
    for o in &orgs {
        let def = lifecycle::query_committed(&o.endorser, "trade", CC)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (def.sequence, def.version.as_str()),
            (4, "5"),
            "{}",
            o.msp_id
        );
    }
    // The failed proposal is never executed. It stays failed, unless the
    // organization that filed it also filed the fix: the contract closes a
    // proposer's failed proposal for the same target with its next change
    // (superseded, pointing at the fix), so it leaves the open index.
    let got = query(&orgs[0], "get", json!({"id": p4})).await;
    let state = got["proposal"]["state"].as_str().unwrap_or_default();
    match state {
        "failed" => {}
        "superseded" => {
            let by = got["proposal"]["superseded_by"]
                .as_str()
                .unwrap_or_default();
            let fix =
                common::wait_proposal_state(&orgs[0], by, "committed", Duration::from_secs(30))
                    .await;
            assert_eq!(fix["proposal"]["state"], "committed", "{got:#}\n{fix:#}");
            assert_eq!(
                fix["proposal"]["proposer"], got["proposal"]["proposer"],
                "only its own proposer's next change closes a failed proposal"
            );
            assert_eq!(fix["proposal"]["payload"]["version"], "5", "{fix:#}");
        }
        other => {
            panic!("the failed proposal ends failed or superseded by the fix, not {other}: {got:#}")
        }
    }
}
