//! `opssc dev demo add-org`: a new organization joins the running consortium
//! through the spec only (the paper's first scenario).
//!
//! On a devnet started by `opssc dev up --spec` with its agents running (the
//! quick start), [`add_org`] plays the new organization (`Org<n+1>MSP`, the
//! next number; `Org4MSP` on the default network) and its sponsor:
//! 1. the new organization's own nodes, as the devnet makes them for the
//!    others: cryptogen material, one peer (recorded in `devnet.json`, so
//!    `opssc dev down` stops it), a demo `kvcc` server for every
//!    chaincode-as-a-service chaincode of the spec and an OpsSC server, its
//!    agent configuration and its `opssc agent` process (its PID appended to
//!    `<state>/agents.pids`, which `./scripts/quickstart.sh down` stops);
//! 2. the onboarding: Org1's admin commits the new Organization file (its
//!    peer and admin SSH key, no certificates yet), signed with Org1's key —
//!    the spec's trust chain accepts only commits by a listed admin; then the
//!    new organization's admin commits, signed with its own key, its CA and
//!    TLS CA certificates and its membership of every channel of the spec;
//! 3. it watches the chain: the OrgAdd proposals and votes on the ops
//!    channel, each channel's config listing the new organization, the new
//!    peer joining, and the chaincodes answering on the new peer; then prints
//!    the seconds from the consent (the last member's approval in git) to
//!    the last chaincode answering there.
//!
//! Step 1 is [`start_new_org`], which `opssc dev bench` also uses to start
//! the organization its peer-CLI script adds.
//!
//! Key decision: nothing here runs a Fabric command against the channels —
//! every channel change is the agents' work, from the two signed commits.
//! The document texts are built from data ([`organization_yaml`],
//! [`with_member`]), so they are unit-tested without a network.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use opssc::agent::context::Context;
use opssc::agent::{spec_source, status};

use super::agent::load_config;
use opssc_fabric::configtx;
use opssc_fabric::deliver::Deliverer;
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::tx::ChaincodeCall;
use opssc_schema::local::AgentConfig;
use serde_json::{Value, json};

use opssc_devnet::agent_config::agent_configs;
use opssc_devnet::config::{core_yaml, write_yaml};
use opssc_devnet::founding::{OPSSC_NAME, admin, connect, set_builder_value};
use opssc_devnet::handles::{NetworkPlan, OrgHandle, PeerHandle};
use opssc_devnet::health::{probe_health, probe_listener};
use opssc_devnet::layout::Layout;
use opssc_devnet::ports::{PortPool, loopback};
use opssc_devnet::process::{NodeCommand, NodeKind, spawn_node};
use opssc_devnet::spec_repo::commit_signed;
use opssc_devnet::state::StateFile;
use opssc_devnet::tools::Tool;
use opssc_devnet::topology::PeerOrgDef;

/// The organization that sponsors the new one (commits its Organization file).
pub const SPONSOR: &str = "Org1MSP";

/// The next peer organization of a network whose peer organizations are
/// `existing` (MSP IDs): `Org<n>MSP` with the first free number above them.
pub fn next_org(existing: &[String]) -> PeerOrgDef {
    let mut n = existing.len() + 1;
    while existing.contains(&format!("Org{n}MSP")) {
        n += 1;
    }
    PeerOrgDef {
        name: format!("org{n}"),
        msp_id: format!("Org{n}MSP"),
        domain: format!("org{n}.example.com"),
        peers: 1,
    }
}

/// cryptogen's configuration for one new peer organization, as the devnet
/// generates the others (NodeOUs, 127.0.0.1 SANs, one user).
pub fn crypto_config(org: &PeerOrgDef) -> Value {
    json!({
        "PeerOrgs": [{
            "Name": org.name,
            "Domain": org.domain,
            "EnableNodeOUs": true,
            "Template": { "Count": org.peers, "SANS": ["127.0.0.1", "localhost"] },
            "Users": { "Count": 1 },
        }],
    })
}

/// Where the new organization's certificates go in the spec repository.
pub fn cert_files(org: &PeerOrgDef) -> (String, String) {
    (
        format!("orgs/{}/ca.pem", org.name),
        format!("orgs/{}/tlsca.pem", org.name),
    )
}

/// The new organization's Organization document: its anchor peer at
/// `peer_endpoint`, its admin's SSH public key and, once the organization
/// commits them itself (`with_certs`), its CA and TLS CA certificate files.
pub fn organization_yaml(
    org: &PeerOrgDef,
    peer_endpoint: &str,
    admin_key_line: &str,
    with_certs: bool,
) -> anyhow::Result<String> {
    let mut spec = json!({
        "mspId": org.msp_id,
        "peers": [{ "name": "peer0", "endpoint": peer_endpoint, "anchor": true }],
    });
    if with_certs {
        // Relative to the file, which lives in orgs/.
        let (ca, tlsca) = cert_files(org);
        let rel = |p: &str| p.trim_start_matches("orgs/").to_string();
        spec["msp"] = json!({
            "caCerts": [{ "file": rel(&ca) }],
            "tlsCaCerts": [{ "file": rel(&tlsca) }],
        });
    }
    spec["admins"] = json!([{ "name": "admin", "signingKey": admin_key_line }]);
    let doc = json!({
        "apiVersion": "opssc/v1alpha1",
        "kind": "Organization",
        "metadata": { "name": org.name },
        "spec": spec,
    });
    let body = serde_saphyr::to_string(&doc).context("the Organization document serializes")?;
    Ok(format!(
        "# yaml-language-server: $schema=../../schema/network-spec.schema.json\n{body}"
    ))
}

/// A Channel document with `msp_id` added to `spec.members` (unchanged if
/// it is a member already); a leading `# yaml-language-server` line is kept.
pub fn with_member(text: &str, msp_id: &str) -> anyhow::Result<String> {
    let mut doc: Value = serde_saphyr::from_str(text).context("the channel file does not parse")?;
    if doc.get("kind").and_then(Value::as_str) != Some("Channel") {
        bail!("not a Channel document");
    }
    let members = doc
        .get_mut("spec")
        .and_then(|s| s.get_mut("members"))
        .and_then(Value::as_array_mut)
        .context("the channel has no spec.members list")?;
    if !members.iter().any(|m| m == msp_id) {
        members.push(json!(msp_id));
    }
    let body = serde_saphyr::to_string(&doc).context("the channel document serializes")?;
    let header = text
        .lines()
        .next()
        .filter(|l| l.starts_with("# yaml-language-server"));
    Ok(match header {
        Some(h) => format!("{h}\n{body}"),
        None => body,
    })
}

/// A chaincode the new organization's peer must end up serving.
pub(crate) struct Served {
    pub name: String,
    pub channel: String,
}

/// Appends `pid` to the agents' PID file (`./scripts/quickstart.sh down` stops them).
fn record_agent_pid(state_dir: &Path, pid: u32) -> anyhow::Result<()> {
    let path = state_dir.join("agents.pids");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(f, "{pid}").with_context(|| format!("cannot write {}", path.display()))
}

/// Waits until the peer answers on its operations and gRPC ports.
fn wait_peer(peer: &PeerHandle, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let probe = probe_health(&peer.operations_address)
            .and_then(|()| probe_listener("gRPC", &peer.address));
        match probe {
            Ok(()) => return Ok(()),
            Err(why) if start.elapsed() > limit => bail!(
                "{} is not healthy after {} s: {why}; its log is {}",
                peer.host,
                limit.as_secs(),
                peer.log.display()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The new organization's own nodes, started as the devnet starts the
/// others' and recorded in `devnet.json` (`opssc dev down` stops them):
/// cryptogen material, an OpsSC server and a demo `kvcc` server for every
/// chaincode-as-a-service chaincode of `spec` (before the peer: its builder
/// reads their addresses), and one peer, joined to no channel. Both the
/// agents' scenario here and the bench's peer-CLI script start from this.
pub(crate) fn start_new_org(
    state: &mut StateFile,
    layout: &Layout,
    def: &PeerOrgDef,
    spec: &opssc_schema::Spec,
    say: &dyn Fn(&str),
) -> anyhow::Result<NewOrg> {
    let me = def.msp_id.clone();
    let Some(founded) = state.founded.clone() else {
        bail!(
            "the devnet in {} was not founded from a spec (start it with `opssc dev up --spec network-spec`)",
            layout.root.display()
        );
    };
    let crypto_cfg = layout.root.join(format!("crypto-config-{}.yaml", def.name));
    write_yaml(&crypto_cfg, &crypto_config(def))?;
    Tool::new(
        &state.fabric.cryptogen,
        format!("generating the crypto material of {me}"),
    )
    .args(["generate", "--config"])
    .arg(&crypto_cfg)
    .arg("--output")
    .arg(layout.crypto())
    .run()?;
    let crypto = layout.peer_org(def);
    let mut ports = PortPool::new();
    let host = format!("peer0.{}", def.domain);
    let peer = PeerHandle {
        name: "peer0".into(),
        host: host.clone(),
        msp_id: me.clone(),
        address: loopback(ports.take()?),
        chaincode_address: loopback(ports.take()?),
        operations_address: loopback(ports.take()?),
        tls_ca_cert: crypto.tls_ca_cert(),
        config_dir: layout.node_config(&host),
        data_dir: layout.node_data(&host),
        log: layout.log(&host),
        pid: 0,
    };
    let mut org = OrgHandle {
        name: def.name.clone(),
        msp_id: me.clone(),
        domain: def.domain.clone(),
        admin_msp_dir: crypto.admin_msp(),
        user_msp_dir: crypto.user_msp(),
        msp_dir: crypto.msp(),
        ca_cert: crypto.ca_cert(),
        tls_ca_cert: crypto.tls_ca_cert(),
        peers: vec![peer],
        agent_config: layout.agent_config(&me),
    };
    write_yaml(
        &org.peers[0].config_dir.join("core.yaml"),
        &core_yaml(&org.peers[0], &crypto.node("peers", &host), &[], layout),
    )?;
    std::fs::create_dir_all(&org.peers[0].data_dir)?;
    say(&format!(
        "{me}: crypto material generated (cryptogen), {host} configured"
    ));

    // Chaincode servers before the peer installs anything: the builder reads
    // their addresses at install time.
    let exe = std::env::current_exe()?;
    let org_dir = layout.root.join("orgs").join(&me);
    std::fs::create_dir_all(&org_dir)?;
    let free = || -> anyhow::Result<String> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .to_string())
    };
    let opssc_server = exe.with_file_name("opssc-chaincode");
    if opssc_server.is_file() {
        let address = free()?;
        let name = format!("{OPSSC_NAME}.{}", def.domain);
        let args = [
            "--address",
            address.as_str(),
            "--chaincode-id",
            founded.package_id.as_str(),
        ];
        let (_child, record) = spawn_node(&NodeCommand {
            name: &name,
            kind: NodeKind::Chaincode,
            program: &opssc_server,
            args: &args,
            config_dir: &org_dir,
            log: &layout.log(&name),
            detached: true,
        })?;
        state.processes.push(record);
        state.save()?;
        set_builder_value(&org, OPSSC_NAME, &address)?;
        state
            .founded
            .as_mut()
            .expect("founded")
            .servers
            .insert(me.clone(), address);
    }
    let kvcc = exe.with_file_name("kvcc");
    let mut served = Vec::new();
    for demo in opssc_devnet::founding::demo_chaincodes(spec, &kvcc, &say)? {
        let address = free()?;
        let (_child, record) =
            opssc_devnet::founding::spawn_demo_server(&org, &demo, &address, &kvcc, layout, true)?;
        state.processes.push(record);
        state.save()?;
        say(&format!(
            "{me}: demo chaincode server for {} ({}) on {address}",
            demo.name, demo.package_id
        ));
        served.push(Served {
            name: demo.name,
            channel: demo.channel,
        });
    }

    // The peer, recorded like the other nodes.
    ports.release();
    let (_child, record) = spawn_node(&NodeCommand {
        name: &host,
        kind: NodeKind::Peer,
        program: &state.fabric.peer,
        args: &["node", "start"],
        config_dir: &org.peers[0].config_dir,
        log: &org.peers[0].log,
        detached: true,
    })?;
    org.peers[0].pid = record.pid;
    state.processes.push(record);
    state.plan.orgs.push(org.clone());
    state.plan.topology.peer_orgs.push(def.clone());
    state.save()?;
    wait_peer(&org.peers[0], Duration::from_secs(60))?;
    say(&format!(
        "{me}: {host} running (pid {}, grpc {}), joined to no channel yet",
        org.peers[0].pid, org.peers[0].address
    ));
    Ok(NewOrg { org, served })
}

/// What [`start_new_org`] started.
pub(crate) struct NewOrg {
    pub org: OrgHandle,
    /// The chaincodes its peer must end up serving.
    pub served: Vec<Served>,
}

/// Runs the add-org demo on the devnet in `state_dir`; returns the exit code.
pub fn run(state_dir: &Path, timeout: Duration) -> anyhow::Result<i32> {
    add_org(state_dir, timeout, 3, &|| {}).map(|(code, _)| code)
}

/// The add-org scenario on a devnet of at most `max_existing` peer
/// organizations (`opssc dev bench` runs it at any size): the exit code and,
/// when it finished, the seconds from the consent (every member's approval
/// in git) to the last chaincode answering on its peer. `consented` runs
/// once every member's approval is in git.
pub(crate) fn add_org(
    state_dir: &Path,
    timeout: Duration,
    max_existing: usize,
    consented: &dyn Fn(),
) -> anyhow::Result<(i32, Option<f64>)> {
    let mut state = StateFile::load(state_dir)?;
    let Some(founded) = state.founded.clone() else {
        bail!(
            "the devnet in {} was not founded from a spec (start it with `./scripts/quickstart.sh` or `opssc dev up --spec network-spec`)",
            state_dir.display()
        );
    };
    let layout = Layout::new(&state.state_dir);
    let existing: Vec<String> = state.plan.orgs.iter().map(|o| o.msp_id.clone()).collect();
    if existing.len() > max_existing {
        bail!(
            "the devnet already has {} peer organizations ({}): the demo adds the fourth to the quick start's three; start afresh with `./scripts/quickstart.sh down && ./scripts/quickstart.sh`",
            existing.len(),
            existing.join(", ")
        );
    }
    let def = next_org(&existing);
    let me = def.msp_id.clone();
    let sponsor = state
        .plan
        .orgs
        .iter()
        .find(|o| o.msp_id == SPONSOR)
        .cloned()
        .with_context(|| format!("the devnet has no {SPONSOR} to sponsor {me}"))?;
    let repo_dir = founded.spec_repo.path.clone();
    let loaded = opssc_schema::load_dir(&repo_dir);
    let Some(spec) = loaded.spec else {
        bail!(
            "the spec repository {} does not validate; `opssc validate {}` shows why",
            repo_dir.display(),
            repo_dir.display()
        );
    };
    let t_start = Instant::now();
    let say = |m: &str| println!("[{:>5.1} s] {m}", t_start.elapsed().as_secs_f64());

    // 1. The new organization's own nodes.
    let NewOrg { org, served } = start_new_org(&mut state, &layout, &def, &spec, &say)?;
    let exe = std::env::current_exe()?;

    // Its admin's SSH key (the devnet keeps it like the others').
    let (key_path, org_key) = opssc_devnet::spec_repo::admin_key(&layout.root.join("orgs"), &me)?;
    state
        .founded
        .as_mut()
        .expect("founded")
        .spec_repo
        .admin_keys
        .insert(me.clone(), key_path);
    state.save()?;

    // 2. The sponsor's commit: the Organization file, no certificates yet.
    let repo = git2::Repository::open(&repo_dir)
        .with_context(|| format!("cannot open the spec repository {}", repo_dir.display()))?;
    let key_line = org_key.public_key().to_openssh()?;
    let org_file = format!("orgs/{}.yaml", def.name);
    let endpoint = org.peers[0].address.clone();
    let sponsor_key = founded.spec_repo.admin_key(SPONSOR)?;
    let since_unix = opssc_devnet::state::now_unix() as i64;
    let text = organization_yaml(&def, &endpoint, &key_line, false)?;
    let message = format!("{me}: a new organization, sponsored by {SPONSOR}");
    let oid = commit_signed(&repo, &[(&org_file, Some(&text))], &message, &sponsor_key)?;
    say(&format!(
        "{SPONSOR}'s admin committed {} \"{message}\" (its peer and admin key), SSH-signed",
        &oid.to_string()[..12]
    ));

    // Its agent, following the spec repository like the members' agents.
    write_agent_config(&state.plan, &layout, &org, &sponsor)?;
    let log = layout.root.join("logs").join(format!("agent-{me}.log"));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("agent")
        .arg("--config")
        .arg(&org.agent_config)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let agent = cmd
        .spawn()
        .with_context(|| format!("cannot start `{} agent`", exe.display()))?;
    record_agent_pid(&layout.root, agent.id())?;
    say(&format!(
        "{me}: opssc agent pid {} (log {}; PID in {}/agents.pids)",
        agent.id(),
        log.display(),
        layout.root.display()
    ));

    // The organization's own commit, signed with its key.
    let (ca_rel, tlsca_rel) = cert_files(&def);
    let ca = std::fs::read_to_string(&org.ca_cert)?;
    let tlsca = std::fs::read_to_string(&org.tls_ca_cert)?;
    let mut files: Vec<(String, String)> = vec![
        (
            org_file.clone(),
            organization_yaml(&def, &endpoint, &key_line, true)?,
        ),
        (ca_rel, ca),
        (tlsca_rel, tlsca),
    ];
    let mut channels: Vec<String> = spec.channels.keys().cloned().collect();
    // The ops channel first (the order the members add it in).
    channels.sort_by_key(|c| (c != &founded.ops_channel, c.clone()));
    for ch in &channels {
        let rel = channel_file(&repo_dir, ch)?;
        let text = std::fs::read_to_string(repo_dir.join(&rel))?;
        files.push((rel, with_member(&text, &me)?));
    }
    let refs: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), Some(t.as_str())))
        .collect();
    let message = format!("{me} joins {}", channels.join(", "));
    let oid = commit_signed(&repo, &refs, &message, &org_key)?;
    say(&format!(
        "{me}'s admin committed {} \"{message}\" (its CA and TLS CA certificates), signed with {me}'s own key",
        &oid.to_string()[..12]
    ));
    // Consent is per organization: each member's agent votes for the
    // OrgAdds only once that member's admin approved the commit in git. The
    // demo holds every admin key of the devnet, so it performs those human
    // steps on the members' behalf, visibly, with the function `opssc
    // approve` runs.
    let members: Vec<String> = founded
        .spec_repo
        .admin_keys
        .keys()
        .filter(|m| **m != me)
        .cloned()
        .collect();
    for member in &members {
        let key = founded.spec_repo.admin_key(member)?;
        let stored = opssc::source::approve_with_key(&repo, oid, None, &key)?;
        say(&format!(
            "{member}'s admin approved it (`opssc approve {}`; the demo does it on {member}'s behalf): {}",
            &oid.to_string()[..12],
            stored.refname
        ));
    }
    // The change is consented now: the clock starts (the lead
    // time; the admins' approvals are people's work, not the agents').
    let t0 = Instant::now();
    consented();
    println!(
        "The members' agents now verify the commit and their approvals, file one OrgAdd per channel, vote after recomputing it,\n\
         the executor submits each config update with the signatures; {me}'s agent joins its peer from\n\
         block 0 and installs and approves every committed chaincode.\n"
    );

    // 3. Watch the chain.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (code, answered) = rt.block_on(watch(
        &sponsor,
        &org,
        &founded.ops_channel,
        &channels,
        &served,
        since_unix,
        t0,
        timeout,
        &say,
    ))?;
    // The lead time ends when the last chaincode answers on the new peer;
    // the scenario also waits for the peer to serve the ops channel, whose
    // replay a script does not wait for either.
    let took = (code == 0).then(|| answered.unwrap_or_else(|| t0.elapsed()).as_secs_f64());
    if code == 0 {
        // `opssc dev status` shows the new peer's heights on its channels.
        let mut state = StateFile::load(&layout.root)?;
        for ch in state.plan.channels.iter_mut() {
            if channels.contains(&ch.name) && !ch.members.contains(&me) {
                ch.members.push(me.clone());
            }
        }
        for ch in state.plan.topology.channels.iter_mut() {
            if channels.contains(&ch.name) && !ch.members.contains(&me) {
                ch.members.push(me.clone());
            }
        }
        state.save()?;
        let status = rt.block_on(async {
            let ctx = Context::connect(load_config(&org.agent_config)?).await?;
            let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("status"), None)?;
            anyhow::Ok(status::status(&ctx, &at).await?)
        });
        match status {
            Ok(s) => println!(
                "\n{me}'s status ({:?}, as `opssc status --config {}` shows it):\n{}",
                s.condition,
                org.agent_config.display(),
                s.text
            ),
            Err(e) => println!("\n{me}'s status cannot be read yet: {e:#}"),
        }
    }
    rt.shutdown_background();
    Ok((code, took))
}

/// The spec file of channel `name` (`channels/<name>.yaml`, or any YAML file
/// whose Channel document has that name).
fn channel_file(repo_dir: &Path, name: &str) -> anyhow::Result<String> {
    let direct = format!("channels/{name}.yaml");
    if repo_dir.join(&direct).is_file() {
        return Ok(direct);
    }
    bail!(
        "the spec repository {} has no {direct}: the demo edits channels/<name>.yaml",
        repo_dir.display()
    )
}

/// The new organization's `opssc.yaml`: the devnet's format for its own
/// peers and the orderers, following the same spec repository (trusted root,
/// OpsSC name, chaincode server templates) as `sponsor`'s agent.
fn write_agent_config(
    plan: &NetworkPlan,
    layout: &Layout,
    org: &OrgHandle,
    sponsor: &OrgHandle,
) -> anyhow::Result<()> {
    let mut only = plan.clone();
    only.orgs = vec![org.clone()];
    let (path, mut config) = agent_configs(&only, &layout.root)
        .into_iter()
        .next()
        .expect("one configuration per organization");
    let text = std::fs::read_to_string(&sponsor.agent_config)
        .with_context(|| format!("cannot read {}", sponsor.agent_config.display()))?;
    let theirs: AgentConfig = serde_saphyr::from_str(&text)
        .with_context(|| format!("{} does not parse", sponsor.agent_config.display()))?;
    if theirs.spec.is_none() {
        bail!(
            "{}'s agent configuration {} follows no spec repository",
            sponsor.msp_id,
            sponsor.agent_config.display()
        );
    }
    config.spec = theirs.spec;
    config.ops_chaincode = theirs.ops_chaincode;
    config.chaincode_servers = theirs.chaincode_servers;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, config.to_yaml())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// An error with its sources, `a: b: c`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// Polls the chain every second and prints what changed (proposals filed
/// since `since_unix`, config updates, the new peer's joins), while
/// [`answers`] asks the new organization's peer five times a second for
/// every chaincode in `served`: the lead time ends at the last first
/// answer, however long one look at the story takes. 0 once every channel
/// lists the organization, its peer joined them and every chaincode
/// answers; 1 at the timeout, with what is missing.
#[allow(clippy::too_many_arguments)]
async fn watch(
    sponsor: &OrgHandle,
    org: &OrgHandle,
    ops: &str,
    channels: &[String],
    served: &[Served],
    since_unix: i64,
    t0: Instant,
    timeout: Duration,
    say: &dyn Fn(&str),
) -> anyhow::Result<(i32, Option<Duration>)> {
    let sponsor_admin = admin(sponsor)?;
    let gateway = Gateway::new(connect(&sponsor.peers[0]).await?, sponsor_admin.clone());
    let sponsor_deliver = Deliverer::peer(connect(&sponsor.peers[0]).await?, sponsor_admin);
    let org_admin: Arc<dyn opssc_fabric::Signer> = admin(org)?;
    let org_node = connect(&org.peers[0]).await?;
    let org_deliver = Deliverer::peer(org_node.clone(), org_admin.clone());
    let endorser = Endorser::new(org_node, org_admin);
    let me = &org.msp_id;
    let since = |t: Instant| t.duration_since(t0).as_secs_f64();

    let list = |gw: &Gateway| {
        let gw = gw.clone();
        let ops = ops.to_string();
        async move {
            let arg = serde_json::to_vec(&json!({"page_size": 200})).expect("JSON");
            let out = gw
                .evaluate_transaction(&ops, OPSSC_NAME, "list", [arg])
                .await
                .map_err(|e| chain(&e))?;
            let v: Value = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
            Ok::<Vec<Value>, String>(v["items"].as_array().cloned().unwrap_or_default())
        }
    };
    let story = async {
        let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
        let mut in_config: BTreeSet<String> = BTreeSet::new();
        let mut joined: BTreeSet<String> = BTreeSet::new();
        let mut last_error = String::new();
        while t0.elapsed() <= timeout {
            match list(&gateway).await {
                Ok(items) => {
                    for p in items {
                        let Some(id) = p["id"].as_str().map(str::to_string) else {
                            continue;
                        };
                        // Proposals filed before the onboarding are not this demo's.
                        if p["created_at"].as_i64().unwrap_or(0) < since_unix - 1 {
                            continue;
                        }
                        let state = p["state"].as_str().unwrap_or("?").to_string();
                        let votes = votes(&gateway, ops, &id).await;
                        let now = (state.clone(), votes.len());
                        if seen.get(&id) != Some(&now) {
                            let target = p["target"]["channel"].as_str().unwrap_or("-");
                            say(&format!(
                                "+{:.1} s  proposal {} {} on {target} by {}: {state}; votes: {}",
                                since(Instant::now()),
                                &id[..id.len().min(12)],
                                p["kind"].as_str().unwrap_or("?"),
                                p["proposer"].as_str().unwrap_or("?"),
                                if votes.is_empty() {
                                    "none yet".to_string()
                                } else {
                                    votes.join(", ")
                                }
                            ));
                            seen.insert(id, now);
                        }
                    }
                }
                Err(e) => last_error = format!("listing the OpsSC proposals: {e}"),
            }
            // Channel configs (as the sponsor sees them) and the new peer.
            for ch in channels {
                if !in_config.contains(ch) {
                    match configtx::client::fetch_config(&sponsor_deliver, ch).await {
                        Ok(c) if c.application_msp_ids().contains(me) => {
                            say(&format!(
                                "+{:.1} s  config update on {ch}: sequence {}, members {}",
                                since(Instant::now()),
                                c.sequence,
                                c.application_msp_ids().join(", ")
                            ));
                            in_config.insert(ch.clone());
                        }
                        Ok(_) => {}
                        Err(e) => last_error = format!("reading the config of {ch}: {}", chain(&e)),
                    }
                }
                if in_config.contains(ch)
                    && !joined.contains(ch)
                    && configtx::client::fetch_config(&org_deliver, ch)
                        .await
                        .is_ok()
                {
                    say(&format!(
                        "+{:.1} s  {}'s peer joined {ch} (from block 0)",
                        since(Instant::now()),
                        me
                    ));
                    joined.insert(ch.clone());
                }
            }
            if joined.len() == channels.len() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        (in_config, joined, last_error)
    };
    let ((in_config, joined, story_error), (answering, answered, answer_error)) =
        futures::future::join(story, answers(&endorser, served, me, t0, timeout, say)).await;

    if joined.len() == channels.len() && answered.is_some() {
        println!(
            "\n{me} added: {} channel config update(s), its peer joined them, {} chaincode(s) answering on its own peer {:.1} s after its commit.",
            channels.len(),
            served.len(),
            since(Instant::now())
        );
        return Ok((0, answered));
    }
    let missing: Vec<String> = channels
        .iter()
        .filter(|c| !in_config.contains(*c))
        .map(|c| format!("{me} is not in the config of {c}"))
        .chain(
            channels
                .iter()
                .filter(|c| in_config.contains(*c) && !joined.contains(*c))
                .map(|c| format!("{me}'s peer has not joined {c}")),
        )
        .chain(
            served
                .iter()
                .filter(|c| !answering.contains(&c.name))
                .map(|c| format!("{}/{} does not answer on {me}'s peer", c.channel, c.name)),
        )
        .collect();
    let last_error = [story_error, answer_error]
        .into_iter()
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    println!(
        "\nnot done after {} s: {}.\nLast error: {}\nLook at `opssc status --config {} --watch` and .opssc-dev/logs/agent-*.log",
        timeout.as_secs(),
        missing.join("; "),
        if last_error.is_empty() {
            "none"
        } else {
            &last_error
        },
        org.agent_config.display()
    );
    Ok((1, None))
}

/// Asks the new organization's own peer (not a gateway, which could ask
/// another organization's) for each chaincode of `served` five times a
/// second until all answer or `timeout`: those that answered, when the last
/// one did (the lead time's end), and the last error. The chaincodes are
/// asked at once: the peer starts a chaincode at its first call, and
/// asking one after the other would add each start to the next one's
/// answer (the watch's time, not the agents').
async fn answers(
    endorser: &Endorser,
    served: &[Served],
    me: &str,
    t0: Instant,
    timeout: Duration,
    say: &dyn Fn(&str),
) -> (BTreeSet<String>, Option<Duration>, String) {
    let mut answering: BTreeSet<String> = BTreeSet::new();
    let mut last_error = String::new();
    while t0.elapsed() <= timeout {
        let asked = served.iter().filter(|cc| !answering.contains(&cc.name));
        let replies = futures::future::join_all(asked.map(|cc| async move {
            let call = ChaincodeCall::new(&cc.channel, &cc.name, "put", ["demo", "add-org"]);
            (cc, endorser.query("put", &call).await)
        }))
        .await;
        for (cc, reply) in replies {
            match reply {
                Ok(_) => {
                    say(&format!(
                        "+{:.1} s  {}/{} answers on {}'s peer",
                        t0.elapsed().as_secs_f64(),
                        cc.channel,
                        cc.name,
                        me
                    ));
                    answering.insert(cc.name.clone());
                }
                Err(e) => {
                    last_error = format!("{}/{} on {me}'s peer: {}", cc.channel, cc.name, chain(&e))
                }
            }
        }
        if answering.len() == served.len() {
            return (answering, Some(t0.elapsed()), String::new());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (answering, None, last_error)
}

/// `ORG decision` for each vote on a proposal (empty when none or unreadable).
async fn votes(gw: &Gateway, ops: &str, id: &str) -> Vec<String> {
    let arg = serde_json::to_vec(&json!({ "id": id })).expect("JSON");
    let Ok(out) = gw
        .evaluate_transaction(ops, OPSSC_NAME, "votes", [arg])
        .await
    else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
    v["votes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    format!(
                        "{} {}",
                        v["org"].as_str().unwrap_or("?"),
                        v["decision"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_organization_is_the_first_free_number() {
        let three: Vec<String> = ["Org1MSP", "Org2MSP", "Org3MSP"].map(String::from).into();
        let d = next_org(&three);
        assert_eq!(
            (
                d.name.as_str(),
                d.msp_id.as_str(),
                d.domain.as_str(),
                d.peers
            ),
            ("org4", "Org4MSP", "org4.example.com", 1)
        );
        let gap: Vec<String> = ["Org1MSP", "Org3MSP"].map(String::from).into();
        assert_eq!(next_org(&gap).msp_id, "Org4MSP");
        let odd: Vec<String> = ["Org1MSP", "Org2MSP", "BankMSP"].map(String::from).into();
        assert_eq!(next_org(&odd).msp_id, "Org4MSP");
    }

    #[test]
    fn crypto_config_has_only_the_new_organization() {
        let c = crypto_config(&next_org(&["Org1MSP".into()]));
        assert!(c.get("OrdererOrgs").is_none());
        let orgs = c["PeerOrgs"].as_array().unwrap();
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0]["Domain"], "org2.example.com");
        assert_eq!(orgs[0]["EnableNodeOUs"], true);
        assert_eq!(orgs[0]["Template"]["SANS"][0], "127.0.0.1");
    }

    fn org4() -> PeerOrgDef {
        next_org(&["Org1MSP", "Org2MSP", "Org3MSP"].map(String::from))
    }

    #[test]
    fn the_sponsors_file_has_the_peer_and_admin_and_no_certificates() {
        let text = organization_yaml(
            &org4(),
            "127.0.0.1:40001",
            "ssh-ed25519 AAAA admin@Org4MSP",
            false,
        )
        .unwrap();
        assert!(text.starts_with("# yaml-language-server"));
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["kind"], "Organization");
        assert_eq!(doc["metadata"]["name"], "org4");
        assert_eq!(doc["spec"]["mspId"], "Org4MSP");
        assert_eq!(doc["spec"]["peers"][0]["endpoint"], "127.0.0.1:40001");
        assert_eq!(doc["spec"]["peers"][0]["anchor"], true);
        assert!(doc["spec"].get("msp").is_none(), "{text}");
        assert_eq!(
            doc["spec"]["admins"][0]["signingKey"],
            "ssh-ed25519 AAAA admin@Org4MSP"
        );
    }

    #[test]
    fn the_organizations_own_file_points_at_its_certificates() {
        let d = org4();
        let text = organization_yaml(
            &d,
            "127.0.0.1:40001",
            "ssh-ed25519 AAAA admin@Org4MSP",
            true,
        )
        .unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["spec"]["msp"]["caCerts"][0]["file"], "org4/ca.pem");
        assert_eq!(
            doc["spec"]["msp"]["tlsCaCerts"][0]["file"],
            "org4/tlsca.pem"
        );
        // The files it names are where the commit puts the certificates
        // (relative to orgs/, where the Organization file lives).
        let (ca, tlsca) = cert_files(&d);
        assert_eq!(ca, "orgs/org4/ca.pem");
        assert_eq!(tlsca, "orgs/org4/tlsca.pem");
    }

    #[test]
    fn the_spec_with_the_new_organization_validates() {
        // The network spec as the devnet commits it, plus both commits' files.
        let tmp = tempfile::tempdir().unwrap();
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        for rel in [
            "consortium.yaml",
            "orgs/orderer.yaml",
            "orgs/org1.yaml",
            "orgs/org2.yaml",
            "orgs/org3.yaml",
            "channels/ops.yaml",
            "channels/trade.yaml",
            "chaincodes/kv.yaml",
        ] {
            let dst = tmp.path().join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(spec.join(rel), dst).unwrap();
        }
        let d = org4();
        let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
        let line = key.public_key().to_openssh().unwrap();
        // After the sponsor's commit: an organization of no channel.
        std::fs::write(
            tmp.path().join("orgs/org4.yaml"),
            organization_yaml(&d, "127.0.0.1:40001", &line, false).unwrap(),
        )
        .unwrap();
        let loaded = opssc_schema::load_dir(tmp.path());
        let errors: Vec<String> = loaded.report.errors().map(|e| e.render()).collect();
        assert!(loaded.spec.is_some(), "{errors:#?}");
        // After the organization's commit: its certificates and memberships.
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let pem = params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem();
        std::fs::create_dir_all(tmp.path().join("orgs/org4")).unwrap();
        let (ca, tlsca) = cert_files(&d);
        std::fs::write(tmp.path().join(ca), &pem).unwrap();
        std::fs::write(tmp.path().join(tlsca), &pem).unwrap();
        std::fs::write(
            tmp.path().join("orgs/org4.yaml"),
            organization_yaml(&d, "127.0.0.1:40001", &line, true).unwrap(),
        )
        .unwrap();
        for ch in ["ops", "trade"] {
            let path = tmp.path().join(format!("channels/{ch}.yaml"));
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, with_member(&text, "Org4MSP").unwrap()).unwrap();
        }
        let loaded = opssc_schema::load_dir(tmp.path());
        let errors: Vec<String> = loaded.report.errors().map(|e| e.render()).collect();
        let spec = loaded.spec.unwrap_or_else(|| panic!("{errors:#?}"));
        for ch in ["ops", "trade"] {
            assert!(
                spec.channels[ch].members.contains(&"Org4MSP".to_string()),
                "{ch}"
            );
        }
    }

    #[test]
    fn the_agent_configuration_follows_the_sponsors_spec_with_its_own_peer() {
        use opssc_devnet::agent_config::write_agent_configs;
        use opssc_devnet::handles::plan;
        use opssc_devnet::topology::Topology;
        use opssc_schema::local::SpecSource;

        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let layout = Layout::new(root);
        let mut ports = PortPool::new();
        let three = plan(&Topology::reference(3), &layout, &mut ports).unwrap();
        write_agent_configs(&three, root).unwrap();
        // The sponsor's configuration as founding leaves it.
        let sponsor = &three.orgs[0];
        let spec = SpecSource::Git {
            url: "file:///state/spec-repo".into(),
            branch: "main".into(),
            path: None,
            poll_seconds: None,
            trusted_root: Some("a".repeat(40)),
        };
        let text = std::fs::read_to_string(&sponsor.agent_config).unwrap();
        let mut raw: AgentConfig = serde_saphyr::from_str(&text).unwrap();
        raw.spec = Some(spec.clone());
        raw.ops_chaincode = Some("opssc".into());
        raw.chaincode_servers
            .insert("kv_1.0".into(), "{{.kv}}".into());
        std::fs::write(&sponsor.agent_config, raw.to_yaml()).unwrap();

        let four = plan(&Topology::reference(4), &layout, &mut ports).unwrap();
        let org4 = four.orgs[3].clone();
        write_agent_config(&three, &layout, &org4, sponsor).unwrap();
        let mine = AgentConfig::load(&org4.agent_config).unwrap();
        assert_eq!(mine.msp_id, "Org4MSP");
        assert_eq!(mine.spec, Some(spec));
        assert_eq!(mine.ops_chaincode.as_deref(), Some("opssc"));
        assert_eq!(
            mine.chaincode_servers.get("kv_1.0").map(String::as_str),
            Some("{{.kv}}")
        );
        assert_eq!(mine.peers.len(), 1);
        assert_eq!(mine.peers[0].address, org4.peers[0].address);
        assert_eq!(mine.orderers.len(), three.orderers.len());
        assert_eq!(mine.orderers[0].admin_address, None);
        let text = std::fs::read_to_string(&org4.agent_config).unwrap();
        assert!(
            text.contains("../../crypto/peerOrganizations/org4.example.com"),
            "{text}"
        );
    }

    #[test]
    fn a_member_is_added_once_and_the_rest_kept() {
        let text = "# yaml-language-server: $schema=../../schema/network-spec.schema.json\napiVersion: opssc/v1alpha1\nkind: Channel\nmetadata:\n  name: trade\nspec:\n  members: [Org1MSP, Org2MSP, Org3MSP]\n  batch:\n    timeout: 500ms\n";
        let once = with_member(text, "Org4MSP").unwrap();
        assert!(once.starts_with("# yaml-language-server"));
        let doc: Value = serde_saphyr::from_str(&once).unwrap();
        assert_eq!(
            doc["spec"]["members"],
            json!(["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"])
        );
        assert_eq!(doc["spec"]["batch"]["timeout"], "500ms");
        let twice = with_member(&once, "Org4MSP").unwrap();
        assert_eq!(twice, once);
        assert!(with_member("kind: Chaincode\nspec: {}\n", "Org4MSP").is_err());
    }
}
