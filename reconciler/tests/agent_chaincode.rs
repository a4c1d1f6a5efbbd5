//! Chaincode rollouts driven only by git commits, on a real 3-organization
//! devnet with three `opssc agent` processes.
//!
//! The test deploys the OpsSC chaincode on the `ops` channel and founds its
//! registry (what `opssc dev` / a consortium's founding does once), builds a
//! spec repository (a real git repository; the root commit is every agent's
//! trusted root and lists Org1's admin SSH key), and starts one agent per
//! organization. Then, with no Fabric command from the test:
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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use git2::{Oid, Repository};
use opssc_chaincode::ccaas::OpsSc;
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::package::{self, Connection};
use opssc_fabric::shim::{Chaincode, Stub};
use opssc_fabric::{Error, Fault, Node, NodeConfig, Signer, SigningIdentity};
use opssc_schema::local::{AgentConfig, SpecSource};
use opssc_tests::devnet_support::{OrgHandle, Topology, start_devnet};
use opssc_tests::kvcc::Kv;
use serde_json::{Value, json};
use ssh_key::{Algorithm, PrivateKey};

const OPS: &str = "ops";

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

struct Org {
    msp_id: String,
    endorser: Endorser,
    gateway: Gateway,
}

async fn org(handle: &OrgHandle) -> Org {
    let admin: Arc<dyn Signer> =
        Arc::new(SigningIdentity::from_msp_dir(&handle.msp_id, &handle.admin_msp_dir).unwrap());
    let p = &handle.peers[0];
    let nc = NodeConfig::tls_from_file(&p.address, &p.tls_ca_cert)
        .unwrap()
        .with_server_name(&p.host);
    let node = Node::connect(&nc)
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    Org {
        msp_id: handle.msp_id.clone(),
        endorser: Endorser::new(node.clone(), admin.clone()),
        gateway: Gateway::new(node, admin),
    }
}

async fn retry<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if e.fault() == Fault::Transient && start.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("{what} failed after {:?}: {}", start.elapsed(), chain(&e)),
        }
    }
}

/// The kv chaincode plus `version`, so the test sees which package answers.
struct Versioned(&'static str);

impl Chaincode for Versioned {
    async fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, String> {
        if stub.function() == "version" {
            return Ok(self.0.as_bytes().to_vec());
        }
        Kv.invoke(stub).await
    }
}

/// Serves `chaincode` for the package `label` on a fresh port; the address.
async fn serve<C: Chaincode>(label: &str, chaincode: C) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let pkg = package::ccaas_package(label, &Connection::plaintext(&addr)).unwrap();
    let package_id = package::package_id(label, &pkg);
    let id = package_id.clone();
    tokio::spawn(async move {
        opssc_fabric::shim::serve(chaincode, &id, listener, None, std::future::pending()).await
    });
    (addr, package_id)
}

/// Deploys the OpsSC chaincode on `ops` (served here) and founds the registry.
async fn deploy_opssc(orgs: &[Org]) {
    let (addr, package_id) = serve("opssc_1.0", OpsSc).await;
    let pkg = package::ccaas_package("opssc_1.0", &Connection::plaintext(&addr)).unwrap();
    for o in orgs {
        lifecycle::install(&o.endorser, &pkg)
            .await
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
    }
    let def = ChaincodeDefinition::new("opssc", "1.0", 1);
    for o in orgs {
        retry("approve opssc", Duration::from_secs(60), || {
            lifecycle::approve(&o.gateway, OPS, &def, Some(&package_id))
        })
        .await;
    }
    let endorsing: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    retry("commit opssc", Duration::from_secs(90), || {
        lifecycle::commit(&orgs[0].gateway, OPS, &def, &endorsing)
    })
    .await;
    let arg = serde_json::to_vec(&json!({
        "ops_channel": OPS,
        "members": ["Org1MSP", "Org2MSP", "Org3MSP"],
        "channels": [{"name": "trade", "members": ["Org1MSP", "Org2MSP", "Org3MSP"]}],
        // Chaincode changes need every member's vote (so the test decides
        // who votes when), and the executor has 10 s (the contract's minimum)
        // before the next organization may take over.
        "governance": {
            "voting_period_secs": 3600,
            "max_voting_period_secs": 86400,
            "executor_timeout_secs": 10,
            "quorum": {"chaincode": "all"},
        },
    }))
    .unwrap();
    retry("found", Duration::from_secs(90), || {
        orgs[0]
            .gateway
            .submit_transaction(OPS, "opssc", "found", [arg.clone()])
    })
    .await;
}

// ------------------------------------------------------------------ the spec

fn reference_spec() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let mut files = Vec::new();
    for sub in ["", "orgs", "channels"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && path.extension().is_some_and(|e| e == "yaml") {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                files.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files
}

fn kv_yaml(version: &str) -> String {
    format!(
        "apiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: kv\nspec:\n  channel: trade\n  version: \"{version}\"\n  package:\n    ccaas: {{}}\n  endorsementPolicy: \"OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')\"\n"
    )
}

/// Writes the files, commits them on `main`, signed by `key` if given
/// (`opssc_devnet::commit_files`, the one way the project commits a spec change).
fn commit(
    repo: &Repository,
    files: &[(String, String)],
    message: &str,
    key: Option<&PrivateKey>,
) -> Oid {
    let files: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(rel, text)| (rel.as_str(), Some(text.as_str())))
        .collect();
    opssc_devnet::commit_files(repo, &files, message, key).unwrap()
}

// ------------------------------------------------------------------ agents

struct Agent {
    msp_id: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Agent {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_opssc"))
            .args(["agent", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info,opssc=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// SIGKILL, by PID.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port below the ephemeral range, so that a restarted agent can bind
/// its listen address again (an outgoing connection may take an ephemeral
/// port in the meantime).
fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(20000..32000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn agents_logs(agents: &[Agent]) -> String {
    agents
        .iter()
        .map(|a| format!("----- agent {} -----\n{}", a.msp_id, a.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until every org's own peer answers `version` with `want`; the time it took.
async fn wait_answering(orgs: &[Org], want: &str, agents: &[Agent], limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let mut all = true;
        for o in orgs {
            let got = o
                .gateway
                .evaluate_transaction("trade", "kv", "version", [b"".as_slice()])
                .await;
            if got.as_deref().ok() != Some(want.as_bytes()) {
                all = false;
                break;
            }
        }
        if all {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            panic!(
                "kv {want} does not answer on every peer after {limit:?}\n{}",
                agents_logs(agents)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn query(o: &Org, function: &str, args: Value) -> Value {
    let arg = serde_json::to_vec(&args).unwrap();
    let out = o
        .gateway
        .evaluate_transaction(OPS, "opssc", function, [arg])
        .await
        .unwrap_or_else(|e| panic!("{function}: {}", chain(&e)));
    serde_json::from_slice(&out).unwrap()
}

async fn kv_proposals(o: &Org) -> Vec<Value> {
    let list = query(o, "list", json!({"page_size": 200})).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["target"]["chaincode"] == "kv")
        .cloned()
        .collect()
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
    let repo_dir = work.path().join("spec");
    let repo = Repository::init(&repo_dir).unwrap();
    let admin_key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let mut files = reference_spec();
    for (rel, text) in &mut files {
        if rel == "orgs/org1.yaml" {
            text.push_str(&format!(
                "  admins:\n    - name: alice\n      signingKey: \"{}\"\n",
                admin_key.public_key().to_openssh().unwrap()
            ));
        }
    }
    let root = commit(&repo, &files, "founding spec", Some(&admin_key));

    // One agent per organization, as a separate process.
    let mut agents = Vec::new();
    for h in handles {
        let mut config = AgentConfig::load(&h.agent_config).unwrap();
        config.spec = Some(SpecSource::Git {
            url: format!("file://{}", repo_dir.display()),
            branch: "main".into(),
            path: None,
            poll_seconds: Some(1),
            trusted_root: Some(root.to_string()),
        });
        config.chaincode_servers = servers.clone();
        if h.msp_id == "Org3MSP" {
            // Org3 runs kv 4.5 elsewhere: it derives another package ID.
            config
                .chaincode_servers
                .insert("kv_4.5".into(), "kv-elsewhere.org3.example.com:9999".into());
        }
        config.listen = Some(format!("127.0.0.1:{}", free_port()));
        let dir = work.path().join(&h.msp_id);
        std::fs::create_dir_all(&dir).unwrap();
        config.state_dir = Some(dir.join("state"));
        let path = dir.join("opssc.yaml");
        std::fs::write(&path, config.to_yaml()).unwrap();
        let mut a = Agent {
            msp_id: h.msp_id.clone(),
            config: path,
            log: dir.join("agent.log"),
            child: None,
        };
        a.start();
        agents.push(a);
    }

    // 1. Deploy.
    let t = Instant::now();
    commit(
        &repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("1.0"))],
        "add kv 1.0",
        Some(&admin_key),
    );
    let took = wait_answering(&orgs, "1.0", &agents, Duration::from_secs(240)).await;
    println!(
        "FIGURE deploy kv 1.0: {:.1} s from commit to answering on all 3 peers",
        took.as_secs_f64()
    );
    let _ = t;
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
        "FIGURE one ordered round (median of 7 sequential puts): {:.2} s; lower bounds: 2 rounds (approve, commit: the peer CLI's minimum) {:.1} s, 5 rounds (propose, vote, tally, approve, commit: OpsSC's minimum) {:.1} s, 6 rounds (this agent: propose, vote, tally, approve + install report, approve report, commit) {:.1} s",
        round,
        2.0 * round,
        5.0 * round,
        6.0 * round
    );

    // 2. Upgrade.
    let commit_2 = commit(
        &repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("2.0"))],
        "kv 2.0",
        Some(&admin_key),
    );
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
    commit(
        &repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("3.0"))],
        "kv 3.0",
        Some(&admin_key),
    );
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
    let trusted_4 = commit(
        &repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("4.0"))],
        "kv 4.0",
        Some(&admin_key),
    );
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
        &repo,
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
        &repo,
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
    commit(
        &repo,
        &[("chaincodes/kv.yaml".into(), kv_yaml("4.5"))],
        "kv 4.5",
        Some(&admin_key),
    );
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
