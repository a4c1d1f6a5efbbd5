//! Founding a consortium by its organizations' agents (`opssc found`), on a
//! devnet that started its nodes only: no channel, no chaincode.
//!
//! The devnet writes the spec repository from `network-spec/` (real
//! endpoints and certificates); each peer organization serves its own OpsSC
//! (in this test process) behind the builder placeholder `{{.opssc}}`, which
//! its agent configuration names for the OpsSC package. Then `opssc found`
//! runs for the orderer organization and for every peer organization, as
//! separate processes, all at once. Checked afterwards:
//! - every orderer serves every spec channel, every peer joined its
//!   organization's channels (Fabric's own `osnadmin` / `peer channel list`);
//! - the OpsSC is committed on the ops channel at sequence 1 and approved by
//!   every member;
//! - the registry is founded with the spec's ops channel members and its other
//!   channels with their members;
//! - `opssc plan --config` for Org1 shows no channel change (the genesis
//!   blocks hold what the spec says), only the kv chaincode deploy;
//! - `opssc found` again (Org1, the orderer organization) does nothing.
//!
//! Run on the reference spec and on a copy with three Raft orderers.
//!
//! FIGURE lines: devnet start (nodes only), the concurrent founding's wall
//! time, and the second (idle) run.

mod common;
use common::run_opssc as opssc;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use opssc_devnet::topology::Topology;
use opssc_devnet::{Devnet, DevnetOptions};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle;
use opssc_fabric::package::{self, Connection};
use opssc_fabric::{Node, NodeConfig, Signer, SigningIdentity};
use opssc_schema::local::AgentConfig;
use serde_json::Value;

const TEMPLATE: &str = "{{.opssc}}";

/// The devnet's agent configuration of an organization, pointed at the OpsSC
/// placeholder and a state directory under `work`, written to `work/<MSP>/opssc.yaml`.
fn agent_config(devnet_config: &Path, work: &Path, msp: &str, label: &str) -> PathBuf {
    let mut c = AgentConfig::load(devnet_config).unwrap();
    c.ops_chaincode = Some("opssc".into());
    c.chaincode_servers.insert(label.into(), TEMPLATE.into());
    let dir = work.join(msp);
    std::fs::create_dir_all(&dir).unwrap();
    c.state_dir = Some(dir.join("state"));
    let path = dir.join("opssc.yaml");
    std::fs::write(&path, c.to_yaml()).unwrap();
    path
}

#[test]
fn agents_found_the_consortium_from_the_spec() {
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    found_by_agents(&spec_dir);
}

/// The same with three Raft orderers, every one a consenter.
#[test]
fn agents_found_a_consortium_with_three_raft_orderers() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spec");
    copy_dir(&reference, &dir);
    let orderer = dir.join("orgs/orderer.yaml");
    let text = std::fs::read_to_string(&orderer).unwrap();
    let one = "    - name: orderer0\n      endpoint: orderer0.example.com:7050\n";
    assert!(text.contains(one), "{text}");
    let three = (0..3)
        .map(|i| format!("    - name: orderer{i}\n      endpoint: orderer{i}.example.com:7050\n"))
        .collect::<String>();
    std::fs::write(&orderer, text.replace(one, &three)).unwrap();
    let consortium = dir.join("consortium.yaml");
    let text = std::fs::read_to_string(&consortium).unwrap();
    let one = "      - org: OrdererMSP\n        node: orderer0\n";
    assert!(text.contains(one), "{text}");
    let three = (0..3)
        .map(|i| format!("      - org: OrdererMSP\n        node: orderer{i}\n"))
        .collect::<String>();
    std::fs::write(&consortium, text.replace(one, &three)).unwrap();
    found_by_agents(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn found_by_agents(spec_dir: &Path) {
    opssc_fabric::participation::install_ring_provider();
    let spec_dir = spec_dir.to_path_buf();
    let spec = opssc_schema::load_dir(&spec_dir).spec.expect("validates");
    let t0 = Instant::now();
    let mut opts = DevnetOptions::new(Topology::from_spec(&spec).unwrap());
    opts.channels = false;
    let devnet = Devnet::start(opts).unwrap_or_else(|e| panic!("the devnet did not start:\n{e}"));
    eprintln!(
        "FIGURE devnet up, nodes only: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        devnet.orderers().len(),
        spec.organizations["OrdererMSP"].orderers.len()
    );
    for o in devnet.orderers() {
        let chans = opssc_devnet::channels::orderer_channels(devnet.bin(), o).unwrap();
        assert!(chans.is_empty(), "{}: {chans:?}", o.host);
    }
    let repo = devnet.create_spec_repo(&spec_dir).unwrap();
    let repo_s = repo.path.to_str().unwrap().to_string();
    let spec = opssc_schema::load_dir(&repo.path)
        .spec
        .expect("the spec repository validates");
    let ops = spec.consortium.ops_channel.clone();

    // Each organization's OpsSC server (the package ID every org derives).
    let label = format!("opssc_{}", opssc::agent::founding::OPSSC_VERSION);
    let pkg = package::ccaas_package(&label, &Connection::plaintext(TEMPLATE)).unwrap();
    let package_id = package::package_id(&label, &pkg);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for org in devnet.orgs() {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let id = package_id.clone();
        rt.spawn(async move {
            let _ = opssc_fabric::shim::serve(
                opssc_chaincode::ccaas::OpsSc,
                &id,
                listener,
                None,
                std::future::pending(),
            )
            .await;
        });
        opssc_devnet::founding::set_builder_value(org, "opssc", &address).unwrap();
    }

    let work = tempfile::tempdir().unwrap();
    let mut configs = Vec::new();
    for org in devnet.orgs() {
        configs.push((
            org.msp_id.clone(),
            agent_config(&org.agent_config, work.path(), &org.msp_id, &label),
        ));
    }
    let oo = devnet.orderer_org();
    configs.push((
        oo.msp_id.clone(),
        agent_config(&oo.agent_config, work.path(), &oo.msp_id, &label),
    ));

    // Every organization's `opssc found`, at once.
    let outputs = common::opssc_concurrently(
        "founding (`opssc found`)",
        &configs,
        &["found", "--spec", &repo_s, "--timeout", "240"],
    );
    // Exactly one organization committed and one founded.
    let count = |what: &str| {
        outputs
            .iter()
            .filter(|(_, out)| out.lines().any(|l| l.starts_with(&format!("done: {what}"))))
            .count()
    };
    assert_eq!(count("committed opssc"), 1);
    assert_eq!(count("founded the registry"), 1);

    // Channels on every orderer and every member's peers.
    for o in devnet.orderers() {
        let mut chans = opssc_devnet::channels::orderer_channels(devnet.bin(), o).unwrap();
        chans.sort();
        let want: Vec<String> = spec.channels.keys().cloned().collect();
        assert_eq!(chans, want, "orderer {}", o.host);
    }
    for org in devnet.orgs() {
        for peer in &org.peers {
            let chans = opssc_devnet::channels::peer_channels(devnet.bin(), org, peer).unwrap();
            for (name, ch) in &spec.channels {
                assert_eq!(
                    chans.contains(name),
                    ch.members.contains(&org.msp_id),
                    "peer {} channel {name}: {chans:?}",
                    peer.host
                );
            }
        }
    }

    // The OpsSC committed and approved by every member; the registry founded.
    let (definition, registry) = rt.block_on(async {
        let mut out = None;
        for org in devnet.orgs() {
            let signer: Arc<dyn Signer> =
                Arc::new(SigningIdentity::from_msp_dir(&org.msp_id, &org.admin_msp_dir).unwrap());
            let p = &org.peers[0];
            let nc = NodeConfig::tls_from_file(&p.address, &p.tls_ca_cert)
                .unwrap()
                .with_server_name(&p.host);
            let node = Node::connect(&nc).await.unwrap();
            let endorser = Endorser::new(node.clone(), signer.clone());
            let approved = lifecycle::query_approved(&endorser, &ops, "opssc", Some(1))
                .await
                .unwrap();
            let approved = approved.unwrap_or_else(|| panic!("{} approved the OpsSC", org.msp_id));
            assert_eq!(approved.version, opssc::agent::founding::OPSSC_VERSION);
            let committed = lifecycle::query_committed(&endorser, &ops, "opssc")
                .await
                .unwrap()
                .expect("the OpsSC is committed");
            let gw = Gateway::new(node, signer);
            let reg = gw
                .evaluate_transaction(&ops, "opssc", "registry", [b"{}".as_slice()])
                .await
                .unwrap();
            let reg: Value = serde_json::from_slice(&reg).unwrap();
            if let Some((_, first)) = &out {
                assert_eq!(&reg, first, "{} sees the same registry", org.msp_id);
            }
            out = Some((committed, reg));
        }
        out.expect("the devnet has organizations")
    });
    assert_eq!(definition.sequence, 1);
    assert_eq!(definition.version, opssc::agent::founding::OPSSC_VERSION);
    let mut ops_members = spec.channels[&ops].members.clone();
    ops_members.sort();
    assert_eq!(
        registry["meta"]["ops_channel"],
        ops.as_str(),
        "{registry:#}"
    );
    assert_eq!(
        registry["meta"]["founders"],
        serde_json::json!(ops_members),
        "{registry:#}"
    );
    let mut listed: Vec<(String, Vec<String>)> = registry["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut m: Vec<String> = c["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            m.sort();
            (c["name"].as_str().unwrap().to_string(), m)
        })
        .collect();
    listed.sort();
    let want: Vec<(String, Vec<String>)> = spec
        .channels
        .values()
        .map(|c| {
            let mut m = c.members.clone();
            m.sort();
            (c.name.clone(), m)
        })
        .collect();
    assert_eq!(listed, want, "{registry:#}");

    // The plan as Org1 sees the network: no channel change.
    let org1_config = configs[0].1.to_str().unwrap().to_string();
    assert_eq!(configs[0].0, "Org1MSP");
    let t = Instant::now();
    let (code, out, err) = opssc(&[
        "plan",
        "--spec",
        &repo_s,
        "--config",
        &org1_config,
        "--format",
        "json",
    ]);
    eprintln!("FIGURE plan --config: {} ms", t.elapsed().as_millis());
    assert!(code == 0 || code == 2, "plan exit {code}\n{out}\n{err}");
    let plan: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}\n{err}"));
    let kinds: Vec<String> = plan["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"]["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.iter().all(|k| k.starts_with("Chaincode")),
        "only chaincode changes expected: {kinds:?}\n{plan:#}"
    );

    // Again: nothing to do.
    let t = Instant::now();
    for (msp, path) in [&configs[0], configs.last().unwrap()] {
        let (code, out, err) = opssc(&[
            "found",
            "--spec",
            &repo_s,
            "--timeout",
            "60",
            "--config",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{msp} again:\n{out}\n{err}");
        assert!(
            !out.lines().any(|l| l.starts_with("done:")),
            "{msp} again did something:\n{out}"
        );
    }
    eprintln!(
        "FIGURE `opssc found` again (Org1, orderer org): {} ms",
        t.elapsed().as_millis()
    );
    devnet.stop().unwrap();
}
