//! What the agent end-to-end tests share (`agent_chaincode.rs`,
//! `agent_golang.rs`): each organization's admin view of its own peer, the
//! OpsSC chaincode deployed and founded on `ops` (served in the test
//! process), the spec repository with its trusted signed root, one
//! `opssc agent` process per organization, and waiting until a chaincode
//! answers on every organization's peer.
//!
//! Key decision: the agents are real `opssc agent` processes fed only by git
//! commits to the spec repository; the test never runs a Fabric command for
//! them, it only observes (queries, the OpsSC contract's records, logs).
//!
//! The agents fetch the spec as a consortium's agents do, from a git host,
//! not from `file://`: git's smart HTTP behind TLS with a test CA and basic
//! authentication (the token in a file, the CA in `caBundle`), or, for the
//! organizations a test names ([`start_agents_over`]), a real `sshd` with a
//! key and a `known_hosts` file. The servers live as long as any agent that
//! fetches from them (each [`Agent`] holds them).

#![allow(dead_code)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use git2::{Oid, Repository};
use opssc_chaincode::ccaas::OpsSc;
use opssc_devnet::OrgHandle;
use opssc_devnet::git_server::{HttpsGitServer, SshGitServer, generate_ssh_key};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::package::{self, Connection};
use opssc_fabric::shim::Chaincode;
use opssc_fabric::{Error, Fault, Node, NodeConfig, Signer, SigningIdentity};
use opssc_schema::local::{AgentConfig, GitCredentialConfig, SpecSource};
use serde_json::{Value, json};
use ssh_key::{Algorithm, PrivateKey};

pub const OPS: &str = "ops";

/// An error with its sources, for assertion messages.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// One organization as its admin sees it through its own first peer.
pub struct Org {
    pub msp_id: String,
    pub endorser: Endorser,
    pub gateway: Gateway,
    pub deliver: opssc_fabric::deliver::Deliverer,
}

pub async fn org(handle: &OrgHandle) -> Org {
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
        gateway: Gateway::new(node.clone(), admin.clone()),
        deliver: opssc_fabric::deliver::Deliverer::peer(node, admin),
    }
}

/// Endorsing peers disagree for a moment when one of them has not committed
/// the previous block yet (e.g. the next founding confirmation right after
/// the last one): the gateway reports mismatching proposal responses.
fn peers_lagging(e: &Error) -> bool {
    chain(e).contains("ProposalResponsePayloads do not match")
}

/// Retries `f` while it fails with a transient error (or endorsing peers at
/// different heights), for at most `limit`.
pub async fn retry<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e)
                if (e.fault() == Fault::Transient || peers_lagging(&e))
                    && start.elapsed() < limit =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("{what} failed after {:?}: {}", start.elapsed(), chain(&e)),
        }
    }
}

/// Submits `function(args)` to the OpsSC on `ops` as `o`'s admin and returns
/// its result, sending it again (for at most 30 s) while it fails only
/// because an agent's concurrent transaction conflicted with it (MVCC or
/// phantom read) or the endorsing peers were a block apart: a member using
/// the peer CLI would resend it too. A refusal is returned as its text.
pub async fn submit_ops(o: &Org, function: &str, args: &Value) -> Result<Value, String> {
    let arg = serde_json::to_vec(args).unwrap();
    let start = Instant::now();
    loop {
        match o
            .gateway
            .submit_transaction(OPS, "opssc", function, [arg.as_slice()])
            .await
        {
            Ok(done) => return Ok(serde_json::from_slice(&done.result).unwrap_or(Value::Null)),
            Err(e)
                if (e.fault() == Fault::Transient || peers_lagging(&e))
                    && start.elapsed() < Duration::from_secs(30) =>
            {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => return Err(chain(&e)),
        }
    }
}

/// Serves `chaincode` for the package `label` on a fresh port; the address
/// and the package ID.
pub async fn serve<C: Chaincode>(label: &str, chaincode: C) -> (String, String) {
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

/// Deploys the OpsSC chaincode on `ops` (served here) and founds the
/// registry with the argument `opssc found` sends for the reference spec
/// ([`opssc::agent::founding::found_args`]: the ops members, channel
/// `trade`, the spec's governance), changed only where these tests need it:
/// chaincode changes need every member's vote, and the executor has 10 s
/// (the contract's minimum; the spec cannot state it) before the next
/// organization may take over.
pub async fn deploy_opssc(orgs: &[Org]) {
    let _server = deploy_opssc_founding(orgs, reference_found_args()).await;
}

/// The reference spec's `found` argument with the tests' governance (see
/// [`deploy_opssc`]).
pub fn reference_found_args() -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let spec = opssc_schema::load_dir(&dir)
        .spec
        .expect("the reference spec validates");
    let mut args = opssc::agent::founding::found_args(&spec).unwrap();
    let g = args
        .governance
        .as_mut()
        .expect("found_args carries the spec's governance");
    g.voting_period_secs = 3600;
    g.max_voting_period_secs = 86400;
    g.executor_timeout_secs = 10;
    g.quorum.chaincode = opssc_chaincode::model::QuorumLevel::All;
    serde_json::to_value(&args).unwrap()
}

/// Deploys the OpsSC chaincode on `ops` (served here) and has every founding
/// member of `found` among `orgs` confirm it; the address of the OpsSC server (package label `opssc_1.0`).
pub async fn deploy_opssc_founding(orgs: &[Org], found: Value) -> String {
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
    // The registry takes effect once every founding member confirmed the
    // same arguments: each organization here confirms, the last one founds.
    let arg = serde_json::to_vec(&found).unwrap();
    let members: Vec<String> = serde_json::from_value(found["members"].clone()).unwrap();
    let mut last = Value::Null;
    for o in orgs.iter().filter(|o| members.contains(&o.msp_id)) {
        let done = retry("found", Duration::from_secs(90), || {
            o.gateway
                .submit_transaction(OPS, "opssc", "found", [arg.clone()])
        })
        .await;
        last = serde_json::from_slice(&done.result).unwrap();
    }
    assert_eq!(last["outcome"], "founded", "{last}");
    addr
}

// ------------------------------------------------------------------ the spec

/// The reference consortium's spec files (`network-spec/`), by relative path.
/// The reference spec's documents, its Governance document stating the
/// tests' governance ([`reference_found_args`]: a voting period of 1 h,
/// chaincode changes approved by every member), so that the agents find no
/// GovernanceChange to file until a commit asks for one.
pub fn reference_spec() -> Vec<(String, String)> {
    let mut files = reference_spec_as_is();
    for (rel, text) in &mut files {
        if rel == "consortium.yaml" {
            for (from, to) in [
                ("votingDeadline: 72h", "votingDeadline: 1h"),
                (
                    "quorum: policy        # the channel's LifecycleEndorsement (MAJORITY by default)",
                    "quorum: all",
                ),
            ] {
                assert!(text.contains(from), "{from:?} not in\n{text}");
                *text = text.replace(from, to);
            }
        }
    }
    files
}

/// The documents of `network-spec`, unchanged.
fn reference_spec_as_is() -> Vec<(String, String)> {
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

/// Writes the files, commits them on `main`, signed by `key` if given
/// (`opssc_devnet::commit_files`, the one way the project commits a spec change).
pub fn commit(
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

/// The spec repository every agent follows.
pub struct SpecRepo {
    pub dir: PathBuf,
    pub repo: Repository,
    /// Org1's admin key, listed in the root commit: it signs every change.
    pub admin_key: PrivateKey,
    /// The founding commit, every agent's trusted root.
    pub root: Oid,
    /// Every organization's admin key listed in the root (Org1's is
    /// `admin_key`), by MSP ID: what each organization consents with.
    pub admins: Vec<(String, PrivateKey)>,
}

/// The admin each organization of the reference spec lists in the root.
pub const ADMINS: [(&str, &str, &str); 3] = [
    ("Org1MSP", "orgs/org1.yaml", "alice"),
    ("Org2MSP", "orgs/org2.yaml", "bob"),
    ("Org3MSP", "orgs/org3.yaml", "carol"),
];

impl SpecRepo {
    /// A commit of `files` signed by the admin; its ID.
    pub fn commit(&self, files: &[(String, String)], message: &str) -> Oid {
        commit(&self.repo, files, message, Some(&self.admin_key))
    }

    /// `msp`'s admin key.
    pub fn admin_of(&self, msp: &str) -> &PrivateKey {
        &self
            .admins
            .iter()
            .find(|(m, _)| m == msp)
            .unwrap_or_else(|| panic!("{msp} lists no admin in the test's spec"))
            .1
    }

    /// `msp`'s admin approves `commit` the way `opssc approve` does (the
    /// same library function), in the repository the agents fetch from.
    pub fn approve(&self, commit: Oid, msp: &str) -> opssc::source::Stored {
        opssc::source::approve_with_key(&self.repo, commit, None, self.admin_of(msp))
            .unwrap_or_else(|e| panic!("{msp} approves {commit}: {e:#}"))
    }

    /// Org2's and Org3's admins approve `commit` (Org1's admin signed it):
    /// every organization has consented.
    pub fn approve_by_others(&self, commit: Oid) {
        for (msp, _, _) in &ADMINS[1..] {
            self.approve(commit, msp);
        }
    }

    /// A commit signed by Org1's admin that Org2's and Org3's admins then
    /// approve: a shared change every organization consented to.
    pub fn commit_consented(&self, files: &[(String, String)], message: &str) -> Oid {
        let c = self.commit(files, message);
        self.approve_by_others(c);
        c
    }
}

/// A new spec repository under `work`: the reference spec, no chaincode,
/// each organization's admin key listed ([`ADMINS`]), committed signed by
/// Org1's.
pub fn found_spec_repo(work: &Path) -> SpecRepo {
    found_spec_repo_of(work, reference_spec())
}

/// The reference spec with what a devnet of `Topology::reference` really
/// runs written in, read from its ops channel's `config`: each member's
/// anchor peer, the Raft consenter (endpoint and TLS certificate) and the
/// batch settings. With it, an agent that files channel changes finds none
/// to file until a commit asks for one (the spec wins over the network).
/// Its `fabricVersion` is 3.1 when the channel capability is one only
/// Fabric 3 runs (a devnet started with `OPSSC_TEST_FABRIC=3.1`).
pub fn devnet_spec(config: &opssc_fabric::configtx::ChannelConfig) -> Vec<(String, String)> {
    let raft = config.etcdraft().expect("a Raft channel");
    let batch = config.batch_size().expect("batch size");
    let timeout = config.batch_timeout().expect("batch timeout");
    let fabric = config
        .capabilities(&[])
        .iter()
        .filter_map(|c| opssc_schema::FabricVersion::oldest_with_channel_capability(c))
        .max()
        .unwrap_or_default();
    let mut files = reference_spec();
    for (rel, text) in &mut files {
        match rel.as_str() {
            "consortium.yaml" => {
                *text = text
                    .replace(
                        "fabricVersion: \"2.5\"",
                        &format!("fabricVersion: \"{fabric}\""),
                    )
                    .replace(
                        "      - org: OrdererMSP\n        node: orderer0\n",
                        &(0..raft.consenters.len())
                            .map(|i| format!("      - org: OrdererMSP\n        node: orderer{i}\n"))
                            .collect::<String>(),
                    )
                    .replace("timeout: 500ms", &format!("timeout: {timeout}"))
                    .replace(
                        "maxMessageCount: 100",
                        &format!(
                            "maxMessageCount: {}\n      absoluteMaxBytes: \"{}\"\n      preferredMaxBytes: \"{}\"",
                            batch.max_message_count, batch.absolute_max_bytes, batch.preferred_max_bytes
                        ),
                    );
            }
            // The capability levels the devnet runs (V3_0 on Fabric 3.1).
            "channels/trade.yaml" => {
                let top = |group: &[&str]| {
                    config
                        .capabilities(group)
                        .into_iter()
                        .max()
                        .unwrap_or_else(|| "V2_0".into())
                };
                for (key, from, group) in [
                    ("channel", "V2_0", &[][..]),
                    ("orderer", "V2_0", &["Orderer"][..]),
                    ("application", "V2_5", &["Application"][..]),
                ] {
                    let line = format!("    {key}: {from}\n");
                    assert!(text.contains(&line), "{line:?} not in {text}");
                    *text = text.replace(&line, &format!("    {key}: {}\n", top(group)));
                }
            }
            // Every consenter is an orderer node `orderer<i>` of the
            // orderer organization, in the channel's order.
            "orgs/orderer.yaml" => {
                let nodes: Vec<String> = raft
                    .consenters
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        format!(
                            "    - name: orderer{i}\n      endpoint: {}:{}\n      tlsCert:\n        file: orderer/orderer{i}-tls.pem\n",
                            c.host, c.port
                        )
                    })
                    .collect();
                let one = "    - name: orderer0\n      endpoint: orderer0.example.com:7050\n";
                assert!(text.contains(one), "{text}");
                *text = text.replace(one, &nodes.concat());
            }
            _ => {}
        }
        for (msp, file, _) in ADMINS {
            if rel.as_str() == file {
                let a = &config.anchor_peers(msp)[0];
                let placeholder = format!(
                    "endpoint: peer0.{}.example.com:7051",
                    file.trim_start_matches("orgs/").trim_end_matches(".yaml")
                );
                assert!(text.contains(&placeholder), "{text}");
                *text = text.replace(&placeholder, &format!("endpoint: {}:{}", a.host, a.port));
            }
        }
    }
    for (i, c) in raft.consenters.iter().enumerate() {
        files.push((
            format!("orgs/orderer/orderer{i}-tls.pem"),
            String::from_utf8(c.server_tls_cert.clone()).unwrap(),
        ));
    }
    files
}

/// [`devnet_spec`] with every organization's certificates committed in its
/// document (CA and TLS CA, as the ops channel's `config` holds them), as a
/// spec the agents founded has them: what the genesis block of a channel
/// created later is built from.
pub fn devnet_spec_with_certificates(
    config: &opssc_fabric::configtx::ChannelConfig,
) -> Vec<(String, String)> {
    let mut files = devnet_spec(config);
    let configs = std::collections::BTreeMap::from([("ops".to_string(), config.clone())]);
    let (orgs, _) = opssc::import::config_facts(&configs);
    let docs: Vec<(&str, &str)> = ADMINS
        .iter()
        .map(|(msp, file, _)| (*msp, *file))
        .chain([("OrdererMSP", "orgs/orderer.yaml")])
        .collect();
    let mut certs = Vec::new();
    for (msp, file) in docs {
        let facts = orgs
            .get(msp)
            .and_then(|f| f.msp.as_ref())
            .unwrap_or_else(|| panic!("the ops channel's config has no MSP for {msp}"));
        let dir = file.trim_end_matches(".yaml");
        let mut yaml = String::from("  msp:\n");
        for (key, pems, name) in [
            ("caCerts", &facts.ca_certs, "ca"),
            ("tlsCaCerts", &facts.tls_ca_certs, "tlsca"),
        ] {
            yaml.push_str(&format!("    {key}:\n"));
            for (i, pem) in pems.iter().enumerate() {
                let rel = format!("{dir}/{name}-{i}.pem");
                yaml.push_str(&format!(
                    "      - file: {}\n",
                    rel.trim_start_matches("orgs/")
                ));
                certs.push((rel, pem.clone()));
            }
        }
        let (_, text) = files
            .iter_mut()
            .find(|(rel, _)| rel == file)
            .unwrap_or_else(|| panic!("{file} is in the spec"));
        text.push_str(&yaml);
    }
    files.extend(certs);
    files
}

/// A new spec repository under `work` holding `files` (the reference
/// spec's documents), each organization's admin key listed ([`ADMINS`]),
/// committed signed by Org1's.
pub fn found_spec_repo_of(work: &Path, files: Vec<(String, String)>) -> SpecRepo {
    let dir = work.join("spec");
    let repo = Repository::init(&dir).unwrap();
    let admins: Vec<(String, PrivateKey)> = ADMINS
        .iter()
        .map(|(msp, _, _)| {
            let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
            (msp.to_string(), key)
        })
        .collect();
    let mut files = files;
    for (rel, text) in &mut files {
        for ((_, file, name), (_, key)) in ADMINS.iter().zip(&admins) {
            if rel == file {
                text.push_str(&format!(
                    "  admins:\n    - name: {name}\n      signingKey: \"{}\"\n",
                    key.public_key().to_openssh().unwrap()
                ));
            }
        }
    }
    let admin_key = admins[0].1.clone();
    let root = commit(&repo, &files, "founding spec", Some(&admin_key));
    SpecRepo {
        dir,
        repo,
        admin_key,
        root,
        admins,
    }
}

// ------------------------------------------------------------------ agents

/// One organization's `opssc agent` process.
pub struct Agent {
    pub msp_id: String,
    pub config: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
    /// The git servers this agent fetches the spec from: kept running while
    /// any agent (restarted ones included) may still fetch.
    pub spec_servers: Arc<SpecServers>,
}

impl Agent {
    pub fn start(&mut self) {
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

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// SIGKILL, by PID.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        // CI shows a part of a failure's output; a local run can ask for
        // more (OPSSC_TEST_LOG_LINES=100000 for the whole log).
        let keep = std::env::var("OPSSC_TEST_LOG_LINES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(80);
        lines[lines.len().saturating_sub(keep)..].join("\n")
    }

    /// The distinct waits, stalls, failures and warnings among this
    /// agent's latest log lines (timestamps dropped, each message once, its
    /// newest occurrence last), with the time of its last line: a compact
    /// picture of where it is stuck.
    pub fn latest_concerns(&self) -> String {
        const KINDS: [&str; 4] = [
            " waiting waiting=",
            " needs a person",
            "step failed",
            " WARN ",
        ];
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let recent = &lines[lines.len().saturating_sub(400)..];
        let mut seen = std::collections::HashSet::new();
        let mut newest_first = Vec::new();
        for line in recent.iter().rev() {
            if !KINDS.iter().any(|k| line.contains(k)) {
                continue;
            }
            // Drop the timestamp: the same message at another time is the
            // same concern.
            let message = line.split_once(' ').map_or(*line, |(_, m)| m);
            let message: String = message.chars().take(300).collect();
            if seen.insert(message.clone()) {
                newest_first.push(format!("    {message}"));
            }
            if newest_first.len() == 6 {
                break;
            }
        }
        newest_first.reverse();
        let last = lines
            .last()
            .map_or("", |l| l.split(' ').next().unwrap_or(""));
        newest_first.push(format!("    (last line at {last})"));
        newest_first.join("\n")
    }

    /// Runs `opssc <args> --config <this agent's config>`.
    pub fn opssc(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_opssc"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the `opssc` binary under test with `args` (logs at `warn`): its exit
/// code, stdout and stderr.
pub fn run_opssc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run opssc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `opssc <args> --config <config>` for every `(msp, config)` at once,
/// as each organization's admin would on its own machine; prints how long
/// they took together (`FIGURE <what> by N concurrent processes`) and every
/// output, and asserts that each exited 0. Their `(msp, stdout)`.
pub fn opssc_concurrently(
    what: &str,
    configs: &[(String, PathBuf)],
    args: &[&str],
) -> Vec<(String, String)> {
    let t = Instant::now();
    let children: Vec<_> = configs
        .iter()
        .map(|(msp, path)| {
            let child = Command::new(env!("CARGO_BIN_EXE_opssc"))
                .args(args)
                .arg("--config")
                .arg(path)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run opssc");
            (msp.clone(), child)
        })
        .collect();
    let outputs: Vec<(String, i32, String, String)> = children
        .into_iter()
        .map(|(msp, child)| {
            let out = child.wait_with_output().unwrap();
            (
                msp,
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect();
    eprintln!(
        "FIGURE {what} by {} concurrent processes: {:.1} s",
        outputs.len(),
        t.elapsed().as_secs_f64()
    );
    for (msp, code, out, err) in &outputs {
        eprintln!("--- {msp} (exit {code})\n{out}{err}");
    }
    for (msp, code, out, err) in &outputs {
        assert_eq!(*code, 0, "{msp}:\n{out}\n{err}");
    }
    outputs
        .into_iter()
        .map(|(msp, _, out, _)| (msp, out))
        .collect()
}

/// A free port below the ephemeral range, so that a restarted agent can bind
/// its listen address again (an outgoing connection may take an ephemeral
/// port in the meantime).
pub fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(20000..32000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// How an organization's agent reaches the spec repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecTransport {
    /// git's smart HTTP over TLS: basic authentication with a token from a
    /// file, the server's test CA as `caBundle`.
    Https,
    /// OpenSSH: the organization's own key, the server's host key in a
    /// `known_hosts` file.
    Ssh,
}

/// The git servers publishing a test's spec repository (its working
/// repository, served as it is: commits are visible at once).
pub struct SpecServers {
    pub https: HttpsGitServer,
    /// Started only when an organization fetches over ssh.
    pub ssh: Option<SshGitServer>,
    /// What the agents put in `spec.url` for each transport.
    https_url: String,
    ssh_url: Option<String>,
    /// The shared `gitCredentials` entry for the https URL.
    https_entry: GitCredentialConfig,
}

impl SpecServers {
    /// Publishes `spec` over https (the token and CA files under
    /// `work/spec-git/`), and over ssh to `ssh_keys` (public key lines) if
    /// there are any.
    pub fn start(work: &Path, spec: &SpecRepo, ssh_keys: &[String]) -> SpecServers {
        use rand::RngCore as _;
        let dir = work.join("spec-git");
        std::fs::create_dir_all(&dir).unwrap();
        // The repository's parent is the server's root; `git http-backend`
        // finds `<name>/.git` of a working repository as it finds `<name>.git`.
        let root = spec.dir.parent().expect("the spec repository has a parent");
        let name = spec.dir.file_name().unwrap().to_string_lossy().to_string();
        let mut token = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut token);
        let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let user = "opssc-agent";
        let https = HttpsGitServer::start(root, user, &token)
            .unwrap_or_else(|e| panic!("cannot serve the spec over https: {}", chain(&e)));
        let token_file = dir.join("token");
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, https.ca_pem()).unwrap();
        let https_entry = GitCredentialConfig {
            url_prefix: https.url(""),
            username: user.into(),
            password_file: Some(token_file),
            ca_bundle: Some(ca_file),
            ..Default::default()
        };
        let https_url = https.url(&name);
        let ssh = (!ssh_keys.is_empty()).then(|| {
            SshGitServer::start(&dir.join("sshd"), &ssh_keys.join("\n"))
                .unwrap_or_else(|e| panic!("cannot serve the spec over ssh: {}", chain(&e)))
        });
        let ssh_url = ssh.as_ref().map(|s| s.url(&spec.dir));
        SpecServers {
            https,
            ssh,
            https_url,
            ssh_url,
            https_entry,
        }
    }

    /// The spec URL and the `gitCredentials` entry an agent fetching over
    /// `transport` uses; `dir` is the agent's directory (its ssh key is
    /// `dir/spec_key`, its `known_hosts` is written there).
    pub fn access(&self, transport: SpecTransport, dir: &Path) -> (String, GitCredentialConfig) {
        match transport {
            SpecTransport::Https => (self.https_url.clone(), self.https_entry.clone()),
            SpecTransport::Ssh => {
                let ssh = self.ssh.as_ref().expect("the ssh server runs");
                let known_hosts = dir.join("known_hosts");
                std::fs::write(&known_hosts, format!("{}\n", ssh.known_hosts_line())).unwrap();
                let entry = GitCredentialConfig {
                    url_prefix: format!("ssh://127.0.0.1:{}/", ssh.port()),
                    ssh_key: Some(dir.join("spec_key")),
                    known_hosts: Some(known_hosts),
                    ..Default::default()
                };
                (self.ssh_url.clone().expect("the ssh server runs"), entry)
            }
        }
    }

    /// What sshd logged, if it runs (for a failing test's message).
    pub fn ssh_log(&self) -> String {
        self.ssh.as_ref().map(|s| s.log()).unwrap_or_default()
    }
}

/// Writes each organization's agent configuration under `work/<MSP ID>/`
/// (the devnet's, following `spec` over https with a 1 s poll, adjusted by
/// `configure`) and starts one agent per organization.
pub fn start_agents(
    handles: &[OrgHandle],
    work: &Path,
    spec: &SpecRepo,
    configure: impl Fn(&str, &mut AgentConfig),
) -> Vec<Agent> {
    start_agents_over(handles, work, spec, |_| SpecTransport::Https, configure)
}

/// [`start_agents`], each organization's agent fetching the spec over the
/// transport `transport(MSP ID)` names.
pub fn start_agents_over(
    handles: &[OrgHandle],
    work: &Path,
    spec: &SpecRepo,
    transport: impl Fn(&str) -> SpecTransport,
    configure: impl Fn(&str, &mut AgentConfig),
) -> Vec<Agent> {
    // Every organization over ssh has its own key, authorized on the server.
    let mut ssh_keys = Vec::new();
    for h in handles {
        if transport(&h.msp_id) == SpecTransport::Ssh {
            let dir = work.join(&h.msp_id);
            std::fs::create_dir_all(&dir).unwrap();
            let public = generate_ssh_key(&dir.join("spec_key"))
                .unwrap_or_else(|e| panic!("cannot make {}'s ssh key: {}", h.msp_id, chain(&e)));
            ssh_keys.push(public);
        }
    }
    let servers = Arc::new(SpecServers::start(work, spec, &ssh_keys));
    handles
        .iter()
        .map(|h| {
            start_agent(
                &servers,
                &h.msp_id,
                &h.agent_config,
                work,
                spec,
                transport(&h.msp_id),
                &configure,
            )
        })
        .collect()
}

/// One more organization's agent (the orderer organization's: `msp_id` and
/// the `opssc.yaml` the devnet wrote), fetching the spec over https from the
/// servers `beside` fetches it from.
pub fn start_agent_beside(
    beside: &Agent,
    msp_id: &str,
    agent_config: &Path,
    work: &Path,
    spec: &SpecRepo,
    configure: impl Fn(&str, &mut AgentConfig),
) -> Agent {
    start_agent(
        &beside.spec_servers,
        msp_id,
        agent_config,
        work,
        spec,
        SpecTransport::Https,
        &configure,
    )
}

fn start_agent(
    servers: &Arc<SpecServers>,
    msp_id: &str,
    agent_config: &Path,
    work: &Path,
    spec: &SpecRepo,
    transport: SpecTransport,
    configure: &impl Fn(&str, &mut AgentConfig),
) -> Agent {
    {
        let mut config = AgentConfig::load(agent_config).unwrap();
        let dir = work.join(msp_id);
        std::fs::create_dir_all(&dir).unwrap();
        let (url, entry) = servers.access(transport, &dir);
        config.spec = Some(SpecSource::Git {
            url,
            branch: "main".into(),
            path: None,
            poll_seconds: Some(1),
            trusted_root: Some(spec.root.to_string()),
        });
        config.git_credentials.push(entry);
        config.listen = Some(format!("127.0.0.1:{}", free_port()));
        config.state_dir = Some(dir.join("state"));
        // The reference spec does not describe this devnet's channel
        // settings (its endpoints, batch timeout and consenters are the
        // spec's, not the devnet's): these tests leave channel configs alone.
        config.channel_changes = opssc_schema::local::ChannelChangePolicy::VoteOnly;
        configure(msp_id, &mut config);
        let path = dir.join("opssc.yaml");
        std::fs::write(&path, config.to_yaml()).unwrap();
        let mut a = Agent {
            msp_id: msp_id.to_string(),
            config: path,
            log: dir.join("agent.log"),
            child: None,
            spec_servers: servers.clone(),
        };
        a.start();
        a
    }
}

/// Every agent's state in brief (what each waits for or failed at, in its
/// latest lines), then each one's log tail. The brief comes first because
/// CI shows only the beginning and the end of a failure's output.
pub fn agents_logs(agents: &[Agent]) -> String {
    let brief = agents
        .iter()
        .map(|a| format!("  {}:\n{}", a.msp_id, a.latest_concerns()))
        .collect::<Vec<_>>()
        .join("\n");
    let tails = agents
        .iter()
        .map(|a| format!("----- agent {} -----\n{}", a.msp_id, a.log_tail()))
        .collect::<Vec<_>>()
        .join("\n");
    format!("----- what each agent waits for, newest last -----\n{brief}\n{tails}")
}

/// Waits until every org's own peer answers `function(args)` of `chaincode`
/// on `trade` with `want`; the time it took.
pub async fn wait_answering(
    orgs: &[Org],
    chaincode: &str,
    function: &str,
    args: &[&str],
    want: &str,
    agents: &[Agent],
    limit: Duration,
) -> Duration {
    wait_answering_on(
        orgs, "trade", chaincode, function, args, want, agents, limit,
    )
    .await
}

/// [`wait_answering`] on `channel`.
#[allow(clippy::too_many_arguments)]
pub async fn wait_answering_on(
    orgs: &[Org],
    channel: &str,
    chaincode: &str,
    function: &str,
    args: &[&str],
    want: &str,
    agents: &[Agent],
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let mut all = true;
        for o in orgs {
            let got = o
                .gateway
                .evaluate_transaction(channel, chaincode, function, args.iter().copied())
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
                "{chaincode} {want} does not answer on every peer after {limit:?}\n{}",
                agents_logs(agents)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client of every organization of the devnet, in the devnet's order.
pub async fn orgs_of(devnet: &opssc_tests::devnet_support::Devnet) -> Vec<Org> {
    let mut orgs = Vec::new();
    for h in devnet.orgs() {
        orgs.push(org(h).await);
    }
    orgs
}

/// Evaluates an OpsSC query as `o`.
pub async fn query(o: &Org, function: &str, args: Value) -> Value {
    let arg = serde_json::to_vec(&args).unwrap();
    let out = o
        .gateway
        .evaluate_transaction(OPS, "opssc", function, [arg])
        .await
        .unwrap_or_else(|e| panic!("{function}: {}", chain(&e)));
    serde_json::from_slice(&out).unwrap()
}

/// The OpsSC's `get` of proposal `id` once its state is `want`, or as it is
/// after `limit`. A definition answers on the peers before its executor
/// reports the proposal committed (the next transaction), so a test that
/// judges the proposal after the rollout waits for that report, bounded.
pub async fn wait_proposal_state(o: &Org, id: &str, want: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let got = query(o, "get", json!({"id": id})).await;
        if got["proposal"]["state"] == want || start.elapsed() > limit {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every OpsSC proposal for `chaincode`, in filing order.
pub async fn proposals_for(o: &Org, chaincode: &str) -> Vec<Value> {
    let list = query(o, "list", json!({"page_size": 200})).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["target"]["chaincode"] == chaincode)
        .cloned()
        .collect()
}

/// What an organization outside the network commits to join it: its
/// Organization document `orgs/<doc>.yaml` (MSP ID, its first peer as the
/// anchor peer, the certificates below) and its CA and TLS CA certificates
/// `orgs/<doc>/ca.pem`, `orgs/<doc>/tlsca.pem`, read from the devnet.
pub fn newcomer_org_files(h: &OrgHandle, doc: &str) -> Vec<(String, String)> {
    let p = &h.peers[0];
    let text = format!(
        "apiVersion: opssc/v1alpha1\nkind: Organization\nmetadata:\n  name: {doc}\nspec:\n  mspId: {msp}\n  peers:\n    - name: {peer}\n      endpoint: {endpoint}\n      anchor: true\n  msp:\n    caCerts:\n      - file: {doc}/ca.pem\n    tlsCaCerts:\n      - file: {doc}/tlsca.pem\n",
        msp = h.msp_id,
        peer = p.name,
        endpoint = p.address,
    );
    vec![
        (format!("orgs/{doc}.yaml"), text),
        (
            format!("orgs/{doc}/ca.pem"),
            std::fs::read_to_string(&h.ca_cert).unwrap(),
        ),
        (
            format!("orgs/{doc}/tlsca.pem"),
            std::fs::read_to_string(&h.tls_ca_cert).unwrap(),
        ),
    ]
}

/// The kv chaincode plus `version`, so a test sees which package answers.
pub struct Versioned(pub &'static str);

impl Chaincode for Versioned {
    async fn invoke(&self, stub: &mut opssc_fabric::shim::Stub) -> Result<Vec<u8>, String> {
        if stub.function() == "version" {
            return Ok(self.0.as_bytes().to_vec());
        }
        opssc_tests::kvcc::Kv.invoke(stub).await
    }
}

/// The spec document of chaincode `kv` on `trade` at `version`
/// (chaincode-as-a-service, 2 of the 3 organizations endorse).
pub fn kv_yaml(version: &str) -> String {
    format!(
        "apiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: kv\nspec:\n  channel: trade\n  version: \"{version}\"\n  package:\n    ccaas: {{}}\n  endorsementPolicy: \"OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')\"\n"
    )
}

/// Runs `opssc audit --format json` as `agent`'s organization and checks it
/// against the chain read as `o`: one record per proposal; every
/// transaction it names is a valid transaction of the block it names (for
/// `kind: config_block`, the block's applied CONFIG_UPDATE); each record's
/// votes are the contract's `votes`; each spec commit is in the repository.
/// Returns the records.
pub async fn audit_against_chain(agent: &Agent, o: &Org) -> Vec<Value> {
    let out = agent.opssc(&["audit", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "opssc audit\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(audit["schema"], opssc::audit::SCHEMA);
    let records = audit["records"].as_array().unwrap().clone();
    let listed = query(o, "list", json!({"page_size": 200})).await;
    assert_eq!(
        records.len(),
        listed["items"].as_array().unwrap().len(),
        "one record per proposal"
    );
    let mut blocks: std::collections::HashMap<(String, u64), opssc_fabric::protos::common::Block> =
        Default::default();
    let mut checked = 0;
    for r in &records {
        let id = r["proposal_id"].as_str().unwrap();
        let mut refs = Vec::new();
        collect_tx_refs(r, &mut refs);
        for t in refs {
            let channel = t["channel"].as_str().unwrap().to_string();
            let tx_id = t["tx_id"].as_str().unwrap();
            let block = t["block"]
                .as_u64()
                .unwrap_or_else(|| panic!("{id}: transaction {tx_id} without a block: {r:#}"));
            let key = (channel.clone(), block);
            if !blocks.contains_key(&key) {
                let b = o
                    .deliver
                    .block(&channel, opssc_fabric::deliver::Seek::Number(block))
                    .await
                    .unwrap();
                blocks.insert(key.clone(), b);
            }
            let b = &blocks[&key];
            if t["kind"] == "config_block" {
                let fact = opssc::audit::config_block_fact(b)
                    .unwrap_or_else(|| panic!("{channel} block {block} is not a config block"));
                assert_eq!(
                    fact.update_tx_id.as_deref(),
                    Some(tx_id),
                    "{channel} block {block}"
                );
            } else {
                let txs = opssc_fabric::block::transactions(b).unwrap();
                assert!(
                    txs.iter().any(|x| x.tx_id == tx_id && x.is_valid()),
                    "{id}: {tx_id} is not a valid transaction of {channel} block {block}"
                );
            }
            checked += 1;
        }
        let votes = query(o, "votes", json!({ "id": id })).await;
        let line = |v: &Value| format!("{} {}", v["org"], v["decision"]);
        let mut want: Vec<String> = votes["votes"]
            .as_array()
            .unwrap()
            .iter()
            .map(line)
            .collect();
        let mut got: Vec<String> = r["votes"].as_array().unwrap().iter().map(line).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{id}");
        assert!(r["spec"]["found"].is_object(), "{id}: {:#}", r["spec"]);
    }
    assert!(
        checked >= 5 * records.len(),
        "only {checked} transactions named by {} records",
        records.len()
    );
    records
}

/// Every object with `tx_id` and `block` under `v`.
fn collect_tx_refs<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("tx_id") && m.contains_key("block") {
                out.push(v);
            }
            m.values().for_each(|x| collect_tx_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_tx_refs(x, out)),
        _ => {}
    }
}
