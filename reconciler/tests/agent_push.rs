//! Reacting to a push, and recovering at the speed of a fault, on a real
//! 3-organization devnet with three `opssc agent` processes.
//!
//! The agents poll the spec repository only every 300 s, so nothing but a
//! webhook explains a pass on a new commit within a second:
//! 1. a consented commit adds chaincode `kv` 1.0; a push webhook whose
//!    GitHub signature was made with another secret is refused (401) and no
//!    pass runs on the commit; the GitHub-signed webhook then makes every
//!    agent start a pass on it within 1 s (read from the agents' logs), and
//!    kv 1.0 answers everywhere;
//! 2. a consented commit upgrades kv to 2.0 (the time of a rollout without
//!    a fault);
//! 3. a consented commit upgrades kv to 3.0 and the webhooks announce it;
//!    the (only) orderer is SIGKILLed 3 s later and restarted 3 s after
//!    that: the rollout finishes within a generous bound after the
//!    orderer is back (before this change, each transaction in flight at
//!    the crash waited the full 60 s commit-status timeout; but whether a
//!    transaction is in flight at the crash is luck, so:)
//! 4. a transaction the orderer accepted is lost by killing the orderer
//!    right after Submit: it does not commit after the orderer is back;
//!    sent again with the same transaction ID it commits once, and a
//!    further copy changes nothing.
//!
//! Figures are printed with the prefix `FIGURE`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Agent, Versioned, agents_logs, deploy_opssc, found_spec_repo, kv_yaml, org, serve};
use opssc::agent::webhook::{Headers, github_push};
use opssc_fabric::tx::ChaincodeCall;
use opssc_schema::local::{AgentConfig, PushWebhookConfig, SpecSource};
use opssc_tests::devnet_support::{Devnet, Topology, start_devnet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "push-test-secret";

#[test]
fn push_webhooks_and_an_orderer_crash() {
    let mut devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&mut devnet));
}

/// Sends `POST path` with `headers` and `body` to `address`; the status
/// line of the answer.
async fn post(address: &str, path: &str, headers: &Headers, body: &[u8]) -> String {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in &headers.0 {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut sock = tokio::net::TcpStream::connect(address).await.unwrap();
    sock.write_all(request.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).await.unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

/// Posts a push webhook to the agent's receiver.
async fn hook(agent: &Agent, headers: &Headers, body: &[u8]) -> String {
    post(&hook_address(agent), "/hooks/push", headers, body).await
}

/// The agent's hook address, from its configuration.
fn hook_address(agent: &Agent) -> String {
    AgentConfig::load(&agent.config)
        .unwrap()
        .push_webhook
        .expect("the test configures a push webhook")
        .listen
}

fn log_of(agent: &Agent) -> String {
    std::fs::read_to_string(&agent.log).unwrap_or_default()
}

/// How many passes the agent started on `commit` (the daemon's debug line).
fn passes_on(agent: &Agent, commit: &str) -> usize {
    log_of(agent)
        .lines()
        .filter(|l| l.contains("pass starts") && l.contains(commit))
        .count()
}

/// Waits until `cond` holds, polling every 10 ms; the time it took, or None
/// after `limit`.
async fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn scenario(devnet: &mut Devnet) {
    let handles = devnet.orgs().to_vec();
    let mut orgs = Vec::new();
    for h in &handles {
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
    let secret_file = work.path().join("hook-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let agents = common::start_agents(&handles, work.path(), &spec, |_, config| {
        config.chaincode_servers = servers.clone();
        if let Some(SpecSource::Git { poll_seconds, .. }) = &mut config.spec {
            *poll_seconds = Some(300);
        }
        config.push_webhook = Some(PushWebhookConfig {
            listen: format!("127.0.0.1:{}", common::free_port()),
            secret_file: Some(secret_file.clone()),
            secret_env: None,
        });
    });
    let root = spec.root.to_string();
    for a in &agents {
        let started = until(Duration::from_secs(120), || {
            let log = log_of(a);
            log.contains("receiving push webhooks") && passes_on(a, &root) > 0
        })
        .await;
        assert!(
            started.is_some(),
            "agent {} did not start its webhook receiver and a pass\n{}",
            a.msp_id,
            agents_logs(&agents)
        );
    }

    // 1. A pass on demand, so that the next periodic one (30 s) is far.
    for a in &agents {
        let before = passes_on(a, &root);
        let status = post(&listen_of(&a.config), "/trigger", &Headers::default(), b"").await;
        assert!(
            status.contains("202"),
            "{}: /trigger answered {status}",
            a.msp_id
        );
        assert!(
            until(Duration::from_secs(10), || passes_on(a, &root) > before)
                .await
                .is_some(),
            "/trigger ran no pass on {}",
            a.msp_id
        );
    }
    let t_commit = Instant::now();
    let c1 = spec
        .commit_consented(
            &[("chaincodes/kv.yaml".into(), kv_yaml("1.0"))],
            "add kv 1.0",
        )
        .to_string();
    // A webhook signed with another secret: refused, nothing runs.
    let (forged, body) = github_push(b"not the secret", "refs/heads/main");
    for a in &agents {
        let status = hook(a, &forged, &body).await;
        assert!(status.contains("401"), "{}: {status}", a.msp_id);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for a in &agents {
        assert_eq!(
            passes_on(a, &c1),
            0,
            "a badly signed webhook made {} run a pass\n{}",
            a.msp_id,
            a.log_tail()
        );
        assert!(
            log_of(a).contains("push webhook refused"),
            "{} did not log the refusal\n{}",
            a.msp_id,
            a.log_tail()
        );
    }
    // The real one, to every agent at once (an agent's pass also wakes the
    // others, through the block it writes, but only after a round trip to
    // the orderer): each starts a pass on the commit within 1 s of its own.
    let (signed, body) = github_push(SECRET.as_bytes(), "refs/heads/main");
    let posts = agents.iter().map(|a| {
        let (signed, body, c1) = (&signed, &body, &c1);
        async move {
            let posted = Instant::now();
            let status = hook(a, signed, body).await;
            assert!(status.contains("202"), "{}: {status}", a.msp_id);
            until(Duration::from_secs(10), || passes_on(a, c1) > 0).await;
            (a, posted.elapsed())
        }
    });
    let mut reactions = Vec::new();
    for (a, took) in futures_join(posts).await {
        assert!(
            passes_on(a, &c1) > 0,
            "the webhook did not make {} run a pass\n{}",
            a.msp_id,
            a.log_tail()
        );
        reactions.push((a.msp_id.clone(), took));
    }
    println!(
        "FIGURE push webhook → pass started on the new commit: {}",
        reactions
            .iter()
            .map(|(m, t)| format!("{m} {:.0} ms", t.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (msp, took) in &reactions {
        assert!(
            *took < Duration::from_secs(1),
            "{msp} started its pass {took:?} after the webhook"
        );
    }
    common::wait_answering(
        &orgs,
        "kv",
        "version",
        &[""],
        "1.0",
        &agents,
        Duration::from_secs(240),
    )
    .await;
    println!(
        "FIGURE deploy kv 1.0 via webhooks (poll 300 s): {:.1} s from commit to answering on all 3 peers",
        t_commit.elapsed().as_secs_f64()
    );

    // 2. An upgrade without a fault, for comparison.
    let t_commit = Instant::now();
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("2.0"))], "kv 2.0");
    for a in &agents {
        let status = hook(a, &signed, &body).await;
        assert!(status.contains("202"), "{}: {status}", a.msp_id);
    }
    common::wait_answering(
        &orgs,
        "kv",
        "version",
        &[""],
        "2.0",
        &agents,
        Duration::from_secs(240),
    )
    .await;
    let healthy = t_commit.elapsed();
    println!(
        "FIGURE upgrade kv 2.0 via webhooks, no fault: {:.1} s from commit to answering on all 3 peers",
        healthy.as_secs_f64()
    );

    // 3. The orderer crashes during an upgrade.
    let orderer = devnet.orderers()[0].name.clone();
    let t_commit = Instant::now();
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("3.0"))], "kv 3.0");
    for a in &agents {
        let status = hook(a, &signed, &body).await;
        assert!(status.contains("202"), "{}: {status}", a.msp_id);
    }
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(t_commit.elapsed())).await;
    let t_kill = Instant::now();
    tokio::task::block_in_place(|| devnet.kill_orderer(&orderer)).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| devnet.restart_orderer(&orderer).map(|_| ()))
        .unwrap_or_else(|e| panic!("the orderer did not come back: {e}"));
    let back = Instant::now();
    let outage = back - t_kill;
    common::wait_answering(
        &orgs,
        "kv",
        "version",
        &[""],
        "3.0",
        &agents,
        Duration::from_secs(240),
    )
    .await;
    let total = t_commit.elapsed();
    let after_back = back.elapsed();
    println!(
        "FIGURE orderer SIGKILLed 3 s after the kv 3.0 commit, back (healthy) {:.1} s later: converged {:.1} s after the commit, {:.1} s after the orderer was back; {:.1} s more than the upgrade without a fault, {:.1} s beyond the outage",
        outage.as_secs_f64(),
        total.as_secs_f64(),
        after_back.as_secs_f64(),
        total.as_secs_f64() - healthy.as_secs_f64(),
        total.as_secs_f64() - healthy.as_secs_f64() - outage.as_secs_f64()
    );
    let resent = agents
        .iter()
        .map(|a| {
            log_of(a)
                .matches("nothing committed yet: sending the transaction again")
                .count()
        })
        .sum::<usize>();
    println!("FIGURE transactions sent again by the agents during the outage: {resent}");
    // Generous: a normal upgrade takes a few seconds here; a transaction
    // lost in the crash used to wait 60 s.
    assert!(
        after_back < Duration::from_secs(25),
        "the rollout took {after_back:?} after the orderer was back\n{}",
        agents_logs(&agents)
    );

    // 4. The mechanism itself, deterministically: a transaction the orderer
    // accepted (Submit answered SUCCESS) and lost in a crash before cutting
    // its block (BatchTimeout 500 ms) never commits by itself; sent again
    // with the same transaction ID, it commits once.
    let gw = &orgs[0].gateway;
    let proposal = ChaincodeCall::new(
        "trade",
        "kv",
        "put",
        [b"lost".as_slice(), b"once".as_slice()],
    )
    .sign(gw.signer().as_ref())
    .unwrap();
    let endorsed = gw
        .endorse(&proposal, &[])
        .await
        .unwrap_or_else(|e| panic!("endorse: {}", common::chain(&e)));
    gw.submit(&endorsed)
        .await
        .unwrap_or_else(|e| panic!("submit: {}", common::chain(&e)));
    tokio::task::block_in_place(|| devnet.kill_orderer(&orderer)).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| devnet.restart_orderer(&orderer).map(|_| ()))
        .unwrap_or_else(|e| panic!("the orderer did not come back: {e}"));
    // The orderer is back, but the transaction is gone: it does not commit
    // by itself.
    let waited = gw.commit_status(&endorsed.channel, &endorsed.tx_id);
    let lost = tokio::time::timeout(Duration::from_secs(8), waited).await;
    assert!(
        lost.is_err(),
        "the transaction was not lost in the crash: {lost:?} (the test lost its point)"
    );
    let resent = Instant::now();
    let (code, block) = gw
        .submit_until_committed(&endorsed)
        .await
        .unwrap_or_else(|e| panic!("resubmitting the lost transaction: {}", common::chain(&e)));
    println!(
        "FIGURE a transaction lost in an orderer crash, sent again: committed {:.1} s later in block {block}",
        resent.elapsed().as_secs_f64()
    );
    assert_eq!(code, opssc_fabric::protos::peer::TxValidationCode::Valid);
    let value = gw
        .evaluate_transaction("trade", "kv", "get", ["lost"])
        .await
        .unwrap_or_else(|e| panic!("get: {}", common::chain(&e)));
    assert_eq!(value, b"once");
    // Sent once more after it committed: a duplicate, applied nothing, and
    // the answer is still the first copy's.
    let (again, at) = gw.submit_until_committed(&endorsed).await.unwrap();
    assert_eq!((again, at), (code, block));
}

/// The agent's `listen` address (for `/trigger`).
fn listen_of(config: &Path) -> String {
    AgentConfig::load(config)
        .unwrap()
        .listen
        .expect("the test agents listen")
}

/// Runs the futures concurrently on this task; their outputs in order.
async fn futures_join<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future finished"))
        .collect()
}
