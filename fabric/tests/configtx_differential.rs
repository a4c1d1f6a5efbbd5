//! Differential tests of `opssc_fabric::configtx` against Fabric's own tools
//! (v2.5.9 `cryptogen`, `configtxgen`, `configtxlator`, from the cache the
//! devnet builds): real config blocks decode and re-encode without loss, the
//! policy language compiles to the bytes configtxgen writes, our genesis
//! config equals configtxgen's for the same description, and
//! `compute_update` equals `configtxlator compute_update` on many edits.
//!
//! Crypto material and `configtx.yaml` are generated in a temp dir per test.
//! The binaries are found in `$OPSSC_FABRIC_BIN`, else in the devnet's
//! cache of the pinned release (`opssc_devnet::binaries::fabric_binaries`,
//! which builds them there when they are missing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use opssc_fabric::configtx::{
    ChannelConfig, ConfigError, MspDefinition, Organization, PolicyRule, ValueContent,
    compute_update, edit, genesis, parse_signature_policy, required_signatures,
};
use opssc_fabric::protos::common::{
    Block, Config, ConfigEnvelope, ConfigUpdate, Envelope, Payload, SignaturePolicyEnvelope,
};
use opssc_fabric::protos::{etcdraft, orderer, protos::AnchorPeer};
use prost::Message;
use sha2::Digest;

fn bin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("OPSSC_FABRIC_BIN") {
            return PathBuf::from(dir);
        }
        // The devnet's cache of the pinned release, keyed by release and
        // commit; built there first on a machine that has none yet.
        opssc_devnet::binaries::fabric_binaries(&mut |line| eprintln!("{line}"))
            .unwrap_or_else(|e| panic!("the pinned Fabric binaries: {e}"))
            .dir
    })
    .clone()
}

/// Runs a Fabric tool; on failure, panics with the command, directory and output.
fn run(dir: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    Command::new(bin_dir().join(tool))
        .args(args)
        .current_dir(dir)
        .env("FABRIC_CFG_PATH", dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
}

fn run_ok(dir: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let out = run(dir, tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?} failed in {}\n--- stdout\n{}\n--- stderr\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Signature policy expressions compiled by both configtxgen and us.
const DSL_CASES: &[&str] = &[
    "OR('Org1MSP.member')",
    "AND('Org1MSP.member', 'Org2MSP.member')",
    "OutOf(2, 'A.member', 'B.admin', 'C.peer')",
    "OR('A.member', AND('B.member', 'C.member'), OutOf(2, 'A.member', 'D.admin', OR('E.peer','A.member')))",
    "and('a.client', or('b.orderer', 'c.member'), 'd.peer')",
    "OUTOF(1, 'A.peer', AND('B.peer','C.peer'))",
    "Or('A.member', 'A.member')",
    "OutOf(3, 'A.member', 'B.member')",
    "OutOf(0, 'A.member')",
    "OutOf('1', 'A.member', 'B.member')",
    "OR( 'A.member' ,\"B.admin\" )",
    "OR('org-1.example.com.admin')",
    "AND(OR('A.peer', 'B.peer'), OR('C.peer', AND('D.peer', 'E.client')), 'F.orderer')",
];

/// Expressions configtxgen refuses; we must refuse them too.
const DSL_INVALID: &[&str] = &[
    "OR('Org1MSP.owner')",
    "OutOf(3, 'A.member')",
    "XOR('A.member')",
    "OR('A.member'",
];

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("crypto-config.yaml"),
            "OrdererOrgs:\n  - Name: Orderer\n    Domain: example.com\n    EnableNodeOUs: true\n    Specs:\n      - Hostname: orderer\n\
             PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOUs: true\n    Template: {Count: 1}\n    Users: {Count: 1}\n\
             \x20 - Name: Org2\n    Domain: org2.example.com\n    EnableNodeOUs: false\n    Template: {Count: 1}\n    Users: {Count: 1}\n\
             \x20 - Name: Org3\n    Domain: org3.example.com\n    EnableNodeOUs: true\n    Template: {Count: 1}\n    Users: {Count: 1}\n",
        )
        .unwrap();
        run_ok(
            dir.path(),
            "cryptogen",
            &[
                "generate",
                "--config",
                "crypto-config.yaml",
                "--output",
                "crypto",
            ],
        );
        Fixture { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn msp_dir(&self, org: &str) -> PathBuf {
        if org == "Orderer" {
            self.path("crypto/ordererOrganizations/example.com/msp")
        } else {
            self.path(&format!(
                "crypto/peerOrganizations/{}.example.com/msp",
                org.to_lowercase()
            ))
        }
    }

    fn orderer_tls_cert(&self) -> PathBuf {
        self.path(
            "crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt",
        )
    }

    /// Writes configtx.yaml with `extra` Org1 policies and runs configtxgen.
    fn configtxgen(&self, extra: &[(String, String)]) -> Result<Vec<u8>, String> {
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let org1_extra: String = extra
            .iter()
            .map(|(name, rule)| format!("      {name}: {{Type: Signature, Rule: {}}}\n", q(rule)))
            .collect();
        let yaml = format!(
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
      - orderer.example.com:7050
  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: {org1_msp}
    Policies:
      Readers: {{Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"}}
      Writers: {{Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.client')"}}
      Admins: {{Type: Signature, Rule: "OR('Org1MSP.admin')"}}
      Endorsement: {{Type: Signature, Rule: "OR('Org1MSP.peer')"}}
{org1_extra}    AnchorPeers:
      - Host: peer0.org1.example.com
        Port: 7051
  - &Org2
    Name: Org2MSP
    ID: Org2MSP
    MSPDir: {org2_msp}
    Policies:
      Readers: {{Type: Signature, Rule: "OR('Org2MSP.member')"}}
      Writers: {{Type: Signature, Rule: "OR('Org2MSP.member')"}}
      Admins: {{Type: Signature, Rule: "OR('Org2MSP.admin')"}}
      Endorsement: {{Type: Signature, Rule: "OR('Org2MSP.member')"}}
Capabilities:
  Channel: &ChannelCapabilities {{V2_0: true}}
  Orderer: &OrdererCapabilities {{V2_0: true}}
  Application: &ApplicationCapabilities {{V2_5: true, V2_0: true}}
Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
    Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
    Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
    LifecycleEndorsement: {{Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}}
    Endorsement: {{Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}}
  Capabilities:
    <<: *ApplicationCapabilities
  ACLs:
    _lifecycle/CheckCommitReadiness: /Channel/Application/Writers
    qscc/GetChainInfo: /Channel/Application/Readers
    event/Block: /Channel/Application/Readers
Orderer: &OrdererDefaults
  OrdererType: etcdraft
  EtcdRaft:
    Consenters:
      - Host: orderer.example.com
        Port: 7050
        ClientTLSCert: {tls}
        ServerTLSCert: {tls}
  BatchTimeout: 2s
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: 512 KB
  Organizations:
  Policies:
    Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
    Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
    Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
    BlockValidation: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
Channel: &ChannelDefaults
  Policies:
    Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
    Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
    Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
  Capabilities:
    <<: *ChannelCapabilities
Profiles:
  AppChannel:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Organizations:
        - *OrdererOrg
      Capabilities: *OrdererCapabilities
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
        - *Org2
      Capabilities: *ApplicationCapabilities
"#,
            orderer_msp = self.msp_dir("Orderer").display(),
            org1_msp = self.msp_dir("Org1").display(),
            org2_msp = self.msp_dir("Org2").display(),
            tls = self.orderer_tls_cert().display(),
        );
        std::fs::write(self.path("configtx.yaml"), yaml).unwrap();
        let _ = std::fs::remove_file(self.path("genesis.block"));
        let out = run(
            self.dir.path(),
            "configtxgen",
            &[
                "-configPath",
                ".",
                "-profile",
                "AppChannel",
                "-channelID",
                "mychannel",
                "-outputBlock",
                "genesis.block",
            ],
        );
        if out.status.success() {
            Ok(std::fs::read(self.path("genesis.block")).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The same channel as `configtxgen(extra)` describes, for our genesis builder.
    fn description(&self, extra: &[(String, String)]) -> genesis::ChannelDescription {
        let mut org1 = Organization::application(
            MspDefinition::from_msp_dir("Org1MSP", &self.msp_dir("Org1")).unwrap(),
        )
        .unwrap()
        .with_anchor_peers(&[("peer0.org1.example.com", 7051)]);
        for (name, rule) in extra {
            org1.policies
                .insert(name.clone(), PolicyRule::signature(rule).unwrap());
        }
        let org2 = Organization::application(
            MspDefinition::from_msp_dir("Org2MSP", &self.msp_dir("Org2")).unwrap(),
        )
        .unwrap();
        let orderer_org = Organization::orderer(
            MspDefinition::from_msp_dir("OrdererMSP", &self.msp_dir("Orderer")).unwrap(),
            vec!["orderer.example.com:7050".into()],
        )
        .unwrap();
        let tls = std::fs::read(self.orderer_tls_cert()).unwrap();
        let mut desc = genesis::ChannelDescription::new(
            "mychannel",
            vec![org1, org2],
            vec![orderer_org],
            vec![etcdraft::Consenter {
                host: "orderer.example.com".into(),
                port: 7050,
                client_tls_cert: tls.clone(),
                server_tls_cert: tls,
            }],
        );
        desc.application_capabilities = vec!["V2_0".into(), "V2_5".into()];
        desc.acls = [
            (
                "_lifecycle/CheckCommitReadiness",
                "/Channel/Application/Writers",
            ),
            ("qscc/GetChainInfo", "/Channel/Application/Readers"),
            ("event/Block", "/Channel/Application/Readers"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        desc
    }

    fn org3(&self) -> Organization {
        Organization::application(
            MspDefinition::from_msp_dir("Org3MSP", &self.msp_dir("Org3")).unwrap(),
        )
        .unwrap()
        .with_anchor_peers(&[("peer0.org3.example.com", 11051)])
    }
}

fn config_of(block: &[u8]) -> Config {
    let block = Block::decode(block).unwrap();
    let env = Envelope::decode(block.data.unwrap().data[0].as_slice()).unwrap();
    let payload = Payload::decode(env.payload.as_slice()).unwrap();
    ConfigEnvelope::decode(payload.data.as_slice())
        .unwrap()
        .config
        .unwrap()
}

fn extra_policies() -> Vec<(String, String)> {
    DSL_CASES
        .iter()
        .enumerate()
        .map(|(i, rule)| (format!("P{i:02}"), rule.to_string()))
        .collect()
}

/// Every value of a group tree: path → (key, bytes).
fn values(
    g: &opssc_fabric::protos::common::ConfigGroup,
    path: &str,
    out: &mut BTreeMap<String, (String, Vec<u8>)>,
) {
    for (k, v) in &g.values {
        out.insert(format!("{path}/{k}"), (k.clone(), v.value.clone()));
    }
    for (k, sub) in &g.groups {
        values(sub, &format!("{path}/{k}"), out);
    }
}

#[test]
fn real_config_blocks_decode_and_reencode_without_loss() {
    let fx = Fixture::new();
    let block_bytes = fx.configtxgen(&extra_policies()).unwrap();

    // The block itself round-trips byte for byte through our protos.
    let block = Block::decode(block_bytes.as_slice()).unwrap();
    assert_eq!(block.encode_to_vec(), block_bytes);

    let config = ChannelConfig::from_block_bytes(&block_bytes).unwrap();
    assert_eq!(config.channel_id, "mychannel");
    assert_eq!(config.sequence, 0);
    assert_eq!(config.application_msp_ids(), ["Org1MSP", "Org2MSP"]);
    assert_eq!(config.batch_timeout(), Some("2s"));
    assert_eq!(
        config.batch_size().unwrap().absolute_max_bytes,
        99 * 1024 * 1024
    );
    assert_eq!(
        config.etcdraft().unwrap().consenters[0].host,
        "orderer.example.com"
    );
    assert_eq!(config.anchor_peers("Org1MSP")[0].port, 7051);
    assert_eq!(config.acls().len(), 3);

    // The model encodes back to exactly the config configtxgen wrote.
    let original = config_of(&block_bytes);
    assert!(
        config.to_proto() == original,
        "the model does not encode back to the block's config"
    );
    assert_eq!(config.to_proto().encode_to_vec(), original.encode_to_vec());

    // Typed content re-encodes to Go's bytes for every value and policy
    // without maps, which shows our decoders drop nothing (field numbers,
    // nested MSP config, Raft metadata). Values holding maps differ only in
    // entry order.
    let canonical = config.canonical().to_proto();
    let mut ours = BTreeMap::new();
    values(canonical.channel_group.as_ref().unwrap(), "", &mut ours);
    let mut theirs = BTreeMap::new();
    values(original.channel_group.as_ref().unwrap(), "", &mut theirs);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let mut compared = 0;
    for (path, (key, bytes)) in &theirs {
        let (_, mine) = &ours[path];
        if key == "Capabilities" || key == "ACLs" {
            assert_eq!(
                ValueContent::decode(key, mine, path).unwrap(),
                ValueContent::decode(key, bytes, path).unwrap(),
                "{path}"
            );
        } else {
            assert_eq!(mine, bytes, "{path} re-encodes differently");
            compared += 1;
        }
    }
    // HashingAlgorithm, BlockDataHashingStructure, BatchSize, BatchTimeout,
    // ChannelRestrictions, ConsensusType, 3 MSPs, Endpoints, AnchorPeers.
    assert_eq!(compared, 11);
    let policy_bytes = |c: &Config| -> Vec<Vec<u8>> {
        fn walk(g: &opssc_fabric::protos::common::ConfigGroup, out: &mut Vec<Vec<u8>>) {
            for p in g.policies.values() {
                out.push(p.policy.as_ref().unwrap().value.clone());
            }
            for sub in g.groups.values() {
                walk(sub, out);
            }
        }
        let mut out = Vec::new();
        walk(c.channel_group.as_ref().unwrap(), &mut out);
        out
    };
    assert_eq!(policy_bytes(&canonical), policy_bytes(&original));
}

#[test]
fn the_policy_language_compiles_to_configtxgens_bytes() {
    let fx = Fixture::new();
    let extra = extra_policies();
    let block = fx.configtxgen(&extra).unwrap();
    let config = config_of(&block);
    let org1 = &config.channel_group.as_ref().unwrap().groups["Application"].groups["Org1MSP"];
    for (name, rule) in &extra {
        let go_bytes = &org1.policies[name].policy.as_ref().unwrap().value;
        let ours = parse_signature_policy(rule).unwrap().encode_to_vec();
        assert_eq!(
            &ours,
            go_bytes,
            "policy {rule}: ours {:?} vs configtxgen {:?}",
            parse_signature_policy(rule).unwrap(),
            SignaturePolicyEnvelope::decode(go_bytes.as_slice()).unwrap()
        );
    }
    for bad in DSL_INVALID {
        let refused = fx.configtxgen(&[("Bad".to_string(), bad.to_string())]);
        assert!(refused.is_err(), "configtxgen accepted {bad}");
        assert!(parse_signature_policy(bad).is_err(), "we accepted {bad}");
    }
}

#[test]
fn our_genesis_config_equals_configtxgens() {
    let fx = Fixture::new();
    let extra = extra_policies();
    let block_bytes = fx.configtxgen(&extra).unwrap();
    let theirs = ChannelConfig::from_block_bytes(&block_bytes).unwrap();
    let desc = fx.description(&extra);
    let ours = genesis::channel_config(&desc).unwrap();
    // Same content everywhere (maps compared as sets)...
    assert!(
        ours.to_proto() == theirs.canonical().to_proto(),
        "our genesis config differs from configtxgen's"
    );
    // ...and the same bytes wherever Go's bytes are deterministic.
    let mut a = BTreeMap::new();
    values(ours.to_proto().channel_group.as_ref().unwrap(), "", &mut a);
    let mut b = BTreeMap::new();
    values(
        theirs.to_proto().channel_group.as_ref().unwrap(),
        "",
        &mut b,
    );
    for (path, (key, bytes)) in &b {
        if key != "Capabilities" && key != "ACLs" {
            assert_eq!(&a[path].1, bytes, "{path}");
        }
    }

    // The block around it has configtxgen's shape.
    let nonce = [7u8; 24];
    let ts = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let our_block = genesis::genesis_block(&desc, ts, &nonce).unwrap();
    let their_block = Block::decode(block_bytes.as_slice()).unwrap();
    assert_eq!(our_block.metadata, their_block.metadata);
    let header = our_block.header.as_ref().unwrap();
    assert_eq!(header.number, 0);
    assert!(header.previous_hash.is_empty());
    let data = &our_block.data.as_ref().unwrap().data;
    assert_eq!(header.data_hash, sha2::Sha256::digest(&data[0]).to_vec());
    let headers = |b: &Block| {
        let env = Envelope::decode(b.data.as_ref().unwrap().data[0].as_slice()).unwrap();
        assert!(env.signature.is_empty());
        let p = Payload::decode(env.payload.as_slice()).unwrap();
        let h = p.header.unwrap();
        (
            opssc_fabric::protos::common::ChannelHeader::decode(h.channel_header.as_slice())
                .unwrap(),
            opssc_fabric::protos::common::SignatureHeader::decode(h.signature_header.as_slice())
                .unwrap(),
        )
    };
    let (our_ch, our_sh) = headers(&our_block);
    let (their_ch, their_sh) = headers(&their_block);
    assert_eq!(
        (
            our_ch.r#type,
            our_ch.version,
            &our_ch.channel_id,
            our_ch.epoch
        ),
        (
            their_ch.r#type,
            their_ch.version,
            &their_ch.channel_id,
            their_ch.epoch
        )
    );
    assert_eq!(our_ch.timestamp.unwrap().nanos, 0);
    assert_eq!(their_sh.creator, our_sh.creator);
    assert_eq!(their_sh.nonce.len(), our_sh.nonce.len());
    // Transaction ID = hex(SHA-256(nonce ‖ creator)), as configtxgen sets it.
    assert_eq!(
        their_ch.tx_id,
        hex::encode(sha2::Sha256::digest(&their_sh.nonce))
    );
    assert_eq!(our_ch.tx_id, hex::encode(sha2::Sha256::digest(nonce)));
    assert!(ChannelConfig::from_block(&our_block).unwrap().to_proto() == ours.to_proto());

    // Fabric's own decoder sees the same config in both blocks.
    std::fs::write(fx.path("ours.block"), our_block.encode_to_vec()).unwrap();
    let decode = |file: &str| -> serde_json::Value {
        let out = run_ok(
            fx.dir.path(),
            "configtxlator",
            &["proto_decode", "--type", "common.Block", "--input", file],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["data"]["data"][0]["payload"]["data"]["config"].clone()
    };
    assert_eq!(decode("ours.block"), decode("genesis.block"));
}

type Edit = Box<dyn Fn(&ChannelConfig) -> Result<ChannelConfig, ConfigError>>;

fn edits(fx: &Fixture) -> Vec<(&'static str, Edit)> {
    let org3 = fx.org3();
    let org3_again = fx.org3();
    let tls = std::fs::read(fx.orderer_tls_cert()).unwrap();
    vec![
        (
            "add an application org",
            Box::new(move |c| edit::add_application_org(c, &org3)),
        ),
        (
            "remove an application org",
            Box::new(|c| edit::remove_application_org(c, "Org2MSP")),
        ),
        (
            "change an anchor peer",
            Box::new(|c| {
                edit::set_anchor_peers(
                    c,
                    "Org1MSP",
                    &[AnchorPeer {
                        host: "peer1.org1.example.com".into(),
                        port: 8051,
                    }],
                )
            }),
        ),
        (
            "add anchor peers to an org without any",
            Box::new(|c| {
                edit::set_anchor_peers(
                    c,
                    "Org2MSP",
                    &[
                        AnchorPeer {
                            host: "peer0.org2.example.com".into(),
                            port: 9051,
                        },
                        AnchorPeer {
                            host: "peer1.org2.example.com".into(),
                            port: 9151,
                        },
                    ],
                )
            }),
        ),
        (
            "remove anchor peers",
            Box::new(|c| edit::set_anchor_peers(c, "Org1MSP", &[])),
        ),
        (
            "batch timeout",
            Box::new(|c| edit::set_batch_timeout(c, "250ms")),
        ),
        (
            "batch size",
            Box::new(|c| {
                edit::set_batch_size(
                    c,
                    &orderer::BatchSize {
                        max_message_count: 50,
                        absolute_max_bytes: 10 * 1024 * 1024,
                        preferred_max_bytes: 2 * 1024 * 1024,
                    },
                )
            }),
        ),
        (
            "application capabilities",
            Box::new(|c| edit::set_capabilities(c, &["Application"], &["V2_5"])),
        ),
        (
            "channel capabilities",
            Box::new(|c| edit::set_capabilities(c, &[], &["V2_0", "V3_0"])),
        ),
        (
            "add a consenter",
            Box::new(move |c| {
                edit::add_consenter(
                    c,
                    &etcdraft::Consenter {
                        host: "orderer2.example.com".into(),
                        port: 7150,
                        client_tls_cert: tls.clone(),
                        server_tls_cert: tls.clone(),
                    },
                )
            }),
        ),
        (
            "ACL override added and one removed",
            Box::new(|c| {
                let c = edit::set_acl(
                    c,
                    "_lifecycle/CommitChaincodeDefinition",
                    Some("/Channel/Application/Admins"),
                )?;
                edit::set_acl(&c, "event/Block", None)
            }),
        ),
        (
            "application policy",
            Box::new(|c| {
                edit::set_policy(
                    c,
                    &["Application"],
                    "Endorsement",
                    PolicyRule::implicit_meta("ANY Endorsement")?,
                )
            }),
        ),
        (
            "channel policy",
            Box::new(|c| {
                edit::set_policy(c, &[], "Admins", PolicyRule::implicit_meta("ANY Admins")?)
            }),
        ),
        (
            "new org-level signature policy",
            Box::new(|c| {
                edit::set_policy(
                    c,
                    &["Application", "Org1MSP"],
                    "Auditors",
                    PolicyRule::signature("OutOf(1, 'Org1MSP.client', 'Org1MSP.admin')")?,
                )
            }),
        ),
        (
            "remove a policy",
            Box::new(|c| edit::remove_policy(c, &["Application", "Org1MSP"], "P03")),
        ),
        (
            "orderer endpoints",
            Box::new(|c| {
                edit::set_orderer_endpoints(
                    c,
                    "OrdererMSP",
                    &[
                        "orderer.example.com:7050".into(),
                        "orderer2.example.com:7150".into(),
                    ],
                )
            }),
        ),
        (
            "channel-level orderer addresses (new value, absolute mod policy)",
            Box::new(|c| edit::set_orderer_addresses(c, &["orderer.example.com:7050".into()])),
        ),
        (
            "mod policy of a group",
            Box::new(|c| {
                let mut c = c.clone();
                c.root.find_mut(&["Application"]).unwrap().mod_policy = "/Channel/Admins".into();
                Ok(c)
            }),
        ),
        (
            "several sections at once",
            Box::new(move |c| {
                let c = edit::add_application_org(c, &org3_again)?;
                let c = edit::set_batch_timeout(&c, "1s")?;
                let c = edit::set_capabilities(&c, &["Orderer"], &["V2_0", "V2_5"])?;
                edit::set_anchor_peers(
                    &c,
                    "Org2MSP",
                    &[AnchorPeer {
                        host: "peer0.org2.example.com".into(),
                        port: 9051,
                    }],
                )
            }),
        ),
    ]
}

fn configtxlator_update(
    fx: &Fixture,
    original: &ChannelConfig,
    updated: &ChannelConfig,
) -> Result<ConfigUpdate, String> {
    std::fs::write(fx.path("original.pb"), original.to_proto().encode_to_vec()).unwrap();
    std::fs::write(fx.path("updated.pb"), updated.to_proto().encode_to_vec()).unwrap();
    let _ = std::fs::remove_file(fx.path("update.pb"));
    let out = run(
        fx.dir.path(),
        "configtxlator",
        &[
            "compute_update",
            "--channel_id",
            "mychannel",
            "--original",
            "original.pb",
            "--updated",
            "updated.pb",
            "--output",
            "update.pb",
        ],
    );
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(ConfigUpdate::decode(std::fs::read(fx.path("update.pb")).unwrap().as_slice()).unwrap())
}

#[test]
fn compute_update_equals_configtxlator_on_many_edits() {
    let fx = Fixture::new();
    let base =
        ChannelConfig::from_block_bytes(&fx.configtxgen(&extra_policies()).unwrap()).unwrap();
    // A config that has been updated before, so versions are not all 0.
    let mut bumped = edit::set_batch_timeout(&base, "3s").unwrap();
    {
        let first = compute_update(&base, &bumped).unwrap();
        assert_eq!(first, configtxlator_update(&fx, &base, &bumped).unwrap());
        // Apply the versions the update writes, as the orderer would.
        let orderer = bumped.root.find_mut(&["Orderer"]).unwrap();
        orderer.values.get_mut("BatchTimeout").unwrap().version = 1;
        bumped.sequence = 1;
        bumped = ChannelConfig::from_config("mychannel", &bumped.to_proto()).unwrap();
    }
    let mut checked = 0;
    for start in [&base, &bumped] {
        for (name, change) in edits(&fx) {
            let updated = change(start).unwrap_or_else(|e| panic!("edit {name}: {e}"));
            let ours = compute_update(start, &updated).unwrap_or_else(|e| panic!("{name}: {e}"));
            let theirs = configtxlator_update(&fx, start, &updated)
                .unwrap_or_else(|e| panic!("configtxlator on {name}: {e}"));
            assert_eq!(
                ours, theirs,
                "{name}: compute_update differs from configtxlator"
            );
            assert_eq!(ours.encode_to_vec(), theirs.encode_to_vec(), "{name}");
            // The update is one the orderer would check against this config.
            required_signatures(start, &ours).unwrap_or_else(|e| panic!("{name}: {e}"));
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");

    // No differences: both refuse.
    assert!(matches!(
        compute_update(&base, &base.clone()),
        Err(ConfigError::NoDifferences { .. })
    ));
    let err = configtxlator_update(&fx, &base, &base).unwrap_err();
    assert!(err.contains("no differences detected"), "{err}");
}

#[test]
fn who_must_sign_real_updates() {
    let fx = Fixture::new();
    let base = ChannelConfig::from_block_bytes(&fx.configtxgen(&[]).unwrap()).unwrap();
    let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();

    let add = edit::add_application_org(&base, &fx.org3()).unwrap();
    let req = required_signatures(&base, &compute_update(&base, &add).unwrap()).unwrap();
    assert_eq!(req.threshold(), Some((2, set(&["Org1MSP", "Org2MSP"]))));
    assert_eq!(
        req.to_string(),
        "MAJORITY of /Channel/Application/Admins (MAJORITY Admins) = 2 of {Org1MSP, Org2MSP}"
    );

    let timeout = edit::set_batch_timeout(&base, "1s").unwrap();
    let req = required_signatures(&base, &compute_update(&base, &timeout).unwrap()).unwrap();
    assert_eq!(req.threshold(), Some((1, set(&["OrdererMSP"]))));

    let anchors = edit::set_anchor_peers(
        &base,
        "Org2MSP",
        &[AnchorPeer {
            host: "peer0.org2.example.com".into(),
            port: 9051,
        }],
    )
    .unwrap();
    let req = required_signatures(&base, &compute_update(&base, &anchors).unwrap()).unwrap();
    assert_eq!(req.threshold(), Some((1, set(&["Org2MSP"]))));
}
