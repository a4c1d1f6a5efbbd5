//! Differential test of the SmartBFT genesis config (Fabric 3) against
//! Fabric 3.1.5's own `configtxgen` and `configtxlator`, from the cache the
//! devnet builds: a channel with four BFT consenters, described to our
//! builder and to configtxgen's BFT profile, gives the same config (consensus
//! type `BFT` with the SmartBFT options, the `Orderers` consenter mapping and
//! the `BlockValidation` policy derived from it), and Fabric's decoder sees
//! the same config in both blocks.
//!
//! The binaries are found in `$OPSSC_FABRIC31_BIN` or
//! `${XDG_CACHE_HOME:-$HOME/.cache}/opssc/fabric/v3.1.5-*/bin`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use opssc_fabric::configtx::{
    ChannelConfig, MspDefinition, Organization, PolicyRule, ValueContent, genesis,
};
use opssc_fabric::protos::common::Consenter;
use opssc_fabric::protos::orderer::smartbft::options::Rotation;
use prost::Message;

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OPSSC_FABRIC31_BIN") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        })
        .join("opssc/fabric");
    let found = std::fs::read_dir(&cache).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("v3.1.5"))
            })
            .map(|p| p.join("bin"))
            .find(|b| b.join("configtxgen").exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "Fabric 3.1.5 binaries not found under {}; build them with the devnet \
             (`cargo test -p opssc --test fabric31`) or set OPSSC_FABRIC31_BIN",
            cache.display()
        )
    })
}

fn run_ok(dir: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(bin_dir().join(tool))
        .args(args)
        .current_dir(dir)
        .env("FABRIC_CFG_PATH", dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed in {}\n--- stdout\n{}\n--- stderr\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const ORDERERS: [&str; 4] = ["orderer0", "orderer1", "orderer2", "orderer3"];

fn node_dir(root: &Path, node: &str) -> PathBuf {
    root.join(format!(
        "crypto/ordererOrganizations/example.com/orderers/{node}.example.com"
    ))
}

fn identity(root: &Path, node: &str) -> PathBuf {
    node_dir(root, node).join(format!("msp/signcerts/{node}.example.com-cert.pem"))
}

fn tls(root: &Path, node: &str) -> PathBuf {
    node_dir(root, node).join("tls/server.crt")
}

fn port(i: usize) -> u32 {
    7050 + 100 * i as u32
}

fn configtx_yaml(root: &Path) -> String {
    let mapping: String = ORDERERS
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "      - ID: {id}\n        Host: {n}.example.com\n        Port: {port}\n        MSPID: OrdererMSP\n        Identity: {identity}\n        ClientTLSCert: {tls}\n        ServerTLSCert: {tls}\n",
                id = i + 1,
                port = port(i),
                identity = identity(root, n).display(),
                tls = tls(root, n).display(),
            )
        })
        .collect();
    format!(
        r#"Organizations:
  - &OrdererOrg
    Name: OrdererMSP
    ID: OrdererMSP
    MSPDir: {orderer_msp}
    Policies:
      Readers: {{Type: Signature, Rule: "OR('OrdererMSP.member')"}}
      Writers: {{Type: Signature, Rule: "OR('OrdererMSP.member')"}}
      Admins: {{Type: Signature, Rule: "OR('OrdererMSP.admin')"}}
    OrdererEndpoints:
      - orderer0.example.com:7050
  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: {org1_msp}
    Policies:
      Readers: {{Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"}}
      Writers: {{Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.client')"}}
      Admins: {{Type: Signature, Rule: "OR('Org1MSP.admin')"}}
      Endorsement: {{Type: Signature, Rule: "OR('Org1MSP.peer')"}}
Profiles:
  BFTChannel:
    Policies:
      Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
      Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
      Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
    Capabilities: {{V3_0: true}}
    Orderer:
      OrdererType: BFT
      ConsenterMapping:
{mapping}      SmartBFT:
        RequestBatchMaxCount: 100
        RequestBatchMaxBytes: 10485760
        RequestBatchMaxInterval: 200ms
        IncomingMessageBufferSize: 200
        RequestPoolSize: 100000
        RequestForwardTimeout: 5s
        RequestComplainTimeout: 20s
        RequestAutoRemoveTimeout: 3m0s
        ViewChangeResendInterval: 5s
        ViewChangeTimeout: 20s
        LeaderHeartbeatTimeout: 1m0s
        LeaderHeartbeatCount: 10
        CollectTimeout: 1s
      BatchTimeout: 2s
      BatchSize:
        MaxMessageCount: 10
        AbsoluteMaxBytes: 99 MB
        PreferredMaxBytes: 512 KB
      Organizations:
        - *OrdererOrg
      Policies:
        Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
        Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
        Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
        BlockValidation: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
      Capabilities: {{V2_0: true}}
    Application:
      Organizations:
        - *Org1
      Policies:
        Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
        Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
        Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
        LifecycleEndorsement: {{Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}}
        Endorsement: {{Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}}
      Capabilities: {{V2_0: true}}
"#,
        orderer_msp = root
            .join("crypto/ordererOrganizations/example.com/msp")
            .display(),
        org1_msp = root
            .join("crypto/peerOrganizations/org1.example.com/msp")
            .display(),
    )
}

fn our_description(root: &Path) -> genesis::ChannelDescription {
    let org1 = Organization::application(
        MspDefinition::from_msp_dir(
            "Org1MSP",
            &root.join("crypto/peerOrganizations/org1.example.com/msp"),
        )
        .unwrap(),
    )
    .unwrap();
    let orderer_org = Organization::orderer(
        MspDefinition::from_msp_dir(
            "OrdererMSP",
            &root.join("crypto/ordererOrganizations/example.com/msp"),
        )
        .unwrap(),
        vec!["orderer0.example.com:7050".into()],
    )
    .unwrap();
    let consenters = ORDERERS
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let tls = std::fs::read(tls(root, n)).unwrap();
            Consenter {
                id: i as u32 + 1,
                host: format!("{n}.example.com"),
                port: port(i),
                msp_id: "OrdererMSP".into(),
                identity: std::fs::read(identity(root, n)).unwrap(),
                client_tls_cert: tls.clone(),
                server_tls_cert: tls,
            }
        })
        .collect();
    let mut desc =
        genesis::ChannelDescription::new("bftchannel", vec![org1], vec![orderer_org], Vec::new());
    let mut bft = genesis::BftOrdering::new(consenters);
    // configtxgen marshals the options before it forces rotation off, so its
    // block says UNSPECIFIED; Fabric reads anything but ON as off.
    bft.options.leader_rotation = Rotation::Unspecified as i32;
    desc.bft = Some(bft);
    desc.channel_capabilities = vec!["V3_0".into()];
    desc
}

#[test]
fn our_bft_genesis_config_equals_configtxgens() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let specs: String = ORDERERS
        .iter()
        .map(|n| format!("      - Hostname: {n}\n"))
        .collect();
    std::fs::write(
        root.join("crypto-config.yaml"),
        format!(
            "OrdererOrgs:\n  - Name: Orderer\n    Domain: example.com\n    EnableNodeOUs: true\n    Specs:\n{specs}\
             PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOUs: true\n    Template: {{Count: 1}}\n    Users: {{Count: 1}}\n"
        ),
    )
    .unwrap();
    run_ok(
        root,
        "cryptogen",
        &[
            "generate",
            "--config",
            "crypto-config.yaml",
            "--output",
            "crypto",
        ],
    );
    std::fs::write(root.join("configtx.yaml"), configtx_yaml(root)).unwrap();
    run_ok(
        root,
        "configtxgen",
        &[
            "-configPath",
            ".",
            "-profile",
            "BFTChannel",
            "-channelID",
            "bftchannel",
            "-outputBlock",
            "theirs.block",
        ],
    );
    let theirs =
        ChannelConfig::from_block_bytes(&std::fs::read(root.join("theirs.block")).unwrap())
            .unwrap();
    let desc = our_description(root);
    let ours = genesis::channel_config(&desc).unwrap();

    // What makes the channel BFT, read back from configtxgen's block.
    let mapping = theirs.bft_consenters().expect("an Orderers value");
    assert_eq!(mapping.len(), 4);
    assert_eq!(
        mapping.iter().map(|c| c.id).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    match theirs.value(&["Orderer"], "ConsensusType") {
        Some(ValueContent::ConsensusType(c)) => assert_eq!(c.consensus_type, "BFT"),
        other => panic!("unexpected ConsensusType {other:?}"),
    }
    let quorum = |c: &ChannelConfig| match c.policy("/Channel/Orderer/BlockValidation") {
        Some(PolicyRule::Signature(env)) => env.rule.clone(),
        other => panic!("BlockValidation is not a signature policy: {other:?}"),
    };
    assert_eq!(quorum(&ours), quorum(&theirs));

    // The whole config is the same.
    assert!(
        ours.to_proto() == theirs.canonical().to_proto(),
        "our BFT genesis config differs from configtxgen's:\nours {:#?}\ntheirs {:#?}",
        ours.root.groups["Orderer"],
        theirs.canonical().root.groups["Orderer"]
    );

    // Fabric's own decoder sees the same config in our block as in its own.
    let ts = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let block = genesis::genesis_block(&desc, ts, &[7u8; 24]).unwrap();
    std::fs::write(root.join("ours.block"), block.encode_to_vec()).unwrap();
    let decode = |file: &str| -> serde_json::Value {
        let out = run_ok(
            root,
            "configtxlator",
            &["proto_decode", "--type", "common.Block", "--input", file],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["data"]["data"][0]["payload"]["data"]["config"].clone()
    };
    let ours_json = decode("ours.block");
    assert_eq!(ours_json, decode("theirs.block"));
    let orderer = &ours_json["channel_group"]["groups"]["Orderer"];
    assert_eq!(orderer["values"]["ConsensusType"]["value"]["type"], "BFT");
    assert_eq!(
        orderer["values"]["Orderers"]["value"]["consenter_mapping"][3]["host"],
        "orderer3.example.com"
    );
}
