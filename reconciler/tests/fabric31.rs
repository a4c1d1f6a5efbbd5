//! Everything on Fabric 3.1: the quick start (`scenarios/quick_start.rs`)
//! with `opssc dev up --fabric 3.1`, on one devnet running Fabric v3.1.5
//! built from its source. The agents found the consortium (channels created
//! through the participation API, the OpsSC committed and founded; `ops`
//! gets the V3_0 channel capability, as `fabricVersion: "3.1"` implies, and
//! every agent reaching Ready means the chain holds what the spec says),
//! roll the spec's `kv` chaincode-as-a-service out, add Org4 by signed
//! commits (it joins and `kv` answers on its peer) and roll a signed upgrade
//! out to all four organizations.
//!
//! A second devnet runs `examples/bft` with a fifth consenter: the same
//! consortium ordered by SmartBFT on five orderers, founded by the agents
//! (`opssc found` builds the BFT genesis blocks) until every agent is Ready
//! (`kv` rolled out through the BFT ordering service). Then a signed,
//! consented commit takes `orderer4` out of the consenter set: the members
//! approve and sign one ChannelUpdate per channel, the orderer
//! organization's agent adds its signature and submits, both channels end
//! with four consenters, and a chaincode upgrade is ordered by them. Last,
//! an Ed25519 admin of Org1 (issued by Org1's CA) submits a transaction
//! signed by opssc's signer, and reads it back.

#[path = "scenarios/quick_start.rs"]
mod quick_start;

use opssc_tests::devnet_support::FabricVersion;

#[test]
fn the_quick_start_and_both_demos_on_fabric_3_1() {
    quick_start::quick_start_and_both_demos(Some(FabricVersion::V3_1));
}

/// `examples/bft` with a fifth consenter, `orderer4` (n = 5, f = 1), and the
/// ops channel's `peer/Propose` ACL admitting the orderer organization, whose
/// agent reads the OpsSC through a member's peer.
fn bft_spec_with_five_consenters(dir: &std::path::Path) {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bft");
    for sub in ["", "orgs", "channels", "chaincodes"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let rel = path.strip_prefix(&from).unwrap();
                std::fs::copy(&path, dir.join(rel)).unwrap();
            }
        }
    }
    let edit = |rel: &str, from: &str, to: &str| {
        let path = dir.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in {rel}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        "orgs/orderer.yaml",
        "    - name: orderer3\n      endpoint: orderer3.example.com:7050\n",
        "    - name: orderer3\n      endpoint: orderer3.example.com:7050\n    - name: orderer4\n      endpoint: orderer4.example.com:7050\n",
    );
    edit(
        "consortium.yaml",
        "        node: orderer3\n",
        "        node: orderer3\n      - org: OrdererMSP\n        node: orderer4\n",
    );
    let ops = dir.join("channels/ops.yaml");
    let text = std::fs::read_to_string(&ops).unwrap();
    std::fs::write(
        &ops,
        format!("{text}  acls:\n    peer/Propose: /Channel/Writers\n"),
    )
    .unwrap();
}

/// Org1 of the devnet in `state`, and its first peer connected.
async fn org1_peer(state: &std::path::Path) -> (opssc_devnet::OrgHandle, opssc_fabric::Node) {
    use opssc_fabric::{Node, NodeConfig};
    let state = opssc_devnet::state::StateFile::load(state).unwrap();
    let org1 = state.plan.orgs[0].clone();
    let peer = &org1.peers[0];
    let node = Node::connect(
        &NodeConfig::tls_from_file(&peer.address, &peer.tls_ca_cert)
            .unwrap()
            .with_server_name(&peer.host),
    )
    .await
    .unwrap();
    (org1, node)
}

/// The consenters of `channel` as Org1's peer serves its config.
async fn consenters_seen_by_org1(state: &std::path::Path, channel: &str) -> Vec<String> {
    use opssc_fabric::{SigningIdentity, deliver::Deliverer};
    let (org1, node) = org1_peer(state).await;
    let signer = std::sync::Arc::new(
        SigningIdentity::from_msp_dir(&org1.msp_id, &org1.admin_msp_dir).unwrap(),
    );
    let config =
        opssc_fabric::configtx::client::fetch_config(&Deliverer::peer(node, signer), channel)
            .await
            .unwrap();
    config
        .bft_consenters()
        .unwrap()
        .iter()
        .map(|c| format!("{}:{}#{}", c.host, c.port, c.id))
        .collect()
}

/// An Ed25519 admin identity of Org1 issued by Org1's own CA (the devnet's
/// cryptogen CA), written as an MSP directory under `dir`.
fn ed25519_admin_of(org: &opssc_devnet::OrgHandle, dir: &std::path::Path) -> std::path::PathBuf {
    let ca_dir = org.ca_cert.parent().unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(ca_dir.join("priv_sk")).unwrap())
            .unwrap();
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&std::fs::read_to_string(&org.ca_cert).unwrap(), ca_key)
            .unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    // Fabric's MSP checks a chain at the leaf's NotBefore (+1 s): it must
    // lie inside the CA's validity.
    let ca_pem = std::fs::read(&org.ca_cert).unwrap();
    let (_, ca) = x509_parser::pem::parse_x509_pem(&ca_pem).unwrap();
    let ca = ca.parse_x509().unwrap();
    params.not_before = ca.validity().not_before.to_datetime() + std::time::Duration::from_secs(60);
    params.not_after = ca.validity().not_after.to_datetime();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Admin-ed25519@{}", org.domain),
    );
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "admin");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let msp = dir.join("msp");
    std::fs::create_dir_all(msp.join("signcerts")).unwrap();
    std::fs::create_dir_all(msp.join("keystore")).unwrap();
    std::fs::write(msp.join("signcerts/cert.pem"), cert.pem()).unwrap();
    std::fs::write(msp.join("keystore/priv_sk"), key.serialize_pem()).unwrap();
    msp
}

#[test]
fn a_bft_consortium_is_founded_by_the_agents_on_fabric_3_1() {
    let spec_dir = tempfile::tempdir().unwrap();
    bft_spec_with_five_consenters(spec_dir.path());
    let mut session = quick_start::founded_and_ready(spec_dir.path().to_str().unwrap(), None);
    let state = std::path::Path::new(&session.state_arg);
    let consortium = std::fs::read_to_string(state.join("spec-repo/consortium.yaml")).unwrap();
    assert!(consortium.contains("consensus: bft"), "{consortium}");
    let orderer = std::fs::read_to_string(state.join("spec-repo/orgs/orderer.yaml")).unwrap();
    assert_eq!(orderer.matches("signCert:").count(), 5, "{orderer}");
    // Four orderers run, and every peer of trade holds blocks the BFT
    // service ordered after the genesis block (`kv`'s approvals and commit):
    // the peers accepted the consenters' block signatures.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["dev", "status", "--json", "--state-dir", &session.state_arg])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("dev status --json: {e}\n{out:?}"));
    let orderers = status["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("orderer")
        })
        .filter(|p| p["running"] == serde_json::json!(true))
        .count();
    assert_eq!(orderers, 5, "{status:#}");
    let trade = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "trade")
        .unwrap_or_else(|| panic!("no trade channel: {status:#}"));
    let peers = trade["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3, "{trade:#}");
    for p in peers {
        let height = p[1]["Ok"].as_u64().unwrap_or_default();
        assert!(height >= 2, "{trade:#}");
    }

    // One consenter less (5 → 4, f stays 1), through the OpsSC: the members
    // file, approve and sign a ChannelUpdate per channel; only the orderer
    // organization can sign it (/Channel/Orderer/Admins), so its agent
    // adds its signature and submits. Its admin approved the commit, like
    // every organization's.
    let state = session.state().to_path_buf();
    let orderer_config = state.join("orgs/OrdererMSP/opssc.yaml");
    assert!(orderer_config.is_file(), "{}", orderer_config.display());
    session.start_agent("OrdererMSP", &orderer_config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for channel in ["ops", "trade"] {
        assert_eq!(
            rt.block_on(consenters_seen_by_org1(&state, channel)).len(),
            5
        );
    }
    let founded = opssc_devnet::state::StateFile::load(&state)
        .unwrap()
        .founded
        .unwrap();
    let repo = git2::Repository::open(&founded.spec_repo.path).unwrap();
    let text = std::fs::read_to_string(founded.spec_repo.path.join("consortium.yaml")).unwrap();
    let four = text.replacen("      - org: OrdererMSP\n        node: orderer4\n", "", 1);
    assert_ne!(four, text);
    let commit = opssc_devnet::spec_repo::commit_files(
        &repo,
        &[("consortium.yaml", Some(&four))],
        "ordering: orderer4 leaves the consenter set",
        Some(&founded.spec_repo.admin_key("Org1MSP").unwrap()),
    )
    .unwrap();
    for msp in ["Org2MSP", "Org3MSP", "OrdererMSP"] {
        opssc::source::approve_with_key(
            &repo,
            commit,
            None,
            &founded.spec_repo.admin_key(msp).unwrap(),
        )
        .unwrap();
    }
    let start = std::time::Instant::now();
    for channel in ["ops", "trade"] {
        loop {
            let seen = rt.block_on(consenters_seen_by_org1(&state, channel));
            if seen.len() == 4 {
                // The remaining nodes keep their ids.
                assert!(seen.iter().all(|c| !c.starts_with("orderer4")), "{seen:?}");
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(180),
                "{channel} still has {seen:?}\n{}",
                std::fs::read_to_string(state.join("agent-OrdererMSP.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    eprintln!(
        "FIGURE BFT consenter removed on ops and trade: {:.1} s after the commit",
        start.elapsed().as_secs_f64()
    );
    // The four consenters order what follows: a chaincode upgrade rolls
    // out to every organization.
    let demo = std::process::Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args([
            "dev",
            "demo",
            "chaincode",
            "--state-dir",
            &session.state_arg,
            "--timeout",
            "180",
        ])
        .output()
        .unwrap();
    assert_eq!(
        demo.status.code(),
        Some(0),
        "dev demo chaincode after the consenter change\n{}\n{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );

    // Fabric 3 accepts Ed25519 identities: an Ed25519 admin of Org1, issued
    // by Org1's CA, submits a transaction (proposal and envelope signed by
    // opssc's signer) that the BFT service orders and every endorser and
    // committer validates, and reads it back.
    let keys = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let (org1, node) = org1_peer(&state).await;
        let msp = ed25519_admin_of(&org1, keys.path());
        let signer = std::sync::Arc::new(
            opssc_fabric::SigningIdentity::from_msp_dir(&org1.msp_id, &msp).unwrap(),
        );
        let gateway = opssc_fabric::gateway::Gateway::new(node, signer);
        gateway
            .submit_transaction("trade", "kv", "put", ["signed-by", "ed25519"])
            .await
            .unwrap_or_else(|e| panic!("an Ed25519 admin's transaction: {e}"));
        let start = std::time::Instant::now();
        loop {
            let got = gateway
                .evaluate_transaction("trade", "kv", "get", ["signed-by"])
                .await;
            if got.as_deref().ok() == Some(b"ed25519".as_slice()) {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "{got:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    });
}
