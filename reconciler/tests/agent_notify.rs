//! Outgoing notifications and `/metrics`, end to end (issue 21 parts 2 and
//! 5): one 3-organization devnet with three `opssc agent` processes. Org1
//! and Org2 vote by hand (`votePolicy: manual`, the test runs `opssc vote`
//! for both); Org3 votes automatically. A local HTTP receiver
//! (a plain tokio listener recording requests) is Org1's webhook (JSON, every
//! event, a secret header from a file) and Org2's (Slack format, failed
//! tasks only).
//!
//! 1. The receiver is down when kv 1.0 is committed: Org1's agent fails to
//!    deliver "vote needed" and retries; once the receiver is up, the
//!    notification arrives, with the plan of the change and the vote
//!    command. Org1's `/metrics` shows one vote pending; the test votes with
//!    `opssc vote` and kv 1.0 rolls out; `/metrics` then shows no vote
//!    pending, one committed proposal, a recent successful pass and the
//!    notification sent.
//! 2. A Go chaincode whose source does not compile: the test votes on it
//!    (from the "vote needed" notification's proposal ID); every
//!    organization's install fails, and a "task failed" notification arrives
//!    at Org1 (JSON, with the compiler's message) and at Org2 (Slack
//!    `{"text"}`); Org1 also announces that it is stalled; each event
//!    arrives once, also after Org1's agent restarts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Agent, agents_logs, deploy_opssc, found_spec_repo, serve};
use opssc_schema::local::{
    AgentConfig, NotificationConfig, NotificationEvent, NotificationFormat, SecretHeader,
    VotePolicy,
};
use opssc_tests::devnet_support::{Topology, start_devnet};
use opssc_tests::gocc::{ChaincodeRepo, MODULE_DIR, TYPE_ERROR, main_go};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{Versioned, kv_yaml};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    /// Header lines, lower-cased names.
    head: String,
    body: String,
}

type Log = Arc<Mutex<Vec<Request>>>;

/// Reads one HTTP/1.1 request (head and Content-Length body).
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = text[..end].to_string();
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            return Some(Request {
                path,
                head: head.to_ascii_lowercase(),
                body,
            });
        }
    }
}

/// Starts the receiver on `port`: answers 200 and records every request.
async fn start_receiver(port: u16, log: Log) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let log = log.clone();
            tokio::spawn(async move {
                if let Some(r) = read_request(&mut sock).await {
                    log.lock().unwrap().push(r);
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                }
            });
        }
    });
}

/// The JSON events Org1's webhook got.
fn org1_events(log: &Log) -> Vec<Value> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/org1")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

/// Waits for Org1's first event of `kind` that `pick` accepts.
async fn wait_event(
    log: &Log,
    kind: &str,
    limit: Duration,
    agents: &[Agent],
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        if let Some(e) = org1_events(log)
            .into_iter()
            .find(|e| e["event"] == kind && pick(e))
        {
            return e;
        }
        assert!(
            start.elapsed() < limit,
            "no {kind} notification after {limit:?}; got {:#?}\n{}",
            org1_events(log),
            agents_logs(agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The agent's `/metrics` text (empty while the agent does not listen).
async fn metrics(agent: &Agent) -> String {
    let listen = AgentConfig::load(&agent.config).unwrap().listen.unwrap();
    let Ok(mut sock) = tokio::net::TcpStream::connect(&listen).await else {
        return String::new();
    };
    let mut out = String::new();
    if sock
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .is_err()
        || sock.read_to_string(&mut out).await.is_err()
    {
        return String::new();
    }
    out
}

/// The value of the sample `name` (with its labels, e.g.
/// `opssc_agent_proposals{state="committed"}`).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Waits until `name` in Org1's metrics satisfies `ok`; its value.
async fn wait_metric(agent: &Agent, name: &str, ok: impl Fn(f64) -> bool, limit: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let text = metrics(agent).await;
        if let Some(v) = sample(&text, name).filter(|v| ok(*v)) {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "{name} not as expected after {limit:?}:\n{text}\n{}",
            agent.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn gocc_yaml(url: &str, commit: &str) -> String {
    format!(
        "apiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: gocc\nspec:\n  channel: trade\n  version: \"1\"\n  package:\n    source:\n      git: {url}\n      commit: {commit}\n      path: {MODULE_DIR}\n      language: golang\n  endorsementPolicy: \"OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')\"\n"
    )
}

fn vote(agent: &Agent, id: &str) {
    let out = agent.opssc(&["vote", id, "approve", "--reason", "read the notification"]);
    assert!(
        out.status.success(),
        "opssc vote: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn notifications_reach_a_receiver_and_metrics_show_the_rollout() {
    let devnet = start_devnet(Topology::reference(3));
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(scenario(&devnet));
}

async fn scenario(devnet: &opssc_tests::devnet_support::Devnet) {
    let handles = devnet.orgs();
    let orgs = common::orgs_of(devnet).await;
    deploy_opssc(&orgs).await;
    let (kv_addr, _) = serve("kv_1.0", Versioned("1.0")).await;
    let work = tempfile::tempdir().unwrap();
    let spec = found_spec_repo(work.path());

    // The receiver's port, not listening yet (the receiver is down).
    let port = common::free_port();
    let token = format!("hook-token-{}", std::process::id());
    let token_file = work.path().join("hook-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut agents = common::start_agents(handles, work.path(), &spec, |msp, config| {
        config
            .chaincode_servers
            .insert("kv_1.0".into(), kv_addr.clone());
        match msp {
            "Org1MSP" => {
                config.vote_policy = VotePolicy::Manual;
                config.notifications.push(NotificationConfig {
                    url: format!("http://127.0.0.1:{port}/org1"),
                    format: NotificationFormat::Json,
                    events: Vec::new(),
                    secret_header: Some(SecretHeader {
                        name: "X-Opssc-Token".into(),
                        value_file: Some(token_file.clone()),
                        value_env: None,
                    }),
                    timeout_seconds: Some(5),
                    ca_bundle: None,
                });
            }
            "Org2MSP" => {
                config.vote_policy = VotePolicy::Manual;
                config.notifications.push(NotificationConfig {
                    url: format!("http://127.0.0.1:{port}/org2"),
                    format: NotificationFormat::Slack,
                    events: vec![NotificationEvent::TaskFailed],
                    secret_header: None,
                    timeout_seconds: None,
                    ca_bundle: None,
                });
            }
            _ => {}
        }
    });
    let log: Log = Arc::default();

    // ---- 1. a vote is needed while the receiver is down ----------------------
    spec.commit_consented(&[("chaincodes/kv.yaml".into(), kv_yaml("1.0"))], "kv 1.0");
    let start = Instant::now();
    let kv_id = loop {
        let ps = common::proposals_for(&orgs[0], "kv").await;
        if let Some(p) = ps.iter().find(|p| p["state"] == "proposed") {
            break p["id"].as_str().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the kv proposal is never filed\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Org1's agent tried and failed to deliver.
    let start = Instant::now();
    while !std::fs::read_to_string(&agents[0].log)
        .unwrap_or_default()
        .contains("notification not delivered; retrying")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no failed delivery attempt\n{}",
            agents[0].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pending = wait_metric(
        &agents[0],
        "opssc_agent_votes_pending",
        |v| v == 1.0,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(pending, 1.0);
    // The receiver comes up: the retry delivers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    start_receiver(port, log.clone()).await;
    let up = Instant::now();
    let needed = wait_event(&log, "voteNeeded", Duration::from_secs(90), &agents, |e| {
        e["proposal"] == kv_id.as_str()
    })
    .await;
    println!(
        "FIGURE vote-needed notification delivered {:.1} s after the receiver came up",
        up.elapsed().as_secs_f64()
    );
    println!("vote needed notification: {needed:#}");
    assert_eq!(needed["organization"], "Org1MSP");
    let text = needed["text"].as_str().unwrap();
    assert!(
        text.contains("Plan of the change:\n  + deploy chaincode kv 1.0 (sequence 1)"),
        "the plan of the change: {text}"
    );
    assert!(
        text.contains(&format!("opssc vote {kv_id} approve|reject")),
        "how to vote: {text}"
    );
    {
        let requests = log.lock().unwrap().clone();
        let r = requests.iter().find(|r| r.path == "/org1").unwrap();
        assert!(
            r.head.contains(&format!("x-opssc-token: {token}")),
            "{}",
            r.head
        );
        assert!(
            requests.iter().all(|r| !r.body.contains(&token)),
            "no secret in any body"
        );
        assert!(
            requests.iter().all(|r| r.path != "/org2"),
            "Org2 wants failed tasks only: {requests:#?}"
        );
    }

    // Org1's and Org2's admins vote (the quorum is every organization):
    // kv 1.0 rolls out.
    vote(&agents[0], &kv_id);
    vote(&agents[1], &kv_id);
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
    wait_metric(
        &agents[0],
        "opssc_agent_proposals{state=\"committed\"}",
        |v| v == 1.0,
        Duration::from_secs(60),
    )
    .await;
    let text = metrics(&agents[0]).await;
    assert_eq!(
        sample(&text, "opssc_agent_votes_pending"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "opssc_agent_proposals{state=\"proposed\"}"),
        Some(0.0),
        "{text}"
    );
    let last = sample(&text, "opssc_agent_last_success_timestamp_seconds").unwrap();
    assert!(
        unix_now() - last < 60.0,
        "last successful pass {last}\n{text}"
    );
    let passes = sample(&text, "opssc_agent_pass_duration_seconds_count").unwrap();
    let total = sample(&text, "opssc_agent_pass_duration_seconds_sum").unwrap();
    assert!(passes >= 2.0 && total > 0.0, "{text}");
    assert!(
        sample(&text, "opssc_agent_notifications_sent_total").unwrap() >= 1.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "opssc_agent_notifications_dropped_total"),
        Some(0.0),
        "{text}"
    );
    let age = sample(&text, "opssc_agent_spec_commit_age_seconds").unwrap();
    assert!((0.0..900.0).contains(&age), "spec commit age {age}\n{text}");
    assert_eq!(
        sample(&text, "opssc_agent_task_failures_total"),
        Some(0.0),
        "{text}"
    );
    println!("{text}");

    // ---- 2. a Go chaincode that does not compile -----------------------------
    let cc_repo = ChaincodeRepo::new();
    let broken = cc_repo.commit(&main_go("v1", TYPE_ERROR), "broken");
    spec.commit_consented(
        &[(
            "chaincodes/gocc.yaml".into(),
            gocc_yaml(&cc_repo.url(), &broken),
        )],
        "gocc 1, broken",
    );
    let needed = wait_event(&log, "voteNeeded", Duration::from_secs(180), &agents, |e| {
        e["proposal"] != kv_id.as_str()
    })
    .await;
    assert!(
        needed["title"].as_str().unwrap().contains("trade/gocc"),
        "{needed:#}"
    );
    let gocc_id = needed["proposal"].as_str().unwrap().to_string();
    vote(&agents[0], &gocc_id);
    vote(&agents[1], &gocc_id);
    let failed = wait_event(&log, "taskFailed", Duration::from_secs(300), &agents, |e| {
        e["proposal"] == gocc_id.as_str()
    })
    .await;
    println!("task failed notification: {failed:#}");
    assert!(
        failed["title"]
            .as_str()
            .unwrap()
            .contains("install task failed"),
        "{failed:#}"
    );
    assert!(
        failed["text"]
            .as_str()
            .unwrap()
            .contains("does not compile"),
        "the compiler's message: {failed:#}"
    );
    // Org2's Slack-compatible webhook got it too, as {"text": ...}.
    let start = Instant::now();
    let slack = loop {
        let got = log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == "/org2")
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .next();
        if let Some(v) = got {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no Slack notification for Org2\n{}",
            agents_logs(&agents)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let slack_text = slack["text"].as_str().unwrap();
    assert!(
        slack_text.starts_with("*[Org2MSP] ") && slack_text.contains("install task failed"),
        "{slack:#}"
    );
    assert_eq!(slack.as_object().unwrap().len(), 1, "{slack:#}");
    wait_event(&log, "stalled", Duration::from_secs(60), &agents, |e| {
        e["text"].as_str().unwrap_or("").contains("gocc")
    })
    .await;
    wait_metric(
        &agents[0],
        "opssc_agent_task_failures_total",
        |v| v >= 1.0,
        Duration::from_secs(30),
    )
    .await;

    // Each event once, however many passes ran meanwhile, and after a
    // restart of Org1's agent (the sent-set is in its state directory).
    agents[0].kill();
    agents[0].start();
    wait_metric(
        &agents[0],
        "opssc_agent_passes_total",
        |v| v >= 2.0,
        Duration::from_secs(60),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let events = org1_events(&log);
    let mut ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an event was sent twice: {events:#?}");
    let requests = log.lock().unwrap().clone();
    assert!(requests.iter().all(|r| !r.body.contains(&token)));
    assert!(
        requests
            .iter()
            .filter(|r| r.path == "/org2")
            .all(|r| r.body.contains("task failed")),
        "Org2 got only failed tasks: {requests:#?}"
    );
}
