//! [`Devnet`]: start a whole network, hand out its handles, stop it.
//!
//! Start-up is a fixed sequence, each step finishing before the next begins:
//! state directory → binaries → plan (ports, names, paths) → crypto material
//! → builder, genesis blocks, node and agent configuration → processes →
//! health (`/healthz`) → orderers join (participation API) → peers join →
//! Raft leaders elected. A failure at any step stops whatever was started and
//! keeps the state directory, so the logs the error points to still exist.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::agent_config::write_agent_configs;
use crate::binaries::{FabricBinaries, fabric_binaries_for};
use crate::builders::{install_ccaas_builder, install_golang_builder};
use crate::channels::{self, peer_cli_env};
use crate::config::{core_yaml, crypto_config, orderer_yaml, write_yaml};
use crate::error::{DevnetError, Result};
use crate::founding::Founded;
use crate::handles::{
    ChannelHandle, NetworkPlan, OrdererHandle, OrdererOrgHandle, OrgHandle, PeerHandle, plan,
};
use crate::health::{gossip_peers_known, probe_health, probe_listener, raft_leader_channels};
use crate::layout::Layout;
use crate::ports::PortPool;
use crate::process::{NodeCommand, NodeKind, Supervised, Watchdog, log_tail, spawn_node, stop_all};
use crate::spec_repo::SpecRepo;
use crate::state::{STATE_FORMAT, StateFile, now_unix};
use crate::status::{NetworkStatus, collect_status};
use crate::tools::Tool;
use crate::topology::Topology;

/// How to start a devnet.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    pub topology: Topology,
    /// Where everything goes; a fresh temporary directory when `None`.
    pub state_dir: Option<PathBuf>,
    /// Keep the state directory when the devnet stops (it is always kept when
    /// start-up fails, for its logs).
    pub keep_state: bool,
    /// Let the nodes outlive this process (`opssc dev up`): they run in their
    /// own session, no watchdog, and dropping the [`Devnet`] leaves them running
    /// only after [`Devnet::detach`].
    pub detached: bool,
    /// Print no progress lines.
    pub quiet: bool,
    /// How long each readiness wait may take.
    pub ready_timeout: Duration,
    /// Create the topology's channels (orderers and peers join them). `false`:
    /// only the nodes start, healthy and joined to nothing — for founding the
    /// consortium from outside (`opssc found`). Default `true`.
    pub channels: bool,
}

impl DevnetOptions {
    pub fn new(topology: Topology) -> DevnetOptions {
        DevnetOptions {
            topology,
            state_dir: None,
            keep_state: false,
            detached: false,
            quiet: false,
            ready_timeout: Duration::from_secs(60),
            channels: true,
        }
    }

    /// The nodes of the network a spec describes, joined to no channel: the
    /// organizations' founding (`opssc found`, run by `opssc dev up`) creates
    /// the channels from the spec.
    pub fn from_spec(spec_dir: &Path) -> Result<DevnetOptions> {
        let loaded = opssc_schema::load_dir(spec_dir);
        let Some(spec) = loaded.spec else {
            let errors: Vec<String> = loaded.report.errors().map(|d| d.render()).collect();
            return Err(DevnetError::Topology(format!(
                "the spec in {} does not validate (`opssc validate {}` shows the same):\n{}",
                spec_dir.display(),
                spec_dir.display(),
                errors.join("\n")
            )));
        };
        let mut opts = DevnetOptions::new(Topology::from_spec(&spec)?);
        opts.channels = false;
        Ok(opts)
    }
}

/// A running Fabric network. Stops every process it started (by PID) on
/// [`Devnet::stop`] or drop, and removes its state directory unless kept.
pub struct Devnet {
    layout: Layout,
    keep_state: bool,
    detached: bool,
    quiet: bool,
    ready_timeout: Duration,
    started: Instant,
    started_at: u64,
    ready: bool,
    bin: FabricBinaries,
    plan: NetworkPlan,
    procs: Vec<Supervised>,
    watchdog: Option<Watchdog>,
    finished: bool,
    founded: Option<Founded>,
}

impl Devnet {
    /// Builds or finds the Fabric binaries, then starts the network and waits
    /// until every node is healthy, every channel joined and led.
    pub fn start(opts: DevnetOptions) -> Result<Devnet> {
        let started = Instant::now();
        opts.topology.validate()?;
        let say = |m: &str| {
            if !opts.quiet {
                eprintln!("devnet: {m}");
            }
        };
        let mut root = prepare_state_dir(opts.state_dir.as_deref(), &say)?;
        let bin = fabric_binaries_for(opts.topology.fabric, &mut |m| say(m))?;
        let mut attempt = 1;
        loop {
            let layout = Layout::new(&root);
            let mut ports = PortPool::new();
            let plan = plan(&opts.topology, &layout, &mut ports)?;
            let watchdog = if opts.detached {
                None
            } else {
                Some(Watchdog::start(
                    (!opts.keep_state).then_some(root.as_path()),
                )?)
            };
            let mut devnet = Devnet {
                layout,
                keep_state: opts.keep_state,
                detached: opts.detached,
                quiet: opts.quiet,
                ready_timeout: opts.ready_timeout,
                started,
                started_at: now_unix(),
                ready: false,
                bin: bin.clone(),
                plan,
                procs: Vec::new(),
                watchdog,
                finished: false,
                founded: None,
            };
            match devnet.bring_up(ports, opts.channels) {
                Ok(()) => return Ok(devnet),
                // Ports are free when chosen and released just before the
                // nodes start; another process may grab one in between. Start
                // over once, with new ports, in a fresh state directory.
                Err(e) if attempt == 1 && e.is_port_taken() => {
                    devnet.say(&format!("{}; starting again with new ports", e.summary()));
                    devnet.keep_state = false;
                    devnet.shutdown()?;
                    attempt += 1;
                    root = prepare_state_dir(opts.state_dir.as_deref(), &say)?;
                }
                Err(e) => {
                    devnet.keep_state = true;
                    if let Err(stop) = devnet.shutdown() {
                        devnet.say(&format!("while cleaning up after the failure: {stop}"));
                    }
                    devnet.say(&format!("state kept for inspection in {}", root.display()));
                    return Err(e);
                }
            }
        }
    }

    fn say(&self, m: &str) {
        if !self.quiet {
            eprintln!(
                "devnet: {m} ({:.1} s)",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn bring_up(&mut self, ports: PortPool, channels: bool) -> Result<()> {
        let root = self.layout.root.clone();
        self.say(&format!(
            "starting {} peer org(s), {} orderer(s) in {}",
            self.plan.orgs.len(),
            self.plan.orderers.len(),
            root.display()
        ));
        // Crypto material.
        write_yaml(&self.layout.crypto_config(), &crypto_config(&self.plan))?;
        Tool::new(&self.bin.cryptogen, "generating crypto material")
            .args(["generate", "--config"])
            .arg(self.layout.crypto_config())
            .arg("--output")
            .arg(self.layout.crypto())
            .run()?;
        // Builder, genesis blocks, node and agent configuration.
        install_ccaas_builder(&self.layout.ccaas_builder())?;
        install_golang_builder(&self.layout.golang_builder())?;
        for ch in &self.plan.channels {
            let def = self
                .plan
                .topology
                .channels
                .iter()
                .find(|d| d.name == ch.name)
                .expect("the plan has a handle for every channel of its topology");
            channels::genesis_block(&self.plan, def, &ch.genesis_block)?;
        }
        for o in &self.plan.orderers {
            write_yaml(
                &o.config_dir.join("orderer.yaml"),
                &orderer_yaml(o, &self.plan, &self.layout),
            )?;
            std::fs::create_dir_all(&o.data_dir).map_err(DevnetError::io("create", &o.data_dir))?;
        }
        for (org_def, org) in self.plan.topology.peer_orgs.iter().zip(&self.plan.orgs) {
            let crypto = self.layout.peer_org(org_def);
            for peer in &org.peers {
                let bootstrap: Vec<String> = org
                    .peers
                    .iter()
                    .filter(|p| p.name != peer.name)
                    .map(|p| p.address.clone())
                    .collect();
                let node = crypto.node("peers", &peer.host);
                write_yaml(
                    &peer.config_dir.join("core.yaml"),
                    &core_yaml(peer, &node, &bootstrap, &self.layout),
                )?;
                std::fs::create_dir_all(&peer.data_dir)
                    .map_err(DevnetError::io("create", &peer.data_dir))?;
            }
        }
        write_agent_configs(&self.plan, &root)?;
        self.say("crypto material, genesis blocks and configuration written");

        // Processes.
        ports.release();
        for i in 0..self.plan.orderers.len() {
            self.spawn_orderer(i)?;
        }
        for oi in 0..self.plan.orgs.len() {
            for pi in 0..self.plan.orgs[oi].peers.len() {
                self.spawn_peer(oi, pi)?;
            }
        }
        self.save_state()?;
        let all: Vec<usize> = (0..self.procs.len()).collect();
        self.wait_healthy(&all)?;
        self.say("all nodes healthy");
        if !channels {
            self.ready = true;
            self.save_state()?;
            self.say("ready: nodes only, no channel created");
            return Ok(());
        }

        // Channels.
        for o in &self.plan.orderers {
            for ch in &self.plan.channels {
                channels::orderer_join(&self.bin, o, &ch.name, &ch.genesis_block)?;
            }
        }
        self.join_peers()?;
        self.wait_raft_leaders()?;
        self.wait_gossip_membership()?;
        self.ready = true;
        self.save_state()?;
        self.say("ready: channels joined and led, every peer sees the others");
        Ok(())
    }

    /// Starts a chaincode server process for organization `msp_id` (e.g.
    /// `opssc-chaincode --address A --chaincode-id ID`), logging to
    /// `logs/<name>.log`; it is recorded in `devnet.json` and stopped with the
    /// nodes. Detached like them when the devnet is.
    pub fn start_chaincode_server(
        &mut self,
        name: &str,
        msp_id: &str,
        program: &Path,
        args: &[&str],
    ) -> Result<()> {
        let dir = self.layout.root.join("orgs").join(msp_id);
        std::fs::create_dir_all(&dir).map_err(DevnetError::io("create", &dir))?;
        let (child, record) = spawn_node(&NodeCommand {
            name,
            kind: NodeKind::Chaincode,
            program,
            args,
            config_dir: &dir,
            log: &self.layout.log(name),
            detached: self.detached,
        })?;
        self.track(child, record);
        self.save_state()
    }

    /// Starts the key-value test server `kvcc` (at `program`) for each
    /// chaincode-as-a-service chaincode of `spec` in each member's place
    /// (see [`crate::founding`]); label → address template for the agent
    /// configurations. Without the program it starts nothing and says so.
    pub fn start_demo_servers(
        &mut self,
        spec: &opssc_schema::Spec,
        program: &Path,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let (plan, layout) = (self.plan.clone(), self.layout.clone());
        let (quiet, t0) = (self.quiet, self.started);
        let say = |m: &str| {
            if !quiet {
                eprintln!("devnet: {m} ({:.1} s)", t0.elapsed().as_secs_f64());
            }
        };
        let mut started = Vec::new();
        let result = crate::founding::start_demo_servers(
            &plan,
            &layout,
            spec,
            program,
            self.detached,
            &say,
            &mut |child, record| started.push((child, record)),
        );
        for (child, record) in started {
            self.track(child, record);
        }
        self.save_state()?;
        result
    }

    /// Points every organization's agent configuration at the spec
    /// repository (trusting its founding commit), at the OpsSC package
    /// `label` behind [`crate::founding::OPSSC_ADDRESS_TEMPLATE`] and at the
    /// given chaincode server templates (label → template).
    pub fn configure_agents(
        &self,
        repo: &SpecRepo,
        label: &str,
        templates: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        crate::founding::update_agent_configs(&self.plan, repo, label, templates)
    }

    /// Records the founding's outcome in `devnet.json`.
    pub fn record_founded(&mut self, founded: Founded) -> Result<()> {
        self.founded = Some(founded);
        self.save_state()
    }

    /// Waits until every channel of the topology has a Raft leader and every
    /// peer's gossip sees the other peers of its channels — after the
    /// channels were created from outside (`opssc found`), as start-up does
    /// for its own.
    pub fn wait_channels_ready(&mut self) -> Result<()> {
        self.wait_raft_leaders()?;
        self.wait_gossip_membership()?;
        self.ready = true;
        self.save_state()?;
        self.say("ready: channels created by the founding, led, every peer sees the others");
        Ok(())
    }

    /// Where the devnet keeps the log of the process named `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.layout.log(name)
    }

    /// Writes the spec repository for the spec in `spec_dir` with this
    /// network's real endpoints, certificates and admin keys
    /// ([`crate::spec_repo::create_spec_repo`]), without founding anything.
    pub fn create_spec_repo(&self, spec_dir: &Path) -> Result<crate::spec_repo::SpecRepo> {
        crate::spec_repo::create_spec_repo(spec_dir, &self.plan, &self.layout)
    }

    /// The spec repository and the OpsSC chaincode, when the devnet was founded.
    pub fn founded(&self) -> Option<&Founded> {
        self.founded.as_ref()
    }

    fn spawn_orderer(&mut self, i: usize) -> Result<()> {
        let o = &self.plan.orderers[i];
        let (child, record) = spawn_node(&NodeCommand {
            name: &o.host,
            kind: NodeKind::Orderer,
            program: &self.bin.orderer,
            args: &[],
            config_dir: &o.config_dir,
            log: &o.log,
            detached: self.detached,
        })?;
        self.plan.orderers[i].pid = record.pid;
        self.track(child, record);
        Ok(())
    }

    fn spawn_peer(&mut self, oi: usize, pi: usize) -> Result<usize> {
        let p = &self.plan.orgs[oi].peers[pi];
        let (child, record) = spawn_node(&NodeCommand {
            name: &p.host,
            kind: NodeKind::Peer,
            program: &self.bin.peer,
            args: &["node", "start"],
            config_dir: &p.config_dir,
            log: &p.log,
            detached: self.detached,
        })?;
        self.plan.orgs[oi].peers[pi].pid = record.pid;
        Ok(self.track(child, record))
    }

    /// Records a started process (replacing an earlier one of the same name).
    fn track(
        &mut self,
        child: std::process::Child,
        record: crate::process::ProcessRecord,
    ) -> usize {
        if let Some(w) = &mut self.watchdog {
            w.watch(record.pid);
        }
        let entry = Supervised {
            record,
            child: Some(child),
        };
        match self
            .procs
            .iter()
            .position(|p| p.record.name == entry.record.name)
        {
            Some(i) => {
                self.procs[i] = entry;
                i
            }
            None => {
                self.procs.push(entry);
                self.procs.len() - 1
            }
        }
    }

    /// What must answer before a node counts as started: its operations
    /// endpoint (`/healthz`), then its gRPC listener, which both node types
    /// open last (an orderer opens its admin listener before it). The TCP
    /// probe closes without a TLS handshake, which each node logs once as
    /// "Server TLS handshake failed ... EOF": that line is this probe.
    fn readiness_probe(&self, name: &str) -> Result<(), String> {
        if let Some(o) = self.plan.orderers.iter().find(|o| o.host == name) {
            probe_health(&o.operations_address)?;
            return probe_listener("gRPC", &o.address);
        }
        let p = self
            .plan
            .orgs
            .iter()
            .flat_map(|o| &o.peers)
            .find(|p| p.host == name)
            .ok_or_else(|| format!("{name} is not a node of this devnet"))?;
        probe_health(&p.operations_address)?;
        probe_listener("gRPC", &p.address)
    }

    /// Polls the given processes until all are ready (see `readiness_probe`).
    fn wait_healthy(&mut self, which: &[usize]) -> Result<()> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut pending: Vec<usize> = which.to_vec();
        loop {
            let mut still = Vec::new();
            let mut last = String::new();
            for &i in &pending {
                if let Some(status) = self.procs[i].exit_status() {
                    let r = &self.procs[i].record;
                    return Err(DevnetError::NodeExited {
                        node: r.name.clone(),
                        status,
                        log: r.log.clone(),
                        tail: log_tail(&r.log, 30),
                    });
                }
                if let Err(why) = self.readiness_probe(&self.procs[i].record.name) {
                    last = why;
                    still.push(i);
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let r = &self.procs[still[0]].record;
                return Err(DevnetError::NotReady {
                    what: r.name.clone(),
                    seconds: self.ready_timeout.as_secs(),
                    last,
                    log: r.log.clone(),
                    tail: log_tail(&r.log, 30),
                });
            }
            pending = still;
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every peer joins its organization's channels; peers work in parallel.
    fn join_peers(&self) -> Result<()> {
        let topo = &self.plan.topology;
        let jobs: Vec<(&OrgHandle, &PeerHandle, Vec<&ChannelHandle>)> = self
            .plan
            .orgs
            .iter()
            .flat_map(|org| {
                let chans: Vec<&ChannelHandle> = self
                    .plan
                    .channels
                    .iter()
                    .filter(|c| topo.channels_of(&org.msp_id).any(|d| d.name == c.name))
                    .collect();
                org.peers.iter().map(move |p| (org, p, chans.clone()))
            })
            .collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|(org, peer, chans)| {
                    s.spawn(move || -> Result<()> {
                        for ch in chans {
                            channels::peer_join(&self.bin, org, peer, &ch.name, &ch.genesis_block)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("peer join thread panicked"))
                .collect::<Result<Vec<()>>>()
        })?;
        self.say("peers joined their channels");
        Ok(())
    }

    /// Polls `check` every 100 ms until it returns `Ok`, at most `ready_timeout`;
    /// `Err` carries why it is not ready yet, for the timeout message.
    fn wait_for(
        &self,
        what: &str,
        log: &Path,
        mut check: impl FnMut() -> Result<(), String>,
    ) -> Result<()> {
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            let last = match check() {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if Instant::now() > deadline {
                return Err(DevnetError::NotReady {
                    what: what.to_string(),
                    seconds: self.ready_timeout.as_secs(),
                    last,
                    log: log.to_path_buf(),
                    tail: log_tail(log, 30),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until, for every channel, some orderer reports itself Raft leader.
    fn wait_raft_leaders(&self) -> Result<()> {
        let log = self.plan.orderers[0].log.clone();
        self.wait_for("the Raft leaders of the channels", &log, || {
            let mut led = std::collections::BTreeSet::new();
            for o in &self.plan.orderers {
                led.extend(raft_leader_channels(&o.operations_address)?);
            }
            let missing: Vec<&str> = self
                .plan
                .channels
                .iter()
                .map(|c| c.name.as_str())
                .filter(|c| !led.contains(*c))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no orderer leads {}", missing.join(", ")))
            }
        })
    }

    /// Waits until every peer's gossip sees every other peer of each of its
    /// channels — what the gateway needs to collect endorsements across
    /// organizations. Anchor peers make this converge within seconds.
    fn wait_gossip_membership(&self) -> Result<()> {
        for org in &self.plan.orgs {
            for peer in &org.peers {
                let expected: Vec<(&str, u64)> = self
                    .plan
                    .channels
                    .iter()
                    .filter(|c| c.members.contains(&org.msp_id))
                    .map(|c| {
                        let peers: usize = self
                            .plan
                            .orgs
                            .iter()
                            .filter(|o| c.members.contains(&o.msp_id))
                            .map(|o| o.peers.len())
                            .sum();
                        (c.name.as_str(), peers as u64 - 1)
                    })
                    .collect();
                self.wait_for(
                    &format!("gossip membership of {}", peer.host),
                    &peer.log,
                    || {
                        let known = gossip_peers_known(&peer.operations_address)?;
                        for (channel, want) in &expected {
                            let have = known.get(*channel).copied().unwrap_or(0);
                            if have < *want {
                                return Err(format!(
                                    "knows {have} of {want} other peers on {channel}"
                                ));
                            }
                        }
                        Ok(())
                    },
                )?;
            }
        }
        Ok(())
    }

    fn state_file(&self) -> StateFile {
        StateFile {
            format: STATE_FORMAT,
            state_dir: self.layout.root.clone(),
            started_at: self.started_at,
            detached: self.detached,
            ready: self.ready,
            fabric: self.bin.clone(),
            plan: self.plan.clone(),
            processes: self.procs.iter().map(|p| p.record.clone()).collect(),
            founded: self.founded.clone(),
        }
    }

    fn save_state(&self) -> Result<()> {
        self.state_file().save()
    }

    /// The state directory (absolute).
    pub fn state_dir(&self) -> &Path {
        &self.layout.root
    }

    pub fn topology(&self) -> &Topology {
        &self.plan.topology
    }

    /// The peer organizations, in topology order.
    pub fn orgs(&self) -> &[OrgHandle] {
        &self.plan.orgs
    }

    pub fn org(&self, msp_id: &str) -> Option<&OrgHandle> {
        self.plan.orgs.iter().find(|o| o.msp_id == msp_id)
    }

    pub fn orderer_org(&self) -> &OrdererOrgHandle {
        &self.plan.orderer_org
    }

    pub fn orderers(&self) -> &[OrdererHandle] {
        &self.plan.orderers
    }

    pub fn channels(&self) -> &[ChannelHandle] {
        &self.plan.channels
    }

    /// Paths to `peer`, `orderer`, `configtxgen`, `configtxlator`, ...
    pub fn bin(&self) -> &FabricBinaries {
        &self.bin
    }

    /// Environment for running Fabric's `peer` CLI as `org`'s admin against `peer`.
    pub fn peer_cli_env(&self, org: &OrgHandle, peer: &PeerHandle) -> Vec<(String, String)> {
        peer_cli_env(org, peer)
    }

    /// What runs, with channel heights from the orderers and peers (as `opssc dev status`).
    pub fn status(&self) -> Result<NetworkStatus> {
        collect_status(&self.state_file())
    }

    /// Resident memory of all running node processes, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.procs.iter().filter_map(|p| p.record.rss_bytes()).sum()
    }

    fn peer_position(&self, msp_id: &str, peer: &str) -> Result<(usize, usize)> {
        self.plan
            .orgs
            .iter()
            .enumerate()
            .find_map(|(oi, o)| {
                (o.msp_id == msp_id)
                    .then(|| {
                        o.peers
                            .iter()
                            .position(|p| p.name == peer || p.host == peer)
                    })
                    .flatten()
                    .map(|pi| (oi, pi))
            })
            .ok_or_else(|| DevnetError::UnknownNode {
                kind: "peer",
                name: format!("{peer} of {msp_id}"),
            })
    }

    /// Kills a peer with SIGKILL (a crash, for tests) and waits until it is gone.
    pub fn kill_peer(&mut self, msp_id: &str, peer: &str) -> Result<()> {
        let (oi, pi) = self.peer_position(msp_id, peer)?;
        let host = self.plan.orgs[oi].peers[pi].host.clone();
        let proc = self
            .procs
            .iter_mut()
            .find(|p| p.record.name == host)
            .expect("every planned peer has a process");
        proc.record.signal(libc::SIGKILL);
        if let Some(child) = &mut proc.child {
            let _ = child.wait();
        }
        Ok(())
    }

    /// Starts a stopped or killed peer again with the same configuration and
    /// ledger, and waits until it is healthy.
    pub fn restart_peer(&mut self, msp_id: &str, peer: &str) -> Result<&PeerHandle> {
        let (oi, pi) = self.peer_position(msp_id, peer)?;
        let host = self.plan.orgs[oi].peers[pi].host.clone();
        if let Some(p) = self.procs.iter_mut().find(|p| p.record.name == host)
            && p.is_running()
        {
            stop_all(std::slice::from_mut(p), Duration::from_secs(10))?;
        }
        let i = self.spawn_peer(oi, pi)?;
        self.save_state()?;
        self.wait_healthy(&[i])?;
        Ok(&self.plan.orgs[oi].peers[pi])
    }

    fn orderer_position(&self, name: &str) -> Result<usize> {
        self.plan
            .orderers
            .iter()
            .position(|o| o.name == name || o.host == name)
            .ok_or_else(|| DevnetError::UnknownNode {
                kind: "orderer",
                name: name.to_string(),
            })
    }

    /// Kills an orderer with SIGKILL (a crash, for tests) and waits until it
    /// is gone.
    pub fn kill_orderer(&mut self, name: &str) -> Result<()> {
        let i = self.orderer_position(name)?;
        let host = self.plan.orderers[i].host.clone();
        let proc = self
            .procs
            .iter_mut()
            .find(|p| p.record.name == host)
            .expect("every planned orderer has a process");
        proc.record.signal(libc::SIGKILL);
        if let Some(child) = &mut proc.child {
            let _ = child.wait();
        }
        Ok(())
    }

    /// Starts a stopped or killed orderer again with the same configuration
    /// and ledger, and waits until it is healthy.
    pub fn restart_orderer(&mut self, name: &str) -> Result<&OrdererHandle> {
        let i = self.orderer_position(name)?;
        let host = self.plan.orderers[i].host.clone();
        if let Some(p) = self.procs.iter_mut().find(|p| p.record.name == host)
            && p.is_running()
        {
            stop_all(std::slice::from_mut(p), Duration::from_secs(10))?;
        }
        self.spawn_orderer(i)?;
        let at = self
            .procs
            .iter()
            .position(|p| p.record.name == host)
            .expect("the orderer was just started");
        self.save_state()?;
        self.wait_healthy(&[at])?;
        Ok(&self.plan.orderers[i])
    }

    /// Stops every node (SIGTERM, SIGKILL after 10 s), then removes the state
    /// directory unless it is kept.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    /// Leaves the nodes running and forgets them (what `opssc dev up` does
    /// after start-up; `opssc dev down` stops them from `devnet.json`).
    pub fn detach(mut self) {
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        self.finished = true;
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        let stopped = stop_all(&mut self.procs, Duration::from_secs(10));
        if !self.keep_state && stopped.is_ok() {
            let root = &self.layout.root;
            std::fs::remove_dir_all(root).map_err(DevnetError::io("remove", root))?;
        } else if self.layout.state_file().exists() {
            // Keep devnet.json truthful: nothing of ours runs any more.
            self.ready = false;
            let _ = self.save_state();
        }
        stopped
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!(
                "devnet: stopping the devnet in {}: {e}",
                self.layout.root.display()
            );
        }
    }
}

/// Creates (or validates) the state directory and returns its absolute path.
/// An existing directory is reused only if it is a devnet state directory
/// none of whose processes still runs.
fn prepare_state_dir(dir: Option<&Path>, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let Some(dir) = dir else {
        let tmp = tempfile::Builder::new()
            .prefix("opssc-devnet-")
            .tempdir()
            .map_err(DevnetError::io(
                "create a temporary directory in",
                std::env::temp_dir(),
            ))?;
        return Ok(tmp.keep());
    };
    if dir.exists() {
        let abs = dir
            .canonicalize()
            .map_err(DevnetError::io("resolve", dir))?;
        let is_empty = std::fs::read_dir(&abs)
            .map_err(DevnetError::io("read", &abs))?
            .next()
            .is_none();
        if !is_empty {
            let state = match StateFile::load(&abs) {
                Ok(s) => s,
                Err(DevnetError::NoState(_)) => return Err(DevnetError::ForeignStateDir(abs)),
                Err(e) => return Err(e),
            };
            let running = state.running();
            if !running.is_empty() {
                return Err(DevnetError::AlreadyRunning {
                    state_dir: abs,
                    running: running
                        .iter()
                        .map(|p| format!("{} (pid {})", p.name, p.pid))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            say(&format!(
                "removing the stopped devnet's state in {}",
                abs.display()
            ));
            std::fs::remove_dir_all(&abs).map_err(DevnetError::io("remove", &abs))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
    dir.canonicalize().map_err(DevnetError::io("resolve", dir))
}
